"""Accepted findings: a baseline file of fingerprints, and inline `provscan: ignore[rule-id]` comments.

A team adopting the pre-commit hook on an existing code base first accepts what is already there (like
detect-secrets' `.secrets.baseline`): `provscan baseline create` records every current finding's stable id, and
later runs report only findings whose id is not in the file. Ids hash what was found (file, fragment or rule,
source), never line numbers, so editing above a finding does not revive it; moving code to another file does,
on purpose, because the new file needs its own look.

An inline comment suppresses one finding where it stands: `provscan: ignore[rule-id]` (several ids separated by
commas) on the finding's first line or on the line right above it. The rule id is the one every report shows
(`code-match`, `attribution.stripped`, `comments.chinese`, ...); a finding's own id (`PS-...`) works too.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing only: the CLI imports this module at start-up, and findings pulls in numpy
    from provscan.findings import Finding

SCHEMA = "provscan-baseline/1"
_IGNORE = re.compile(r"provscan:\s*ignore\[([^\]]*)\]")


class BaselineError(Exception):
    """A baseline file that cannot be read or written; the message names the file and the problem."""


@dataclass
class Baseline:
    """Accepted findings by id, with what a reviewer needs to recognise each one."""

    entries: dict[str, dict] = field(default_factory=dict)
    created_at: str = ""

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise BaselineError(f"{path}: cannot read baseline: {error.strerror or error}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BaselineError(f"{path}: not a provscan baseline (invalid JSON: {error})") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("findings"), list):
            raise BaselineError(f"{path}: not a provscan baseline (expected schema {SCHEMA!r} and a findings list)")
        entries = {}
        for number, entry in enumerate(data["findings"], start=1):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise BaselineError(f"{path}: finding {number} has no string 'id'")
            entries[entry["id"]] = entry
        return cls(entries=entries, created_at=str(data.get("created_at", "")))

    def accepts(self, finding: Finding) -> bool:
        return finding.id in self.entries

    def updated(self, findings: list[Finding]) -> tuple[Baseline, int, int]:
        """A baseline of exactly `findings`, keeping when each was first accepted; plus (added, removed) counts."""
        now = _now()
        entries = {}
        for finding in findings:
            previous = self.entries.get(finding.id)
            entries[finding.id] = {**_entry(finding), "accepted_at": previous.get("accepted_at", now) if previous
                                   else now}
        added = len(set(entries) - set(self.entries))
        removed = len(set(self.entries) - set(entries))
        return Baseline(entries, self.created_at or now), added, removed

    def save(self, path: Path) -> None:
        """Write atomically (a crash never leaves half a baseline), sorted so diffs of the file stay readable."""
        data = {
            "schema": SCHEMA,
            "created_at": self.created_at or _now(),
            "updated_at": _now(),
            "findings": sorted(self.entries.values(), key=lambda e: (e["path"], e["rule_id"], e["id"])),
        }
        try:
            write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        except OSError as error:
            raise BaselineError(f"{path}: cannot write baseline: {error.strerror or error}") from None


def _entry(finding: Finding) -> dict:
    return {"id": finding.id, "path": finding.path, "kind": finding.kind, "rule_id": finding.rule_id,
            "severity": finding.severity, "line": finding.start_line, "message": finding.message}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ignored_inline(finding: Finding, lines: list[str]) -> bool:
    """Does a `provscan: ignore[...]` comment on the finding's first line or the line above name it?"""
    for number in (finding.start_line, finding.start_line - 1):
        if 1 <= number <= len(lines):
            for match in _IGNORE.finditer(lines[number - 1]):
                names = {name.strip() for name in match.group(1).split(",")}
                if finding.rule_id in names or finding.id in names:
                    return True
    return False


@dataclass
class Suppressed:
    """Findings left to report, and how many were accepted by the baseline or ignored inline."""

    findings: list[Finding]
    by_baseline: int = 0
    inline: int = 0


def suppress(findings: list[Finding], baseline: Baseline | None, texts: dict[str, str]) -> Suppressed:
    """Drop findings the baseline accepts or an inline comment ignores; `texts` maps paths to file texts."""
    kept: list[Finding] = []
    result = Suppressed(kept)
    split: dict[str, list[str]] = {}
    for finding in findings:
        if baseline is not None and baseline.accepts(finding):
            result.by_baseline += 1
            continue
        text = texts.get(finding.path)
        if text is not None:
            lines = split.setdefault(finding.path, text.splitlines())
            if ignored_inline(finding, lines):
                result.inline += 1
                continue
        kept.append(finding)
    return result
