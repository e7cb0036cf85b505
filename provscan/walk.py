"""Walk a submission and yield its text files, accounting for everything it does not yield.

A provenance scan is only as trustworthy as its coverage: a reviewer must be able to tell "no copied
code was found" apart from "the file was never looked at". So the walk never drops a file quietly.
Every file, archive member or directory that is not yielded is recorded in a :class:`WalkReport` with
a reason slug and a sentence naming the problem.

A submission is a directory, a single file, or an archive (.zip, .tar, .tar.gz/.tgz, .tar.xz,
.tar.bz2). Submissions are untrusted input, which shapes the design:

* Archives are read in memory, never extracted, with every read bounded (:mod:`provscan.archives`).
* Symlinks are followed only when their resolved target lies inside the scanned root, so a
  submission cannot make the scanner read the reviewer's files. Loops are detected by directory
  identity (device, inode), so the walk always terminates.
* FIFOs, sockets and devices are never opened (opening a FIFO blocks forever; :mod:`provscan.textfile`).
* Scanned code is data: nothing here imports or executes it.

Directory entries are visited in an order that makes yielded paths globally sorted, so two scans of
the same submission yield the same sequence.

This module is the directory walk that ties the parts together and the public entry point: the types
live in :mod:`provscan.walktypes`, decoding and bounded reads in :mod:`provscan.textfile`, excludes and
.gitignore in :mod:`provscan.ignore`, archives in :mod:`provscan.archives`; import the public names from
here.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from provscan.archives import ArchiveReader, is_archive
from provscan.ignore import PathFilter
from provscan.textfile import describe_mode, read_disk_file
from provscan.walktypes import Skip, SourceFile, WalkError, WalkOptions, WalkReport

__all__ = ["WalkOptions", "SourceFile", "Skip", "WalkReport", "WalkError", "walk", "is_archive"]

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
    try:
        walker = _Walker(options, report if report is not None else WalkReport())
    except ValueError as exc:  # an invalid --exclude pattern: the user's input, so a clear fatal error
        raise WalkError(str(exc)) from None
    return walker.run(root_str, root_stat)


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
    """State of one walk: the exclusions in force, the archive reader, and the directories seen so far."""

    def __init__(self, options: WalkOptions, report: WalkReport) -> None:
        self.opt = options
        self.report = report
        self.filters = PathFilter(options, report)
        self.archives = ArchiveReader(options, report, self.filters)
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
            self.report.add_skip(name, "special-file", f"{root!r} is not a regular file or directory")
            return
        if is_archive(name):
            yield from self.archives.read(real, display=root, prefix="", is_root=True)
            return
        # A file named explicitly by the user is always read: excludes and .gitignore do not apply.
        source = read_disk_file(real, name, root_stat.st_size, self.opt.max_file_bytes, self.report)
        if source is not None:
            self.report.add_yield()
            yield source

    # ---- directories -------------------------------------------------------------------------

    def _open_dir(self, real: str, rel: str, is_root: bool = False) -> _Frame | None:
        try:
            with os.scandir(real) as it:
                raw_entries = list(it)
        except OSError as exc:
            if is_root:
                raise WalkError(f"{real}: cannot list directory: {exc.strerror or exc}") from None
            self.report.add_skip(rel.rstrip("/"), "unreadable", f"directory cannot be listed: {exc.strerror or exc}")
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
        frame = _Frame(rel=rel, real=real, entries=entries, ignore_depth=len(self.filters.ignores))
        if self.opt.honour_gitignore:
            self.filters.load_gitignore(real, rel)
        return frame

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
                del self.filters.ignores[frame.ignore_depth :]
                continue
            _, entry, is_dir = frame.entries[frame.pos]
            frame.pos += 1
            rel = frame.rel + entry.name

            verdict = self.filters.check(rel, entry.name, is_dir)
            if verdict is not None:
                report.add_skip(rel, *verdict)
                continue

            # Resolve what the entry is, following a symlink only after checking where it points.
            try:
                is_link = entry.is_symlink()
            except OSError as exc:
                report.add_skip(rel, "unreadable", f"cannot stat: {exc.strerror or exc}")
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
                    report.add_skip(rel, "unreadable", f"cannot stat: {exc.strerror or exc}")
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
                    report.add_skip(rel, "symlink-loop", f"{what} points back to {where!r}; not followed")
                    continue
                if is_link and identity in self.visited:
                    report.add_skip(
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
                    yield from self.archives.read(real, display=rel, prefix=rel + "!/", is_root=False)
                    continue
                source = read_disk_file(real, rel, st.st_size, self.opt.max_file_bytes, report)
                if source is not None:
                    report.add_yield()
                    yield source
            else:
                report.add_skip(rel, "special-file", f"{describe_mode(mode)} is never opened")

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
                report.add_skip(rel, "symlink-loop", f"symlink -> {link_text!r} resolves in a loop")
            elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
                report.add_skip(rel, "broken-symlink", f"symlink -> {link_text!r} points to nothing")
            else:
                report.add_skip(rel, "unreadable", f"symlink -> {link_text!r}: {exc.strerror or exc}")
            return None
        target = os.path.realpath(link_path)
        try:
            inside = os.path.commonpath([self.root_real, target]) == self.root_real
        except ValueError:  # different drives on Windows
            inside = False
        if not inside:
            report.add_skip(rel, "symlink-outside-root", f"symlink -> {link_text!r} points outside the scanned root")
            return None
        return target, st


def _dir_identity(real: str, st: os.stat_result) -> tuple[int, int] | str:
    """(device, inode) of a directory; the real path where the platform reports no inode."""
    return (st.st_dev, st.st_ino) if st.st_ino else real
