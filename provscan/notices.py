"""Notices of a file: copyright statements and holders, licence statements and SPDX tags.

Two detectors work together. provscan's own matcher reads notice lines in any script, including the Chinese forms
scancode mangles or misses (版权所有, 著作权, full-width punctuation, "Copyright 2024 智谱AI"), and maps holders to
watch-list organisations. scancode-toolkit's copyright detection (`cluecode`) refines holders on Latin-script lines,
and its licence detection (`licensedcode`) gives SPDX expressions; its licence index costs ~5 s and 1.4 GB, so it is
loaded lazily, once per process, and only when licence detection is asked for.

`header_notices` is the light detector kept with every corpus file while indexing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from provscan.rulebook import Rulebook
from provscan.rulesdata import load_toml

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_COMMENT_LEAD = r"^[\s#/*!;'\"-]*(?:<!--)?\s*"
_KEYWORD = r"(?:SPDX-FileCopyrightText\s*:|copyright\b|版权所有|著作权所有|著作权|©|\(c\)|（c）)"
_NOTICE_LINE = re.compile(_COMMENT_LEAD + _KEYWORD, re.IGNORECASE)
_STRIP_LEAD = re.compile(
    r"^(?:\s|[#/*!;'\"-]|<!--|SPDX-FileCopyrightText\s*:|copyright\b|版权所有|著作权所有|著作权|©|\(c\)|（c）|[:：,，]"
    r"|\d{4}(?:\s*[-–~,，]\s*\d{2,4})*)+",
    re.IGNORECASE,
)
_RESERVED = r"(?:all rights reserved|保留所有权利|版权所有|保留一切权利)"
_STRIP_TAIL = re.compile(
    r"(?:[\s.,;:。，；：]*" + _RESERVED + r"[\s.。!！]*|[\s.。,，;；*/#-]|-->)+$",
    re.IGNORECASE,
)
_AUTHOR_LINE = re.compile(_COMMENT_LEAD + r"(?:@?authors?\s*[:：]|@author\b|作者\s*[:：])\s*(.+)$", re.IGNORECASE)
_SPDX_LICENSE = re.compile(r"SPDX-License-Identifier\s*:\s*(.+?)\s*(?:\*/|-->)?\s*$")
_LICENCE_HINT = re.compile(r"licen[cs]e|许可证|SPDX-License", re.IGNORECASE)
LICENSE_FILE_NAMES = re.compile(r"^(licen[cs]e|copying|notice)(\.[a-z]+)?$", re.IGNORECASE)
HEADER_LINES = 80  # licence detection reads a file's header (licence files are read whole)


@dataclass(frozen=True)
class Notice:
    """One notice line of a file."""

    path: str
    line: int
    kind: str  # "copyright" | "author" | "license" | "spdx-license"
    text: str
    holder: str = ""
    organisation: str = ""  # watch-list id of the holder, if watched
    license: str = ""  # SPDX licence expression
    detector: str = "provscan"  # "provscan" | "scancode"


_COPYRIGHT_WORD = re.compile(r"copyright|©|\(c\)|版权|著作权", re.IGNORECASE)


def is_copyright_line(text: str) -> bool:
    """Does a stored notice line state a copyright (rather than a licence)? One rule for corpus and scan side."""
    return bool(_COPYRIGHT_WORD.search(text))


def holder_of(line: str) -> str:
    """The holder named by a copyright line: keyword, years and boilerplate stripped (CJK-aware)."""
    text = _STRIP_LEAD.sub("", line.strip(), count=1)
    text = _STRIP_TAIL.sub("", text)
    text = re.sub(r"^(?:by|the\s+copyright\s+holders?\s+is)\s+", "", text, flags=re.IGNORECASE)
    return text.strip(" \t（）()")[:200]


def own_copyrights(path: str, lines: list[str], rulebook: Rulebook) -> list[Notice]:
    """provscan's matcher: every line that states a copyright, with its holder and watched organisation."""
    found = []
    for number, line in enumerate(lines, start=1):
        if not _NOTICE_LINE.search(line):
            continue
        holder = holder_of(line)
        if not holder or not re.search(r"\w", holder):
            continue
        organisation = rulebook.organisation_in(holder)
        found.append(
            Notice(path, number, "copyright", line.strip()[:300], holder, organisation.id if organisation else "")
        )
    return found


def own_authors(path: str, lines: list[str], rulebook: Rulebook) -> list[Notice]:
    """Author lines ("Author: ...", "@author ...", "作者：..."): a name is provenance even without a copyright."""
    found = []
    for number, line in enumerate(lines, start=1):
        match = _AUTHOR_LINE.search(line)
        if match:
            name = match.group(1).strip(" \t*/#-")[:200]
            organisation = rulebook.organisation_in(name)
            found.append(Notice(path, number, "author", line.strip()[:300], name,
                                organisation.id if organisation else ""))
    return found


def spdx_licenses(path: str, lines: list[str]) -> list[Notice]:
    found = []
    for number, line in enumerate(lines, start=1):
        match = _SPDX_LICENSE.search(line)
        if match:
            found.append(Notice(path, number, "spdx-license", line.strip()[:300], license=match.group(1)))
    return found


@cache
def _scancode_temp_dir_removed_at_exit() -> None:
    """Importing scancode creates a fresh `scancode-tk-*` directory in the system temp dir for the process
    (`scancode_config.scancode_temp_dir`), which its own command line deletes when a run ends; as a library it would
    be left behind, one per scanning process (a batch of many submissions would litter /tmp). Remove it at process
    exit the way scancode does, in worker processes too (a multiprocessing finalizer runs there; atexit does not)."""
    import shutil
    from multiprocessing.util import Finalize

    import scancode_config

    Finalize(None, shutil.rmtree, args=(scancode_config.scancode_temp_dir,), kwargs={"ignore_errors": True},
             exitpriority=0)


def _scancode_holders(path: str, lines: list[str], rulebook: Rulebook, notices: list[Notice]) -> list[Notice]:
    """Replace holders on Latin-script lines with scancode's reading (it knows far more notice forms)."""
    _scancode_temp_dir_removed_at_exit()
    from cluecode.copyrights import detect_copyrights_from_lines

    by_line = {n.line: n for n in notices}
    candidates = [(n, lines[n - 1]) for n in sorted(by_line) if not _CJK.search(lines[n - 1])]
    if not candidates:
        return notices
    refined = dict(by_line)
    for detection in detect_copyrights_from_lines(
        candidates, include_copyrights=False, include_holders=True, include_authors=False
    ):
        original = by_line.get(detection.start_line)
        holder = getattr(detection, "holder", "")
        if original is None or not holder:
            continue
        organisation = rulebook.organisation_in(holder) or rulebook.organisation_in(original.holder)
        refined[original.line] = Notice(
            original.path, original.line, "copyright", original.text, holder,
            organisation.id if organisation else "", detector="scancode",
        )
    return [refined[n] for n in sorted(refined)]


@cache
def _license_index():
    _scancode_temp_dir_removed_at_exit()
    from licensedcode.cache import get_index

    return get_index()


def licence_query(path: str, text: str) -> str | None:
    """The text licence detection should read for this file, or None when nothing hints at a licence.

    Licence files are read whole, other files by their header: that is where licence statements live, and
    scancode's matcher costs ~0.5 s per query, so most files must not be sent at all."""
    name = path.rsplit("/", 1)[-1]
    query = text if LICENSE_FILE_NAMES.match(name) else "\n".join(text.splitlines()[:HEADER_LINES])
    return query if _LICENCE_HINT.search(query) else None


def load_license_index() -> None:
    """Load scancode's licence index now (it is cached for the process); lets a caller overlap the ~5 s load."""
    _license_index()


@lru_cache(maxsize=512)
def _licence_matches(query: str) -> tuple[tuple[int, str], ...]:
    """(start line, SPDX expression) of every licence match in `query`; cached because a repository's files
    usually share one licence header, and each match costs ~0.5 s."""
    from licensedcode.cache import build_spdx_license_expression

    found = []
    for match in _license_index().match(query_string=query):
        expression = match.rule.license_expression
        try:
            spdx = build_spdx_license_expression(expression)
        except Exception:  # noqa: BLE001 - an unknown key still names the licence
            spdx = expression
        found.append((match.start_line, spdx))
    return tuple(found)


def scancode_licenses(path: str, text: str) -> list[Notice]:
    """Licence statements by scancode's licence detection (loads its index on first use)."""
    query = licence_query(path, text)
    if query is None:
        return []
    lines = text.splitlines()
    return [
        Notice(path, line, "license", lines[line - 1].strip()[:300] if 0 < line <= len(lines) else "",
               license=spdx, detector="scancode")
        for line, spdx in _licence_matches(query)
    ]


def detect_notices(path: str, text: str, rulebook: Rulebook, *, licenses: bool = True,
                   scancode_copyrights: bool = True) -> list[Notice]:
    """All notices of one file, in line order."""
    lines = text.splitlines()
    notices = own_copyrights(path, lines, rulebook)
    if scancode_copyrights and notices:
        notices = _scancode_holders(path, lines, rulebook, notices)
    notices += own_authors(path, lines, rulebook) + spdx_licenses(path, lines)
    if licenses:
        notices += scancode_licenses(path, text)
    return sorted(notices, key=lambda n: (n.line, n.kind))


@cache
def _patterns() -> tuple[re.Pattern[str], int]:
    table = load_toml("notices.toml")["header"]
    return re.compile("|".join(table["patterns"]), re.IGNORECASE), int(table["max_lines"])


def header_notices(text: str) -> list[dict[str, object]]:
    """Notice lines among the first lines of `text`, as {"line": n, "text": stripped line} (corpus side)."""
    pattern, max_lines = _patterns()
    found = []
    for number, line in enumerate(text.splitlines()[:max_lines], start=1):
        if pattern.search(line):
            found.append({"line": number, "text": line.strip(" \t#/*-;!")[:300]})
    return found
