"""Read the members of a zip or tar archive in memory, treating every name, size and type as hostile.

Why a module of its own: an archive is a second, untrusted filesystem inside the submission, and all the
defences against it belong together. Nothing is ever extracted to disk, so hostile member names
("../../etc/passwd", "/abs", "C:\\x") can never write anywhere; such members, links and devices are
skipped and counted. Every read is bounded (per member, per archive, member count and compression ratio),
so an archive bomb costs a bounded amount of memory and time. Archives inside archives are not expanded.
A root archive that cannot be read raises :class:`WalkError`; an archive found in a directory becomes a
skip and the walk goes on.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from provscan.textfile import describe_mode, make_source
from provscan.walktypes import Skip, SourceFile, WalkError, WalkOptions, WalkReport

if TYPE_CHECKING:  # pragma: no cover - typing only; zipfile is imported lazily to keep import cheap
    import zipfile

    from provscan.ignore import PathFilter

__all__ = ["ArchiveReader", "is_archive"]

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz")
# Magic numbers of the compressors tarfile understands; used to decide whether skipping over a tar
# member costs decompression work (see ArchiveReader._tar_members).
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
# The compression-ratio test only applies to members that decompress to more than this. Small text
# that is very repetitive (a file of blank lines, a table of zeros) compresses beyond any sane ratio
# yet is harmless, and it is bounded by max_file_bytes anyway; calling it a bomb would be noise.
_RATIO_MIN_BYTES = 64 * 1024
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def is_archive(path: str | os.PathLike[str]) -> bool:
    """True if the name says zip or tar (optionally gz/xz/bz2-compressed); the walk expands these."""
    return os.fspath(path).lower().endswith(_ARCHIVE_SUFFIXES)


class _ArchiveStop(Exception):
    """Internal: stop reading the current archive (bomb limits hit or stream corrupt)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class _CoveredDir:
    """A skipped directory inside an archive and how many members it has covered so far."""

    skip: Skip
    base_detail: str
    members: int = 0


class ArchiveReader:
    """Reads the archives of one walk, recording skips in its report.

    ``filters`` decides which members are excluded (user excludes and default vendored directories;
    .gitignore files do not apply inside archives).
    """

    def __init__(self, options: WalkOptions, report: WalkReport, filters: PathFilter) -> None:
        self.opt = options
        self.report = report
        self.filters = filters

    def read(self, real: str, display: str, prefix: str, is_root: bool) -> Iterator[SourceFile]:
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
            report.add_skip(display, "unreadable", f"cannot open archive: {exc.strerror or exc}")
            return
        pending: list[SourceFile] = []
        try:
            members = self._zip_members(fh, prefix) if kind == "zip" else self._tar_members(fh, prefix)
            for item in members:
                if kind == "zip":
                    report.add_yield()
                    yield item
                else:
                    pending.append(item)  # tar is read in stream order; yield sorted at the end
        except _ArchiveStop as stop:
            if is_root:
                raise WalkError(f"{display}: {stop.detail}") from None
            report.add_skip(display, stop.reason, stop.detail)
        finally:
            fh.close()
        pending.sort(key=lambda s: s.path)
        for item in pending:
            report.add_yield()
            yield item

    def _member_gate(self, raw: str, prefix: str, dir_skips: dict[str, _CoveredDir | None]) -> str | None:
        """Checks shared by zip and tar members. Returns the display path to read, or None if skipped.

        Members under an excluded/vendored directory are not counted individually: the directory is
        recorded once (as in a directory walk) and its detail counts the members it covered.
        """
        report = self.report
        name, reason, detail = _normalise_member_name(raw)
        if name is None:
            report.add_skip(prefix + raw, reason, detail)
            return None
        if not name:
            return None  # "./" and similar: the archive's root directory, not a file
        parts = name.split("/")
        for depth in range(1, len(parts)):
            dir_rel = prefix + "/".join(parts[:depth])
            if dir_rel not in dir_skips:
                verdict = self.filters.check_member(dir_rel, parts[depth - 1], is_dir=True)
                dir_skips[dir_rel] = None
                if verdict is not None:
                    dir_skips[dir_rel] = _CoveredDir(report.add_skip(dir_rel, *verdict), verdict[1])
            cover = dir_skips[dir_rel]
            if cover is not None:
                cover.members += 1
                plural = "s" if cover.members != 1 else ""
                cover.skip.detail = f"{cover.base_detail}; not read ({cover.members} member{plural})"
                return None
        display = prefix + name
        verdict = self.filters.check_member(display, parts[-1], is_dir=False)
        if verdict is not None:
            report.add_skip(display, *verdict)
            return None
        if is_archive(name):
            report.add_skip(display, "nested-archive", "archive inside an archive is not expanded")
            return None
        return display

    def _zip_members(self, fh: IO[bytes], prefix: str) -> Iterator[SourceFile]:
        import zipfile

        opt = self.opt
        report = self.report
        errors = _corrupt_errors()
        try:
            zf = zipfile.ZipFile(fh)
            infos = zf.infolist()
        except errors as exc:
            raise _corrupt(exc) from None
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
                    what = "a symlink" if ftype == stat.S_IFLNK else describe_mode(ftype)
                    report.add_skip(display, "archive-link", f"member {info.filename!r} is {what}; not followed")
                    continue
                if info.flag_bits & 0x1:
                    report.add_skip(display, "unreadable", f"member {info.filename!r} is encrypted")
                    continue
                size, packed = info.file_size, info.compress_size
                if size > _RATIO_MIN_BYTES and (packed == 0 or size / packed > opt.max_compression_ratio):
                    ratio = "infinite" if packed == 0 else f"{size / packed:.0f}:1"
                    report.add_skip(
                        display,
                        "archive-bomb",
                        f"member {info.filename!r} declares {size} bytes from {packed} compressed "
                        f"(ratio {ratio}, limit {opt.max_compression_ratio}:1)",
                    )
                    continue
                if size > cap:
                    report.add_skip(display, "too-large", f"member is {size} bytes, over the {cap}-byte limit")
                    continue
                try:
                    with zf.open(info) as member:
                        data = member.read(cap + 1)  # bounded even if the declared size lies
                except errors as exc:
                    report.add_skip(display, "archive-corrupt", f"member cannot be read: {_exc_text(exc)}")
                    continue
                total += len(data)
                self._check_total(total)
                source = _member_source(display, data, cap, report)
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
            raise _corrupt(exc) from None
        count = 0
        total_read = 0
        dir_skips: dict[str, _CoveredDir | None] = {}
        with tf:
            while True:
                try:
                    m = tf.next()
                except errors as exc:
                    raise _corrupt(exc) from None
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
                    report.add_skip(display, "archive-link", f"member {m.name!r} is {what}; not followed")
                    continue
                if m.size > cap:
                    report.add_skip(display, "too-large", f"member is {m.size} bytes, over the {cap}-byte limit")
                    continue
                try:
                    member = tf.extractfile(m)
                    data = member.read(cap + 1) if member is not None else b""
                except errors as exc:
                    raise _corrupt(exc) from None
                total_read += len(data)
                if not compressed:
                    self._check_total(total_read)
                source = _member_source(display, data, cap, report)
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


def _zip_sort_key(info: zipfile.ZipInfo) -> str:
    name = _normalise_member_name(info.filename)[0]
    return name if name is not None else info.filename


def _corrupt(exc: BaseException) -> _ArchiveStop:
    """The stop for an archive whose container (not just one member) cannot be parsed."""
    return _ArchiveStop("archive-corrupt", f"not a readable zip/tar archive: {_exc_text(exc)}")


def _exc_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # tarfile joins its per-compressor errors with newlines
    return text if text else type(exc).__name__


def _member_source(display: str, data: bytes, cap: int, report: WalkReport) -> SourceFile | None:
    """A member read with a bounded read (cap + 1 bytes): too large, or decoded like any file."""
    if len(data) > cap:
        report.add_skip(display, "too-large", f"member is over the {cap}-byte limit")
        return None
    return make_source(display, data, report)
