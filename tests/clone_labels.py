"""transformers' own clone labels ("# Copied from ..." annotations) and how to score provscan against them.

Shared by `bench/accuracy.py` (the whole wheel) and `tests/test_accuracy.py` (a slice, as a regression test).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.mutate import definitions

ANNOTATION = re.compile(r"^\s*# Copied from transformers\.models\.(\w+)\.(\w+)\.([\w.]+)(?:\s+with\s+.*)?$")


@dataclass
class Label:
    path: str  # corpus-relative path of the annotated file
    qualname: str
    start_line: int
    end_line: int
    source_path: str
    source_qualname: str
    source_start: int
    source_end: int


def collect_labels(models: Path) -> tuple[list[Label], Counter]:
    """Every resolvable annotation directly above a def/class, and why the others were not used."""
    labels: list[Label] = []
    dropped: Counter = Counter()
    source_defs: dict[str, dict] = {}
    for path in sorted(models.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "# Copied from" not in text:
            continue
        lines = text.splitlines()
        try:
            defs = definitions(text)
        except SyntaxError:
            dropped["file does not parse"] += 1
            continue
        by_line = {d.start_line: d for d in defs.values()}
        relative = path.relative_to(models).as_posix()
        for number, line in enumerate(lines, start=1):
            if "# Copied from" not in line:
                continue
            match = ANNOTATION.match(line)
            if match is None:
                dropped["not a transformers.models reference"] += 1
                continue
            target = number + 1
            while target <= len(lines) and lines[target - 1].lstrip().startswith("@"):
                target += 1
            definition = by_line.get(target)
            if definition is None:
                dropped["not directly above a def or class"] += 1
                continue
            folder, module, qualname = match.groups()
            source_file = models / folder / f"{module}.py"
            if not source_file.exists():
                dropped["source file not in models/"] += 1
                continue
            key = source_file.as_posix()
            if key not in source_defs:
                source_defs[key] = definitions(source_file.read_text(encoding="utf-8"))
            source = source_defs[key].get(qualname)
            if source is None:
                dropped["source definition not found"] += 1
                continue
            labels.append(Label(relative, definition.qualname, definition.start_line, definition.end_line,
                                f"{folder}/{module}.py", qualname, source.start_line, source.end_line))
    return labels, dropped


class Twins:
    """Normalised-content identity of corpus fragments, from the corpus index (content hashes)."""

    def __init__(self, index_path: Path) -> None:
        self.db = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
        self._cache: dict[tuple[str, int, int], int | None] = {}

    def content(self, path: str, start: int, end: int) -> int | None:
        key = (path, start, end)
        if key not in self._cache:
            row = self.db.execute(
                "SELECT f.content_hash FROM fragments f JOIN files fi ON fi.id = f.file_id"
                " WHERE fi.path = ? AND f.start_line = ? AND f.end_line = ? AND f.kind != 'file'",
                key,
            ).fetchone()
            self._cache[key] = row[0] if row else None
        return self._cache[key]

    def same(self, a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
        if a == b:
            return True
        content = self.content(*a)
        return content is not None and content == self.content(*b)


def scan_without_self(path: Path, relative: str, corpus, match_settings):
    """Scan one file (annotations blanked) against the corpus, dropping its own fragments from the candidates."""
    from provscan.findings import build_findings
    from provscan.fingerprint import AnalysisJob, analyse
    from provscan.match import find_matches

    text = "\n".join("" if "# Copied from" in line else line for line in path.read_text(encoding="utf-8").splitlines())
    analysed = analyse(AnalysisJob(relative, text, corpus.settings, 30))
    if not hasattr(analysed, "normalised"):
        return [], None
    matches = [m for m in find_matches([analysed], corpus, match_settings) if m.source.path != relative]
    findings, _coverage = build_findings([analysed], matches, {corpus.name: corpus}, match_settings.min_run)
    return findings, analysed


def reported_pairs(findings) -> dict[tuple[int, int], tuple]:
    """(start, end) of each reported submission fragment -> (best source, equally good sources, jaccard)."""
    pairs = {}
    for finding in findings:
        also = [(a.source.path, a.source.start_line, a.source.end_line) for a in finding.also_in]
        best = (finding.source.path, finding.source.start_line, finding.source.end_line)
        pairs[(finding.start_line, finding.end_line)] = (best, also, finding.jaccard, finding.fragment_kind)
        for member in finding.members:
            source = (member.source.path, member.source.start_line, member.source.end_line)
            pairs[(member.start_line, member.end_line)] = (source, [], member.jaccard, member.kind)
    return pairs


def evaluate(files, by_file, models: Path, corpus, twins: Twins, match_settings) -> tuple[Counter, Counter, list, list]:
    """Score every annotated file: label outcomes (recall), pair verdicts (precision), the unverified pairs, and the
    labels not found (with the source reported instead, if any)."""
    outcome: Counter = Counter()
    totals: Counter = Counter()
    unverified: list[tuple] = []
    failures: list[tuple] = []
    for relative in files:
        findings, analysed = scan_without_self(models / relative, relative, corpus, match_settings)
        pairs = reported_pairs(findings)
        sizes = {(f.start_line, f.end_line): f.n_tokens for f in analysed.normalised.fragments} if analysed else {}
        labelled: dict[tuple[int, int], list[Label]] = defaultdict(list)
        for label in by_file[relative]:
            labelled[(label.start_line, label.end_line)].append(label)
            truth = (label.source_path, label.source_start, label.source_end)
            if sizes.get((label.start_line, label.end_line), 0) < 30:
                outcome["below minimum size"] += 1
                continue
            outcome["evaluable"] += 1
            reported = pairs.get((label.start_line, label.end_line))
            if reported is None:
                outcome["missed"] += 1
                failures.append((relative, label, "not reported", None))
                continue
            best, also, _jaccard, _kind = reported
            outcome["recall@1 strict"] += best == truth
            outcome["recall@1 twins"] += twins.same(best, truth)
            found = any(twins.same(s, truth) for s in [best, *also])
            outcome["recall"] += found
            if not found:
                failures.append((relative, label, "other source", best))
        for span, (best, _also, jaccard, kind) in pairs.items():
            if kind == "file":
                continue
            totals["pairs"] += 1
            truths = [(lab.source_path, lab.source_start, lab.source_end) for lab in labelled.get(span, [])]
            if any(twins.same(best, truth) for truth in truths):
                totals["annotated"] += 1
            elif jaccard >= 0.9999:  # identical shingle sets after normalisation
                totals["identical"] += 1
            else:
                totals["unverified"] += 1
                unverified.append((relative, span, best, jaccard))
    return outcome, totals, unverified, failures
