"""`provscan batch --scheduler`: the same batch as Dask tasks on a `distributed.LocalCluster` with 2 worker processes.

Checks that the output equals the local batch's, and that a worker killed while it holds tasks loses no finished
result: its tasks run again elsewhere and every submission ends as in the local run.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from provscan.batch import run_batch
from provscan.scan import ScanSettings
from tests.test_batch import batch  # noqa: F401 - the local batch tests' submissions and corpus

distributed = pytest.importorskip("distributed")

VARYING = {"seconds", "started_at", "finished_at", "resumed", "built_at"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _outputs(out_dir: Path) -> dict:
    """Every submission's status and JSON report, and the cross-submission pairs, without times."""
    found = {}
    for path in sorted(out_dir.glob("submissions/*/*.json")):
        found[str(path.relative_to(out_dir))] = _strip(json.loads(path.read_text(encoding="utf-8")))
    found["cross"] = _strip(json.loads((out_dir / "cross-similarity.json").read_text(encoding="utf-8"))["pairs"])
    return found


def _settings() -> ScanSettings:
    return ScanSettings(corpora=("glm",), jobs=1, license_detection=False)


@pytest.fixture()
def cluster(monkeypatch):
    import provscan.batch

    # A one-worker local batch scans in this process, which keeps the corpora it opened: not an earlier test's.
    monkeypatch.setattr(provscan.batch, "_opened", None)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_batch_gives_the_local_batch_output(batch, tmp_path, cluster):  # noqa: F811
    local = run_batch(batch, tmp_path / "local", _settings(), 1)
    remote = run_batch(batch, tmp_path / "dask", _settings(), 1, scheduler=cluster.scheduler_address)
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")
    assert [s["status"] for s in remote.statuses] == [s["status"] for s in local.statuses]
    assert sum(s["status"] == "ok" for s in remote.statuses) >= 3 and remote.pairs
    # A rerun resumes every finished submission (a broken archive's error is finished too) instead of rescanning.
    again = run_batch(batch, tmp_path / "dask", _settings(), 1, scheduler=cluster.scheduler_address)
    assert again.resumed == len(remote.statuses) == len(local.statuses)


def test_a_worker_killed_mid_batch_loses_no_finished_result(batch, tmp_path, cluster):  # noqa: F811
    for n in range(4):  # more submissions than workers, so tasks are waiting and running when a worker dies
        (batch / f"extra{n}").mkdir()
        (batch / f"extra{n}" / "copy.py").write_text((batch / "alpha" / "router.py").read_text() + f"\nX = {n}\n")
    local = run_batch(batch, tmp_path / "local", _settings(), 1)
    client = distributed.Client(cluster)
    killed: dict = {}
    finished_before: dict[str, float] = {}
    out_dir = tmp_path / "dask"

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "scan" or done < 1 or killed:
            return
        busy = {worker: keys for worker, keys in client.processing().items() if keys}
        if not busy:
            return
        worker, keys = next(iter(busy.items()))
        finished_before.update({str(p): p.stat().st_mtime_ns for p in out_dir.glob("submissions/*/status.json")})
        pid = client.run(os.getpid, workers=[worker])[worker]
        killed.update(worker=worker, keys=list(keys), pid=pid)
        os.kill(pid, signal.SIGKILL)

    try:
        outcome = run_batch(batch, out_dir, _settings(), 1, progress=progress, scheduler=cluster.scheduler_address)
    finally:
        client.close()
    assert killed["keys"], "the killed worker held no task"
    # Nothing finished before the kill was lost or rewritten; every submission ended as in the local batch.
    assert finished_before and all(Path(p).stat().st_mtime_ns == t for p, t in finished_before.items())
    assert _outputs(out_dir) == _outputs(tmp_path / "local")
    assert [s["status"] for s in outcome.statuses] == [s["status"] for s in local.statuses]
