"""A corpus index on Redis, shared by every scanner that can reach the server.

Same records and the same LSH band look-ups as the embedded SQLite index (`index.CorpusIndex`), so the matcher does
not know which one it reads. Layout, for corpus C under the key prefix `provscan:`:

- `provscan:{C}:head` -> the committed version N; `...:v:N:files` (hash: path -> [file id, sha256, project, lines,
  fragments]) and `...:v:N:meta` (hash) describe that version. These control keys share the hash tag `{C}`, so on a
  Redis Cluster they live on one node and a Lua script reads them atomically.
- `provscan:C:f:ID` (hash): one file's record (token streams, notices, its fragments and their band keys).
  File records are immutable: an updated file gets a new id.
- `provscan:C:b:KEY` (string of int64 fragment ids, appended with APPEND): the band bucket of LSH band key KEY.
  A fragment id is `file id << 16 | fragment number`, so a reader filters candidates by the file ids of its version.
  Band and file keys carry no hash tag: a cluster spreads them over its nodes.

Why this gives atomic visibility without a global lock on readers: a build writes new file records and appends
their band entries (invisible, since their file ids are in no committed version), then writes the new version's
file list and meta under a fresh version number, and only then flips `head` with one SET. A reader resolves `head`
and loads that version's file list in one Lua script, once per scan: it sees the whole corpus as committed, or the
previous one. Builds of one corpus are serialised by a lock key (a second `corpus add` of the same corpus fails with a
clear message); builds of different corpora share no key but the `provscan:corpora` registry (SADD, atomic).
Records left by replaced, removed or crashed builds are collected at the start of the next build of that corpus.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from provscan.index import (
    CorpusIndexError,
    FileRecord,
    StoredFile,
    StoredFragment,
    content_hash,
    decode_lineage,
    encode_lineage,
    pack_array,
    unpack_array,
    unpack_literals,
)

PREFIX = "provscan"
FRAGMENT_BITS = 16  # fragments per file < 65,536 (a 2 MB file has far fewer definitions)
LOCK_SECONDS = 6 * 3600
_PIPELINE_CHUNK = 5000
_ID = np.dtype("<i8")

# Resolve head and read that version's file list and meta in one atomic step (all keys share the {C} hash tag).
_RESOLVE = """
local head = redis.call('GET', KEYS[1])
if not head then return false end
local base = ARGV[1] .. ':v:' .. head
return {head, redis.call('HGETALL', base .. ':files'), redis.call('HGETALL', base .. ':meta')}
"""
# Many band appends in one command: redis-py spends far more per command than Redis does (measured: 2.5x faster
# than one APPEND per band entry). On a Redis Cluster the keys of one call must share a slot (see docs/scaling.md).
_APPEND_MANY = "for i = 1, #KEYS do redis.call('APPEND', KEYS[i], ARGV[i]) end return #KEYS"
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _connect(url: str):
    try:
        import redis
    except ImportError as error:
        raise CorpusIndexError(f"{url}: a Redis index needs the redis package: pip install 'provscan[redis]'") \
            from error
    try:
        return redis.Redis.from_url(url)
    except ValueError as error:
        raise CorpusIndexError(f"{url}: not a usable Redis URL ({error})") from error


def _redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.RedisError,)


class _Keys:
    """Key names of one corpus."""

    def __init__(self, corpus: str) -> None:
        self.control = f"{PREFIX}:{{{corpus}}}"
        self.head = f"{self.control}:head"
        self.versions = f"{self.control}:versions"
        self.next_file = f"{self.control}:next-file"
        self.lock = f"{self.control}:lock"
        self.allocated = f"{self.control}:allocated"  # every file id written and not yet collected
        self.data = f"{PREFIX}:{corpus}"

    def files(self, version: int | str) -> str:
        return f"{self.control}:v:{version}:files"

    def meta(self, version: int | str) -> str:
        return f"{self.control}:v:{version}:meta"

    def file(self, file_id: int) -> str:
        return f"{self.data}:f:{file_id}"

    def band(self, key: int) -> bytes:
        return f"{self.data}:b:".encode() + int(key).to_bytes(8, "little", signed=True)


REGISTRY = f"{PREFIX}:corpora"


class RedisStorage:
    """The corpora of one Redis database (`redis://host:port/db`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = url
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = _connect(self.url)
        return self._client

    def _call(self, what: str, function, *args):
        try:
            return function(*args)
        except _redis_errors() as error:
            raise CorpusIndexError(f"{self.url}: {what} failed: {error}") from error

    def exists(self, name: str) -> bool:
        return bool(self._call("reading", self.client.exists, _Keys(name).head))

    def where(self, name: str) -> str:
        return f"{self.url} corpus {name}"

    def open(self, name: str) -> RedisCorpusStore:
        return RedisCorpusStore(self, name)

    def open_writer(self, name: str, *, fresh: bool) -> RedisCorpusWriter:
        return RedisCorpusWriter(self, name, fresh=fresh)

    def build_lock(self, name: str, on_wait=None) -> AbstractContextManager[None]:
        """Nothing to hold here: the writer takes the corpus's lock key itself, and a second build of the same
        corpus is refused with a message rather than left waiting (a crashed build's key lasts LOCK_SECONDS)."""
        return nullcontext()

    def names(self) -> list[str]:
        members = self._call("listing corpora", self.client.smembers, REGISTRY)
        return sorted(m.decode() for m in members if self.exists(m.decode()))

    def remove(self, name: str, on_wait=None) -> bool:
        keys = _Keys(name)
        token = _acquire(self, keys, name)
        try:
            removed = bool(self._call("removing", self.client.delete, keys.head))  # invisible from here on
            self._call("removing", self.client.srem, REGISTRY, name)
            for pattern in (f"{keys.control}:*", f"{keys.data}:*"):
                batch = []
                for key in self.client.scan_iter(match=pattern, count=1000):
                    if key != keys.lock.encode():
                        batch.append(key)
                    if len(batch) >= 1000:
                        self._call("removing", self.client.unlink, *batch)
                        batch = []
                if batch:
                    self._call("removing", self.client.unlink, *batch)
            return removed
        finally:
            _release(self, keys, token)


def _acquire(storage: RedisStorage, keys: _Keys, name: str) -> str:
    token = secrets.token_hex(8)
    if not storage._call("locking", lambda: storage.client.set(keys.lock, token, nx=True, ex=LOCK_SECONDS)):
        raise CorpusIndexError(
            f"{storage.url}: corpus {name!r} is being written by another process (lock {keys.lock}); try again "
            f"when it has finished"
        )
    return token


def _release(storage: RedisStorage, keys: _Keys, token: str) -> None:
    storage._call("unlocking", storage.client.eval, _UNLOCK, 1, keys.lock, token)


class RedisCorpusStore:
    """One committed version of a corpus, resolved once when opened (a scan sees one consistent corpus)."""

    def __init__(self, storage: RedisStorage, name: str) -> None:
        self.storage = storage
        self.name = name
        self.keys = _Keys(name)
        self.client = storage.client
        resolved = storage._call("opening", self.client.eval, _RESOLVE, 1, self.keys.head, self.keys.control)
        if not resolved:
            raise CorpusIndexError(f"{storage.where(name)}: corpus index does not exist")
        self.version = int(resolved[0])
        flat_files, flat_meta = resolved[1], resolved[2]
        self._live: dict[str, list] = {
            flat_files[i].decode(): json.loads(flat_files[i + 1]) for i in range(0, len(flat_files), 2)
        }
        self._meta = {flat_meta[i].decode(): flat_meta[i + 1].decode() for i in range(0, len(flat_meta), 2)}
        self._live_ids = {entry[0] for entry in self._live.values()}
        self._file_cache: dict[int, StoredFile] = {}
        self._fragment_cache: dict[int, list] = {}

    def close(self) -> None:
        """The connection pool belongs to the storage; nothing to release per corpus."""

    def __enter__(self) -> RedisCorpusStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, what: str, function, *args):
        return self.storage._call(what, function, *args)

    # -- metadata -----------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    def stats(self) -> dict[str, int]:
        return {
            "files": len(self._live),
            "lines": sum(entry[3] for entry in self._live.values()),
            "fragments": sum(entry[4] for entry in self._live.values()),
            "projects": len({entry[2] for entry in self._live.values()}),
        }

    def file_hashes(self) -> dict[str, str]:
        return {path: entry[1] for path, entry in self._live.items()}

    def projects(self) -> list[tuple[str, int, int]]:
        files: dict[str, int] = defaultdict(int)
        lines: dict[str, int] = defaultdict(int)
        for entry in self._live.values():
            files[entry[2]] += 1
            lines[entry[2]] += entry[3]
        return [(project, files[project], lines[project]) for project in sorted(files)]

    # -- reading ------------------------------------------------------------------------------------------------
    def candidates(self, query_keys: Iterable[tuple[int, int]], min_hits: int = 1) -> Iterator[tuple[int, int]]:
        """(query id, fragment id) pairs of fragments sharing at least `min_hits` bands with the query."""
        for qid, fragment_id, _hits in self.candidate_hits(query_keys, min_hits):
            yield qid, fragment_id

    def candidate_hits(self, query_keys: Iterable[tuple[int, int]], min_hits: int = 1
                       ) -> Iterator[tuple[int, int, int]]:
        """(query id, fragment id, shared bands) of fragments sharing at least `min_hits` bands with the query.

        Band buckets are fetched with pipelined GETs; entries of files outside this version (a build in progress,
        replaced files not yet collected) are dropped here.
        """
        query_keys = list(query_keys)
        distinct = list(dict.fromkeys(key for key, _qid in query_keys))
        buckets: dict[int, list[int]] = {}
        for start in range(0, len(distinct), _PIPELINE_CHUNK):
            chunk = distinct[start : start + _PIPELINE_CHUNK]
            values = self._call("reading bands", self.client.mget, [self.keys.band(key) for key in chunk])
            for key, value in zip(chunk, values, strict=True):
                if value:
                    ids = np.unique(np.frombuffer(value, dtype=_ID))
                    live = [int(i) for i in ids if int(i) >> FRAGMENT_BITS in self._live_ids]
                    if live:
                        buckets[key] = live
        hits: dict[tuple[int, int], int] = {}  # insertion-ordered
        for key, qid in query_keys:
            for fragment_id in buckets.get(key, ()):
                hits[(qid, fragment_id)] = hits.get((qid, fragment_id), 0) + 1
        yield from ((qid, fid, count) for (qid, fid), count in hits.items() if count >= min_hits)

    def _fragment_rows(self, file_ids: Iterable[int]) -> None:
        missing = [f for f in file_ids if f not in self._fragment_cache]
        for start in range(0, len(missing), _PIPELINE_CHUNK):
            chunk = missing[start : start + _PIPELINE_CHUNK]
            pipe = self.client.pipeline(transaction=False)
            for file_id in chunk:
                pipe.hget(self.keys.file(file_id), "fragments")
            for file_id, value in zip(chunk, self._call("reading fragments", pipe.execute), strict=True):
                if value is None:
                    raise CorpusIndexError(f"{self.storage.where(self.name)}: file id {file_id} missing")
                self._fragment_cache[file_id] = json.loads(value)

    def fragments(self, ids: Iterable[int]) -> dict[int, StoredFragment]:
        ids = list(ids)
        self._fragment_rows({i >> FRAGMENT_BITS for i in ids})
        result = {}
        for fragment_id in ids:
            file_id, number = fragment_id >> FRAGMENT_BITS, fragment_id & ((1 << FRAGMENT_BITS) - 1)
            result[fragment_id] = StoredFragment(fragment_id, file_id, *self._fragment_cache[file_id][number])
        return result

    def all_fragments(self) -> Iterator[tuple[StoredFragment, np.ndarray]]:
        """Every fragment of this version with its file's token codes, file by file (pipelined, uncached)."""
        file_ids = sorted(entry[0] for entry in self._live.values())
        for start in range(0, len(file_ids), _PIPELINE_CHUNK):
            chunk = file_ids[start : start + _PIPELINE_CHUNK]
            pipe = self.client.pipeline(transaction=False)
            for file_id in chunk:
                pipe.hmget(self.keys.file(file_id), ("fragments", "codes"))
            for file_id, (rows, codes) in zip(chunk, self._call("reading fragments", pipe.execute), strict=True):
                if rows is None:
                    raise CorpusIndexError(f"{self.storage.where(self.name)}: file id {file_id} missing")
                unpacked = unpack_array(codes)
                for number, row in enumerate(json.loads(rows)):
                    yield StoredFragment((file_id << FRAGMENT_BITS) | number, file_id, *row), unpacked

    def all_literals(self) -> Iterator[np.ndarray]:
        """Every file's long-literal pairs (pipelined, uncached)."""
        file_ids = sorted(entry[0] for entry in self._live.values())
        for start in range(0, len(file_ids), _PIPELINE_CHUNK):
            pipe = self.client.pipeline(transaction=False)
            for file_id in file_ids[start : start + _PIPELINE_CHUNK]:
                pipe.hget(self.keys.file(file_id), "literals")
            for blob in self._call("reading literals", pipe.execute):
                yield unpack_literals(blob)

    def file(self, file_id: int) -> StoredFile:
        cached = self._file_cache.get(file_id)
        if cached is None:
            fields = ("project", "path", "language", "notices", "codes", "lines", "lineage", "literals")
            values = self._call("reading a file", self.client.hmget, self.keys.file(file_id), fields)
            if values[0] is None:
                raise CorpusIndexError(f"{self.storage.where(self.name)}: file id {file_id} missing")
            project, path, language, notices, codes, lines, lineage, literals = values
            cached = StoredFile(file_id, project.decode(), path.decode(), language.decode(), json.loads(notices),
                                unpack_array(codes), unpack_array(lines), decode_lineage(lineage),
                                unpack_literals(literals))
            self._file_cache[file_id] = cached
        return cached


class RedisCorpusWriter(RedisCorpusStore):
    """A build of one corpus: holds the corpus's lock; its files become visible together at `commit`."""

    def __init__(self, storage: RedisStorage, name: str, *, fresh: bool) -> None:
        self.storage = storage
        self.name = name
        self.keys = _Keys(name)
        self.client = storage.client
        self._token = _acquire(storage, self.keys, name)
        try:
            try:
                super().__init__(storage, name)
                self.previous = self.version
            except CorpusIndexError:
                self._live, self._meta, self._live_ids, self.previous = {}, {}, set(), None
                self._file_cache, self._fragment_cache = {}, {}
            self._head_ids = set(self._live_ids)  # what readers of the committed head still need
            if fresh:
                self._live, self._meta, self._live_ids = {}, {}, set()
            self._collect_garbage()
            self._pipe = self.client.pipeline(transaction=False)
            self._append_many = self.client.register_script(_APPEND_MANY)
            self._pending = 0
            self._reserved: list[int] = []
            self._committed = False
        except BaseException:
            _release(storage, self.keys, self._token)
            raise

    def close(self) -> None:
        if self._token:
            _release(self.storage, self.keys, self._token)
            self._token = ""

    # -- writing ------------------------------------------------------------------------------------------------
    def set_meta(self, values: dict[str, object]) -> None:
        self._meta.update({k: str(v) for k, v in values.items()})

    def remove_file(self, path: str) -> None:
        self._live.pop(path, None)  # its record and band entries are collected by the next build

    def _new_file_id(self) -> int:
        if not self._reserved:
            last = int(self._call("allocating", self.client.incrby, self.keys.next_file, 256))
            self._reserved = list(range(last, last - 256, -1))
        return self._reserved.pop()

    def add_file(self, record: FileRecord) -> None:
        if len(record.fragments) >= 1 << FRAGMENT_BITS:
            raise CorpusIndexError(f"{record.path}: {len(record.fragments)} fragments, more than one file can hold")
        file_id = self._new_file_id()
        rows, bands, band_keys, band_ids = [], [], [], []
        for number, fragment_record in enumerate(record.fragments):
            frag = fragment_record.fragment
            keys = np.ascontiguousarray(fragment_record.band_keys, dtype=np.int64)
            rows.append([frag.kind, frag.name, frag.start_line, frag.end_line, frag.tok_start, frag.tok_end,
                         content_hash(record.codes[frag.tok_start : frag.tok_end])])
            bands.append(keys)
            packed_id = ((file_id << FRAGMENT_BITS) | number).to_bytes(8, "little", signed=True)
            for key in np.unique(keys).tolist():
                band_keys.append(self.keys.band(key))
                band_ids.append(packed_id)
        for start in range(0, len(band_keys), 1000):
            self._append_many(keys=band_keys[start : start + 1000], args=band_ids[start : start + 1000],
                              client=self._pipe)
        band_matrix = np.stack(bands) if bands else np.empty((0, 0), dtype=np.int64)
        self._pipe.sadd(self.keys.allocated, file_id)
        self._pipe.hset(self.keys.file(file_id), mapping={
            "project": record.project, "path": record.path, "sha256": record.sha256, "language": record.language,
            "notices": json.dumps(record.notices, ensure_ascii=False), "codes": pack_array(record.codes),
            "lines": pack_array(record.lines), "fragments": json.dumps(rows, ensure_ascii=False),
            "lineage": encode_lineage(record.lineage), "literals": pack_array(record.literals.ravel()),
            "bands": band_matrix.astype(_ID).tobytes(), "band-count": band_matrix.shape[1],
        })
        self._pending += len(rows) * band_matrix.shape[1] if bands else 1
        self._live[record.path] = [file_id, record.sha256, record.project, record.total_lines, len(rows)]
        if self._pending >= _PIPELINE_CHUNK * 4:
            self._flush()

    def _flush(self) -> None:
        if len(self._pipe):
            self._call("writing", self._pipe.execute)
        self._pending = 0

    def all_fragments(self) -> Iterator[tuple[StoredFragment, np.ndarray]]:
        self._flush()  # a build reads what it has written so far
        yield from super().all_fragments()

    def notices_of(self, path: str) -> list[dict]:
        entry = self._live.get(path)
        if entry is None:
            return []
        self._flush()
        value = self._call("reading notices", self.client.hget, self.keys.file(entry[0]), "notices")
        return json.loads(value) if value else []

    def set_notices(self, path: str, notices: list[dict]) -> None:
        entry = self._live.get(path)
        if entry is not None:
            self._pipe.hset(self.keys.file(entry[0]), "notices", json.dumps(notices, ensure_ascii=False))

    def commit(self) -> None:
        """Write the new version's file list and meta, then flip `head` to it: readers see all of it or none."""
        self._flush()
        version = int(self._call("committing", self.client.incr, self.keys.versions))
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.keys.files(version), self.keys.meta(version))
        if self._live:
            pipe.hset(self.keys.files(version), mapping={p: json.dumps(e) for p, e in self._live.items()})
        if self._meta:
            pipe.hset(self.keys.meta(version), mapping=self._meta)
        self._call("committing", pipe.execute)
        self._call("registering", self.client.sadd, REGISTRY, self.name)
        self._call("committing", self.client.set, self.keys.head, version)  # the flip
        self.version = version
        self._live_ids = {entry[0] for entry in self._live.values()}

    # -- garbage ------------------------------------------------------------------------------------------------
    def _collect_garbage(self) -> None:
        """Delete what no committed version needs: older versions, replaced/removed files, crashed builds' files.

        Runs under the corpus lock at the start of a build. The committed head stays intact, so scans reading it
        go on; a scan still reading a version older than the head may miss files replaced since.
        """
        allocated = {int(i) for i in self._call("collecting", self.client.smembers, self.keys.allocated)}
        garbage = sorted(allocated - self._head_ids)
        for start in range(0, len(garbage), 500):
            chunk = garbage[start : start + 500]
            pipe = self.client.pipeline(transaction=False)
            for file_id in chunk:
                pipe.hmget(self.keys.file(file_id), ("bands", "band-count"))
            dead_by_band: dict[bytes, set[int]] = defaultdict(set)
            for file_id, (blob, width) in zip(chunk, self._call("collecting", pipe.execute), strict=True):
                if not blob:
                    continue
                for number, keys in enumerate(np.frombuffer(blob, dtype=_ID).reshape(-1, int(width))):
                    for key in np.unique(keys).tolist():
                        dead_by_band[self.keys.band(key)].add((file_id << FRAGMENT_BITS) | number)
            bands = list(dead_by_band)
            values = self._call("collecting", self.client.mget, bands) if bands else []
            pipe = self.client.pipeline(transaction=False)
            for band, value in zip(bands, values, strict=True):
                if not value:
                    continue
                ids = np.frombuffer(value, dtype=_ID)
                kept = ids[~np.isin(ids, np.fromiter(dead_by_band[band], dtype=np.int64))]
                if kept.size:
                    pipe.set(band, kept.astype(_ID).tobytes())
                else:
                    pipe.delete(band)
            for file_id in chunk:
                pipe.delete(self.keys.file(file_id))
            pipe.srem(self.keys.allocated, *chunk)
            self._call("collecting", pipe.execute)
        current = int(self.previous) if self.previous is not None else None
        stale = [key for key in self.client.scan_iter(match=f"{self.keys.control}:v:*", count=1000)
                 if current is None or key.decode().split(":v:")[1].split(":")[0] != str(current)]
        if stale:
            self._call("collecting", self.client.unlink, *stale)


def wait_for_server(url: str, seconds: float = 10.0) -> None:
    """Block until the Redis server at `url` answers PING (used by tests and benches that start one)."""
    client = _connect(url)
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.ping()
            return
        except _redis_errors():
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
