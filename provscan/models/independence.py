"""The independence test of Zhu, Ahmed, Kuditipudi and Liang ("Independence Tests for Language Models", ICML 2025).

Why it is exact: training is symmetric under permuting an MLP's hidden units, so for two independently initialised
models the order of B's units carries no information about A's. Match A's units to B's by a linear assignment on the
cosine matrix of their up-projection rows; under independence that matching is a uniformly random permutation, so
its Spearman correlation with the identity gives a valid p-value. A fine-tune keeps its units where they were: the
matching is the identity and p is astronomically small. Layers are independent under the null and are combined with
Fisher's method.

Permuting the hidden units of a fine-tune (a function-preserving change) defeats that test. The robust variant
matches A's units to B's twice, once by the up projection and once by the gate projection (the down projection's
columns when there is no gate), and correlates the two matchings: a permuted copy gives the same permutation both
ways, independent models two unrelated ones.

For mixture-of-experts layers the experts are matched first (assignment on a permutation-invariant similarity of
their sampled units), then each matched pair is tested as above. Results are p-values, never "similarity %".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from provscan.models.weights import MlpUnits

P_FLOOR = 1e-300  # per-test p-values are clipped here before combining (a perfect match has p = 0 in floating point)


@dataclass
class LayerResult:
    stack: str
    layer: int
    expert: int | None
    units: int  # hidden units compared
    n_units: int  # the MLP's intermediate size
    rho: float
    p: float
    robust_rho: float | None
    robust_p: float | None


@dataclass
class IndependenceResult:
    layers: list[LayerResult] = field(default_factory=list)
    log10_p: float = 0.0  # Fisher-combined, standard test
    robust_log10_p: float | None = None
    skipped: str = ""  # why no layer could be compared

    @property
    def p(self) -> float:
        return 10.0 ** self.log10_p

    @property
    def robust_p(self) -> float | None:
        return None if self.robust_log10_p is None else 10.0 ** self.robust_log10_p

    def to_dict(self) -> dict:
        return {
            "p": self.p, "log10_p": round(self.log10_p, 3),
            "robust_p": self.robust_p,
            "robust_log10_p": None if self.robust_log10_p is None else round(self.robust_log10_p, 3),
            "layers_compared": len(self.layers),
            "units_per_layer": max((r.units for r in self.layers), default=0),
            "intermediate_size": max((r.n_units for r in self.layers), default=0),
            "skipped": self.skipped,
            "layers": [{"stack": r.stack, "layer": r.layer, "expert": r.expert, "units": r.units,
                        "rho": round(r.rho, 4), "p": r.p,
                        "robust_rho": None if r.robust_rho is None else round(r.robust_rho, 4),
                        "robust_p": r.robust_p} for r in self.layers[:200]],
        }


def _normalised(rows):
    import numpy as np

    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def match_units(a, b):
    """For each of A's units, the index of B's unit it is assigned to (maximum total cosine)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    cosine = _normalised(a) @ _normalised(b).T
    rows, cols = linear_sum_assignment(-cosine)
    matching = np.empty(len(rows), dtype=np.int64)
    matching[rows] = cols
    return matching


def spearman_greater(x, y) -> tuple[float, float]:
    """Spearman's rho and its one-sided p-value (positive association)."""
    import numpy as np
    from scipy.stats import spearmanr

    if len(x) < 4 or np.all(x == x[0]) or np.all(y == y[0]):
        return 0.0, 1.0
    result = spearmanr(x, y, alternative="greater")
    rho = float(result.statistic)
    p = float(result.pvalue)
    if not math.isfinite(p):
        p = 1.0
    return rho, p


def fisher_log10(pvalues: list[float]) -> float:
    """log10 of Fisher's combined p-value, in log space so that tiny values do not underflow to 0.

    With 2k degrees of freedom the chi-square survival function has a closed form,
    sf(x) = exp(-x/2) * sum_{i<k} (x/2)^i / i!, which stays exact far below the smallest float.
    """
    from scipy.special import logsumexp

    if not pvalues:
        return 0.0
    half = -sum(math.log(max(p, P_FLOOR)) for p in pvalues)  # x / 2
    if half == 0:
        return 0.0
    terms = [i * math.log(half) - math.lgamma(i + 1) for i in range(len(pvalues))]
    return min(0.0, float(-half + logsumexp(terms)) / math.log(10))


def pair_statistics(a: MlpUnits, b: MlpUnits, robust: bool = True) -> LayerResult:
    """Standard and robust statistics for one pair of MLPs sampled at the same units and coordinates."""
    import numpy as np

    identity = np.arange(a.up.shape[0])
    up_matching = match_units(a.up, b.up)
    rho, p = spearman_greater(identity, up_matching)
    robust_rho = robust_p = None
    second_a, second_b = (a.gate, b.gate) if a.gate is not None and b.gate is not None else (a.down, b.down)
    if robust and second_a is not None and second_b is not None:
        robust_rho, robust_p = spearman_greater(up_matching, match_units(second_a, second_b))
    return LayerResult(a.stack, a.layer, a.expert, int(a.up.shape[0]), a.n_units, rho, max(p, 0.0), robust_rho,
                       robust_p)


def _comparable(a: MlpUnits, b: MlpUnits) -> bool:
    return a.n_units == b.n_units and a.n_coords == b.n_coords and a.up.shape == b.up.shape


def _pair_stacks(a: list[MlpUnits], b: list[MlpUnits]) -> dict[str, str]:
    """A's stack name -> B's: same names first; a single remaining stack on each side is paired even if renamed."""
    stacks_a = sorted({m.stack for m in a})
    stacks_b = sorted({m.stack for m in b})
    pairs = {s: s for s in stacks_a if s in stacks_b}
    rest_a = [s for s in stacks_a if s not in pairs]
    rest_b = [s for s in stacks_b if s not in pairs.values()]
    if len(rest_a) == 1 and len(rest_b) == 1:
        pairs[rest_a[0]] = rest_b[0]
    return pairs


def _expert_similarity(a: MlpUnits, b: MlpUnits) -> float:
    """Permutation-invariant similarity of two experts: mean best cosine of A's units among B's (up and gate)."""
    total = 0.0
    for x, y in ((a.up, b.up), (a.gate, b.gate)):
        if x is not None and y is not None:
            total += float((_normalised(x) @ _normalised(y).T).max(axis=1).mean())
    return total


def _match_experts(experts_a: list[MlpUnits], experts_b: list[MlpUnits]) -> list[tuple[MlpUnits, MlpUnits]]:
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    similarity = np.array([[_expert_similarity(x, y) for y in experts_b] for x in experts_a])
    rows, cols = linear_sum_assignment(-similarity)
    return [(experts_a[r], experts_b[c]) for r, c in zip(rows, cols, strict=True)]


def independence_test(a: list[MlpUnits], b: list[MlpUnits]) -> IndependenceResult:
    """Compare every layer the two models share (same stack, same index, same sampled shapes)."""
    result = IndependenceResult()
    stacks = _pair_stacks(a, b)
    by_layer_b: dict[tuple[str, int], list[MlpUnits]] = {}
    for mlp in b:
        by_layer_b.setdefault((mlp.stack, mlp.layer), []).append(mlp)
    by_layer_a: dict[tuple[str, int], list[MlpUnits]] = {}
    for mlp in a:
        by_layer_a.setdefault((mlp.stack, mlp.layer), []).append(mlp)
    mismatched = 0
    for (stack, layer), mlps_a in sorted(by_layer_a.items()):
        mlps_b = by_layer_b.get((stacks.get(stack, ""), layer), [])
        if not mlps_b:
            continue
        dense_a = [m for m in mlps_a if m.expert is None]
        dense_b = [m for m in mlps_b if m.expert is None]
        pairs = list(zip(dense_a[:1], dense_b[:1], strict=False))
        experts_a = [m for m in mlps_a if m.expert is not None]
        experts_b = [m for m in mlps_b if m.expert is not None]
        if experts_a and experts_b:
            experts_a = [m for m in experts_a if _comparable(m, experts_b[0])]
            if experts_a:
                pairs += _match_experts(experts_a, experts_b)
        for x, y in pairs:
            if _comparable(x, y):
                result.layers.append(pair_statistics(x, y))
            else:
                mismatched += 1
    if not result.layers:
        result.skipped = ("no MLP layers of the same intermediate and hidden size to compare"
                          if mismatched or (a and b) else "no MLP projections found in one of the models")
        return result
    result.log10_p = fisher_log10([r.p for r in result.layers])
    robust = [r.robust_p for r in result.layers if r.robust_p is not None]
    if robust:
        result.robust_log10_p = fisher_log10(robust)
    return result
