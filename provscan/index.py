"""Index stage: a corpus's fragments and LSH band keys in an embedded on-disk store (SQLite).

Why SQLite rather than a pickled `datasketch.MinHashLSH`: a pickled index of the default corpus takes seconds to
load, while a SQLite file opens in milliseconds and answers band look-ups through its B-tree; it also gives atomic
incremental updates (re-adding unchanged files is free) and needs no server. Band keys follow datasketch's LSH
banding (see `fingerprint`), so retrieval behaves as `MinHashLSH` would.

One file per corpus: `<cache>/corpora/<name>.sqlite`. Each file row keeps the normalised token stream (compressed)
so matches can be verified exactly and mapped to lines, plus the file's notice lines.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from provscan.fragments import Fragment

# Bumped whenever an index built by an older provscan must be rebuilt rather than read. 4: the default LSH threshold
# went from 0.4 (32 bands x 4 rows) to 0.3 (37 x 3), so that retrieval proposes more of the pairs the verification
# would accept (a pair of Jaccard 0.5 was missed 13 % of the time, now 4.5 % with the two agreeing bands the match
# stage asks for); an index banded the old way still reads, but would quietly miss those pairs. 5: the corpus's
# common shingles (`common_code`) are stored in its metadata; without them boilerplate would count as evidence.
SCHEMA_VERSION = 7  # 6: files.lineage; 7: files.literals (long string literals' hashes)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    language TEXT NOT NULL,
    total_lines INTEGER NOT NULL,
    code_lines INTEGER NOT NULL,
    notices TEXT NOT NULL,
    codes BLOB NOT NULL,
    lines BLOB NOT NULL,
    lineage TEXT NOT NULL DEFAULT '{}',
    literals BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS fragments (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    tok_start INTEGER NOT NULL,
    tok_end INTEGER NOT NULL,
    content_hash INTEGER NOT NULL,
    band_keys BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS fragments_by_file ON fragments(file_id);
CREATE TABLE IF NOT EXISTS bands (key INTEGER NOT NULL, fragment_id INTEGER NOT NULL,
    PRIMARY KEY (key, fragment_id)) WITHOUT ROWID;
"""


# The fragments columns in `StoredFragment`'s field order, for every query that builds one from a row.
_FRAGMENT_COLUMNS = "id, file_id, kind, name, start_line, end_line, tok_start, tok_end, content_hash"


class CorpusIndexError(Exception):
    """A corpus store that cannot be used (missing, corrupt, or built with other settings)."""


@dataclass
class StoredFragment:
    """What a scan needs to know about a corpus fragment to report it."""

    id: int
    file_id: int
    kind: str
    name: str
    start_line: int
    end_line: int
    tok_start: int
    tok_end: int
    content_hash: int  # equal for token-identical fragments, so duplicates are verified once


@dataclass
class StoredFile:
    id: int
    project: str
    path: str
    language: str
    notices: list[dict]
    codes: np.ndarray
    lines: np.ndarray
    lineage: dict[str, tuple[str, str]] = field(default_factory=dict)  # provscan.lineage: name -> (project, name)
    # (token index, text hash) of each long string literal (`provscan.fragments`), uint32 (n, 2)
    literals: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.uint32))


@dataclass
class FragmentRecord:
    """A fragment to be written: the fragment (its place in the file's token stream) and its LSH band keys."""

    fragment: Fragment
    band_keys: np.ndarray  # int64, one per band


@dataclass
class FileRecord:
    """A corpus file to be written, as produced by the corpus builder's workers."""

    project: str
    path: str
    sha256: str
    language: str
    total_lines: int
    code_lines: int
    notices: list[dict]
    codes: np.ndarray
    lines: np.ndarray
    fragments: list[FragmentRecord] = field(default_factory=list)
    lineage: dict[str, tuple[str, str]] = field(default_factory=dict)
    literals: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.uint32))


def encode_lineage(lineage: dict[str, tuple[str, str]]) -> str:
    return json.dumps(lineage, separators=(",", ":"), sort_keys=True)


def decode_lineage(value: str | bytes | None) -> dict[str, tuple[str, str]]:
    return {name: (origin[0], origin[1]) for name, origin in json.loads(value or "{}").items()}


def content_hash(codes: np.ndarray) -> int:
    """Signed 64-bit hash of a token-code slice (SQLite integers are signed)."""
    import xxhash

    return xxhash.xxh64_intdigest(np.ascontiguousarray(codes, dtype=np.uint32).tobytes()) - (1 << 63)


def pack_array(array: np.ndarray) -> bytes:
    """uint32 values as stored by both back-ends: zlib level 1 (token streams compress about 4x)."""
    return zlib.compress(np.ascontiguousarray(array, dtype=np.uint32).tobytes(), 1)


def unpack_array(blob: bytes) -> np.ndarray:
    return np.frombuffer(zlib.decompress(blob), dtype=np.uint32)


def unpack_literals(blob: bytes) -> np.ndarray:
    """A file's (token index, hash) literal pairs from their stored form (`pack_array` of the flattened pairs)."""
    return unpack_array(blob).reshape(-1, 2)


class CorpusIndex:
    """One corpus's SQLite store. Open read-only for scans; writable for builds."""

    def __init__(self, path: Path, *, writable: bool = False) -> None:
        self.path = Path(path)
        if not writable and not self.path.exists():
            raise CorpusIndexError(f"{self.path}: corpus index does not exist")
        if writable:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path)
            self.db.executescript(_SCHEMA)
        else:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        self.db.execute("PRAGMA foreign_keys = ON")
        self._file_cache: dict[int, StoredFile] = {}
        if not writable:
            try:
                self.meta()
            except sqlite3.DatabaseError as error:
                raise CorpusIndexError(f"{self.path}: not a provscan corpus index ({error})") from error

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CorpusIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- metadata -----------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def set_meta(self, values: dict[str, object]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )

    def stats(self) -> dict[str, int]:
        files, lines = self.db.execute("SELECT COUNT(*), COALESCE(SUM(total_lines), 0) FROM files").fetchone()
        fragments = self.db.execute("SELECT COUNT(*) FROM fragments").fetchone()[0]
        projects = self.db.execute("SELECT COUNT(DISTINCT project) FROM files").fetchone()[0]
        return {"files": files, "lines": lines, "fragments": fragments, "projects": projects}

    # -- writing ------------------------------------------------------------------------------------------------
    def file_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT path, sha256 FROM files"))

    def remove_file(self, path: str) -> None:
        row = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return
        for fragment_id, blob in self.db.execute(
            "SELECT id, band_keys FROM fragments WHERE file_id = ?", (row[0],)
        ).fetchall():
            keys = np.frombuffer(blob, dtype=np.int64)
            self.db.executemany(
                "DELETE FROM bands WHERE key = ? AND fragment_id = ?", [(int(k), fragment_id) for k in keys]
            )
        self.db.execute("DELETE FROM fragments WHERE file_id = ?", (row[0],))
        self.db.execute("DELETE FROM files WHERE id = ?", (row[0],))

    def add_file(self, record: FileRecord) -> None:
        self.remove_file(record.path)
        cursor = self.db.execute(
            "INSERT INTO files(project, path, sha256, language, total_lines, code_lines, notices, codes, lines,"
            " lineage, literals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.project,
                record.path,
                record.sha256,
                record.language,
                record.total_lines,
                record.code_lines,
                json.dumps(record.notices, ensure_ascii=False),
                pack_array(record.codes),
                pack_array(record.lines),
                encode_lineage(record.lineage),
                pack_array(record.literals.ravel()),
            ),
        )
        file_id = cursor.lastrowid
        band_rows = []
        for fragment_record in record.fragments:
            frag = fragment_record.fragment
            keys = np.ascontiguousarray(fragment_record.band_keys, dtype=np.int64)
            fragment_id = self.db.execute(
                "INSERT INTO fragments(file_id, kind, name, start_line, end_line, tok_start, tok_end, content_hash,"
                " band_keys) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (file_id, frag.kind, frag.name, frag.start_line, frag.end_line, frag.tok_start, frag.tok_end,
                 content_hash(record.codes[frag.tok_start : frag.tok_end]), keys.tobytes()),
            ).lastrowid
            band_rows.extend((int(k), fragment_id) for k in np.unique(keys))
        self.db.executemany("INSERT OR IGNORE INTO bands(key, fragment_id) VALUES (?, ?)", band_rows)

    def notices_of(self, path: str) -> list[dict]:
        row = self.db.execute("SELECT notices FROM files WHERE path = ?", (path,)).fetchone()
        return json.loads(row[0]) if row else []

    def set_notices(self, path: str, notices: list[dict]) -> None:
        self.db.execute("UPDATE files SET notices = ? WHERE path = ?", (json.dumps(notices, ensure_ascii=False), path))

    def commit(self) -> None:
        self.db.commit()

    # -- reading ------------------------------------------------------------------------------------------------
    def candidates(self, query_keys: Iterable[tuple[int, int]], min_hits: int = 1) -> Iterator[tuple[int, int]]:
        """(query id, corpus fragment id) for every corpus fragment sharing at least `min_hits` bands with the query
        (a band key encodes its band number, so each shared key is one shared band)."""
        for qid, fragment_id, _hits in self.candidate_hits(query_keys, min_hits):
            yield qid, fragment_id

    def candidate_hits(self, query_keys: Iterable[tuple[int, int]], min_hits: int = 1
                       ) -> Iterator[tuple[int, int, int]]:
        """The same, with the number of bands each pair shares."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS query_bands (key INTEGER NOT NULL, qid INTEGER NOT NULL)")
        self.db.execute("DELETE FROM temp.query_bands")
        self.db.executemany("INSERT INTO temp.query_bands(key, qid) VALUES (?, ?)", query_keys)
        yield from self.db.execute(
            "SELECT q.qid, b.fragment_id, COUNT(*) FROM temp.query_bands q JOIN bands b ON b.key = q.key"
            " GROUP BY q.qid, b.fragment_id HAVING COUNT(*) >= ?", (min_hits,)
        )

    def fragments(self, ids: Iterable[int]) -> dict[int, StoredFragment]:
        ids = list(ids)
        result: dict[int, StoredFragment] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT {_FRAGMENT_COLUMNS} FROM fragments WHERE id IN ({marks})",
                chunk,
            ):
                result[row[0]] = StoredFragment(*row)
        return result

    def all_fragments(self) -> Iterator[tuple[StoredFragment, np.ndarray]]:
        """Every fragment with its file's token codes, file by file (for corpus-wide statistics at build time)."""
        by_file: dict[int, list[StoredFragment]] = {}
        for row in self.db.execute(
            f"SELECT {_FRAGMENT_COLUMNS} FROM fragments"
        ):
            by_file.setdefault(row[1], []).append(StoredFragment(*row))
        for file_id, blob in self.db.execute("SELECT id, codes FROM files"):
            codes = unpack_array(blob)
            for fragment in by_file.get(file_id, ()):
                yield fragment, codes

    def all_literals(self) -> Iterator[np.ndarray]:
        """Every file's long-literal pairs (for the corpus-wide count of common literals at build time)."""
        for (blob,) in self.db.execute("SELECT literals FROM files"):
            yield unpack_literals(blob)

    def all_files(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(path, token codes, token lines) of every file (a compare side's file-pair similarity reads them all)."""
        for path, codes, lines in self.db.execute("SELECT path, codes, lines FROM files ORDER BY path"):
            yield path, unpack_array(codes), unpack_array(lines)

    def file(self, file_id: int) -> StoredFile:
        cached = self._file_cache.get(file_id)
        if cached is None:
            row = self.db.execute(
                "SELECT id, project, path, language, notices, codes, lines, lineage, literals FROM files WHERE id = ?",
                (file_id,),
            ).fetchone()
            if row is None:
                raise CorpusIndexError(f"{self.path}: file id {file_id} missing")
            cached = StoredFile(row[0], row[1], row[2], row[3], json.loads(row[4]), unpack_array(row[5]),
                                unpack_array(row[6]), decode_lineage(row[7]), unpack_literals(row[8]))
            self._file_cache[file_id] = cached
        return cached

    def projects(self) -> list[tuple[str, int, int]]:
        return list(
            self.db.execute(
                "SELECT project, COUNT(*), SUM(total_lines) FROM files GROUP BY project ORDER BY project"
            )
        )


class StagedCorpusIndex(CorpusIndex):
    """A build's private copy of a corpus, published over the live file by one atomic rename at `commit`.

    Readers open the live file only, so they never meet a build's lock or half-written tables; one that opened it
    before the rename keeps reading that version. Nobody else reads the staging file, so it needs neither a
    rollback journal nor a sync per transaction: a build that fails or is interrupted just deletes it, and the data
    is synced once, before the rename, so a power cut cannot publish a torn file.
    """

    def __init__(self, staging: Path, live: Path, *, copy_from: Path | None = None) -> None:
        staging.parent.mkdir(parents=True, exist_ok=True)
        if copy_from is not None and copy_from.exists():
            source = sqlite3.connect(f"file:{copy_from}?mode=ro", uri=True)
            target = sqlite3.connect(staging)
            try:
                source.backup(target)
            except sqlite3.DatabaseError:  # an unreadable previous version is rebuilt from nothing
                target.close()
                staging.unlink(missing_ok=True)
            finally:
                source.close()
                target.close()
        super().__init__(staging, writable=True)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.live = Path(live)
        self.published = False

    def commit(self) -> None:
        self.db.commit()
        self.db.close()
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(self.path, self.live)
        self.published = True

    def close(self) -> None:
        self.db.close()
        if not self.published:
            self.path.unlink(missing_ok=True)
