"""The labelled mutation suite: originals, their clones and negatives on disk, and how pairs are scored.

Shared by `bench/mutation_suite.py` (all languages, Dolos beside provscan, threshold curves) and
`tests/test_mutation_suite.py` (a slice with floors in CI), so both judge clones the same way. Ground truth is by
construction: a clone is positive for the original it was made from and negative for every other original.
"""

from __future__ import annotations

import bisect
import random
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutate_code import CLONE_TYPES, functions_of, leaf_types, make_clones, near_clone, suffix_of, wrap


@dataclass
class LanguageSuite:
    language: str
    originals: list[Path] = field(default_factory=list)
    clones: dict[str, list[Path]] = field(default_factory=dict)  # clone type -> one file per original, same order
    negatives: list[Path] = field(default_factory=list)
    files_read: int = 0
    near_clones_left_out: int = 0  # candidates too close to a function already taken (see leaf_types)


def build_language(root: Path, language: str, texts: Iterable[str], functions: int, negatives: int,
                   rng: random.Random) -> LanguageSuite:
    """Write originals, clones and negatives of one language under root/<language>/orig and /sub.

    `texts` are real source files; their functions (distinct after normalisation, 60-600 tokens, and no near clone
    of one already taken, see `leaf_types`) become originals until `functions` are taken, then negatives.
    """
    from provscan.fragments import normalise
    from provscan.index import content_hash
    from provscan.languages import all_languages
    from provscan.parse import parse_text

    suite = LanguageSuite(language, clones={kind: [] for kind in CLONE_TYPES})
    pool = []
    for text in texts:
        suite.files_read += 1
        pool.extend(functions_of(text, language))
    rng.shuffle(pool)
    ext = suffix_of(language)
    base = root / language
    (base / "orig").mkdir(parents=True)
    (base / "sub").mkdir()
    seen: set[str] = set()
    shapes: list[list[str]] = []
    spec = all_languages()[language]
    for source in pool:
        parsed = parse_text("f", wrap(source, language, 0), spec)
        codes = normalise(parsed, 30).codes
        if not 60 <= codes.size <= 600:
            continue
        digest = content_hash(codes)
        if digest in seen:
            continue
        seen.add(digest)
        shape = leaf_types(source, language)
        if any(near_clone(shape, other) for other in shapes):
            suite.near_clones_left_out += 1
            continue
        shapes.append(shape)
        index = len(suite.originals)
        if index < functions:
            try:
                clones = make_clones(source, language, rng)
            except ValueError:
                continue
            suite.originals.append(base / "orig" / f"f{index:03d}{ext}")
            suite.originals[-1].write_text(wrap(source, language, index), encoding="utf-8")
            for kind, text in clones.clones.items():
                path = base / "sub" / f"{kind}_f{index:03d}{ext}"
                path.write_text(wrap(text, language, index), encoding="utf-8")
                suite.clones[kind].append(path)
        elif len(suite.negatives) < negatives:
            path = base / "sub" / f"neg_{len(suite.negatives):03d}{ext}"
            path.write_text(wrap(source, language, 1000 + len(suite.negatives)), encoding="utf-8")
            suite.negatives.append(path)
        else:
            break
    return suite


# --- scoring -----------------------------------------------------------------------------------------------------

def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


@dataclass
class Scored:
    """Scores of every candidate pair of one clone type; `positive` says which pairs are true clones."""

    scores: list[float]
    positive: list[bool]

    @property
    def positives(self) -> int:
        return sum(self.positive)

    def counts(self, threshold: float) -> tuple[int, int, int]:
        """True positives, false positives and false negatives when pairs scoring >= threshold (> 0) are reported."""
        reported = [p for s, p in zip(self.scores, self.positive, strict=True) if s >= threshold and s > 0]
        tp = sum(reported)
        return tp, len(reported) - tp, self.positives - tp

    def at(self, threshold: float) -> tuple[float, float, float]:
        return f1(*self.counts(threshold))

    def best_f1(self) -> tuple[float, float]:
        """Best F1 over every threshold that separates two scores, and that threshold."""
        candidates = sorted({s for s in self.scores if s > 0}, reverse=True)
        return max(((self.at(t)[2], t) for t in candidates), default=(0.0, 1.0))

    def roc_auc(self) -> float:
        """Area under the ROC curve (probability a random positive outscores a random negative; ties count half)."""
        pos = [s for s, p in zip(self.scores, self.positive, strict=True) if p]
        neg = [s for s, p in zip(self.scores, self.positive, strict=True) if not p]
        if not pos or not neg:
            return float("nan")
        neg_sorted = sorted(neg)
        wins = sum(bisect.bisect_left(neg_sorted, s) + 0.5 * (bisect.bisect_right(neg_sorted, s)
                                                              - bisect.bisect_left(neg_sorted, s)) for s in pos)
        return wins / (len(pos) * len(neg))


def score_pairs(suite: LanguageSuite, kind: str, pair_scores: dict[tuple[Path, Path], float]) -> Scored:
    candidates = suite.clones[kind] + suite.negatives
    scores, positive = [], []
    for index, original in enumerate(suite.originals):
        for candidate in candidates:
            scores.append(pair_scores.get((original, candidate), 0.0))
            positive.append(candidate == suite.clones[kind][index])
    return Scored(scores, positive)


def stage(root: Path) -> tuple[Path, Path]:
    """Gather every language's originals under root/corpus/<language>/ and clones + negatives under
    root/subs/<language>/: the corpus to index and the submission to scan."""
    corpus, subs = root / "corpus", root / "subs"
    for target, part in ((corpus, "orig"), (subs, "sub")):
        if not target.exists():
            target.mkdir()
            for language_dir in sorted(p for p in root.iterdir() if (p / part).is_dir()):
                shutil.copytree(language_dir / part, target / language_dir.name)
    return corpus, subs


def pair_scores(report: dict, root: Path) -> dict[tuple[Path, Path], float]:
    """(original, clone or negative) -> Jaccard of the best code match reported between them, from a scan report
    in the JSON shape (`provscan.report.to_dict`) of root/subs against a corpus of root/corpus."""
    pairs: dict[tuple[Path, Path], float] = {}
    for finding in report["findings"]:
        if finding["kind"] != "code-match":
            continue
        submission = Path(finding["submission"]["path"])
        candidate = root / submission.parent.name / "sub" / submission.name
        for source in [finding["source"], *finding["also_in"]]:
            source_path = Path(source["path"])
            original = root / source_path.parent.name / "orig" / source_path.name
            jaccard = source.get("jaccard", finding["similarity"]["jaccard"])
            pairs[(original, candidate)] = max(pairs.get((original, candidate), 0.0), jaccard)
    return pairs
