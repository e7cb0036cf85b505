"""Which files of a submission are model artifacts, grouped by the directory (the model) holding them.

Why from the walk: the walk already decided what is in scope (excludes, .gitignore, vendored directories, symlinks
kept inside the root). The model stage takes its candidates from the files the walk yielded or skipped as binary or
too large, so it never reads a file the walk excluded, and it can then claim the files it analysed so that the
report counts them as analysed rather than skipped. Members of archives are not analysed (they stay skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from provscan.models.tokenizer_io import TOKENIZER_FILES

INDEX_SUFFIX = ".safetensors.index.json"


@dataclass
class ModelArtifacts:
    directory: str  # posix path relative to the scanned root ("" for the root itself)
    config: str | None = None
    tokenizer: str | None = None
    safetensors: list[str] = field(default_factory=list)
    index: str | None = None

    @property
    def files(self) -> list[str]:
        found = [self.config, self.tokenizer, self.index, *self.safetensors]
        return [f for f in found if f]

    @property
    def label(self) -> str:
        return self.directory or "."


def is_model_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return (name == "config.json" or name in TOKENIZER_FILES or name.endswith((".safetensors", ".gguf", INDEX_SUFFIX)))


def _tokenizer_rank(name: str) -> int:
    if name == "tokenizer.json":
        return 0
    if name.endswith(".model"):
        return 1
    return 2


def find_artifacts(paths: list[str]) -> list[ModelArtifacts]:
    """Group candidate paths (relative posix) into model directories; archive members ("x.zip!/...") are left out."""
    groups: dict[str, ModelArtifacts] = {}
    for path in sorted(set(paths)):
        if "!/" in path or not is_model_file(path):
            continue
        posix = PurePosixPath(path)
        directory = "" if str(posix.parent) == "." else str(posix.parent)
        group = groups.setdefault(directory, ModelArtifacts(directory))
        name = posix.name
        if name == "config.json":
            group.config = path
        elif name.endswith(INDEX_SUFFIX):
            group.index = group.index or path
        elif name.endswith(".safetensors"):
            group.safetensors.append(path)
        elif group.tokenizer is None or _tokenizer_rank(name) < _tokenizer_rank(PurePosixPath(group.tokenizer).name):
            group.tokenizer = path
    return [g for g in groups.values() if g.tokenizer or g.safetensors or g.index or g.config]


def local_artifacts(directory: Path) -> ModelArtifacts:
    """The artifacts of a reference model directory on disk (top level only), paths relative to it."""
    if not directory.is_dir():
        from provscan.models.errors import ModelFileError

        raise ModelFileError(str(directory), "not a directory")
    found = find_artifacts([p.name for p in directory.iterdir() if p.is_file()])
    return found[0] if found else ModelArtifacts("")
