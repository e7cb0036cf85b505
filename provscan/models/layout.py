"""Tensor names -> what they are: layer, expert, role (MLP up/gate/down, norm), and the module they belong to.

Why names: the statistics need the MLP projections of each layer (the independence test), the norm weights (the
centred-correlation test) and a module grouping for reuse reports ("encoder.layer.3 reused as is"). Checkpoints of
the open families name these consistently enough that a handful of patterns cover Llama/Qwen/Mistral/DeepSeek/GLM
style (`mlp.up_proj`, `gate_proj`, `down_proj`, `experts.N.*`), Mixtral (`w1`/`w3`/`w2`), BERT (`intermediate.dense`,
`output.dense`), GPT-2 (`mlp.c_fc`, `mlp.c_proj`, stored transposed) and GPT-NeoX (`dense_h_to_4h`, `dense_4h_to_h`).
Tensors that match no pattern are still hashed and sampled for reuse; they just take no part in the MLP test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block|decoder_layers)\.(\d+)\.")
_EXPERT = re.compile(r"\.experts\.(\d+)\.")
_ROLES = [
    ("gate", re.compile(r"(?:^|\.)(?:gate_proj|w1|wg)\.weight$")),
    ("up", re.compile(r"(?:^|\.)(?:up_proj|w3|intermediate\.dense|mlp\.fc1|dense_h_to_4h|mlp\.c_fc|wi)\.weight$")),
    ("down", re.compile(r"(?:^|\.)(?:down_proj|w2|output\.dense|mlp\.fc2|dense_4h_to_h|mlp\.c_proj|wo)\.weight$")),
]
_TRANSPOSED = re.compile(r"mlp\.c_(?:fc|proj)\.weight$")  # GPT-2 Conv1D stores (in, out)
_WRAPPERS = {"model", "transformer", "bert", "roberta", "language_model", "text_model", "vision_model", "gpt_neox"}


@dataclass(frozen=True)
class Role:
    stack: str  # the numbered container, e.g. "model.layers" or "visual.blocks" ("" outside one)
    layer: int | None
    expert: int | None
    kind: str  # "up" | "gate" | "down" | "norm" | ""
    transposed: bool = False  # stored as (in, out) rather than torch's (out, in)


def role_of(name: str, ndim: int) -> Role:
    layer_match = _LAYER.search(name)
    expert_match = _EXPERT.search(name)
    layer = int(layer_match.group(1)) if layer_match else None
    stack = name[: layer_match.end() - len(layer_match.group(1)) - 2].lstrip(".") if layer_match else ""
    expert = int(expert_match.group(1)) if expert_match else None
    parts = name.split(".")
    if ndim == 1 and len(parts) > 1 and parts[-1] in ("weight", "gamma", "scale") and (
            "norm" in parts[-2].lower() or parts[-2].lower().startswith("ln")):
        return Role(stack, layer, expert, "norm")
    if ndim == 2 and layer is not None and "attn" not in name and "attention" not in name.replace("output.dense", ""):
        for kind, pattern in _ROLES:
            if pattern.search(name):
                return Role(stack, layer, expert, kind, bool(_TRANSPOSED.search(name)))
    return Role(stack, layer, expert, "")


def module_of(name: str) -> str:
    """The module a tensor belongs to, for reuse reports: a numbered block, else the top-level component."""
    match = _LAYER.search(name)
    if match:
        return name[: match.end() - 1]
    parts = name.split(".")[:-1] or [name]
    if len(parts) > 1 and parts[0] in _WRAPPERS:
        return ".".join(parts[:2])
    return parts[0]


def compress_modules(modules: list[str]) -> str:
    """'encoder.layer.0', 'encoder.layer.1', 'encoder.layer.3', 'pooler' -> 'encoder.layer.{0-1,3}, pooler'."""
    numbered: dict[str, list[int]] = {}
    plain: list[str] = []
    for module in modules:
        head, _, tail = module.rpartition(".")
        if head and tail.isdigit():
            numbered.setdefault(head, []).append(int(tail))
        else:
            plain.append(module)
    parts = []
    for head, numbers in sorted(numbered.items()):
        numbers = sorted(set(numbers))
        runs: list[str] = []
        start = prev = numbers[0]
        for n in numbers[1:] + [None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            if n is not None:
                start = prev = n
        parts.append(f"{head}.{{{','.join(runs)}}}" if len(numbers) > 1 else f"{head}.{numbers[0]}")
    return ", ".join(parts + sorted(set(plain)))
