"""Locate the shipped rule data (the repository's `rules/` directory, installed as `provscan.rules`).

Why a helper: rules are data read at run time; from a wheel they live in the `provscan.rules` package, from a
source checkout (tests, `python -m provscan`) in `rules/` beside the package. One place decides which.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


def rules_dir() -> Path:
    """Return the directory holding the shipped rule files."""
    checkout = Path(__file__).resolve().parent.parent / "rules"
    try:
        installed = Path(str(resources.files("provscan.rules")))
    except ModuleNotFoundError:
        installed = None
    if installed is not None and installed.is_dir():
        return installed
    return checkout


@cache
def load_toml(name: str) -> dict[str, Any]:
    """Parse one shipped TOML rule file; cached because rules never change within a process."""
    path = rules_dir() / name
    with path.open("rb") as handle:
        return tomllib.load(handle)
