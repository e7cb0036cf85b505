"""Decide which paths of a submission are excluded from the walk, and say which rule excluded them.

Three sources of exclusion apply, in this order of precedence: the user's ``exclude`` patterns, the
submission's own .gitignore files (directory walks only), and the default vendored/generated directory
names shipped in rules/excludes.toml. Why one module: the same precedence and the same explanations must
hold for a directory on disk and for a directory inside an archive, and a reviewer reading a skip must be
told the exact pattern (file and line) that caused it, not just "excluded".
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provscan.walktypes import WalkOptions, WalkReport

if TYPE_CHECKING:  # pragma: no cover - typing only; pathspec is imported lazily to keep import cheap
    from pathspec import GitIgnoreSpec

__all__ = ["PathFilter"]

# A .gitignore bigger than this is not a real ignore file; it is skipped with a warning.
_MAX_GITIGNORE_BYTES = 1024 * 1024


@functools.lru_cache(maxsize=1)
def _default_vendored_patterns() -> tuple[str, ...]:
    from provscan.rulesdata import load_toml  # lazy: keeps importing provscan.walk cheap

    doc = load_toml("excludes.toml")
    dirs = doc.get("vendored", {}).get("directories")
    if not isinstance(dirs, list) or not all(isinstance(d, str) and d for d in dirs):
        raise RuntimeError("rules/excludes.toml: [vendored] directories must be a list of non-empty strings")
    return tuple(dirs)


@functools.lru_cache(maxsize=8)
def _compile_name_globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


@dataclass
class _IgnoreFile:
    """Compiled gitignore-style patterns plus what is needed to explain a match."""

    base: str  # posix directory prefix the patterns are relative to ("" or "sub/dir/")
    source: str  # for messages: "sub/.gitignore" or "--exclude"
    spec: GitIgnoreSpec
    lines: list[tuple[int, str]]  # (1-based line number, pattern) in spec order, when they align

    def check(self, rel: str, is_dir: bool) -> tuple[bool, str] | None:
        """None if no pattern matches; else (ignored?, description of the deciding pattern)."""
        sub = rel[len(self.base) :] + ("/" if is_dir else "")
        result = self.spec.check_file(sub)
        if result.include is None:
            return None
        where = self.source
        if result.index is not None and len(self.spec.patterns) == len(self.lines):
            lineno, text = self.lines[result.index]
            where = f"{self.source} line {lineno}: {text!r}"
        return bool(result.include), where


def _build_ignore(
    text_lines: Iterable[str], base: str, source: str, on_invalid: Callable[[str], None] | None = None
) -> _IgnoreFile | None:
    """Compile gitignore lines. Invalid lines are dropped and reported through ``on_invalid``."""
    from pathspec import GitIgnoreSpec

    kept = [(n, line) for n, line in enumerate(text_lines, 1) if line.strip() and not line.startswith("#")]
    if not kept:
        return None
    try:
        spec = GitIgnoreSpec.from_lines([line for _, line in kept])
    except (ValueError, re.error):
        good: list[tuple[int, str]] = []
        for n, line in kept:
            try:
                GitIgnoreSpec.from_lines([line])
            except (ValueError, re.error) as exc:
                # re.error's own text ends "at position N" of the regular expression the pattern became: not a
                # position the user can find in what they wrote.
                problem = exc.msg if isinstance(exc, re.error) else exc
                if on_invalid is None:
                    raise ValueError(f"{source}: invalid pattern {line!r}: {problem}") from None
                on_invalid(f"{source} line {n}: invalid pattern {line!r} ignored ({problem})")
            else:
                good.append((n, line))
        kept = good
        if not kept:
            return None
        spec = GitIgnoreSpec.from_lines([line for _, line in kept])
    return _IgnoreFile(base=base, source=source, spec=spec, lines=kept)


def check_patterns(patterns: Iterable[str], source: str) -> None:
    """Raise ValueError naming the first invalid gitignore-style pattern (checked before any work)."""
    _build_ignore(patterns, "", source)


class PathFilter:
    """The exclusions in force during one walk.

    ``ignores`` is the stack of .gitignore files that apply to the directory being walked; the walker
    pushes one with :meth:`load_gitignore` when it enters a directory and truncates the list when it
    leaves. Invalid user patterns raise ``ValueError`` here, before anything is read.
    """

    def __init__(self, options: WalkOptions, report: WalkReport) -> None:
        self.report = report
        self.vendored = _compile_name_globs(_default_vendored_patterns()) if options.use_default_excludes else None
        self.user_excludes = _build_ignore(options.exclude, "", "--exclude") if options.exclude else None
        self.ignores: list[_IgnoreFile] = []

    def load_gitignore(self, real_dir: str, rel: str) -> None:
        """Push ``real_dir``'s .gitignore, if it has a usable one; problems become report warnings."""
        path = os.path.join(real_dir, ".gitignore")
        shown = rel + ".gitignore"
        try:
            st = os.lstat(path)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return  # a symlinked or special .gitignore is not followed (it could point anywhere)
        if st.st_size > _MAX_GITIGNORE_BYTES:
            self.report.add_warning(shown, "gitignore-too-large", f"{shown} is over 1 MiB; not applied")
            return
        try:
            with open(path, "rb") as fh:
                text = fh.read(_MAX_GITIGNORE_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            self.report.add_warning(shown, "gitignore-unreadable", f"{shown}: {exc.strerror or exc}")
            return

        def invalid(msg: str) -> None:
            self.report.add_warning(shown, "gitignore-invalid-pattern", msg)

        spec = _build_ignore(text.splitlines(), rel, shown, on_invalid=invalid)
        if spec is not None:
            self.ignores.append(spec)

    def _gitignored(self, rel: str, is_dir: bool) -> str | None:
        # Deepest .gitignore with a matching pattern decides, as in git (a nested "!x" re-includes).
        for ign in reversed(self.ignores):
            verdict = ign.check(rel, is_dir)
            if verdict is not None:
                ignored, where = verdict
                return where if ignored else None
        return None

    def _user_excluded(self, rel: str, is_dir: bool) -> str | None:
        """The user pattern that excludes ``rel``, if any."""
        if self.user_excludes is not None:
            verdict = self.user_excludes.check(rel, is_dir)
            if verdict is not None and verdict[0]:
                return verdict[1]
        return None

    def _vendored(self, name: str) -> str | None:
        """Skip detail if a directory called ``name`` is vendored/generated by default."""
        if self.vendored is not None and self.vendored.match(name):
            return f"vendored/generated directory {name!r} (default excludes, rules/excludes.toml)"
        return None

    def check(self, rel: str, name: str, is_dir: bool) -> tuple[str, str] | None:
        """Apply user excludes, .gitignore and default vendored names, in that order of precedence.

        Returns (reason, detail) for an entry of a directory on disk that must be skipped, else None.
        """
        kind = "directory" if is_dir else "file"
        tail = "; not descended" if is_dir else ""
        where = self._user_excluded(rel, is_dir)
        if where is not None:
            return "excluded", f"{kind} matches {where}{tail}"
        if self.ignores:
            where = self._gitignored(rel, is_dir)
            if where is not None:
                return "gitignored", f"{kind} is ignored by {where}{tail}"
        vendored = self._vendored(name) if is_dir else None
        if vendored is not None:
            return "vendored", f"{vendored}{tail}"
        return None

    def check_member(self, display: str, name: str, is_dir: bool) -> tuple[str, str] | None:
        """Like :meth:`check` for an archive member or directory; .gitignore does not apply inside archives."""
        kind = "directory" if is_dir else "member"
        where = self._user_excluded(display, is_dir)
        if where is not None:
            return "excluded", f"archive {kind} matches {where}"
        vendored = self._vendored(name) if is_dir else None
        if vendored is not None:
            return "vendored", vendored
        return None
