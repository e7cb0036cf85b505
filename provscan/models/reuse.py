"""Exact and near tensor reuse between a submission's weights and a reference's, reported per module.

Exact: a tensor's bytes hash like a reference tensor's (whatever its name), or do so after both are cast to
bfloat16 (a float32 original shipped as bf16). Constant tensors (fresh LayerNorm ones, zero biases) and integer
buffers (BERT's position_ids) hash alike in unrelated models and are left out. This finds modules taken as is,
such as NAVER's reuse of Qwen2.5's vision encoder.

Near: the seeded element samples of same-shaped tensors (taken at the same positions in both) correlate at
r >= NEAR_R with a relative L2 distance <= NEAR_REL_L2: a fine-tuned or lightly edited copy. Correlation is
centred, so norm gammas near 1 do not look alike by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from provscan.models.layout import compress_modules
from provscan.models.safetensors_io import FLOAT_DTYPES
from provscan.models.weights import WeightProfile

NEAR_R = 0.98
NEAR_REL_L2 = 0.25
MIN_NEAR_ELEMENTS = 32


@dataclass
class TensorMatch:
    name: str
    reference: str
    how: str  # "exact" | "exact-after-bf16-cast" | "near"
    r: float = 1.0
    rel_l2: float = 0.0


@dataclass
class ModuleReuse:
    module: str
    tensors: int  # non-constant tensors of the module
    parameters: int
    exact: int = 0
    near: int = 0

    @property
    def status(self) -> str:
        if self.tensors and self.exact == self.tensors:
            return "exact"
        if self.tensors and self.exact + self.near == self.tensors:
            return "near"
        if self.exact or self.near:
            return "partial"
        return "none"


@dataclass
class ReuseResult:
    matches: list[TensorMatch] = field(default_factory=list)
    modules: list[ModuleReuse] = field(default_factory=list)
    parameters: int = 0  # non-constant parameters of the submission
    exact_parameters: int = 0
    near_parameters: int = 0
    ignored_tensors: int = 0  # constant tensors and integer buffers

    def modules_with(self, status: str) -> list[str]:
        return [m.module for m in self.modules if m.status == status]

    def to_dict(self) -> dict:
        return {
            "parameters": self.parameters,
            "exact_parameters": self.exact_parameters,
            "near_parameters": self.near_parameters,
            "ignored_tensors": self.ignored_tensors,
            "exact_modules": compress_modules(self.modules_with("exact")),
            "near_modules": compress_modules(self.modules_with("near")),
            "partial_modules": compress_modules(self.modules_with("partial")),
            "modules": [{"module": m.module, "status": m.status, "tensors": m.tensors, "exact": m.exact,
                         "near": m.near, "parameters": m.parameters} for m in self.modules],
            "tensors": [{"name": t.name, "reference": t.reference, "how": t.how, "r": round(t.r, 4),
                         "rel_l2": round(t.rel_l2, 4)} for t in self.matches[:500]],
        }


def compare_tensors(submission: WeightProfile, reference: WeightProfile) -> ReuseResult:
    result = ReuseResult()
    raw = {}
    canonical = {}
    for record in reference.tensors:
        if not record.constant and record.dtype in FLOAT_DTYPES:
            raw.setdefault(record.hash, record.name)
            canonical.setdefault(record.canonical, record.name)
    modules: dict[str, ModuleReuse] = {}
    pending = []
    for record in submission.tensors:
        if record.constant or record.dtype not in FLOAT_DTYPES:  # integer buffers (position ids) are no evidence
            result.ignored_tensors += 1
            continue
        numel = math.prod(record.shape)
        module = modules.setdefault(record.module, ModuleReuse(record.module, 0, 0))
        module.tensors += 1
        module.parameters += numel
        result.parameters += numel
        if record.hash in raw:
            match = TensorMatch(record.name, raw[record.hash], "exact")
        elif record.canonical in canonical:
            match = TensorMatch(record.name, canonical[record.canonical], "exact-after-bf16-cast")
        else:
            pending.append(record)
            continue
        result.matches.append(match)
        module.exact += 1
        result.exact_parameters += numel
    for match in _near(pending, submission, reference):
        record = next(r for r in pending if r.name == match.name)
        result.matches.append(match)
        modules[record.module].near += 1
        result.near_parameters += math.prod(record.shape)
    result.modules = sorted(modules.values(), key=lambda m: m.module)
    return result


def _standardised(rows):
    import numpy as np

    rows = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


def _near(pending, submission: WeightProfile, reference: WeightProfile) -> list[TensorMatch]:
    """Best same-shape reference tensor of each unmatched tensor by sample correlation; kept if near enough."""
    import numpy as np

    by_shape: dict[tuple, list[str]] = {}
    for record in reference.tensors:
        if not record.constant and record.name in reference.samples:
            by_shape.setdefault(tuple(record.shape), []).append(record.name)
    groups: dict[tuple, list[str]] = {}
    for record in pending:
        sample = submission.samples.get(record.name)
        if sample is not None and len(sample) >= MIN_NEAR_ELEMENTS and tuple(record.shape) in by_shape:
            groups.setdefault(tuple(record.shape), []).append(record.name)
    matches = []
    for shape, names in groups.items():
        candidates = by_shape[shape]
        sub = np.stack([submission.samples[n] for n in names])
        ref = np.stack([reference.samples[n] for n in candidates])
        correlation = _standardised(sub) @ _standardised(ref).T
        for row, name in enumerate(names):
            best = int(np.argmax(correlation[row]))
            if name in candidates and correlation[row, candidates.index(name)] >= correlation[row, best] - 1e-6:
                best = candidates.index(name)
            r = float(correlation[row, best])
            denominator = float(np.linalg.norm(ref[best]))
            rel_l2 = float(np.linalg.norm(sub[row] - ref[best])) / denominator if denominator else math.inf
            if r >= NEAR_R and rel_l2 <= NEAR_REL_L2:
                matches.append(TensorMatch(name, candidates[best], "near", r, rel_l2))
    return matches
