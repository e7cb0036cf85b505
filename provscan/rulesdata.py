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


def read_user_toml(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """Parse a user's TOML file (rules, project configuration); any problem is `error` naming the file and `what`
    it was meant to be, so the CLI can print it and stop."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as problem:
        raise error(f"{path}: cannot read {what}: {problem.strerror or problem}") from None
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path}: not valid TOML: {problem}") from None
