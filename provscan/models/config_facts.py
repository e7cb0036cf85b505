"""config.json -> architecture facts, and the nearest known families from `rules/architectures.toml`.

Why weak evidence: families share design choices (4096 hidden, 32 layers, rope theta 1e6 recur across unrelated
models), so an equal config says which reference is worth comparing weights with, not that anything was copied.
The report says so with every match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provscan.models.errors import ModelFileError, read_json
from provscan.rulesdata import load_toml

MAX_CONFIG_BYTES = 4 * 1024 * 1024
FACTS = ("model_type", "class", "hidden_size", "layers", "heads", "kv_heads", "intermediate_size",
         "moe_intermediate_size", "experts", "vocab_size", "rope_theta")
_ALIASES = {
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
    "layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "heads": ("num_attention_heads", "n_head", "n_heads"),
    "kv_heads": ("num_key_value_heads", "multi_query_group_num", "n_kv_heads"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size"),
    "moe_intermediate_size": ("moe_intermediate_size",),
    "experts": ("n_routed_experts", "num_experts", "num_local_experts", "moe_num_experts"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "rope_theta": ("rope_theta",),
}
MIN_COMPARED = 5  # facts both sides state before a family match is reported
REPORT_SHARE = 0.8  # share of compared facts that must be equal


@dataclass
class FamilyMatch:
    id: str
    family: str
    source: str
    equal: list[str]
    different: list[str]

    @property
    def share(self) -> float:
        compared = len(self.equal) + len(self.different)
        return len(self.equal) / compared if compared else 0.0

    def to_dict(self) -> dict:
        return {"id": self.id, "family": self.family, "source": self.source, "share": round(self.share, 3),
                "equal": self.equal, "different": self.different}


def read_config(path: Path, label: str) -> dict:
    data = read_json(path, label, MAX_CONFIG_BYTES, "config")
    if not isinstance(data, dict):
        raise ModelFileError(label, "config is not a JSON object")
    return data


def config_facts(config: dict) -> dict:
    """The architecture facts of a config.json (a multimodal config's text_config for the language model)."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    facts: dict = {}
    model_type = config.get("model_type")
    if isinstance(model_type, str):
        facts["model_type"] = model_type
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        facts["class"] = architectures[0]
    for fact, keys in _ALIASES.items():
        for key in keys:
            value = text.get(key, config.get(key))
            if isinstance(value, int | float) and not isinstance(value, bool):
                facts[fact] = value
                break
    rope = text.get("rope_parameters") or text.get("rope_scaling")
    if "rope_theta" not in facts and isinstance(rope, dict) and isinstance(rope.get("rope_theta"), int | float):
        facts["rope_theta"] = rope["rope_theta"]
    return facts


def compare_facts(a: dict, b: dict) -> tuple[list[str], list[str]]:
    equal, different = [], []
    for fact in FACTS:
        if fact in a and fact in b:
            same = (float(a[fact]) == float(b[fact])) if fact == "rope_theta" else a[fact] == b[fact]
            (equal if same else different).append(fact)
    return equal, different


def nearest_families(facts: dict, limit: int = 3) -> list[FamilyMatch]:
    matches = []
    for row in load_toml("architectures.toml")["architecture"]:
        equal, different = compare_facts(facts, row)
        if equal:
            matches.append(FamilyMatch(row["id"], row["family"], row["source"], equal, different))
    matches.sort(key=lambda m: (-m.share, -len(m.equal), m.id))
    return matches[:limit]


def reportable(match: FamilyMatch) -> bool:
    numeric = [f for f in match.equal if f not in ("model_type", "class")]
    return len(match.equal) + len(match.different) >= MIN_COMPARED and match.share >= REPORT_SHARE and len(numeric) >= 4
