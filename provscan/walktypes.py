"""The vocabulary of a walk: its options, what it yields, and the report that accounts for every skip.

Why a module of its own: the walk is split by job (:mod:`provscan.textfile` decodes, :mod:`provscan.ignore`
excludes, :mod:`provscan.archives` reads archives, :mod:`provscan.walk` walks directories) and every one of
those records skips. Keeping the shared types here lets them all depend on one small module instead of on
the walker, which depends on them, so there is no import cycle. Import these names from
:mod:`provscan.walk`, which re-exports them as the public API.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

__all__ = ["WalkOptions", "SourceFile", "Skip", "WalkReport", "WalkError"]

# Stored skip/warning entries are capped so a hostile submission cannot exhaust memory through the
# report itself; the counters keep counting.
_STORED_ENTRIES_CAP = 10_000
# Number of skip entries included in WalkReport.to_dict().
_DICT_SKIPS = 200


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
    (only for members declaring more than 64 KiB, see ``provscan.archives._RATIO_MIN_BYTES``)."""
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

    def add_skip(self, path: str, reason: str, detail: str) -> Skip:
        entry = Skip(path, reason, detail)
        self.files_seen += 1
        self.skipped[reason] += 1
        if len(self.skips) < _STORED_ENTRIES_CAP:
            self.skips.append(entry)
        return entry

    def add_warning(self, path: str, reason: str, detail: str) -> None:
        self.warning_counts[reason] += 1
        if len(self.warnings) < _STORED_ENTRIES_CAP:
            self.warnings.append(Skip(path, reason, detail))

    def add_yield(self) -> None:
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
