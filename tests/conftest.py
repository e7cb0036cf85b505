"""Shared fixtures: real transformers modeling files as the reference corpus, an isolated cache directory."""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import pytest


def transformers_models() -> Path:
    """The installed transformers wheel's models/ folder (read as files, never imported)."""
    return Path(str(metadata.distribution("transformers").locate_file("transformers/models")))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own corpus cache, so no test sees another's (or the user's) corpora."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PROVSCAN_CACHE_DIR", str(cache))
    return cache


def copy_models(destination: Path, folders: list[str]) -> Path:
    """Copy whole model folders of the installed transformers wheel into `destination/<folder>/`."""
    for folder in folders:
        shutil.copytree(
            transformers_models() / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return destination
