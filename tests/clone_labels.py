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
            if f"{folder}/{module}.py" == relative:
                # e.g. whisper's tokenizer: an annotation left above the very definition it names once the fast
                # tokenizer was merged into the same file. The file under test is left out of the corpus, so a
                # source in the same file can never be found and says nothing about the matcher.
                dropped["source in the same file"] += 1
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


class LabelSources:
    """Shingle sets of labelled source definitions, to tell how similar a label's own source is to the copy."""

    def __init__(self, models: Path, k: int) -> None:
        self.models, self.k = models, k
        self._files: dict[str, object] = {}

    def _shingles(self, normalised, start: int, end: int):
        from provscan.fingerprint import unique_shingles

        for fragment in normalised.fragments:
            if (fragment.start_line, fragment.end_line) == (start, end) and fragment.kind != "file":
                return unique_shingles(normalised.codes[fragment.tok_start : fragment.tok_end], self.k)
        return None

    def jaccard(self, analysed, label: Label) -> float:
        """Jaccard of the annotated definition (as scanned) and its labelled source; 1.0 when either is missing."""
        import numpy as np

        from provscan.fragments import normalise
        from provscan.parse import parse_text

        if label.source_path not in self._files:
            text = (self.models / label.source_path).read_text(encoding="utf-8")
            self._files[label.source_path] = normalise(parse_text(label.source_path, text), 30)
        source = self._shingles(self._files[label.source_path], label.source_start, label.source_end)
        copy = self._shingles(analysed.normalised, label.start_line, label.end_line)
        if source is None or copy is None:
            return 1.0
        shared = np.intersect1d(source, copy).size
        return shared / (source.size + copy.size - shared)


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
    """(start, end) of each reported submission fragment -> (best source, equally good sources, jaccard, kind)."""
    pairs = {}
    for finding in findings:
        for f in finding.fragments():
            also = [(a.source.path, a.source.start_line, a.source.end_line) for a in f.also_in]
            pairs[(f.start_line, f.end_line)] = ((f.source.path, f.source.start_line, f.source.end_line), also,
                                                 f.jaccard, f.kind)
    return pairs


def evaluate(files, by_file, models: Path, corpus, twins: Twins, match_settings) -> tuple[Counter, Counter, list, list]:
    """Score every annotated file: label outcomes (recall), pair verdicts (precision), the unverified pairs, and the
    labels not found (with the source reported instead, if any)."""
    outcome: Counter = Counter()
    totals: Counter = Counter()
    unverified: list[tuple] = []
    failures: list[tuple] = []
    sources = LabelSources(models, corpus.settings.k)
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
            best, also, jaccard, _kind = reported
            outcome["recall@1 strict"] += best == truth
            right = twins.same(best, truth)
            outcome["recall@1 twins"] += right
            # A different source that is at least as similar as the annotated one is a true statement about the
            # code (copies of copies: nemotron's and persimmon's rotary embeddings are closer to each other than to
            # llama's, which both name).
            outcome["right or as similar"] += right or jaccard >= sources.jaccard(analysed, label) - 1e-9
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
