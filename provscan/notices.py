"""Notice lines of a file: the copyright and license statements near its top.

The corpus keeps them with every file so later stages can tell whether a submission that copies the code also kept
its notice. This is the light, always-available detector (regular expressions from `rules/notices.toml`); the
full scancode-based detection builds on top of it.
"""

from __future__ import annotations

import re
from functools import cache

from provscan.rulesdata import load_toml


@cache
def _patterns() -> tuple[re.Pattern[str], int]:
    table = load_toml("notices.toml")["header"]
    return re.compile("|".join(table["patterns"]), re.IGNORECASE), int(table["max_lines"])


def header_notices(text: str) -> list[dict[str, object]]:
    """Notice lines among the first lines of `text`, as {"line": n, "text": stripped line}."""
    pattern, max_lines = _patterns()
    found = []
    for number, line in enumerate(text.splitlines()[:max_lines], start=1):
        if pattern.search(line):
            found.append({"line": number, "text": line.strip(" \t#/*-;!")[:300]})
    return found
