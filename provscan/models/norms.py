"""Norm weights compared the only sound way: centred correlation, judged against a permutation null.

Why not cosine: RMSNorm/LayerNorm gammas start at 1 and stay near it, so the raw cosine of ANY two models' norm
vectors is about 0.99 (two vectors of N(1, 0.01) entries have cosine 0.9999 and Pearson correlation ~0). The public
claim that Upstage's Solar-Open copied GLM-4.5-Air rested on such a cosine (0.989); the centred correlation was
about 0.01 and the claim was retracted. A true derivative keeps the deviations from 1 as well: r close to 1.

The statistic is the mean Fisher z of the per-vector Pearson correlations of matching norm vectors; its null
distribution comes from shuffling each reference vector independently (no distributional assumption). The raw
cosine is reported beside it, explicitly as no evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PERMUTATIONS = 999
MAX_VECTORS = 64  # evenly spaced matched vectors used for the test (the null costs PERMUTATIONS x length each)
MAX_LENGTH = 4096  # seeded coordinates per vector
EVIDENCE_P = 0.01  # permutation p below this (and r above MIN_EVIDENCE_R) is reported as evidence
MIN_EVIDENCE_R = 0.2


@dataclass
class NormResult:
    vectors: int
    raw_cosine: float  # mean over matched vectors: reported because people quote it; not evidence
    centred_r: float  # mean Pearson correlation
    p: float  # permutation p-value of the mean Fisher z
    permutations: int

    @property
    def evidence(self) -> bool:
        return self.vectors > 0 and self.p < EVIDENCE_P and self.centred_r >= MIN_EVIDENCE_R

    @property
    def p_text(self) -> str:
        """The p-value as text; at the permutation floor it is an upper bound."""
        return f"<= {self.p:.3g}" if self.p <= 1 / (self.permutations + 1) + 1e-12 else f"= {self.p:.3g}"

    def to_dict(self) -> dict:
        return {"vectors": self.vectors, "raw_cosine": round(self.raw_cosine, 4), "centred_r": round(self.centred_r, 4),
                "p": self.p, "permutations": self.permutations, "evidence": self.evidence}


def _pair_norms(a: dict, b: dict) -> list[tuple[object, object]]:
    """Matching norm vectors: same name and length; else, when the names differ, the same order and lengths."""
    pairs = [(a[name], b[name]) for name in sorted(a) if name in b and len(a[name]) == len(b[name])]
    if not pairs and len(a) == len(b):
        pairs = [(x, y) for x, y in zip((a[n] for n in sorted(a)), (b[n] for n in sorted(b)), strict=True)
                 if len(x) == len(y)]
    return [(x, y) for x, y in pairs if len(x) >= 8]


def _pearson(x, y) -> float:
    import numpy as np

    x = x - x.mean()
    y = y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / denominator if denominator > 0 else 0.0


def compare_norms(a: dict, b: dict, seed: int = 0) -> NormResult | None:
    """Centred correlation of matching norm vectors with a permutation p-value; None when nothing matches."""
    import numpy as np

    from provscan.models.weights import sample_indices

    pairs = _pair_norms(a, b)
    if not pairs:
        return None
    if len(pairs) > MAX_VECTORS:
        pairs = [pairs[i] for i in np.linspace(0, len(pairs) - 1, MAX_VECTORS).astype(int)]
    pairs = [(x[keep], y[keep]) for x, y in pairs for keep in [sample_indices("norm-test", len(x), MAX_LENGTH)]]
    cosines = []
    for x, y in pairs:
        denominator = float(np.linalg.norm(x) * np.linalg.norm(y))
        cosines.append(float(x @ y) / denominator if denominator > 0 else 0.0)
    rs = np.array([_pearson(x, y) for x, y in pairs])
    observed = float(np.mean(np.arctanh(np.clip(rs, -0.999999, 0.999999))))
    rng = np.random.default_rng(seed)
    null = np.zeros(PERMUTATIONS)
    for x, y in pairs:
        xc = (x - x.mean()) / (x.std() or 1.0)
        yc = (y - y.mean()) / (y.std() or 1.0)
        shuffled = np.argsort(rng.random((PERMUTATIONS, len(y))), axis=1)
        r_null = (yc[shuffled] @ xc) / len(x)
        null += np.arctanh(np.clip(r_null, -0.999999, 0.999999))
    null /= len(pairs)
    exceed = int((null >= observed).sum())
    p = (exceed + 1) / (PERMUTATIONS + 1)
    return NormResult(len(pairs), float(np.mean(cosines)), float(np.mean(rs)), p, PERMUTATIONS)


def expected_null_r(length: int) -> float:
    """Standard deviation of Pearson's r between unrelated vectors of this length (for the report's explanation)."""
    return 1.0 / math.sqrt(max(length - 1, 1))
