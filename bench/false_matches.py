"""False code-matches on unrelated real code: ten packages that share nothing with model code, scanned against the
full default corpus. Every code-match they get is a false accusation a reviewer would have to dismiss, so this is
the other side of every threshold that buys recall (docs/benchmarks.md, threshold trade-off).

    python bench/false_matches.py [--scan-args "--min-similarity 0.4"]

Packages: click, rich, pathspec and jinja2 from site-packages, and the standard library's email, json, http,
logging, asyncio and concurrent packages (all installed with provscan or Python itself).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from common import REPO, build_default_corpus, private_cache

STDLIB = ("email", "json", "http", "logging", "asyncio", "concurrent")
SITE = ("click", "rich", "pathspec", "jinja2")


def packages() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = [Path(str(metadata.distribution(name).locate_file(name))) for name in SITE]
    return site + [stdlib / name for name in STDLIB]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan-args", default="", help="extra `provscan scan` options")
    args = parser.parse_args()
    private_cache()
    build_default_corpus()
    total = files = 0
    for package in packages():
        done = subprocess.run([sys.executable, "-m", "provscan", "scan", str(package), "--format", "json",
                               "--no-license-detection", *args.scan_args.split()], cwd=REPO,
                              capture_output=True, text=True)
        if done.returncode not in (0, 1):
            sys.exit(f"{package}: {done.stderr}")
        report = json.loads(done.stdout)
        matches = [f for f in report["findings"] if f["kind"] == "code-match"]
        code_files = report["summary"]["files_scanned"]
        print(f"{package.name}: {code_files} files, {len(matches)} code-match(es)")
        for finding in matches:
            similarity = finding["similarity"]
            print(f"    {finding['severity']:<6} {finding['location']['path']}:{finding['location']['start_line']} "
                  f"{finding['submission']['fragment_name']} <- {finding['source']['path']}:"
                  f"{finding['source']['start_line']}  J {similarity['jaccard']:.2f}, "
                  f"{similarity['shared_shingles']} shared shingles")
        total += len(matches)
        files += code_files
    print(f"\n{total} false code-match(es) in {len(packages())} unrelated packages ({files} files)")


if __name__ == "__main__":
    main()
