"""A model directory's profile: config facts, tokenizer, weight statistics; saved compactly for references.

The same profile is built for a registered reference (and stored) and for a model directory found in a submission
(and compared), so both sides are sampled at the same places. What is stored is small: config facts, the tokenizer's
vocabulary and merges, per-tensor hashes, a few hundred sampled elements per tensor, sampled MLP unit rows and the
norm vectors; never the weights. Each artifact that cannot be read is recorded as an error naming the file, and the
rest of the profile is still built.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from provscan.models.artifacts import ModelArtifacts
from provscan.models.config_facts import config_facts, read_config
from provscan.models.errors import ModelFileError
from provscan.models.tokenizer_io import TokenizerData, read_tokenizer
from provscan.models.weights import MlpUnits, TensorRecord, WeightProfile

PROFILE_VERSION = 1


@dataclass
class ModelProfile:
    name: str
    facts: dict = field(default_factory=dict)
    config_path: str | None = None
    tokenizer: TokenizerData | None = None
    weights: WeightProfile | None = None
    files: list[str] = field(default_factory=list)  # artifacts read successfully
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        weights = self.weights
        return {
            "config": self.config_path, "facts": self.facts,
            "tokenizer": self.tokenizer.summary() if self.tokenizer else None,
            "weights": None if weights is None else {
                "files": weights.files, "tensors": len(weights.tensors), "parameters": weights.parameters,
                "bytes": weights.bytes, "mlp_layers": len(weights.mlps), "norm_vectors": len(weights.norms),
                "constant_tensors": sum(1 for t in weights.tensors if t.constant), "warnings": weights.warnings},
            "errors": self.errors,
        }


def build_profile(name: str, root: Path, artifacts: ModelArtifacts) -> ModelProfile:
    """Read every artifact of one model directory; a bad one becomes an error, the others are still read."""
    from provscan.models.safetensors_io import open_checkpoint
    from provscan.models.weights import profile_checkpoint

    profile = ModelProfile(name)
    if artifacts.config:
        try:
            config = read_config(root / artifacts.config, artifacts.config)
            profile.facts = config_facts(config)
            profile.config_path = artifacts.config
            profile.files.append(artifacts.config)
        except ModelFileError as error:
            profile.errors.append(str(error))
    if artifacts.tokenizer:
        try:
            profile.tokenizer = read_tokenizer(root / artifacts.tokenizer, artifacts.tokenizer)
            profile.files.append(artifacts.tokenizer)
        except ModelFileError as error:
            profile.errors.append(str(error))
    if artifacts.safetensors or artifacts.index:
        try:
            checkpoint = open_checkpoint(root / artifacts.directory, artifacts.safetensors, artifacts.index, root)
            profile.weights = profile_checkpoint(checkpoint)
            profile.files.extend(checkpoint.labels)
        except ModelFileError as error:
            profile.errors.append(str(error))
    return profile


# --- storage ----------------------------------------------------------------------------------------------------
def save_profile(profile: ModelProfile, directory: Path, meta: dict) -> None:
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, object] = {}
    weights = None
    if profile.weights is not None:
        w = profile.weights
        index = {t.name: i for i, t in enumerate(w.tensors)}
        for name, sample in w.samples.items():
            arrays[f"s{index[name]}"] = sample
        for name, vector in w.norms.items():
            arrays[f"n{index[name]}"] = vector
        mlps = []
        for i, mlp in enumerate(w.mlps):
            for part in ("up", "gate", "down"):
                value = getattr(mlp, part)
                if value is not None:
                    arrays[f"m{i}_{part}"] = value.astype(np.float16)
            mlps.append({"stack": mlp.stack, "layer": mlp.layer, "expert": mlp.expert, "n_units": mlp.n_units,
                         "n_coords": mlp.n_coords, "parts": [p for p in ("up", "gate", "down")
                                                              if getattr(mlp, p) is not None]})
        weights = {"tensors": [asdict(t) for t in w.tensors], "mlps": mlps, "parameters": w.parameters,
                   "bytes": w.bytes, "files": w.files, "warnings": w.warnings}
    document = {"version": PROFILE_VERSION, "name": profile.name, "facts": profile.facts,
                "config_path": profile.config_path, "files": profile.files, "errors": profile.errors,
                "weights": weights, "meta": meta}
    np.savez(directory / "arrays.npz", **arrays)
    if profile.tokenizer is not None:
        with gzip.open(directory / "tokenizer.json.gz", "wt", encoding="utf-8") as handle:
            json.dump(profile.tokenizer.to_dict(), handle, ensure_ascii=False)
    (directory / "profile.json").write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")


def load_profile(directory: Path) -> tuple[ModelProfile, dict]:
    import numpy as np

    document = json.loads((directory / "profile.json").read_text(encoding="utf-8"))
    if document.get("version") != PROFILE_VERSION:
        raise ModelFileError(str(directory), f"reference profile version {document.get('version')} is not "
                                             f"{PROFILE_VERSION}: add the model again")
    profile = ModelProfile(document["name"], document["facts"], document["config_path"], None, None,
                           document["files"], document["errors"])
    tokenizer_path = directory / "tokenizer.json.gz"
    if tokenizer_path.exists():
        with gzip.open(tokenizer_path, "rt", encoding="utf-8") as handle:
            profile.tokenizer = TokenizerData.from_dict(json.load(handle))
    stored = document.get("weights")
    if stored is not None:
        with np.load(directory / "arrays.npz") as arrays:
            tensors = [TensorRecord(**{**t, "shape": tuple(t["shape"])}) for t in stored["tensors"]]
            w = WeightProfile(tensors=tensors, parameters=stored["parameters"], bytes=stored["bytes"],
                              files=stored["files"], warnings=stored["warnings"])
            for i, tensor in enumerate(tensors):
                if f"s{i}" in arrays:
                    w.samples[tensor.name] = arrays[f"s{i}"]
                if f"n{i}" in arrays:
                    w.norms[tensor.name] = arrays[f"n{i}"]
            for i, mlp in enumerate(stored["mlps"]):
                parts = {p: arrays[f"m{i}_{p}"].astype(np.float32) for p in mlp["parts"]}
                w.mlps.append(MlpUnits(mlp["stack"], mlp["layer"], mlp["expert"], mlp["n_units"], mlp["n_coords"],
                                       parts["up"], parts.get("gate"), parts.get("down")))
        profile.weights = w
    return profile, document.get("meta", {})
