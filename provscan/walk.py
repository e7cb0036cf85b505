"""Walk a submission and yield its text files, accounting for everything it does not yield.

A provenance scan is only as trustworthy as its coverage: a reviewer must be able to tell "no copied
code was found" apart from "the file was never looked at". So this module never drops a file quietly.
Every file, archive member or directory that is not yielded is recorded in a :class:`WalkReport` with
a reason slug and a sentence naming the problem.

A submission is a directory, a single file, or an archive (.zip, .tar, .tar.gz/.tgz, .tar.xz,
.tar.bz2). Submissions are untrusted input, which shapes the design:

* Archives are read in memory with :mod:`zipfile`/:mod:`tarfile`; nothing is ever extracted to disk,
  so hostile member names ("../../etc/passwd", "/abs", symlinks) can never write anywhere. Such
  members are skipped and counted. Reads are bounded (per member, per archive, member count and
  compression ratio) so an archive bomb costs a bounded amount of memory and time.
* Symlinks are followed only when their resolved target lies inside the scanned root, so a
  submission cannot make the scanner read the reviewer's files. Loops are detected by directory
  identity (device, inode), so the walk always terminates.
* FIFOs, sockets and devices are never opened (opening a FIFO blocks forever).
* Scanned code is data: nothing here imports or executes it.

Directory entries are visited in an order that makes yielded paths globally sorted, so two scans of
the same submission yield the same sequence.
"""

from __future__ import annotations

import collections
import errno
import fnmatch
import functools
import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only; these are imported lazily to keep import cheap
    import zipfile

    from pathspec import GitIgnoreSpec

__all__ = ["WalkOptions", "SourceFile", "Skip", "WalkReport", "WalkError", "walk", "is_archive"]

# Bytes inspected for NUL when deciding whether a file is binary (the same window git uses).
_SNIFF_BYTES = 8 * 1024
# Stored skip/warning entries are capped so a hostile submission cannot exhaust memory through the
# report itself; the counters keep counting.
_STORED_ENTRIES_CAP = 10_000
# Number of skip entries included in WalkReport.to_dict().
_DICT_SKIPS = 200
# The compression-ratio test only applies to members that decompress to more than this. Small text
# that is very repetitive (a file of blank lines, a table of zeros) compresses beyond any sane ratio
# yet is harmless, and it is bounded by max_file_bytes anyway; calling it a bomb would be noise.
_RATIO_MIN_BYTES = 64 * 1024
# A .gitignore bigger than this is not a real ignore file; it is skipped with a warning.
_MAX_GITIGNORE_BYTES = 1024 * 1024

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz")
# Magic numbers of the compressors tarfile understands; used to decide whether skipping over a tar
# member costs decompression work (see _Walker._tar_members).
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class WalkOptions:
    """Limits and filters for one walk.

    The limits exist because submissions are untrusted: every read is bounded so that a hostile or
    accidental giant (a model checkpoint, an archive bomb) costs a predictable amount of memory.
    ``max_file_bytes`` applies to archive members as well as to files on disk; an archive file
    itself is not subject to it (its contents are bounded by the archive limits instead).
    """

    max_file_bytes: int = 2 * 1024 * 1024
    """Files (and archive members) larger than this are skipped as "too-large"; source code this big
    is almost always generated or data."""
    max_archive_total_bytes: int = 512 * 1024 * 1024
    """Total uncompressed bytes processed from one archive. For compressed tars this includes the
    bytes of skipped members, because skipping over them still means decompressing them."""
    max_archive_members: int = 100_000
    """Entries (files, directories, links) in one archive; more than this is treated as a bomb."""
    max_compression_ratio: int = 200
    """A zip member whose declared size / compressed size exceeds this is skipped as "archive-bomb"
    (only for members declaring more than 64 KiB, see ``_RATIO_MIN_BYTES``)."""
    exclude: tuple[str, ...] = ()
    """Extra gitignore-style patterns, relative to the scanned root (user/config excludes)."""
    use_default_excludes: bool = True
    """Skip vendored/generated directories named in rules/excludes.toml."""
    honour_gitignore: bool = True
    """Apply .gitignore files found in the scanned directory tree (not inside archives)."""

    def __post_init__(self) -> None:
        # A bare string would be iterated character by character and silently exclude nonsense.
        if isinstance(self.exclude, str):
            raise TypeError("WalkOptions.exclude must be a sequence of patterns, not a single string")
        object.__setattr__(self, "exclude", tuple(self.exclude))
        for name in ("max_file_bytes", "max_archive_total_bytes", "max_archive_members", "max_compression_ratio"):
            if getattr(self, name) < 0:
                raise ValueError(f"WalkOptions.{name} must not be negative")


@dataclass(frozen=True)
class SourceFile:
    """One text file of the submission, decoded, with the hash of its exact bytes.

    ``path`` is a posix path relative to the scanned root. A member of an archive found inside a
    scanned directory is addressed as ``"sub/x.zip!/member/path"`` so findings can point into the
    archive; when the root itself is an archive, ``path`` is just the member path.
    """

    path: str
    text: str
    encoding: str
    """"utf-8" | "utf-8-sig" | "utf-16" | "latin-1" (how ``text`` was decoded; BOM stripped)."""
    size: int
    """Size in bytes on disk / in the archive (uncompressed)."""
    sha256: str
    """Hex SHA-256 of the raw bytes, so evidence can be tied to the exact file that was scanned."""


@dataclass
class Skip:
    """A file, member or directory that was not yielded (or a warning about one that was)."""

    path: str
    reason: str
    """Short slug such as "binary" or "archive-path-traversal"; counted in WalkReport."""
    detail: str
    """Human sentence naming the problem, for the report."""


@dataclass
class WalkReport:
    """Running account of a walk: what was yielded and why everything else was not.

    ``files_seen`` counts every entry that ended as either a yield or a skip, so
    ``files_seen == files_yielded + sum(skipped.values())`` always holds. A skipped directory (vendored,
    excluded, gitignored, unreadable) counts once and its contents are not counted. An archive that is
    expanded is not itself counted; its members are.
    """

    files_seen: int = 0
    files_yielded: int = 0
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    skips: list[Skip] = field(default_factory=list)
    """Every skip in encounter order; storage stops at 10,000 entries but counting does not."""
    warnings: list[Skip] = field(default_factory=list)
    """Files that were yielded but deserve a note (e.g. "latin-1-fallback"); also capped at 10,000."""
    warning_counts: collections.Counter[str] = field(default_factory=collections.Counter)

    def _add_skip(self, path: str, reason: str, detail: str) -> Skip:
        entry = Skip(path, reason, detail)
        self.files_seen += 1
        self.skipped[reason] += 1
        if len(self.skips) < _STORED_ENTRIES_CAP:
            self.skips.append(entry)
        return entry

    def _add_warning(self, path: str, reason: str, detail: str) -> None:
        self.warning_counts[reason] += 1
        if len(self.warnings) < _STORED_ENTRIES_CAP:
            self.warnings.append(Skip(path, reason, detail))

    def _add_yield(self) -> None:
        self.files_seen += 1
        self.files_yielded += 1

    def to_dict(self) -> dict:
        """JSON-ready summary: counts by reason plus the first 200 skip entries."""
        return {
            "files_seen": self.files_seen,
            "files_yielded": self.files_yielded,
            "skipped": dict(sorted(self.skipped.items())),
            "warnings": dict(sorted(self.warning_counts.items())),
            "skips": [{"path": s.path, "reason": s.reason, "detail": s.detail} for s in self.skips[:_DICT_SKIPS]],
        }


class WalkError(Exception):
    """Fatal for the whole walk: root does not exist, root archive unreadable/corrupt/bomb.

    Raised instead of a skip when there is nothing meaningful left to scan, so a caller can never
    mistake "could not read the submission" for "the submission is clean". The message names the file
    and the problem.
    """


class _ArchiveStop(Exception):
    """Internal: stop reading the current archive (bomb limits hit or stream corrupt)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def is_archive(path: str | os.PathLike[str]) -> bool:
    """True if the name says zip or tar (optionally gz/xz/bz2-compressed); the walk expands these."""
    return os.fspath(path).lower().endswith(_ARCHIVE_SUFFIXES)


_DEFAULT_OPTIONS = WalkOptions()


def walk(
    root: str | os.PathLike[str],
    options: WalkOptions = _DEFAULT_OPTIONS,
    report: WalkReport | None = None,
) -> Iterator[SourceFile]:
    """Yield the text files of ``root`` (directory, single file or archive), sorted by path.

    ``report``, if given, is filled in as the walk proceeds. A missing root raises :class:`WalkError`
    immediately; problems with a root archive (corrupt, bomb) raise it during iteration.
    """
    root_str = os.fspath(root)
    try:
        root_stat = os.stat(root_str)
    except FileNotFoundError:
        raise WalkError(f"{root_str}: does not exist") from None
    except OSError as exc:
        raise WalkError(f"{root_str}: cannot be read: {exc.strerror or exc}") from None
    walker = _Walker(options, report if report is not None else WalkReport())
    return walker.run(root_str, root_stat)


# --------------------------------------------------------------------------------------------------
# Decoding


def _decode(data: bytes) -> tuple[str, str] | str:
    """Return (text, encoding), or a sentence saying why the bytes are treated as binary.

    Only encodings that real source trees use are recognised; anything with a NUL byte near the start
    and no UTF-16 BOM is binary (the heuristic git uses). Undecodable UTF-8 falls back to latin-1,
    which never fails, so a mostly-ASCII legacy file is still scanned (the caller warns).
    """
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "has a UTF-32 byte-order mark; UTF-32 text is not supported"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"  # the codec reads and strips the BOM
        except UnicodeDecodeError as exc:
            return f"has a UTF-16 byte-order mark but is not valid UTF-16 ({exc.reason})"
    nul = data.find(b"\x00", 0, _SNIFF_BYTES)
    if nul >= 0:
        return f"contains a NUL byte at offset {nul}"
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return data[3:].decode("latin-1"), "latin-1"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _utf8_error_offset(data: bytes) -> int:
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        return start + exc.start
    return -1


# --------------------------------------------------------------------------------------------------
# Rule data and patterns


def _read_rules_text(name: str) -> str:
    """Read a shipped rules file: from the installed ``provscan.rules`` package, else the checkout."""
    import importlib.resources

    try:
        return importlib.resources.files("provscan.rules").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # Running from a source checkout: rules/ sits next to the provscan/ package directory.
        fallback = Path(__file__).resolve().parent.parent / "rules" / name
        try:
            return fallback.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RuntimeError(
                f"provscan rules file {name!r} not found in package provscan.rules or at {fallback}"
            ) from None


@functools.lru_cache(maxsize=1)
def _default_vendored_patterns() -> tuple[str, ...]:
    doc = tomllib.loads(_read_rules_text("excludes.toml"))
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
    source: str  # for messages: "sub/.gitignore" or "exclude option"
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
                if on_invalid is None:
                    raise ValueError(f"{source}: invalid pattern {line!r}: {exc}") from None
                on_invalid(f"{source} line {n}: invalid pattern {line!r} ignored ({exc})")
            else:
                good.append((n, line))
        kept = good
        if not kept:
            return None
        spec = GitIgnoreSpec.from_lines([line for _, line in kept])
    return _IgnoreFile(base=base, source=source, spec=spec, lines=kept)


def _normalise_member_name(raw: str) -> tuple[str | None, str, str]:
    """Return (path, "", "") for a safe member name, else (None, reason, detail).

    Names are untrusted: both separators are honoured (zips made on Windows use backslashes) and
    "." / empty components are dropped, so "./src//a.py" and "src/a.py" are the same member.
    """
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE_RE.match(name):
        return None, "archive-absolute-path", f"member {raw!r} has an absolute path"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None, "archive-path-traversal", f"member {raw!r} escapes the archive root"
    if "\x00" in name:
        return None, "archive-corrupt", f"member name {raw!r} contains a NUL byte"
    return "/".join(parts), "", ""


# --------------------------------------------------------------------------------------------------
# The walker


@dataclass
class _CoveredDir:
    """A skipped directory inside an archive and how many members it has covered so far."""

    skip: Skip
    base_detail: str
    members: int = 0


@dataclass
class _Frame:
    """One directory on the explicit DFS stack (recursion would fail on very deep trees)."""

    rel: str  # posix prefix relative to root: "" or "a/b/"
    real: str  # real (symlink-free) path on disk
    entries: list[tuple[str, os.DirEntry[str], bool]]  # (sort key, entry, is_dir)
    ignore_depth: int  # length of the gitignore stack before this directory's own .gitignore
    identity: tuple[int, int] | str = ""  # see _dir_identity
    pos: int = 0


class _Walker:
    def __init__(self, options: WalkOptions, report: WalkReport) -> None:
        self.opt = options
        self.report = report
        self.vendored = _compile_name_globs(_default_vendored_patterns()) if options.use_default_excludes else None
        self.user_excludes = _build_ignore(options.exclude, "", "exclude option") if options.exclude else None
        self.ignores: list[_IgnoreFile] = []
        self.root_real = ""
        # directory identity -> rel path: dirs on the current DFS stack / every dir walked so far
        self.ancestors: dict[tuple[int, int] | str, str] = {}
        self.visited: dict[tuple[int, int] | str, str] = {}

    # ---- entry point -------------------------------------------------------------------------

    def run(self, root: str, root_stat: os.stat_result) -> Iterator[SourceFile]:
        real = os.path.realpath(root)
        self.root_real = real
        if stat.S_ISDIR(root_stat.st_mode):
            yield from self._walk_dir(real, root_stat)
            return
        name = os.path.basename(os.path.normpath(root))
        if not stat.S_ISREG(root_stat.st_mode):
            self.report._add_skip(name, "special-file", f"{root!r} is not a regular file or directory")
            return
        if is_archive(name):
            yield from self._archive(real, display=root, prefix="", is_root=True)
            return
        # A file named explicitly by the user is always read: excludes and .gitignore do not apply.
        source = self._read_disk_file(real, name, root_stat.st_size)
        if source is not None:
            self.report._add_yield()
            yield source

    # ---- directories -------------------------------------------------------------------------

    def _open_dir(self, real: str, rel: str, is_root: bool = False) -> _Frame | None:
        try:
            with os.scandir(real) as it:
                raw_entries = list(it)
        except OSError as exc:
            if is_root:
                raise WalkError(f"{real}: cannot list directory: {exc.strerror or exc}") from None
            self.report._add_skip(rel.rstrip("/"), "unreadable", f"directory cannot be listed: {exc.strerror or exc}")
            return None
        entries = []
        for entry in raw_entries:
            try:
                is_dir = entry.is_dir()  # follows symlinks; False when broken
            except OSError:
                is_dir = False
            # Keys make the DFS order equal the global sort order of yielded path strings:
            # "a/..." sorts where "a/" would, archive members where "x.zip!/" would.
            if is_dir:
                key = entry.name + "/"
            elif is_archive(entry.name):
                key = entry.name + "!/"
            else:
                key = entry.name
            entries.append((key, entry, is_dir))
        entries.sort(key=lambda t: t[0])
        frame = _Frame(rel=rel, real=real, entries=entries, ignore_depth=len(self.ignores))
        if self.opt.honour_gitignore:
            self._load_gitignore(real, rel)
        return frame

    def _load_gitignore(self, real_dir: str, rel: str) -> None:
        path = os.path.join(real_dir, ".gitignore")
        shown = rel + ".gitignore"
        try:
            st = os.lstat(path)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return  # a symlinked or special .gitignore is not followed (it could point anywhere)
        if st.st_size > _MAX_GITIGNORE_BYTES:
            self.report._add_warning(shown, "gitignore-too-large", f"{shown} is over 1 MiB; not applied")
            return
        try:
            with open(path, "rb") as fh:
                text = fh.read(_MAX_GITIGNORE_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            self.report._add_warning(shown, "gitignore-unreadable", f"{shown}: {exc.strerror or exc}")
            return

        def invalid(msg: str) -> None:
            self.report._add_warning(shown, "gitignore-invalid-pattern", msg)

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

    def _filtered(self, rel: str, name: str, is_dir: bool) -> tuple[str, str] | None:
        """Apply user excludes, .gitignore and default vendored names, in that order of precedence."""
        kind = "directory" if is_dir else "file"
        tail = "; not descended" if is_dir else ""
        if self.user_excludes is not None:
            verdict = self.user_excludes.check(rel, is_dir)
            if verdict is not None and verdict[0]:
                return "excluded", f"{kind} matches {verdict[1]}{tail}"
        if self.ignores:
            where = self._gitignored(rel, is_dir)
            if where is not None:
                return "gitignored", f"{kind} is ignored by {where}{tail}"
        if is_dir and self.vendored is not None and self.vendored.match(name):
            return "vendored", f"vendored/generated directory {name!r} (default excludes, rules/excludes.toml){tail}"
        return None

    def _walk_dir(self, root_real: str, root_stat: os.stat_result) -> Iterator[SourceFile]:
        root_frame = self._open_dir(root_real, "", is_root=True)
        assert root_frame is not None
        stack = [root_frame]
        root_id = _dir_identity(root_real, root_stat)
        root_frame.identity = root_id
        self.ancestors[root_id] = ""
        self.visited[root_id] = ""
        report = self.report
        while stack:
            frame = stack[-1]
            if frame.pos >= len(frame.entries):
                stack.pop()
                self.ancestors.pop(frame.identity, None)
                del self.ignores[frame.ignore_depth :]
                continue
            _, entry, is_dir = frame.entries[frame.pos]
            frame.pos += 1
            rel = frame.rel + entry.name

            verdict = self._filtered(rel, entry.name, is_dir)
            if verdict is not None:
                report._add_skip(rel, *verdict)
                continue

            # Resolve what the entry is, following a symlink only after checking where it points.
            try:
                is_link = entry.is_symlink()
            except OSError as exc:
                report._add_skip(rel, "unreadable", f"cannot stat: {exc.strerror or exc}")
                continue
            if is_link:
                resolved = self._resolve_link(entry.path, rel)
                if resolved is None:
                    continue
                real, st = resolved
            else:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    report._add_skip(rel, "unreadable", f"cannot stat: {exc.strerror or exc}")
                    continue
                real = entry.path  # parent is a real path and this is not a link, so this is real too

            mode = st.st_mode
            if stat.S_ISDIR(mode):
                # Loops are detected by directory identity (device, inode), which also catches a bind
                # mount of an ancestor. A *symlinked* directory whose target was already walked is not
                # walked again: that bounds the walk even for symlink DAGs that fan out exponentially.
                # Real directories are always walked, so a tree's own layout is never reported as a loop.
                identity = _dir_identity(real, st)
                if identity in self.ancestors:
                    what = "directory symlink" if is_link else "directory (bind mount?)"
                    where = self.ancestors[identity] or "the scanned root"
                    report._add_skip(rel, "symlink-loop", f"{what} points back to {where!r}; not followed")
                    continue
                if is_link and identity in self.visited:
                    report._add_skip(
                        rel,
                        "symlink-loop",
                        f"directory symlink target was already walked as {self.visited[identity]!r}; not walked twice",
                    )
                    continue
                child = self._open_dir(real, rel + "/")
                if child is not None:
                    child.identity = identity
                    stack.append(child)
                    self.ancestors[identity] = rel
                    self.visited[identity] = rel
            elif stat.S_ISREG(mode):
                if is_archive(entry.name):
                    yield from self._archive(real, display=rel, prefix=rel + "!/", is_root=False)
                    continue
                source = self._read_disk_file(real, rel, st.st_size)
                if source is not None:
                    report._add_yield()
                    yield source
            else:
                report._add_skip(rel, "special-file", f"{_describe_mode(mode)} is never opened")

    def _resolve_link(self, link_path: str, rel: str) -> tuple[str, os.stat_result] | None:
        """Return (real target, stat) for a symlink that may be followed, else record why not."""
        report = self.report
        try:
            link_text = os.readlink(link_path)
        except OSError:
            link_text = "?"
        try:
            st = os.stat(link_path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                report._add_skip(rel, "symlink-loop", f"symlink -> {link_text!r} resolves in a loop")
            elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
                report._add_skip(rel, "broken-symlink", f"symlink -> {link_text!r} points to nothing")
            else:
                report._add_skip(rel, "unreadable", f"symlink -> {link_text!r}: {exc.strerror or exc}")
            return None
        target = os.path.realpath(link_path)
        try:
            inside = os.path.commonpath([self.root_real, target]) == self.root_real
        except ValueError:  # different drives on Windows
            inside = False
        if not inside:
            report._add_skip(rel, "symlink-outside-root", f"symlink -> {link_text!r} points outside the scanned root")
            return None
        return target, st

    # ---- reading files -----------------------------------------------------------------------

    def _read_disk_file(self, real: str, rel: str, stat_size: int) -> SourceFile | None:
        report = self.report
        cap = self.opt.max_file_bytes
        if stat_size > cap:
            report._add_skip(rel, "too-large", f"file is {stat_size} bytes, over the {cap}-byte limit")
            return None
        # O_NONBLOCK: if the file was swapped for a FIFO since it was checked, open must not block.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            report._add_skip(rel, "unreadable", f"cannot open: {exc.strerror or exc}")
            return None
        try:
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    report._add_skip(rel, "special-file", f"{_describe_mode(st.st_mode)} is never read")
                    return None
                if st.st_size > cap:
                    report._add_skip(rel, "too-large", f"file is {st.st_size} bytes, over the {cap}-byte limit")
                    return None
                data = fh.read(cap + 1)
        except OSError as exc:
            report._add_skip(rel, "unreadable", f"cannot read: {exc.strerror or exc}")
            return None
        if len(data) > cap:
            report._add_skip(rel, "too-large", f"file grew past the {cap}-byte limit while being read")
            return None
        return self._make_source(rel, data)

    def _make_source(self, path: str, data: bytes) -> SourceFile | None:
        decoded = _decode(data)
        if isinstance(decoded, str):
            self.report._add_skip(path, "binary", f"file {decoded}")
            return None
        text, encoding = decoded
        if encoding == "latin-1":
            offset = _utf8_error_offset(data)
            self.report._add_warning(
                path,
                "latin-1-fallback",
                f"{path!r} is not valid UTF-8 (first bad byte at offset {offset}); decoded as latin-1",
            )
        return SourceFile(
            path=path, text=text, encoding=encoding, size=len(data), sha256=hashlib.sha256(data).hexdigest()
        )

    # ---- archives ----------------------------------------------------------------------------

    def _archive(self, real: str, display: str, prefix: str, is_root: bool) -> Iterator[SourceFile]:
        """Yield an archive's members; stop the archive (not the walk) on bombs/corruption.

        ``display`` names the archive in messages; ``prefix`` is prepended to member paths.
        """
        report = self.report
        kind = "zip" if display.lower().endswith(".zip") else "tar"
        try:
            fh = open(real, "rb")  # noqa: SIM115 - closed in the finally below, across yields
        except OSError as exc:
            if is_root:
                raise WalkError(f"{display}: cannot be read: {exc.strerror or exc}") from None
            report._add_skip(display, "unreadable", f"cannot open archive: {exc.strerror or exc}")
            return
        pending: list[SourceFile] = []
        try:
            members = self._zip_members(fh, prefix) if kind == "zip" else self._tar_members(fh, prefix)
            for item in members:
                if kind == "zip":
                    report._add_yield()
                    yield item
                else:
                    pending.append(item)  # tar is read in stream order; yield sorted at the end
        except _ArchiveStop as stop:
            if is_root:
                raise WalkError(f"{display}: {stop.detail}") from None
            report._add_skip(display, stop.reason, stop.detail)
        finally:
            fh.close()
        pending.sort(key=lambda s: s.path)
        for item in pending:
            report._add_yield()
            yield item

    def _member_gate(self, raw: str, prefix: str, dir_skips: dict[str, _CoveredDir | None]) -> str | None:
        """Checks shared by zip and tar members. Returns the display path to read, or None if skipped.

        Members under an excluded/vendored directory are not counted individually: the directory is
        recorded once (as in a directory walk) and its detail counts the members it covered.
        """
        report = self.report
        name, reason, detail = _normalise_member_name(raw)
        if name is None:
            report._add_skip(prefix + raw, reason, detail)
            return None
        if not name:
            return None  # "./" and similar: the archive's root directory, not a file
        parts = name.split("/")
        for depth in range(1, len(parts)):
            dir_rel = prefix + "/".join(parts[:depth])
            if dir_rel not in dir_skips:
                verdict = self._archive_filter(dir_rel, parts[depth - 1], is_dir=True)
                dir_skips[dir_rel] = None
                if verdict is not None:
                    dir_skips[dir_rel] = _CoveredDir(report._add_skip(dir_rel, *verdict), verdict[1])
            cover = dir_skips[dir_rel]
            if cover is not None:
                cover.members += 1
                plural = "s" if cover.members != 1 else ""
                cover.skip.detail = f"{cover.base_detail}; not read ({cover.members} member{plural})"
                return None
        display = prefix + name
        verdict = self._archive_filter(display, parts[-1], is_dir=False)
        if verdict is not None:
            report._add_skip(display, *verdict)
            return None
        if is_archive(name):
            report._add_skip(display, "nested-archive", "archive inside an archive is not expanded")
            return None
        return display

    def _archive_filter(self, display: str, name: str, is_dir: bool) -> tuple[str, str] | None:
        kind = "directory" if is_dir else "member"
        if self.user_excludes is not None:
            verdict = self.user_excludes.check(display, is_dir)
            if verdict is not None and verdict[0]:
                return "excluded", f"archive {kind} matches {verdict[1]}"
        if is_dir and self.vendored is not None and self.vendored.match(name):
            return "vendored", f"vendored/generated directory {name!r} (default excludes, rules/excludes.toml)"
        return None

    def _zip_members(self, fh: IO[bytes], prefix: str) -> Iterator[SourceFile]:
        import zipfile

        opt = self.opt
        report = self.report
        errors = _corrupt_errors()
        try:
            zf = zipfile.ZipFile(fh)
            infos = zf.infolist()
        except errors as exc:
            raise _ArchiveStop("archive-corrupt", f"not a readable zip/tar archive: {_exc_text(exc)}") from None
        if len(infos) > opt.max_archive_members:
            raise _ArchiveStop(
                "archive-bomb",
                f"archive has {len(infos)} members, over the limit of {opt.max_archive_members} "
                "(possible archive bomb)",
            )
        total = 0
        dir_skips: dict[str, _CoveredDir | None] = {}
        cap = opt.max_file_bytes
        with zf:
            for info in sorted(infos, key=_zip_sort_key):
                if info.filename.endswith(("/", "\\")):
                    continue  # directory entry: not a file
                ftype = stat.S_IFMT(info.external_attr >> 16)
                if ftype == stat.S_IFDIR:
                    continue
                display = self._member_gate(info.filename, prefix, dir_skips)
                if display is None:
                    continue
                if ftype not in (0, stat.S_IFREG):
                    what = "a symlink" if ftype == stat.S_IFLNK else _describe_mode(ftype)
                    report._add_skip(display, "archive-link", f"member {info.filename!r} is {what}; not followed")
                    continue
                if info.flag_bits & 0x1:
                    report._add_skip(display, "unreadable", f"member {info.filename!r} is encrypted")
                    continue
                size, packed = info.file_size, info.compress_size
                if size > _RATIO_MIN_BYTES and (packed == 0 or size / packed > opt.max_compression_ratio):
                    ratio = "infinite" if packed == 0 else f"{size / packed:.0f}:1"
                    report._add_skip(
                        display,
                        "archive-bomb",
                        f"member {info.filename!r} declares {size} bytes from {packed} compressed "
                        f"(ratio {ratio}, limit {opt.max_compression_ratio}:1)",
                    )
                    continue
                if size > cap:
                    report._add_skip(display, "too-large", f"member is {size} bytes, over the {cap}-byte limit")
                    continue
                try:
                    with zf.open(info) as member:
                        data = member.read(cap + 1)  # bounded even if the declared size lies
                except errors as exc:
                    report._add_skip(display, "archive-corrupt", f"member cannot be read: {_exc_text(exc)}")
                    continue
                total += len(data)
                self._check_total(total)
                if len(data) > cap:
                    report._add_skip(display, "too-large", f"member is over the {cap}-byte limit")
                    continue
                source = self._make_source(display, data)
                if source is not None:
                    yield source

    def _tar_members(self, fh: IO[bytes], prefix: str) -> Iterator[SourceFile]:
        import tarfile

        opt = self.opt
        report = self.report
        errors = _corrupt_errors()
        cap = opt.max_file_bytes
        # Skipping over a member of a compressed tar still decompresses it; count those bytes too.
        compressed = fh.read(6).startswith(_COMPRESSED_MAGIC)
        fh.seek(0)
        try:
            tf = tarfile.open(fileobj=fh, mode="r:*")  # noqa: SIM115 - a `with tf:` follows
        except errors as exc:
            raise _ArchiveStop("archive-corrupt", f"not a readable zip/tar archive: {_exc_text(exc)}") from None
        count = 0
        total_read = 0
        dir_skips: dict[str, _CoveredDir | None] = {}
        with tf:
            while True:
                try:
                    m = tf.next()
                except errors as exc:
                    raise _ArchiveStop("archive-corrupt", f"not a readable zip/tar archive: {_exc_text(exc)}") from None
                if m is None:
                    break
                tf.members.clear()  # TarFile remembers every member; this walk never needs them again
                count += 1
                if count > opt.max_archive_members:
                    raise _ArchiveStop(
                        "archive-bomb",
                        f"archive has more than {opt.max_archive_members} members (possible archive bomb)",
                    )
                if compressed:
                    # Where the next header lies in the decompressed stream = bytes processed so far.
                    self._check_total(m.offset_data + m.size)
                if m.isdir():
                    continue
                display = self._member_gate(m.name, prefix, dir_skips)
                if display is None:
                    continue
                if not m.isreg():
                    if m.issym():
                        what = f"a symlink to {m.linkname!r}"
                    elif m.islnk():
                        what = f"a hard link to {m.linkname!r}"
                    elif m.ischr() or m.isblk():
                        what = "a device"
                    elif m.isfifo():
                        what = "a FIFO"
                    else:
                        what = f"an unsupported member type {m.type!r}"
                    report._add_skip(display, "archive-link", f"member {m.name!r} is {what}; not followed")
                    continue
                if m.size > cap:
                    report._add_skip(display, "too-large", f"member is {m.size} bytes, over the {cap}-byte limit")
                    continue
                try:
                    member = tf.extractfile(m)
                    data = member.read(cap + 1) if member is not None else b""
                except errors as exc:
                    raise _ArchiveStop("archive-corrupt", f"not a readable zip/tar archive: {_exc_text(exc)}") from None
                total_read += len(data)
                if not compressed:
                    self._check_total(total_read)
                if len(data) > cap:
                    report._add_skip(display, "too-large", f"member is over the {cap}-byte limit")
                    continue
                source = self._make_source(display, data)
                if source is not None:
                    yield source

    def _check_total(self, total: int) -> None:
        limit = self.opt.max_archive_total_bytes
        if total > limit:
            raise _ArchiveStop(
                "archive-bomb",
                f"archive exceeds the limit of {limit} uncompressed bytes (possible archive bomb); stopped reading",
            )


@functools.lru_cache(maxsize=1)
def _corrupt_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this archive data is malformed" (hostile input can trigger any of them)."""
    import lzma
    import struct
    import tarfile
    import zipfile
    import zlib

    return (
        zipfile.BadZipFile,
        tarfile.TarError,
        OSError,
        EOFError,
        ValueError,
        LookupError,
        NotImplementedError,  # zip compression method not supported
        struct.error,
        zlib.error,
        lzma.LZMAError,
    )


def _zip_sort_key(info: zipfile.ZipInfo) -> str:
    name = _normalise_member_name(info.filename)[0]
    return name if name is not None else info.filename


def _dir_identity(real: str, st: os.stat_result) -> tuple[int, int] | str:
    """(device, inode) of a directory; the real path where the platform reports no inode."""
    return (st.st_dev, st.st_ino) if st.st_ino else real


def _exc_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # tarfile joins its per-compressor errors with newlines
    return text if text else type(exc).__name__


def _describe_mode(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "a special file"
