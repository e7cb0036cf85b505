"""Reference models: registered with `provscan corpus add-model NAME PATH`, stored next to the corpora.

Each reference is a folder `<cache>/models/NAME/` holding its profile (see `profile`): a few MB for a 7B model,
never the weights. Registering again replaces the stored profile.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from provscan.models.artifacts import local_artifacts
from provscan.models.errors import ModelFileError
from provscan.models.profile import ModelProfile, build_profile, load_profile, save_profile


class ReferenceError(Exception):
    """A reference-model operation that cannot go ahead; the message names the model or path."""


@dataclass
class ReferenceInfo:
    name: str
    meta: dict
    summary: dict


def models_dir() -> Path:
    from provscan.corpus import cache_dir

    return cache_dir() / "models"


def reference_dir(name: str) -> Path:
    from provscan.corpus import CorpusError, corpus_path

    try:
        corpus_path(name)  # same naming rule as corpora
    except CorpusError as error:
        raise ReferenceError(str(error).replace("corpus name", "model name")) from None
    return models_dir() / name


def add_model(name: str, path: Path) -> ModelProfile:
    """Profile the model directory `path` and store it as reference NAME (replacing an earlier one)."""
    target = reference_dir(name)
    path = Path(path)
    try:
        artifacts = local_artifacts(path)
    except ModelFileError as error:
        raise ReferenceError(str(error)) from None
    if not artifacts.files:
        raise ReferenceError(f"{path}: no config.json, tokenizer (tokenizer.json, *.model, *.gguf) or *.safetensors "
                             "found at its top level")
    started = time.perf_counter()
    profile = build_profile(name, path, artifacts)
    if not profile.files:
        raise ReferenceError(f"{path}: no artifact could be read: " + "; ".join(profile.errors))
    temporary = target.with_name(target.name + ".partial")
    shutil.rmtree(temporary, ignore_errors=True)
    save_profile(profile, temporary, {"source": str(path.resolve()), "added_at": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": round(time.perf_counter() - started, 2)})
    shutil.rmtree(target, ignore_errors=True)
    temporary.rename(target)
    return profile


def list_models() -> list[ReferenceInfo]:
    infos = []
    directory = models_dir()
    if not directory.is_dir():
        return infos
    for folder in sorted(directory.iterdir()):
        if not (folder / "profile.json").is_file():
            continue
        try:
            profile, meta = load_profile(folder)
            infos.append(ReferenceInfo(folder.name, meta, profile.summary()))
        except (ModelFileError, OSError, ValueError, KeyError) as error:
            infos.append(ReferenceInfo(folder.name, {"error": str(error)}, {}))
    return infos


def load_references(names: tuple[str, ...] | None = None) -> tuple[dict[str, ModelProfile], list[str]]:
    """Stored references by name (all when `names` is None) and the problems loading any of them."""
    wanted = names if names is not None else tuple(info.name for info in list_models())
    loaded, problems = {}, []
    for name in wanted:
        folder = reference_dir(name)
        if not (folder / "profile.json").is_file():
            problems.append(f"no reference model named {name!r} (see `provscan corpus models`)")
            continue
        try:
            loaded[name] = load_profile(folder)[0]
        except (ModelFileError, OSError, ValueError, KeyError) as error:
            problems.append(f"reference model {name!r} cannot be loaded: {error}")
    return loaded, problems


def remove_model(name: str) -> None:
    folder = reference_dir(name)
    if not folder.is_dir():
        raise ReferenceError(f"no reference model named {name!r}")
    shutil.rmtree(folder)
