"""Lineage of corpus code: which definition of a corpus file was taken from which definition of another project.

When one piece of code sits in many corpus files (transformers copies Llama's `rotate_half` into hundreds of model
folders), similarity alone cannot say which one is the original, and naming a later copy as the source accuses the
wrong project (a copy's copyright holder is not the author). The corpus records its own history, and a build reads
it here, from the text alone (nothing is imported or run):

- `# Copied from transformers.models.llama.modeling_llama.LlamaRMSNorm with Llama->Qwen2` above a definition;
- a class whose base is imported from another model folder (`from ..llama.modeling_llama import LlamaAttention`,
  `class Qwen2Attention(LlamaAttention)`), in modular files and hand-written ones alike;
- in a modular file, every name imported from another model folder: the modeling file generated from it carries
  a copy of that definition under the same name (`inherit_from_modular` gives the generated file these edges).

Each edge maps a definition's name in this file to (project, name) of the definition it came from; the findings
stage follows the edges among equally good sources to the origin.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

Lineage = dict[str, tuple[str, str]]  # definition name here -> (project, definition name) it came from

_COPIED_FROM = re.compile(
    r"^[ \t]*#[ \t]*Copied from transformers\.models\.(?P<target>[\w.]+)[^\n]*\n"
    r"(?:[ \t]*(?:#|@)[^\n]*\n)*"  # further comments and decorators between the note and the definition
    r"[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)",
    re.MULTILINE,
)
_IMPORT = re.compile(
    r"^from[ \t]+(?:\.\.|transformers\.models\.|\.\.\.models\.)(?P<folder>\w+)\.\w+[ \t]+import[ \t]+"
    r"(?:\((?P<group>[^)]*)\)|(?P<line>[^\n]*))",
    re.MULTILINE,
)
_DEFINED = re.compile(r"^(?:class|def|async[ \t]+def)[ \t]+(\w+)", re.MULTILINE)
_CLASS = re.compile(r"^class[ \t]+(?P<name>\w+)[ \t]*\((?P<bases>[^)]*)\)[ \t]*:", re.MULTILINE)


def lineage_of(path: str, text: str, project_of: Callable[[str], str]) -> Lineage:
    """The lineage edges one corpus file states about its own definitions (see the module docstring)."""
    own_project = project_of(path)
    edges: Lineage = {}
    imported = _imported_names(text)
    if _is_modular(path):
        for local, origin in imported.items():
            edges.setdefault(local, origin)
    for match in _CLASS.finditer(text):
        for base in (b.strip().split("[")[0] for b in match.group("bases").split(",")):
            if base in imported:
                edges[match.group("name")] = imported[base]
                break
    for match in _COPIED_FROM.finditer(text):
        parts = match.group("target").split(".")
        if len(parts) >= 3:  # folder.module.Name[.method]
            edges[match.group("name")] = (parts[0], parts[-1])
    return {name: origin for name, origin in edges.items() if origin[0] != own_project}


def inherit_from_modular(generated_text: str, generated: Lineage, modular_text: str, modular: Lineage,
                         defines: Callable[[str, str], bool] | None = None) -> Lineage:
    """A generated modeling file's lineage: its own edges, then its modular file's, then the definitions the
    modular converter copied in from the models the modular file builds on: under this model's prefix
    (`SolarOpenTopkRouter` from `Glm4MoeTopkRouter`, when the modular file maps `SolarOpen...` names to `Glm4Moe...`
    ones more often than to any other model's), or under their own name (`rotate_half`, from the model the modular
    file imports most from among those that define it: `defines(model, name)`, when the corpus knows), when the
    modular file does not define them itself. DeepSeek-V3's modular file imports most from Llama and DeepSeek-V2,
    and its `rotate_half` comes with Llama's `apply_rotary_pos_emb`: DeepSeek-V2 has none."""
    edges = {**modular, **generated}
    prefixes: Counter[tuple[str, str, str]] = Counter()
    for local, (folder, origin) in modular.items():
        suffix = _common_suffix(local, origin)
        if suffix and suffix != local and suffix != origin:
            prefixes[(local[: -len(suffix)], folder, origin[: -len(suffix)])] += 1
    best: dict[str, tuple[str, str]] = {}
    for (local_prefix, folder, origin_prefix), _count in prefixes.most_common():
        best.setdefault(local_prefix, (folder, origin_prefix))
    folders = [folder for folder, _count in Counter(folder for folder, _name in modular.values()).most_common()]
    own = defined_names(modular_text)
    for name in _DEFINED.findall(generated_text):
        if name in edges or name in own:
            continue
        prefixed = [(p, o) for p, o in best.items() if name.startswith(p) and len(name) > len(p)]
        if prefixed:
            local_prefix, (folder, origin_prefix) = prefixed[0]
            edges[name] = (folder, origin_prefix + name[len(local_prefix):])
        elif folders and not any(name.startswith(p) for p in best):
            holder = next((f for f in folders if defines(f, name)), None) if defines else folders[0]
            if holder is not None:
                edges[name] = (holder, name)
    return edges


def defined_names(text: str) -> set[str]:
    """Names a file defines at the top level (classes and functions)."""
    return set(_DEFINED.findall(text))


def model_name(stem: str) -> str:
    """The model a file stem names, as transformers names its files: `modeling_qwen2` -> `qwen2`."""
    return stem.removeprefix("modeling_").removeprefix("modular_")


def _common_suffix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    suffix = a[len(a) - n:] if n else ""
    # cut at a word boundary (an upper-case letter), so "SolarOpenMoE"/"Glm4MoeMoE" share "MoE", not "oE"
    while suffix and not suffix[0].isupper():
        suffix = suffix[1:]
    return suffix


def _is_modular(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith("modular_")


def _imported_names(text: str) -> dict[str, tuple[str, str]]:
    """Local name -> (model folder, name there) for every import from another model folder."""
    names: dict[str, tuple[str, str]] = {}
    for match in _IMPORT.finditer(text):
        listed = match.group("group") if match.group("group") is not None else match.group("line")
        for item in listed.replace("\\\n", " ").split(","):
            words = item.split("#", 1)[0].split()
            if not words or not words[0].isidentifier():
                continue
            local = words[2] if len(words) == 3 and words[1] == "as" else words[0]
            names[local] = (match.group("folder"), words[0])
    return names
