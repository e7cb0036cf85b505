"""Shared fixtures: real transformers modeling files as the reference corpus, an isolated cache directory."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest


def pinned_transformers() -> str:
    """The transformers release the test extra pins (pyproject.toml): the corpus the tests' floors were measured on."""
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [req for req in project["project"]["optional-dependencies"]["test"] if req.startswith("transformers==")]
    assert len(pins) == 1, "the test extra must pin exactly one transformers release"
    return pins[0].split("==", 1)[1]


def transformers_models() -> Path:
    """The installed transformers wheel's models/ folder (read as files, never imported), which must be the pinned
    release: tests that count on its content would otherwise fail for reasons that are not provscan's."""
    installed = metadata.version("transformers")
    if installed != pinned_transformers():
        pytest.fail(f"the tests need transformers {pinned_transformers()} (the release their figures were measured "
                    f"on), but {installed} is installed: run pip install '.[test]'", pytrace=False)
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


_REPORTED_PACKAGES = ("transformers", "scancode-toolkit", "datasketch", "tree-sitter", "tree-sitter-python", "numpy",
                      "scipy", "click", "rich", "jinja2", "pygments", "filelock", "safetensors", "gguf", "redis",
                      "distributed", "playwright")


def pytest_report_header(config) -> list[str]:
    """The versions this run tested with, at the top of every run (and so in every CI log)."""
    versions = []
    for name in _REPORTED_PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    tools = []
    for tool in ("chromium", "redis-server"):
        path = shutil.which(tool)
        if path is None:
            tools.append(f"{tool} (not found)")
            continue
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        # "Chromium 156.0.8078.114 built on ...", "Redis server v=7.0.15 sha=...": the first word with a digit
        version = next((word for word in done.stdout.split() if any(c.isdigit() for c in word)), "version unknown")
        tools.append(f"{tool} {version.removeprefix('v=')}")
    return [f"provscan tested with: {', '.join(versions)}", f"system tools: {', '.join(tools)}",
            f"corpus-content tests pinned to transformers {pinned_transformers()}"]
