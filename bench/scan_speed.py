"""Scan speed: a 50k-line submission against the default corpus (goal: <= 10 s), and how scan time grows when
the corpus doubles (goal: well under 2x).

The engine goal is measured without licence detection; the full scan (scancode's licence index loaded once, ~5 s
and 1.4 GB, plus ~0.5 s per distinct licence header) is measured beside it. The doubling figure is for the engine.

The submission is a third mutated transformers modeling files and two thirds standard-library code (see
`common.make_submission`). Each figure is the median of three `provscan scan` runs as a user would type it
(process start and imports included). For the doubling figure, two corpora are built from the models/ folder: every
other model folder ("half") and all of them ("full"); the same submission is scanned against each.

    python bench/scan_speed.py [--lines 50000] [--jobs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import make_submission, private_cache, run_sampled, transformers_models


def provscan(*args: str) -> subprocess.CompletedProcess:
    from common import REPO

    done = subprocess.run([sys.executable, "-m", "provscan", *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode not in (0, 1):
        sys.exit(done.stderr)
    return done


def timed_scan(target: Path, corpus: str, jobs: int | None, repeats: int = 3,
               extra: tuple[str, ...] = ("--no-license-detection",)) -> tuple[float, float, str]:
    command = [sys.executable, "-m", "provscan", "scan", str(target), "--corpus", corpus, "--format", "json", *extra]
    if jobs:
        command += ["--jobs", str(jobs)]
    runs = []
    for _ in range(repeats):
        seconds, peak, stdout, stderr, code = run_sampled(command)
        if code not in (0, 1):
            sys.exit(stderr)
        runs.append((seconds, peak, stdout))
    median = statistics.median(r[0] for r in runs)
    return median, max(r[1] for r in runs), runs[0][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    import json

    private_cache()
    work = Path(tempfile.mkdtemp(prefix="provscan-scan-bench-"))
    counts = make_submission(work / "submission", args.lines)
    print(f"submission: {sum(counts.values())} lines ({counts['copied']} from mutated modeling files, "
          f"{counts['original']} original)")
    provscan("corpus", "build-default")
    for label, extra in (("without licence detection", ("--no-license-detection",)),
                         ("full (with scancode licence detection)", ())):
        seconds, peak, stdout = timed_scan(work / "submission", "transformers", args.jobs, extra=extra)
        summary = json.loads(stdout)["summary"]
        print(f"scan vs default corpus, {label}: {seconds:.2f} s wall (median of 3), peak RSS {peak:.0f} MB, "
              f"{summary['files_scanned']} files, {summary['findings_by_kind']}, "
              f"{summary['matched_share']:.1%} of code lines matched")

    folders = sorted(p for p in transformers_models().iterdir() if p.is_dir() and p.name != "__pycache__")
    for name, chosen in (("half", folders[::2]), ("full", folders)):
        root = work / f"corpus-{name}"
        for folder in chosen:
            shutil.copytree(folder, root / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
        provscan("corpus", "add", name, str(root), "--split-projects")
    half, _, _ = timed_scan(work / "submission", "half", args.jobs)
    full, _, _ = timed_scan(work / "submission", "full", args.jobs)
    print(f"corpus doubling: scan {half:.2f} s vs half corpus ({len(folders[::2])} model folders), "
          f"{full:.2f} s vs full ({len(folders)}): ratio {full / half:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
