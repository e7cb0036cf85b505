"""One streaming pass over a checkpoint: what the statistics need, a few MB whatever the model's size.

Per tensor: a content hash of its bytes, a canonical hash after casting to bfloat16 (a reference kept in float32
and a copy shipped in bf16 still hash alike), whether it is constant (fresh LayerNorm ones and zero biases hash alike
in every model and are no evidence), and a seeded sample of elements (near reuse by correlation). Per MLP: sampled
hidden-unit rows of the up, gate and down projections (the independence test). Per norm: the gamma vector.

Every sample uses indices drawn from a seed that depends only on the shape (element samples) or on the intermediate
and hidden sizes (unit samples), so two checkpoints of the same shapes are sampled at the same places: comparing a
submission with a stored reference needs nothing else. Subsampling hidden units with the same indices keeps a
100B-parameter checkpoint within a laptop's memory; the report says how many units were used.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from provscan.models.layout import Role, module_of, role_of
from provscan.models.safetensors_io import FLOAT_DTYPES, Checkpoint, numpy_dtype

SAMPLE_ELEMENTS = 256  # seeded elements kept per tensor for near-reuse correlation
MAX_UNITS = 1024  # hidden units sampled per dense MLP
EXPERT_UNIT_BUDGET = 4096  # hidden units per MoE layer, spread over its experts (at least MIN_EXPERT_UNITS each)
MIN_EXPERT_UNITS = 16
MAX_COORDS = 128  # residual-stream coordinates kept of each unit's row
MAX_NORM_ELEMENTS = 16384


def rng_for(label: str):
    import numpy as np

    return np.random.default_rng(zlib.crc32(label.encode("utf-8")))


def sample_indices(label: str, total: int, count: int):
    """`count` sorted indices of range(total), the same for every caller with the same label and total."""
    import numpy as np

    if count >= total:
        return np.arange(total, dtype=np.int64)
    return np.sort(rng_for(f"{label}:{total}").choice(total, size=count, replace=False)).astype(np.int64)


@dataclass
class TensorRecord:
    name: str
    dtype: str
    shape: tuple[int, ...]
    module: str
    file: str
    hash: str  # xxh3-128 of the stored bytes
    canonical: str  # xxh3-128 after casting floats to bfloat16
    constant: bool


@dataclass
class MlpUnits:
    """Sampled hidden units of one MLP (one layer, or one expert of one layer): rows restricted to coordinates."""

    stack: str
    layer: int
    expert: int | None
    n_units: int  # the MLP's full intermediate size
    n_coords: int  # the full hidden size
    up: object  # float32 [units, coords]
    gate: object | None = None
    down: object | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.stack, self.layer, -1 if self.expert is None else self.expert)


@dataclass
class WeightProfile:
    tensors: list[TensorRecord] = field(default_factory=list)
    samples: dict[str, object] = field(default_factory=dict)  # tensor name -> float32 sample
    mlps: list[MlpUnits] = field(default_factory=list)
    norms: dict[str, object] = field(default_factory=dict)  # tensor name -> float32 gamma (or a seeded sample)
    parameters: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def profile_checkpoint(checkpoint: Checkpoint) -> WeightProfile:
    """Hash, sample and collect the statistics' inputs of every tensor, reading each byte once."""
    profile = WeightProfile(files=checkpoint.labels, warnings=list(checkpoint.warnings))
    names = sorted(checkpoint.where, key=lambda n: (checkpoint.where[n].label, checkpoint.info(n).start))
    roles: dict[str, Role] = {}
    for name in names:
        info = checkpoint.info(name)
        source = checkpoint.where[name]
        raw_hash, canonical, constant = _hashes(source, name)
        profile.tensors.append(TensorRecord(name, info.dtype, info.shape, module_of(name), source.label, raw_hash,
                                            canonical, constant))
        profile.parameters += info.numel
        profile.bytes += info.nbytes
        if info.dtype not in FLOAT_DTYPES or info.numel == 0:
            continue
        role = role_of(name, len(info.shape))
        roles[name] = role
        indices = sample_indices(f"elements:{info.shape}", info.numel, SAMPLE_ELEMENTS)
        profile.samples[name] = source.elements(name, indices)
        if role.kind == "norm":
            keep = sample_indices("norm", info.numel, MAX_NORM_ELEMENTS)
            profile.norms[name] = source.elements(name, keep)
    profile.mlps = _mlp_units(checkpoint, roles)
    return profile


def _hashes(source, name: str) -> tuple[str, str, bool]:
    import ml_dtypes
    import numpy as np
    import xxhash

    info = source.tensors[name]
    raw = xxhash.xxh3_128()
    cast = info.dtype in FLOAT_DTYPES and info.dtype != "BF16"
    canonical = xxhash.xxh3_128() if cast else raw
    dtype = numpy_dtype(info.dtype)
    first = None
    constant = True
    for chunk in source.chunks(name):
        raw.update(chunk)
        if cast:
            values = np.frombuffer(chunk, dtype=dtype).astype(ml_dtypes.bfloat16)
            canonical.update(values.tobytes())
            words = values.view(np.uint16)
        else:
            words = np.frombuffer(chunk, dtype=np.uint8 if dtype.itemsize == 1 else f"<u{dtype.itemsize}")
        if constant and len(words):
            first = words[0] if first is None else first
            constant = bool((words == first).all())
    return raw.hexdigest(), canonical.hexdigest(), constant


def _mlp_units(checkpoint: Checkpoint, roles: dict[str, Role]) -> list[MlpUnits]:
    groups: dict[tuple[str, int, int | None], dict[str, str]] = {}
    for name, role in roles.items():
        if role.kind in ("up", "gate", "down") and role.layer is not None:
            groups.setdefault((role.stack, role.layer, role.expert), {})[role.kind] = name
    experts_per_layer: dict[tuple[str, int], int] = {}
    for stack, layer, expert in groups:
        if expert is not None:
            experts_per_layer[(stack, layer)] = experts_per_layer.get((stack, layer), 0) + 1
    mlps = []
    for (stack, layer, expert), parts in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1],
                                                                                   item[0][2] or -1)):
        if "up" not in parts:
            continue
        up_info = checkpoint.info(parts["up"])
        transposed = roles[parts["up"]].transposed
        n_units, n_coords = (up_info.shape[1], up_info.shape[0]) if transposed else up_info.shape
        budget = MAX_UNITS
        if expert is not None:
            budget = max(MIN_EXPERT_UNITS, EXPERT_UNIT_BUDGET // experts_per_layer[(stack, layer)])
        units = sample_indices("units", n_units, min(budget, MAX_UNITS))
        coords = sample_indices("coords", n_coords, MAX_COORDS)
        mlp = MlpUnits(stack, layer, expert, n_units, n_coords, _unit_rows(checkpoint, parts["up"], transposed,
                                                                           units, coords))
        for kind in ("gate", "down"):
            name = parts.get(kind)
            if name is None:
                continue
            info = checkpoint.info(name)
            flipped = (kind == "down") != roles[name].transposed  # down is (hidden, units) unless stored transposed
            expected = (n_coords, n_units) if flipped else (n_units, n_coords)
            if tuple(info.shape) == expected:
                setattr(mlp, kind, _unit_rows(checkpoint, name, flipped, units, coords))
        mlps.append(mlp)
    return mlps


def _unit_rows(checkpoint: Checkpoint, name: str, units_are_columns: bool, units, coords):
    """Rows of hidden units (restricted to `coords`) of a 2-D tensor whose units lie on axis 0, or axis 1."""
    import numpy as np

    source = checkpoint.where[name]
    if units_are_columns:
        return np.ascontiguousarray(source.rows(name, coords)[:, units].T)
    return np.ascontiguousarray(source.rows(name, units)[:, coords])
