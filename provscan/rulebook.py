"""The watch-list and marker rules as validated objects, from the shipped rule files plus the user's own.

Rules are data (`rules/watchlist.toml`, `rules/markers.toml`); this module checks them and turns them into
dataclasses. A user file given with `--rules` may add organisations and markers or replace shipped ones (same id).
Every problem is a `RuleError` naming the file, the entry and the key, because a bad rule silently ignored would
mean a reviewer trusting a check that never ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from provscan.rulesdata import read_user_toml, rules_dir

SEVERITIES = ("low", "medium", "high")
MARKER_KINDS = ("model-family", "hub-url", "copied-from", "remote-code", "chinese-comments")
ROLES = ("reference", "participant")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


class RuleError(Exception):
    """A rule file that cannot be used; the message names the file, the entry and the problem."""


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    country: str
    severity: str
    role: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class MarkerRule:
    id: str
    kind: str
    pattern: re.Pattern[str]
    message: str
    severity: str
    organisation: str | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Licence:
    id: str
    name: str
    patterns: tuple[re.Pattern[str], ...]
    obligations: str
    restricted: bool


@dataclass
class Rulebook:
    organisations: dict[str, Organisation]
    markers: dict[str, MarkerRule]
    chinese_comments: dict[str, float | int | str] = field(default_factory=dict)
    licences: dict[str, Licence] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    _alias_re: re.Pattern[str] | None = None
    _alias_owner: dict[str, str] = field(default_factory=dict)

    def organisation_in(self, text: str) -> Organisation | None:
        """The watched organisation named in `text` (longest alias wins), or None."""
        found = self.organisations_in(text)
        return found[0] if found else None

    def organisations_in(self, text: str) -> list[Organisation]:
        """Every watched organisation named in `text`, in order of first mention, each once."""
        if self._alias_re is None:
            self._compile_aliases()
        assert self._alias_re is not None
        seen: list[Organisation] = []
        for hit in self._alias_re.finditer(text):
            organisation = self.organisations[self._alias_owner[hit.group(0).casefold()]]
            if organisation not in seen:
                seen.append(organisation)
        return seen

    def licence_in(self, lines: list[str]) -> Licence | None:
        """The first licence (in rule order) whose pattern appears in `lines` (a file's notice lines)."""
        for licence in self.licences.values():
            if any(pattern.search(line) for pattern in licence.patterns for line in lines):
                return licence
        return None

    def _compile_aliases(self) -> None:
        parts = []
        for organisation in self.organisations.values():
            for alias in organisation.aliases:
                self._alias_owner.setdefault(alias.casefold(), organisation.id)
        for alias in sorted(self._alias_owner, key=len, reverse=True):
            escaped = re.escape(alias)
            # Latin aliases match whole words ("Meta" is not "metadata"); CJK has no word boundaries.
            parts.append(escaped if _CJK.search(alias) else rf"(?<![\w.]){escaped}(?![\w])")
        self._alias_re = re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)


def _require(entry: dict, key: str, kind: type, where: str) -> object:
    if key not in entry:
        raise RuleError(f"{where}: missing key '{key}'")
    value = entry[key]
    if not isinstance(value, kind):
        raise RuleError(f"{where}: '{key}' must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _check_id(value: str, where: str) -> str:
    if not _ID.match(value):
        raise RuleError(f"{where}: id {value!r} must be lower case letters, digits, '.', '_' or '-'")
    return value


def _check_choice(value: str, choices: tuple[str, ...], key: str, where: str) -> str:
    if value not in choices:
        raise RuleError(f"{where}: '{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _organisation(entry: dict, where: str) -> Organisation:
    aliases = _require(entry, "aliases", list, where)
    if not aliases or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise RuleError(f"{where}: 'aliases' must be a non-empty list of non-empty strings")
    return Organisation(
        id=_check_id(str(_require(entry, "id", str, where)), where),
        name=str(_require(entry, "name", str, where)),
        country=str(entry.get("country", "")),
        severity=_check_choice(str(_require(entry, "severity", str, where)), SEVERITIES, "severity", where),
        role=_check_choice(str(entry.get("role", "reference")), ROLES, "role", where),
        aliases=tuple(a.strip() for a in aliases),
    )


def _marker(entry: dict, where: str, organisations: dict[str, Organisation]) -> MarkerRule:
    rule_id = _check_id(str(_require(entry, "id", str, where)), where)
    kind = _check_choice(str(_require(entry, "kind", str, where)), MARKER_KINDS, "kind", where)
    pattern_text = str(_require(entry, "pattern", str, where))
    flags = 0 if entry.get("case_sensitive", False) else re.IGNORECASE
    try:
        pattern = re.compile(pattern_text, flags)
    except re.error as error:
        raise RuleError(f"{where}: 'pattern' is not a valid regular expression: {error}") from None
    organisation = entry.get("organisation")
    if organisation is not None and organisation not in organisations:
        raise RuleError(f"{where}: 'organisation' {organisation!r} is not in the watch-list")
    severity = entry.get("severity") or (organisations[organisation].severity if organisation else None)
    if severity is None:
        raise RuleError(f"{where}: needs 'severity' or an 'organisation' to take it from")
    files = entry.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise RuleError(f"{where}: 'files' must be a list of glob strings")
    return MarkerRule(
        id=rule_id, kind=kind, pattern=pattern, message=str(_require(entry, "message", str, where)),
        severity=_check_choice(str(severity), SEVERITIES, "severity", where), organisation=organisation,
        files=tuple(files),
    )


def _licence(entry: dict, where: str) -> Licence:
    patterns = _require(entry, "patterns", list, where)
    compiled = []
    for text in patterns:
        if not isinstance(text, str):
            raise RuleError(f"{where}: 'patterns' must be a list of strings")
        try:
            compiled.append(re.compile(text, re.IGNORECASE))
        except re.error as error:
            raise RuleError(f"{where}: pattern {text!r} is not a valid regular expression: {error}") from None
    restricted = entry.get("restricted", False)
    if not isinstance(restricted, bool):
        raise RuleError(f"{where}: 'restricted' must be true or false")
    return Licence(
        id=str(_require(entry, "id", str, where)), name=str(_require(entry, "name", str, where)),
        patterns=tuple(compiled), obligations=str(_require(entry, "obligations", str, where)), restricted=restricted,
    )


def _read(path: Path) -> dict:
    return read_user_toml(path, RuleError, "rule file")


_KNOWN_TABLES = {"organisation", "marker", "chinese-comments", "licence"}


def load_rulebook(extra: tuple[str | Path, ...] = ()) -> Rulebook:
    """Shipped rules plus the user's files, in order (a later entry with the same id replaces an earlier one)."""
    return _load(tuple(str(p) for p in extra))


def _entries(tables: list[tuple[Path, dict]], table: str, build) -> dict:
    """Validated entries of one table kind across all files, by id (a later file's entry replaces an earlier one)."""
    built: dict = {}
    for path, data in tables:
        for number, entry in enumerate(data.get(table, []), start=1):
            where = f"{path}: {table} #{number}" + (f" ({entry.get('id')!r})" if isinstance(entry, dict) else "")
            if not isinstance(entry, dict):
                raise RuleError(f"{where}: must be a table")
            item = build(entry, where)
            built[item.id] = item
    return built


@cache
def _load(extra: tuple[str, ...]) -> Rulebook:
    shipped = ("watchlist.toml", "markers.toml", "licenses.toml")
    files = [*(rules_dir() / name for name in shipped), *map(Path, extra)]
    tables = []
    for path in files:
        data = _read(path)
        unknown = set(data) - _KNOWN_TABLES
        if unknown:
            raise RuleError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; expected "
                            f"[[organisation]], [[marker]], [[licence]] or [chinese-comments]")
        tables.append((path, data))
    organisations = _entries(tables, "organisation", _organisation)
    markers = _entries(tables, "marker", lambda entry, where: _marker(entry, where, organisations))
    licences = _entries(tables, "licence", _licence)
    chinese: dict = {}
    for _path, data in tables:
        chinese.update(data.get("chinese-comments", {}))
    return Rulebook(organisations, markers, chinese, licences, tuple(map(str, files)))
