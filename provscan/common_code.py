"""Common code: shingles so frequent across a corpus that sharing them says nothing about provenance.

Why: after identifiers are normalised, the scaffolding every Hugging Face module repeats (`super().__init__()`,
`self.x = nn.Linear(config.a, config.b)`, `self.post_init()`, a three-line `forward`) produces the same shingles
in thousands of unrelated definitions. Two small unrelated `__init__`s can then pass every similarity gate: a
120-pair hand check of unconfirmed transformers pairs found 22 such false alarms (docs/benchmarks.md). Plagiarism
detectors meet the same problem with shared course templates; MOSS ignores any passage found in more than a set
number of documents. provscan does the same with document frequency over the corpus: a shingle found in at least
`COMMON_SHARE` of the corpus's distinct fragment contents is *common*, and a small partial overlap must reach its
shared-shingle floor with uncommon shingles alone (`match`). Exact copies are exempt (an identical definition is a
copy whatever it is made of), and so are overlaps of twice the floor: every hand-checked false alarm shares at most
63 shingles, while real copies of common code (an encoder layer, a feature projection) share far more.

Long string literals (`provscan.fragments`) get the same treatment, counted per file: a message found in many corpus
files ("Attention mask should be of size ...", in hundreds of model files) proves nothing about who copied whom.

The sets are computed when a corpus is built (over the whole corpus, so incremental builds recompute it) and stored
in the corpus's metadata, where both index back-ends keep it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import numpy as np

from provscan.fingerprint import unique_shingles

# Measured on transformers' models/ (20,550 distinct fragment contents; docs/benchmarks.md): counting only shingles
# found in fewer than 2.5 % of them (514) in overlaps under 60 shingles keeps 3 of the 22 hand-checked false alarms
# and 88 of the 98 right pairs, and no label is lost; in every overlap, 1 / 2.5 / 5 % would keep 1 / 1 / 4 false
# alarms and 60 / 73 / 81 right pairs.
COMMON_SHARE = 0.025
# ...and never fewer than this many contents, so that a small corpus does not call everything it repeats common.
COMMON_MIN_CONTENTS = 50
META_KEY = "common_shingles"
LITERALS_META_KEY = "common_literals"


def common_shingles(contents: Iterable[tuple[int, np.ndarray]], k: int) -> tuple[np.ndarray, int, int]:
    """(sorted common shingle hashes, distinct contents counted, document-frequency threshold used).

    `contents` yields (content hash, token codes) per fragment; token-identical fragments (transformers repeats
    code verbatim across model folders) count once, so a copied definition does not make its own code common.
    """
    seen: set[int] = set()
    sets: list[np.ndarray] = []
    for content, codes in contents:
        if content not in seen:
            seen.add(content)
            sets.append(unique_shingles(codes, k))
    threshold = max(COMMON_MIN_CONTENTS, int(np.ceil(COMMON_SHARE * len(sets))))
    if len(sets) < threshold:
        return np.empty(0, dtype=np.uint64), len(sets), threshold
    values, counts = np.unique(np.concatenate(sets), return_counts=True)
    return values[counts >= threshold].astype(np.uint64), len(sets), threshold


def common_literals(files: Iterable[np.ndarray]) -> np.ndarray:
    """Sorted hashes of the long literals found in at least COMMON_SHARE of the corpus's files (and in at least
    COMMON_MIN_CONTENTS of them); `files` yields each file's (token index, hash) pairs."""
    sets = [np.unique(pairs[:, 1]) for pairs in files]
    threshold = max(COMMON_MIN_CONTENTS, int(np.ceil(COMMON_SHARE * len(sets))))
    if len(sets) < threshold:
        return np.empty(0, dtype=np.uint64)
    values, counts = np.unique(np.concatenate(sets), return_counts=True)
    return values[counts >= threshold].astype(np.uint64)


def encode(common: np.ndarray) -> str:
    """The set as corpus metadata (a text value in both back-ends)."""
    return base64.b64encode(np.ascontiguousarray(common, dtype="<u8").tobytes()).decode("ascii")


def decode(value: str | None) -> np.ndarray:
    """The stored set; empty for a corpus that has none (then every shingle counts)."""
    if not value:
        return np.empty(0, dtype=np.uint64)
    return np.frombuffer(base64.b64decode(value), dtype="<u8").astype(np.uint64)
