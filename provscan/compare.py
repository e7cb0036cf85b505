"""`provscan compare A B`: two repositories (or archives) against each other, without a reference corpus.

No second matching engine: each side is indexed as a temporary corpus (in a private cache directory that is deleted
afterwards) and the other side is scanned against it with the ordinary scan, so both directions get the same
evidence, notices, markers and reports as `provscan scan`. "B in A" is B scanned against a corpus built from A.
Beside the findings, every pair of files that shares anything gets a continuous similarity (`provscan.pairsim`),
which ranks the file pairs to read first, including those below the reporting rules.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from provscan.pairsim import PairSimilarity
from provscan.scan import ScanResult, ScanSettings

COMPARE_SCHEMA_ID = "provscan-compare-result/1"
FILE_PAIRS_LISTED = 1000  # in JSON, best first; `file_pairs_total` counts them all
FILE_PAIRS_SHOWN = 10  # in the text report


@dataclass
class Direction:
    """One direction of a comparison: `submission` scanned against a corpus built from `reference`."""

    label: str
    submission: str
    reference: str
    result: ScanResult


def side_names(a: Path, b: Path) -> tuple[str, str]:
    """Corpus names for the two sides: their base names made valid (and distinct when they are equal)."""

    def clean(path: Path, fallback: str) -> str:
        name = re.sub(r"[^A-Za-z0-9._-]", "-", path.resolve().name).strip("-._")[:60]
        return name or fallback

    name_a, name_b = clean(a, "a"), clean(b, "b")
    if name_a == name_b:
        name_a, name_b = f"{name_a}-a", f"{name_b}-b"
    return name_a, name_b


@dataclass
class Comparison:
    directions: list[Direction]  # B checked against A, then A against B
    file_pairs: list[PairSimilarity]  # every A file / B file pair sharing anything, best first (a = A's file)


@contextmanager
def comparing(a: Path, b: Path, settings: ScanSettings, progress=None) -> Iterator[Comparison]:
    """Both directions of A vs B, and the file-pair similarities; the temporary corpora exist until the block ends
    (reports read them)."""
    from provscan.corpus import build_corpus
    from provscan.scan import scan

    name_a, name_b = side_names(a, b)
    previous = os.environ.get("PROVSCAN_CACHE_DIR")
    previous_index = os.environ.pop("PROVSCAN_INDEX", None)  # the temporary corpora never go to a shared index
    with tempfile.TemporaryDirectory(prefix="provscan-compare-") as cache:
        os.environ["PROVSCAN_CACHE_DIR"] = cache  # read by corpus.cache_dir() here and in worker processes
        try:
            for name, path in ((name_a, a), (name_b, b)):
                build_corpus(name, path, project_of=lambda _path, name=name: name, description=f"compare side {path}",
                             min_tokens=settings.min_tokens, jobs=settings.jobs, walk_options=settings.walk,
                             progress=progress)
            directions = []
            for submission, reference, corpus in ((b, a, name_a), (a, b, name_b)):
                result = scan(submission, replace(settings, corpora=(corpus,)))
                directions.append(Direction(f"{submission} checked against {reference}", str(submission),
                                            str(reference), result))
            yield Comparison(directions, _file_pairs(name_a, name_b))
        finally:
            if previous is None:
                os.environ.pop("PROVSCAN_CACHE_DIR", None)
            else:
                os.environ["PROVSCAN_CACHE_DIR"] = previous
            if previous_index is not None:
                os.environ["PROVSCAN_INDEX"] = previous_index


def _file_pairs(name_a: str, name_b: str) -> list[PairSimilarity]:
    """File-pair similarities between the two sides' corpora (their files' token streams as indexed)."""
    from provscan.corpus import open_corpus, settings_of
    from provscan.pairsim import ShingledFile, pair_similarities, shingle_set

    sides = []
    for name in (name_a, name_b):
        with open_corpus(name) as index:
            k = settings_of(index.meta()).k
            sides.append([ShingledFile(name, path, shingle_set(codes, lines, k))
                          for path, codes, lines in index.all_files()])
    return pair_similarities(sides[0], sides[1])


def write_comparison(comparison: Comparison, fmt: str, out: IO[str], *, color: bool = False) -> None:
    """Both directions in one report of format `fmt` (text, json, html or sarif)."""
    directions = comparison.directions
    results = [d.result for d in directions]
    if fmt == "html":
        from provscan.html_report import write_html_reports

        write_html_reports(results, out, title=f"provscan compare {directions[1].submission} "
                           f"{directions[0].submission}", labels=[d.label for d in directions])
    elif fmt == "sarif":
        from provscan.sarif import write_sarif_runs

        write_sarif_runs(results, out)
    elif fmt == "json":
        import json

        from provscan.report import to_dict

        json.dump({
            "schema": COMPARE_SCHEMA_ID,
            "a": directions[1].submission,
            "b": directions[0].submission,
            "directions": [
                {"label": d.label, "submission": d.submission, "reference": d.reference, "result": to_dict(d.result)}
                for d in directions
            ],
            "file_pairs": [_file_pair(p) for p in comparison.file_pairs[:FILE_PAIRS_LISTED]],
            "file_pairs_total": len(comparison.file_pairs),
        }, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        from provscan.report import write_text

        for direction in directions:
            out.write(f"== {direction.label}\n")
            write_text(direction.result, out, color=color)
            out.write("\n")
        _write_file_pairs(comparison, out)


def _file_pair(pair: PairSimilarity) -> dict:
    """A file pair in JSON: each side's path inside A and B (as the top-level `a` and `b` name them)."""
    return {"a_path": pair.a.path, "b_path": pair.b.path, "a_shingles": int(pair.a.shingles.size),
            "b_shingles": int(pair.b.shingles.size), "shared_shingles": pair.shared,
            "a_in_b": round(pair.a_in_b, 4), "b_in_a": round(pair.b_in_a, 4), "score": round(pair.score, 4)}


def _write_file_pairs(comparison: Comparison, out: IO[str]) -> None:
    pairs = comparison.file_pairs
    a, b = comparison.directions[1].submission, comparison.directions[0].submission
    out.write(f"== file pairs sharing code ({len(pairs)}; similarity = the larger share of one file found in the "
              f"other, findings or not)\n")
    for pair in pairs[:FILE_PAIRS_SHOWN]:
        out.write(f"{pair.score:5.2f}  {a}/{pair.a.path}  {b}/{pair.b.path}  (A in B {pair.a_in_b:.2f}, B in A "
                  f"{pair.b_in_a:.2f}, {pair.shared} shared shingles)\n")
    if len(pairs) > FILE_PAIRS_SHOWN:
        out.write(f"... {len(pairs) - FILE_PAIRS_SHOWN} more in the JSON report (--format json)\n")
