"""`provscan compare A B`: two repositories (or archives) against each other, without a reference corpus.

No second matching engine: each side is indexed as a temporary corpus (in a private cache directory that is deleted
afterwards) and the other side is scanned against it with the ordinary scan, so both directions get the same
evidence, notices, markers and reports as `provscan scan`. "B in A" is B scanned against a corpus built from A.
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

from provscan.scan import ScanResult, ScanSettings

COMPARE_SCHEMA_ID = "provscan-compare-result/1"


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


@contextmanager
def comparing(a: Path, b: Path, settings: ScanSettings, progress=None) -> Iterator[list[Direction]]:
    """Both directions of A vs B; the temporary corpora exist until the block ends (reports read them)."""
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
            yield directions
        finally:
            if previous is None:
                os.environ.pop("PROVSCAN_CACHE_DIR", None)
            else:
                os.environ["PROVSCAN_CACHE_DIR"] = previous
            if previous_index is not None:
                os.environ["PROVSCAN_INDEX"] = previous_index


def write_comparison(directions: list[Direction], fmt: str, out: IO[str], *, color: bool = False) -> None:
    """Both directions in one report of format `fmt` (text, json, html or sarif)."""
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
        }, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        from provscan.report import write_text

        for direction in directions:
            out.write(f"== {direction.label}\n")
            write_text(direction.result, out, color=color)
            out.write("\n")
