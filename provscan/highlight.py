"""Syntax highlighting for the HTML report's evidence: pygments tokens per line, for the lines a report shows.

A module of its own so that worker processes highlighting a big report import pygments and nothing else of
provscan. Output is data, not markup: per line, a flat list [css class, text, css class, text, ...] ("" = plain),
which the page turns into text nodes, so highlighting never builds HTML from submission text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class HighlightJob:
    """One file for a worker: its text and the line ranges the report shows."""

    key: str
    path: str
    text: str
    ranges: tuple[tuple[int, int], ...]


def highlight_job(job: HighlightJob) -> tuple[str, int, dict[int, list[str]]]:
    """Worker: (key, number of lines, highlighted wanted lines)."""
    lines = _split_lines(job.text)
    return job.key, len(lines), highlight_ranges(lines, job.path, list(job.ranges))


def _split_lines(text: str) -> list[str]:
    """Lines split on "\n" only, as the parser numbers them; a lone "\r" is shown as a visible mark."""
    return text.replace("\r\n", "\n").replace("\r", "\u240d").split("\n")


def highlight(text: str, path: str) -> list[list[str]]:
    """Per line of `text`, pygments tokens flattened as [css class, text, css class, text, ...] ("" = plain)."""
    lines = _split_lines(text)
    highlighted = highlight_ranges(lines, path, [(1, len(lines))])
    return [highlighted[n] for n in range(1, len(lines) + 1)]


def highlight_ranges(lines: list[str], path: str, ranges: list[tuple[int, int]], merge_gap: int = 20
                     ) -> dict[int, list[str]]:
    """Highlight only the wanted line ranges (each merged run lexed on its own): lexing a whole 3,000-line corpus
    file to show one function would dominate the report's cost. Ranges start at a definition or a notice line, so
    the lexer starts outside any string."""
    spans: list[list[int]] = []
    for start, end in sorted((max(1, a), min(b, len(lines))) for a, b in ranges):
        if start > end:
            continue
        if spans and start <= spans[-1][1] + merge_gap:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    lexer = _lexer(path)
    result: dict[int, list[str]] = {}
    for start, end in spans:
        number, current = start, []
        for token_type, value in lexer.get_tokens("\n".join(lines[start - 1 : end])):
            css = _css_class(token_type)
            if "\n" not in value:
                if value:
                    current.extend((css, value))
                continue
            parts = value.split("\n")
            for index, part in enumerate(parts):
                if index:
                    result[number] = current
                    number, current = number + 1, []
                if part:
                    current.extend((css, part))
        result[number] = current
        for missing in range(start, end + 1):  # pygments may drop a trailing empty line
            result.setdefault(missing, [])
    return {n: tokens for n, tokens in result.items() if n <= len(lines)}


@cache
def _css_class(token_type) -> str:
    from pygments.token import STANDARD_TYPES

    while token_type not in STANDARD_TYPES and token_type.parent is not None:
        token_type = token_type.parent
    return STANDARD_TYPES.get(token_type, "")


def _lexer(path: str):
    name = path.rsplit("/", 1)[-1]
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return _lexer_for(f"x.{suffix}" if suffix else name)


@cache
def _lexer_for(name: str):
    """One lexer per file suffix (finding a lexer by file name costs ~0.4 ms, paid once per suffix)."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

    options = {"stripnl": False, "stripall": False, "ensurenl": False}
    try:
        return get_lexer_for_filename(name, **options)
    except ClassNotFound:
        return TextLexer(**options)
