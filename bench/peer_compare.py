"""provscan and Dolos side by side on cost: one ~50k-line submission against growing slices of the corpus.

A ~50k-line submission (see common.make_submission) against growing slices of transformers' models/ folder:
provscan = `corpus add` (once per corpus) and `scan` of the submission, shown apart; Dolos = one all-vs-all run
over submission + slice (that is how it works). Wall time and peak memory of each (process trees sampled every
20 ms). Clone-detection quality side by side is bench/mutation_suite.py.

    python bench/peer_compare.py [--slices 40,80,160,320] [--dolos-timeout 600] [--no-peer]

Dolos is installed under bench/.peers/ when npm is available (bench/peers/README.md); otherwise its columns are
skipped with a message. CI does not run this benchmark.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import make_submission, private_cache, run_sampled, transformers_models
from peers.dolos import ensure_dolos, run_dolos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", default="40,80,160,320")
    parser.add_argument("--dolos-timeout", type=float, default=600)
    parser.add_argument("--no-peer", action="store_true", help="provscan only")
    args = parser.parse_args()
    private_cache()
    work = Path(tempfile.mkdtemp(prefix="provscan-peer-"))
    dolos = None if args.no_peer else ensure_dolos()

    counts = make_submission(work / "submission", 50_000)
    submission_files = sorted((work / "submission").glob("*.py"))
    print(f"submission: {sum(counts.values())} lines in {len(submission_files)} files")
    print("| corpus slice (modeling files, lines) | provscan corpus add | provscan scan | Dolos all-vs-all |")
    print("|---|---|---|---|")
    modeling = sorted(transformers_models().glob("*/modeling_*.py"))
    for size in (int(s) for s in args.slices.split(",")):
        chosen = modeling[:: max(1, len(modeling) // size)][:size]
        slice_root = work / f"slice{size}"
        slice_root.mkdir()
        for path in chosen:
            shutil.copy(path, slice_root / f"{path.parent.name}__{path.name}")
        lines = sum(p.read_text(encoding="utf-8").count("\n") for p in chosen)
        add = run_sampled([sys.executable, "-m", "provscan", "corpus", "add", f"s{size}", str(slice_root)])
        scan = run_sampled([sys.executable, "-m", "provscan", "scan", str(work / "submission"), "--corpus",
                            f"s{size}", "--format", "json", "--no-license-detection"])
        mine = f"{add[0]:.1f} s, {add[1]:.0f} MB | {scan[0]:.1f} s, {scan[1]:.0f} MB"
        peer = "skipped"
        if dolos:
            run = run_dolos(submission_files + [slice_root / p.name for p in sorted(slice_root.iterdir())],
                            timeout=args.dolos_timeout)
            peer = (f"{run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB" if run.finished
                    else f"did not finish ({run.error})")
        print(f"| {size} files, {lines} lines | {mine} | {peer} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
