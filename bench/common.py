"""Shared set-up for the benchmarks: a private cache dir, the transformers models/ folder, synthetic submissions.

Benchmarks print their figures; docs/benchmarks.md records them with the command that produced them.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.mutate import mutate  # noqa: E402


def private_cache() -> Path:
    """Point provscan at a fresh cache directory so a benchmark never touches (or reuses) the user's corpora."""
    import atexit

    cache = Path(tempfile.mkdtemp(prefix="provscan-bench-"))
    os.environ["PROVSCAN_CACHE_DIR"] = str(cache)
    atexit.register(shutil.rmtree, cache, ignore_errors=True)
    return cache


def transformers_models() -> Path:
    return Path(str(metadata.distribution("transformers").locate_file("transformers/models")))


def build_default_corpus() -> None:
    """Build the default corpus in the (private) cache as a user would, or stop with its error."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "provscan", "corpus", "build-default"], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children (Linux reports KiB)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def make_submission(root: Path, target_lines: int, seed: int = 0) -> dict[str, int]:
    """Write a submission of about `target_lines` lines: a third mutated transformers modeling files, the rest
    original (non-corpus) Python from the standard library. Returns line counts by origin."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    models = sorted(transformers_models().glob("*/modeling_*.py"))
    stdlib = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    rng.shuffle(models)
    rng.shuffle(stdlib)
    counts = {"copied": 0, "original": 0}
    index = 0
    while counts["copied"] < target_lines // 3 and models:
        source = models.pop()
        text, _ = mutate(source.read_text(encoding="utf-8"), {"hidden_states": "h", "config": "cfg"}, seed=index)
        (root / f"model_{index}.py").write_text(text, encoding="utf-8")
        counts["copied"] += text.count("\n")
        index += 1
    while counts["copied"] + counts["original"] < target_lines and stdlib:
        source = stdlib.pop()
        shutil.copy(source, root / f"util_{index}.py")
        counts["original"] += source.read_text(encoding="utf-8", errors="replace").count("\n")
        index += 1
    return counts


def run_sampled(command: list[str], cwd: Path = REPO) -> tuple[float, float, str, str, int]:
    """Run `command`, sampling the summed RSS of its whole process tree every 20 ms.

    Returns (wall seconds, peak tree RSS in MB, stdout, stderr, return code). getrusage alone would give only the
    largest single process, which undercounts a build that runs worker processes side by side.
    """
    import subprocess
    import time

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # Output goes to files, not pipes: a report larger than the pipe buffer would block the child otherwise.
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, text=True)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, _tree_rss_mb(process.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return seconds, peak, out.read(), err.read(), process.returncode


def _tree_rss_mb(root: int) -> float:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip() or 0), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


def print_load() -> None:
    """The machine's load after a timed run: timings from a shared 2-core box are read with it."""
    print(f"  load average (1/5/15 min) after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} cores")
