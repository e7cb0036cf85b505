"""Batch throughput: 20 submissions of ~10k lines each against the default corpus, submissions per minute, and how
it scales with --jobs; plus a rerun with nothing changed (every submission resumed).

Each submission is `common.make_submission` (a third mutated transformers modeling files, the rest standard-library
code) with its own seed, so entrants differ but share some stdlib modules, as real entrants share libraries. Wall
time is the whole `provscan batch` process (start-up, corpus opening, per-submission JSON and HTML reports,
cross-submission comparison and the index page included), each run into a fresh output directory.

    python bench/batch_throughput.py [--submissions 20] [--lines 10000] [--jobs 1 2] [--licences]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from common import build_default_corpus, make_submission, print_load, private_cache, run_sampled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--licences", action="store_true", help="Also measure with scancode licence detection.")
    args = parser.parse_args()
    private_cache()
    build_default_corpus()
    work = Path(tempfile.mkdtemp(prefix="provscan-batch-bench-"))
    try:
        total = 0
        for number in range(args.submissions):
            counts = make_submission(work / "in" / f"entrant{number:02d}", args.lines, seed=number)
            total += counts["copied"] + counts["original"]
        print(f"{args.submissions} submissions, {total} lines in all ({total // args.submissions} on average)")
        runs = [(jobs, ("--no-license-detection",)) for jobs in args.jobs]
        if args.licences:
            runs += [(max(args.jobs), ())]
        for jobs, extra in runs:
            out = work / f"out-{jobs}-{len(extra)}"
            command = [sys.executable, "-m", "provscan", "batch", str(work / "in"), "-o", str(out), "--jobs",
                       str(jobs), *extra]
            seconds, peak, stdout, stderr, code = run_sampled(command)
            if code:
                sys.exit(stderr)
            index = json.loads((out / "index.json").read_text())
            scan_seconds = sum(s.get("seconds", 0.0) for s in index["ranking"])
            label = "no licence detection" if extra else "with licence detection"
            print(f"--jobs {jobs} ({label}): {seconds:.1f} s wall, {args.submissions / seconds * 60:.1f} "
                  f"submissions/min, peak {peak:.0f} MB; per-submission scans {scan_seconds:.1f} s in all; "
                  f"comparing submissions {index['cross_seconds']:.1f} s; {len(index['pairs'])} pairs share code")
            again, _, stdout, _, _ = run_sampled(command)
            print(f"  rerun, nothing changed: {again:.1f} s ({stdout.strip().split(';')[0]})")
            print_load()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
