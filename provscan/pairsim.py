"""Pair similarity: a continuous score for every pair of files (or submissions) that shares anything.

Why: findings answer "what was copied from where", and only pairs that pass the reporting rules get one. Workflows
that rank pairs (`provscan compare`, a batch's cross-similarity) also need an order below that line: which of 500
pairs of entrants to read first. This is that order, kept apart from findings (it accuses no one): the shingle sets
of two files (k-token windows of normalised tokens, as in `provscan.fingerprint`) and how much of each lies in the
other, i.e. containment both ways. The score is the larger containment, the better of the measures tried on the
ConPlag data set of labelled plagiarism pairs (docs/benchmarks.md, "Pair ranking"): a copy that grew keeps most of
itself inside the original, so the smaller side's share is what shows it.

All pairs are found at once as a sparse product of file-by-shingle incidence matrices (scipy, which datasketch
already needs), so pairs that share nothing cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from provscan.fingerprint import shingles


@dataclass(frozen=True)
class ShingledFile:
    """One file's shingle set; `group` is the side or submission it belongs to (pairs never join one group)."""

    group: str
    path: str
    shingles: np.ndarray  # unique, sorted uint64


# A set smaller than this counts as this big when containment is computed: two import lines (6 shingles) left of a
# file whose code the corpus explains are "wholly contained" in any file with the same imports, which says nothing.
# The same size as the match stage's shared-shingle floor (`MatchSettings.min_shared_shingles`).
MIN_SET = 30


@dataclass
class PairSimilarity:
    a: ShingledFile
    b: ShingledFile
    shared: int

    @property
    def a_in_b(self) -> float:
        return self.shared / max(self.a.shingles.size, MIN_SET)

    @property
    def b_in_a(self) -> float:
        return self.shared / max(self.b.shingles.size, MIN_SET)

    @property
    def score(self) -> float:
        return max(self.a_in_b, self.b_in_a)

    def seen_from(self, group: str) -> PairSimilarity:
        """The same pair with `group`'s file as `a` (reports write a pair from its first submission's side)."""
        return self if self.a.group == group else PairSimilarity(self.b, self.a, self.shared)


def shingle_set(codes: np.ndarray, lines: np.ndarray, k: int, exclude_lines: Iterable[int] = ()) -> np.ndarray:
    """The file's unique shingles, leaving out those that start on `exclude_lines` (lines explained elsewhere,
    such as code a batch's submissions matched in the reference corpus)."""
    stream = shingles(codes, k)
    excluded = np.fromiter(exclude_lines, dtype=np.int64)
    if excluded.size and stream.size:
        stream = stream[~np.isin(lines[: stream.size], excluded)]
    return np.unique(stream)


def pair_similarities(left: list[ShingledFile], right: list[ShingledFile] | None = None) -> list[PairSimilarity]:
    """Every pair sharing at least one shingle, best score first: each left file with each right file, or, without
    `right`, the files of `left` with each other across groups."""
    from scipy import sparse

    left = [f for f in left if f.shingles.size]
    others = left if right is None else [f for f in right if f.shingles.size]
    if not left or not others:
        return []
    everything = left if right is None else left + others
    _, columns = np.unique(np.concatenate([f.shingles for f in everything]), return_inverse=True)
    sizes = [f.shingles.size for f in everything]
    rows = np.repeat(np.arange(len(everything)), sizes)
    incidence = sparse.csr_matrix((np.ones(rows.size, dtype=np.int32), (rows, columns)),
                                  shape=(len(everything), int(columns.max()) + 1))
    a_side = incidence[: len(left)]
    b_side = a_side if right is None else incidence[len(left):]
    shared = (a_side @ b_side.T).tocoo()
    pairs = []
    for i, j, count in zip(shared.row.tolist(), shared.col.tolist(), shared.data.tolist(), strict=True):
        a, b = left[i], others[j]
        if right is None and (j <= i or a.group == b.group):
            continue
        pairs.append(PairSimilarity(a, b, int(count)))
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a.group, p.a.path, p.b.group, p.b.path))
    return pairs


def group_similarities(files: list[ShingledFile]) -> list[PairSimilarity]:
    """The same between whole groups (submissions): each group's files' shingles pooled into one set."""
    by_group: dict[str, list[np.ndarray]] = {}
    for f in files:
        by_group.setdefault(f.group, []).append(f.shingles)
    pooled = [ShingledFile(group, group, np.unique(np.concatenate(sets))) for group, sets in sorted(by_group.items())]
    return pair_similarities(pooled)
