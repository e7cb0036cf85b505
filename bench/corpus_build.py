"""Default corpus build: wall time and peak memory (goal: <= 60 s and <= 2 GB on 2 cores).

Runs `provscan corpus build-default` as a user would, in a fresh cache directory, sampling the summed RSS of the
whole process tree (main process and workers).

    python bench/corpus_build.py [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys

from common import private_cache, run_sampled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    cache = private_cache()
    command = [sys.executable, "-m", "provscan", "corpus", "build-default"]
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    seconds, peak, _stdout, stderr, code = run_sampled(command)
    if code != 0:
        sys.exit(stderr)
    size_mb = sum(p.stat().st_size for p in (cache / "corpora").glob("*.sqlite")) / 1e6
    print(stderr.strip())
    print(f"corpus build-default: {seconds:.1f} s wall, peak RSS {peak:.0f} MB (whole process tree), "
          f"index {size_mb:.1f} MB, cores {os.cpu_count()}, jobs {args.jobs or 'all'}")


if __name__ == "__main__":
    main()
