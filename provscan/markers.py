"""Provenance markers: text that tells where code or weights came from, short of a copyright notice.

Rule-driven markers (model-family identifiers, hub and repository URLs, "Copied from"/"Adapted from" notes) come
from `rules/markers.toml`. Two kinds need code: `auto_map` / `trust_remote_code` entries in a config.json that
point at another organisation's repository, and the share of comment lines written in Chinese (retained Chinese
comments were evidence in the 2026 cases; Korean is not counted: Hangul is not Han).
"""

from __future__ import annotations

import fnmatch
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate

from provscan.rulebook import Rulebook

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LINES_KEPT = 10  # lines listed per marker and file; the count is always complete


@dataclass
class MarkerHit:
    """All hits of one marker rule in one file: the first lines as evidence and how many there were."""

    rule_id: str
    kind: str
    path: str
    severity: str
    message: str
    organisation: str = ""
    lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, matched text)
    count: int = 0


@cache
def _anywhere(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The rule's pattern for one search of a whole file: `^`/`$` at every line, as in the line-by-line search."""
    return re.compile(pattern.pattern, pattern.flags | re.MULTILINE)


def _rule_hits(path: str, text: str, rulebook: Rulebook) -> list[MarkerHit]:
    """Rules are defined line by line (lines split at "\\n", as tree-sitter counts them). Searching every line with
    every rule cost ~1.7 s per 50k lines, so each rule searches the whole file once and only the lines its matches
    touch are searched again line by line: a line that matches on its own is always touched by a whole-file match
    (the leftmost match at or before it either starts on it or runs into it), so nothing is lost."""
    name = path.rsplit("/", 1)[-1]
    hits = []
    line_starts: list[int] | None = None
    lines: list[str] = []
    for rule in rulebook.markers.values():
        if rule.files and not any(fnmatch.fnmatch(name, pattern) for pattern in rule.files):
            continue
        touched: set[int] = set()
        for match in _anywhere(rule.pattern).finditer(text):
            if line_starts is None:
                raw = text.split("\n")
                line_starts = list(accumulate((len(line) + 1 for line in raw), initial=0))
                lines = [line.rstrip("\r") for line in raw]
            first = bisect_right(line_starts, match.start()) - 1
            last = bisect_right(line_starts, max(match.end() - 1, match.start())) - 1
            touched.update(range(first, last + 1))
        if not touched:
            continue
        hit = MarkerHit(rule.id, rule.kind, path, rule.severity, rule.message, rule.organisation or "")
        for index in sorted(touched):
            match = rule.pattern.search(lines[index])
            if match:
                hit.count += 1
                if len(hit.lines) < LINES_KEPT:
                    hit.lines.append((index + 1, match.group(0)[:200]))
        if hit.count:
            hits.append(hit)
    return hits


def _remote_code(path: str, text: str, rulebook: Rulebook) -> list[MarkerHit]:
    """config.json entries that make `transformers` load (and run) code from another repository."""
    if path.rsplit("/", 1)[-1] != "config.json":
        return []
    try:
        config = json.loads(text)
    except ValueError:
        return []
    if not isinstance(config, dict):
        return []
    lines = text.splitlines()

    def line_of(needle: str) -> int:
        return next((n for n, line in enumerate(lines, 1) if needle in line), 1)

    hits = []
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict):
        for key, value in auto_map.items():
            for reference in value if isinstance(value, list) else [value]:
                if not isinstance(reference, str):
                    continue
                repository = reference.split("--", 1)[0] if "--" in reference else ""
                organisation = rulebook.organisation_in(repository.split("/", 1)[0]) if repository else None
                hits.append(MarkerHit(
                    "config.auto-map", "remote-code", path,
                    organisation.severity if organisation else "medium",
                    f"auto_map {key} loads {reference}"
                    + (f" from {organisation.name}'s repository {repository}" if organisation else ""),
                    organisation.id if organisation else "",
                    [(line_of(reference), reference)], 1,
                ))
    if config.get("trust_remote_code") is True:
        hits.append(MarkerHit("config.trust-remote-code", "remote-code", path, "low",
                              "trust_remote_code is set: the model runs code shipped with its weights", "",
                              [(line_of("trust_remote_code"), "trust_remote_code: true")], 1))
    return hits


def _chinese_comments(path: str, comments: list[tuple[int, str]], rulebook: Rulebook) -> list[MarkerHit]:
    settings = rulebook.chinese_comments
    comment_lines = [(line + offset, text) for line, block in comments
                     for offset, text in enumerate(block.splitlines()) if text.strip(" #/*\"'")]
    if len(comment_lines) < int(settings.get("min_comment_lines", 5)):
        return []
    chinese = [(line, text.strip()[:200]) for line, text in comment_lines if _HAN.search(text)]
    share = len(chinese) / len(comment_lines)
    if share < float(settings.get("min_share", 0.3)):
        return []
    return [MarkerHit("comments.chinese", "chinese-comments", path, str(settings.get("severity", "medium")),
                      f"{share:.0%} of comment lines ({len(chinese)} of {len(comment_lines)}) are written in Chinese",
                      "", chinese[:LINES_KEPT], len(chinese))]


def detect_markers(path: str, text: str, comments: list[tuple[int, str]] | None, rulebook: Rulebook) -> list[MarkerHit]:
    """Every marker in one file (comments: the file's comment texts when it was parsed, else None)."""
    hits = _rule_hits(path, text, rulebook) + _remote_code(path, text, rulebook)
    if comments:
        hits += _chinese_comments(path, comments, rulebook)
    return hits
