"""The shared index on a real redis-server: the engine tests again, identical results, atomic and concurrent builds.

Every test here runs with `PROVSCAN_INDEX` pointing at a redis-server started for this module (flushed before each
test). The engine tests of `test_engine` are imported and run again unchanged against Redis; the other tests build
the same corpus in both storages and compare, or check what a shared index promises: a build is seen whole or not
at all, two machines (here: processes) adding different corpora at once do not disturb each other, a crashed build
leaves the committed corpus as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from provscan.corpus import CorpusError, add_corpus, corpus_exists, list_corpora, open_corpus
from provscan.corpus import storage as storage_of
from provscan.report import to_dict
from provscan.scan import ScanSettings, scan
from tests.conftest import copy_models
from tests.redis_server import redis_server, require_redis_server
from tests.test_engine import (  # noqa: F401 - collected here again, now against the Redis storage
    submission,
    test_corpus_without_the_sources_gives_no_false_match,
    test_duplicated_corpus_code_is_one_finding_with_also_in,
    test_each_mutated_definition_maps_to_its_true_source_lines,
    test_evidence_blocks_point_at_the_same_code_on_both_sides,
    test_re_adding_unchanged_corpus_costs_nothing_and_changes_are_picked_up,
    test_scan_of_an_archive_submission,
    test_unrelated_real_project_stays_clean,
)

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo-submission"


@pytest.fixture(scope="module")
def redis_url():
    with redis_server(require_redis_server()) as url:
        yield url


@pytest.fixture(autouse=True)
def redis_index(redis_url, monkeypatch):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("PROVSCAN_INDEX", redis_url)
    return redis_url


def _comparable(result) -> dict:
    """The JSON report without what differs from run to run (times) or by storage (where the corpus lives)."""
    report = to_dict(result)

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seconds", "started_at", "built_at")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(report)


def _scan(target: Path, corpus: str = "models"):
    return scan(target, ScanSettings(corpora=(corpus,), jobs=1, license_detection=False, model_analysis=False))


def _redis():
    import redis

    return redis.Redis.from_url(os.environ["PROVSCAN_INDEX"])


def test_both_storages_give_identical_scan_results(tmp_path, submission, monkeypatch, redis_url):  # noqa: F811
    root, _expected = submission
    source = copy_models(tmp_path / "corpus", ["qwen2", "llama", "glm4_moe", "solar_open", "deepseek_v3", "bert"])
    results = {}
    for storage in ("redis", "embedded"):
        if storage == "embedded":
            monkeypatch.delenv("PROVSCAN_INDEX")
        report = add_corpus("models", source, split_projects=True, jobs=1)
        with storage_of().open("models") as index:
            literals = sorted(h for pairs in index.all_literals() for h in pairs[:, 1].tolist())
        results[storage] = ([_comparable(_scan(target)) for target in (root, DEMO)],
                            {i.name: i.stats for i in list_corpora()}, report.fragments,
                            {i.name: i.meta["common_shingles"] for i in list_corpora()}, literals)
    assert results["redis"] == results["embedded"]
    reports, stats, fragments, _common, literals = results["redis"]
    assert fragments > 300 and stats["models"]["projects"] == 6
    assert len(literals) > 100  # the long string literals' hashes, stored alike
    # Real matches were compared: most of the mutated submission, and the demo's Qwen2 and GLM-4 MoE code (named
    # after GLM-4 MoE, not its later copy SolarOpen: the corpus's lineage, stored by both storages alike).
    assert reports[0]["summary"]["matched_share"] > 0.8
    assert {p["project"] for p in reports[1]["summary"]["per_project"]} == {"qwen2", "glm4_moe"}


def test_a_build_in_progress_is_invisible_until_it_commits(tmp_path, monkeypatch):
    import provscan.redis_index

    monkeypatch.setattr(provscan.redis_index, "_PIPELINE_CHUNK", 1)  # write through, so the server holds it all
    first = copy_models(tmp_path / "v1", ["qwen2"])
    add_corpus("models", first, split_projects=True, jobs=1)
    before = _comparable(_scan(DEMO))
    with open_corpus("models") as index:
        stats_before = index.stats()
    update = copy_models(tmp_path / "v2", ["qwen2", "glm4_moe", "solar_open"])
    client = _redis()
    seen = []

    def look(done: int, total: int) -> None:
        if done == total - 1:  # all but the last file written
            assert client.scard("provscan:{models}:allocated") > stats_before["files"]
            with open_corpus("models") as index:
                seen.append(index.stats())
            seen.append(_comparable(_scan(DEMO)))
            seen.append(corpus_exists("fresh"))

    add_corpus("models", update, split_projects=True, jobs=1, progress=look)
    assert seen == [stats_before, before, False]
    after = _comparable(_scan(DEMO))
    assert after != before and {p["project"] for p in after["summary"]["per_project"]} >= {"qwen2", "glm4_moe"}

    # A corpus being created does not exist for readers until its build commits.
    checks = []
    add_corpus("fresh", first, jobs=1, progress=lambda done, total: checks.append(corpus_exists("fresh")))
    assert checks and not any(checks) and corpus_exists("fresh")


def test_a_crashed_build_leaves_the_committed_corpus_and_its_leftovers_are_collected(tmp_path, monkeypatch):
    import provscan.redis_index

    monkeypatch.setattr(provscan.redis_index, "_PIPELINE_CHUNK", 1)
    first = copy_models(tmp_path / "v1", ["qwen2"])
    add_corpus("models", first, split_projects=True, jobs=1)
    before = _comparable(_scan(DEMO))
    update = copy_models(tmp_path / "v2", ["qwen2", "glm4_moe"])

    def crash(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        add_corpus("models", update, split_projects=True, jobs=1, progress=crash)
    assert _comparable(_scan(DEMO)) == before
    client = _redis()
    with open_corpus("models") as index:
        live_files = index.stats()["files"]
    assert client.scard("provscan:{models}:allocated") > live_files  # the crashed build's records are there

    # The next build (same corpus, lock released) collects them: only live records and band entries remain.
    add_corpus("models", first, split_projects=True, jobs=1)
    assert _comparable(_scan(DEMO)) == before
    assert client.scard("provscan:{models}:allocated") == live_files
    assert len(list(client.scan_iter(match="provscan:models:f:*"))) == live_files
    with open_corpus("models") as index:
        fragments = index.stats()["fragments"]
        live_ids = index._live_ids
    entries = set()
    for key in client.scan_iter(match="provscan:models:b:*", count=1000):
        entries.update(np.frombuffer(client.get(key), dtype="<i8").tolist())
    assert {entry >> 16 for entry in entries} == live_ids
    assert len(entries) == fragments


def test_a_second_build_of_the_same_corpus_is_refused_while_one_runs(tmp_path):
    source = copy_models(tmp_path / "c", ["qwen2"])
    messages = []

    def second(done: int, total: int) -> None:
        if done == 1:
            with pytest.raises(CorpusError) as error:
                add_corpus("models", source, jobs=1)
            messages.append(str(error.value))

    add_corpus("models", source, jobs=1, progress=second)
    assert len(messages) == 1 and "'models' is being written by another process" in messages[0]
    assert open_corpus("models").stats()["files"] > 0


def _provscan(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "provscan", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_processes_adding_different_corpora_at_once(tmp_path, redis_url):
    sources = {
        "alpha": copy_models(tmp_path / "alpha", ["qwen2", "llama", "mistral"]),
        "beta": copy_models(tmp_path / "beta", ["glm4_moe", "solar_open", "deepseek_v3"]),
    }
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PROVSCAN_INDEX")
    running = [_provscan("--index", redis_url, "corpus", "add", name, str(path), "--split-projects", "-j", "1",
                         env=env) for name, path in sources.items()]
    for process in running:
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    shared = {i.name: i.stats for i in list_corpora()}
    shared_scans = {name: _comparable(_scan(DEMO, name)) for name in sources}
    # The same corpora built one at a time in the embedded index: identical contents and identical scans.
    os.environ.pop("PROVSCAN_INDEX")
    for name, path in sources.items():
        add_corpus(name, path, split_projects=True, jobs=1)
    assert shared == {i.name: i.stats for i in list_corpora()}
    assert shared_scans == {name: _comparable(_scan(DEMO, name)) for name in sources}
    assert shared_scans["beta"]["findings"] and shared_scans["alpha"]["findings"]


def test_cli_index_option_and_an_unreachable_server(tmp_path, redis_url):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PROVSCAN_INDEX")
    source = copy_models(tmp_path / "c", ["qwen2"])
    done = subprocess.run([sys.executable, "-m", "provscan", "--index", redis_url, "corpus", "add", "q", str(source)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([sys.executable, "-m", "provscan", "corpus", "list"], cwd=REPO,
                            env={**env, "PROVSCAN_INDEX": redis_url}, capture_output=True, text=True)
    assert listed.returncode == 0 and " q " in listed.stdout
    # Nothing in the embedded index: the corpus went to Redis only.
    assert "no corpora" in subprocess.run([sys.executable, "-m", "provscan", "corpus", "list"], cwd=REPO, env=env,
                                          capture_output=True, text=True).stdout
    down = "redis://127.0.0.1:1/0"
    for args in (("corpus", "list"), ("scan", str(DEMO), "--corpus", "q"), ("corpus", "add", "q", str(source))):
        failed = subprocess.run([sys.executable, "-m", "provscan", "--index", down, *args], cwd=REPO, env=env,
                                capture_output=True, text=True)
        assert failed.returncode == 2, (args, failed.stderr)
        assert down in failed.stderr and "Traceback" not in failed.stderr, args
