"""A real scan for the report tests: a mutated transformers modeling file with a swapped copyright header, a file
that kept a Zhipu AI notice, and an XSS payload in code, comments, a file name and a notice.

The corpus is two real transformers model folders (GLM-4 MoE and Qwen2) copied into the test's directory.
"""

from __future__ import annotations

from pathlib import Path

from provscan.corpus import add_corpus
from provscan.scan import ScanResult, ScanSettings, scan
from tests.conftest import copy_models, transformers_models
from tests.mutate import definitions, mutate

PAYLOAD = "</script><img src=x onerror=alert(1)>"
GLM = "glm4_moe/modeling_glm4_moe.py"
CORPUS = "reportcase"
EVIL_PATH = f"{PAYLOAD}.py"  # the directory "<" plus a file named "script><img src=x onerror=alert(1)>.py"


def build_case(root: Path) -> tuple[ScanResult, Path, Path]:
    """(scan result, corpus source directory, submission directory); the corpus is added to the current cache."""
    corpus = copy_models(root / "corpus", ["glm4_moe", "qwen2"])
    add_corpus(CORPUS, corpus, split_projects=True, jobs=1)
    original = (transformers_models() / GLM).read_text(encoding="utf-8")
    sub = root / "submission"
    (sub / "<").mkdir(parents=True)
    # Renamed, comments stripped, reordered, reindented, statements inserted: then a swapped header on top.
    mutated, _ = mutate(original, {"Glm4Moe": "Hanbit", "glm4_moe": "hanbit"}, seed=3)
    (sub / "hanbit_moe.py").write_text(f"# Copyright 2025 Hanbit AI Corp. {PAYLOAD}\n" + mutated, encoding="utf-8")
    lines = original.splitlines()
    picked = definitions(original)["Glm4MoeMLP"]
    body = lines[picked.start_line - 1 : picked.end_line]
    body[1:1] = [f"    # {PAYLOAD}", f"    marker = {PAYLOAD!r}"]  # a comment and a class attribute
    (sub / "<" / EVIL_PATH[2:]).write_text(
        f"# Copyright 2025 Zhipu AI {PAYLOAD}\nimport torch\nfrom torch import nn\n\n\n" + "\n".join(body) + "\n",
        encoding="utf-8",
    )
    (sub / "clean.py").write_text(
        "def moving_average(values, window):\n    out, total = [], 0.0\n    for i, value in enumerate(values):\n"
        "        total += value\n        if i >= window:\n            total -= values[i - window]\n"
        "        out.append(total / min(i + 1, window))\n    return out\n",
        encoding="utf-8",
    )
    result = scan(sub, ScanSettings(corpora=(CORPUS,), jobs=1, license_detection=False))
    return result, corpus, sub


def build_many(root: Path, files: int, jobs: int = 1) -> ScanResult:
    """A scan with about `files` code findings: one top-level class or function of a real transformers modeling
    file per submission file (modeling files taken in name order, each class/function at least 8 lines), scanned
    against a corpus of the model folders they came from."""
    models = sorted(transformers_models().glob("*/modeling_*.py"))
    sub = root / "many"
    sub.mkdir(parents=True)
    folders: list[str] = []
    written = 0
    for model in models:
        text = model.read_text(encoding="utf-8")
        lines = text.splitlines()
        for name, found in definitions(text).items():
            if "." in name or found.end_line - found.start_line < 8:
                continue
            body = "\n".join(lines[found.start_line - 1 : found.end_line])
            (sub / f"f{written:05d}_{name}.py").write_text(f"import torch\nfrom torch import nn\n\n\n{body}\n",
                                                           encoding="utf-8")
            written += 1
            if model.parent.name not in folders:
                folders.append(model.parent.name)
            if written >= files:
                break
        if written >= files:
            break
    add_corpus("many", copy_models(root / "corpus", folders), split_projects=True, jobs=jobs)
    return scan(sub, ScanSettings(corpora=("many",), jobs=jobs, license_detection=False))
