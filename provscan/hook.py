"""The pre-commit hook's fast path: scan just the files given, and say what was found in a few terminal lines.

pre-commit passes the staged files; scanning only them keeps a commit fast. The fast path is the engine's corpus
look-up plus notices and markers by provscan's own detectors: scancode's licence index (~5 s, 1.4 GB) and its
copyright parser (~0.5 s) are never loaded, and nothing heavy is imported before it is needed. Fingerprints and
finding ids are the same as a full scan's, except that notice findings name holders as provscan's own matcher
reads them; `provscan baseline` therefore scans with these same settings.

Excludes (command line or project configuration) and the default vendored directories apply to the given paths
as they would in a walk of the repository; a path that no longer exists (a deleted file) is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from provscan.findings import CodeMatchFinding, Finding
from provscan.walk import SourceFile, WalkOptions, WalkReport

# What makes the fast path fast (see the module docstring); `provscan baseline` scans with the same flags.
FAST_PATH = {"license_detection": False, "scancode_copyrights": False}


def given_files(paths: list[str], options: WalkOptions, report: WalkReport) -> Iterator[SourceFile]:
    """The text files among `paths` (relative to the current directory, as pre-commit passes them), read the way
    the walker reads files, with excludes and vendored directories applied to each path's directories too."""
    from provscan.ignore import PathFilter
    from provscan.textfile import read_disk_file

    path_filter = PathFilter(options, report)
    seen: set[str] = set()
    cwd = Path.cwd()
    for given in paths:
        path = Path(given)
        if path.is_absolute() and path.is_relative_to(cwd):
            path = path.relative_to(cwd)
        rel = PurePosixPath(path.as_posix())
        shown = str(rel)
        if shown in seen:
            continue
        seen.add(shown)
        verdict = _excluded(path_filter, rel)
        if verdict is not None:
            report.add_skip(shown, *verdict)
            continue
        try:
            st = os.stat(given)
        except OSError as error:
            report.add_skip(shown, "missing", f"cannot be read: {error.strerror or error} (deleted in this commit?)")
            continue
        if not os.path.isfile(given):
            report.add_skip(shown, "special-file", "not a regular file")
            continue
        source = read_disk_file(given, shown, st.st_size, options.max_file_bytes, report)
        if source is not None:
            report.add_yield()
            yield source


def _excluded(path_filter, rel: PurePosixPath) -> tuple[str, str] | None:
    parts = rel.parts
    for depth in range(1, len(parts)):
        verdict = path_filter.check("/".join(parts[:depth]), parts[depth - 1], True)
        if verdict is not None:
            return verdict
    return path_filter.check(str(rel), parts[-1], False)


def hint(finding: Finding) -> str:
    """One line telling the committer what to do about a finding."""
    if isinstance(finding, CodeMatchFinding):
        licence = finding.source_license
        keep = f"keep its copyright and licence notice ({licence['id']})" if licence else "keep its notices"
        return f"copied code: {keep} or rewrite it; if accepted, `provscan baseline update`"
    if finding.kind == "stripped-attribution":
        return "restore the source's copyright notice in this file (or rewrite the code)"
    if finding.kind == "attribution-kept":
        return "reuse with its notice kept: confirm the licence allows it here"
    if finding.kind == "notice":
        return "a watched organisation's notice: confirm this code may be used here"
    return f"check it; to accept, add `# provscan: ignore[{finding.rule_id}]` on or above line {finding.start_line}"


def describe(finding: Finding) -> str:
    """What matched, or which notice or marker, in one line."""
    if isinstance(finding, CodeMatchFinding):
        source = finding.source
        also = ""
        if finding.also_in_total:
            projects = sorted({a.source.project for a in finding.also_in} - {source.project})
            shown = ", ".join(projects[:3]) + (", ..." if len(projects) > 3 else "")
            also = f", equally in {finding.also_in_total} other file(s): {shown}" if shown else ""
        weak = ""
        if finding.strength is not None and finding.strength.level == "weak":
            weak = f"; weak evidence: {'; '.join(finding.strength.reasons)}"
        return (f"{finding.fragment_kind} {finding.fragment_name} matches {source.corpus}/{source.project} "
                f"{source.path}:{source.start_line} {source.name} (similarity {finding.jaccard:.2f}, "
                f"{finding.matched_lines} lines{also}{weak})")
    return finding.message.split(". Source licence", 1)[0]


def terminal_lines(findings: list[Finding]) -> list[str]:
    """file:line, severity and what was found, then a one-line hint, per finding."""
    lines = []
    for finding in findings:
        lines.append(f"{finding.path}:{finding.start_line}: {finding.severity.upper()} {finding.rule_id} "
                     f"{describe(finding)}  [{finding.id}]")
        lines.append(f"    hint: {hint(finding)}")
    return lines
