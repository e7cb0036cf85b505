"""Turn one file's bytes into a :class:`SourceFile`, or into a counted skip saying why not.

Why a module of its own: files on disk and archive members end the same way (sniffed for binary content,
decoded, hashed), so that decision lives in one place and a member is judged exactly like a file. Reading
a file from disk is here too because it is bounded the same way for the same reason: submissions are
untrusted, so a read never blocks (a FIFO swapped in after the check) and never takes more than the size
limit, whatever the file claims to be.
"""

from __future__ import annotations

import hashlib
import os
import stat

from provscan.walktypes import SourceFile, WalkReport

__all__ = ["make_source", "read_disk_file", "describe_mode"]

# Bytes inspected for NUL when deciding whether a file is binary (the same window git uses).
_SNIFF_BYTES = 8 * 1024


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
            text = data.decode("utf-16")  # the codec reads and strips the BOM
        except UnicodeDecodeError as exc:
            return f"has a UTF-16 byte-order mark but is not valid UTF-16 ({exc.reason})"
        if "\x00" in text[:_SNIFF_BYTES]:
            return "starts like UTF-16 but holds NUL characters (binary data behind a byte-order mark)"
        return text, "utf-16"
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


def make_source(path: str, data: bytes, report: WalkReport) -> SourceFile | None:
    """Decode ``data`` as the file ``path``; record a "binary" skip or a latin-1 warning in ``report``.

    The caller records the yield itself, because an archive's members are yielded later than they are
    read (tar members are sorted first).
    """
    decoded = _decode(data)
    if isinstance(decoded, str):
        report.add_skip(path, "binary", f"file {decoded}")
        return None
    text, encoding = decoded
    if encoding == "latin-1":
        offset = _utf8_error_offset(data)
        report.add_warning(
            path,
            "latin-1-fallback",
            f"{path!r} is not valid UTF-8 (first bad byte at offset {offset}); decoded as latin-1",
        )
    return SourceFile(path=path, text=text, encoding=encoding, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def read_disk_file(real: str, rel: str, stat_size: int, cap: int, report: WalkReport) -> SourceFile | None:
    """Read the regular file ``real`` (shown as ``rel``) if it is at most ``cap`` bytes; else record a skip.

    ``stat_size`` is the size seen when the entry was listed; the file is checked again once open,
    since it may have been replaced in between.
    """
    if stat_size > cap:
        report.add_skip(rel, "too-large", f"file is {stat_size} bytes, over the {cap}-byte limit")
        return None
    # O_NONBLOCK: if the file was swapped for a FIFO since it was checked, open must not block.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        report.add_skip(rel, "unreadable", f"cannot open: {exc.strerror or exc}")
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                report.add_skip(rel, "special-file", f"{describe_mode(st.st_mode)} is never read")
                return None
            if st.st_size > cap:
                report.add_skip(rel, "too-large", f"file is {st.st_size} bytes, over the {cap}-byte limit")
                return None
            data = fh.read(cap + 1)
    except OSError as exc:
        report.add_skip(rel, "unreadable", f"cannot read: {exc.strerror or exc}")
        return None
    if len(data) > cap:
        report.add_skip(rel, "too-large", f"file grew past the {cap}-byte limit while being read")
        return None
    return make_source(rel, data, report)


def describe_mode(mode: int) -> str:
    """Name a non-regular file type for a skip message ("a FIFO", "a device", ...)."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "a special file"
