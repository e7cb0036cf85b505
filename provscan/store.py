"""Index storage: the one small interface the matcher reads, and where corpora live (embedded file or Redis).

Why an interface: a programme office scanning submissions on many machines needs one shared index, while a laptop
needs none of that. The matcher (`match`), the scan (`scan`) and the corpus builder (`corpus`) talk to an
`IndexStore` only; `select_storage` picks the implementation from an index URL:

- no URL (or `embedded`): one SQLite file per corpus under the cache directory (`index.CorpusIndex`), the default;
- `redis://host:port/db`: a Redis server shared by every scanner (`redis_index.RedisCorpusStore`).

The URL comes from `provscan --index URL` or the `PROVSCAN_INDEX` environment variable (which worker processes
inherit). Both implementations store the same records and answer the same queries, so scans give identical results.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from provscan.index import CorpusIndex, CorpusIndexError, FileRecord, StagedCorpusIndex, StoredFile, StoredFragment

INDEX_ENV = "PROVSCAN_INDEX"


class IndexStore(Protocol):
    """What a scan reads from one corpus. A reader sees one consistent version of the corpus for its lifetime."""

    def meta(self) -> dict[str, str]: ...
    def stats(self) -> dict[str, int]: ...
    def file_hashes(self) -> dict[str, str]: ...
    def candidates(self, query_keys: Iterable[tuple[int, int]], min_hits: int = 1) -> Iterator[tuple[int, int]]: ...
    def candidate_hits(self, query_keys: Iterable[tuple[int, int]], min_hits: int = 1
                       ) -> Iterator[tuple[int, int, int]]: ...
    def fragments(self, ids: Iterable[int]) -> dict[int, StoredFragment]: ...
    def file(self, file_id: int) -> StoredFile: ...
    def all_fragments(self) -> Iterator[tuple[StoredFragment, np.ndarray]]: ...
    def all_literals(self) -> Iterator[np.ndarray]: ...
    def projects(self) -> list[tuple[str, int, int]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> IndexStore: ...
    def __exit__(self, *exc) -> None: ...


class WritableIndexStore(IndexStore, Protocol):
    """What a corpus build writes. Nothing written is visible to readers before `commit`, and all of it after."""

    def set_meta(self, values: dict[str, object]) -> None: ...
    def add_file(self, record: FileRecord) -> None: ...
    def remove_file(self, path: str) -> None: ...
    def notices_of(self, path: str) -> list[dict]: ...
    def set_notices(self, path: str, notices: list[dict]) -> None: ...
    def commit(self) -> None: ...


WaitNotice = Callable[[str], None]  # told, once, why a build waits for another process


class Storage(Protocol):
    """Where the corpora of one index live: open, list and remove them by name."""

    location: str  # shown to users ("no corpora in ...")

    def build_lock(self, name: str, on_wait: WaitNotice | None = None) -> AbstractContextManager[None]: ...
    def exists(self, name: str) -> bool: ...
    def where(self, name: str) -> str: ...
    def open(self, name: str) -> IndexStore: ...
    def open_writer(self, name: str, *, fresh: bool) -> WritableIndexStore: ...
    def names(self) -> list[str]: ...
    def remove(self, name: str, on_wait: WaitNotice | None = None) -> bool: ...


class EmbeddedStorage:
    """One SQLite file per corpus in `directory`.

    Safe for several processes on one cache directory (two terminals, a CI matrix, reviewers sharing a cache): a
    build holds the corpus's lock file for its whole run, so a second build of the same corpus waits for it (and
    can then find the corpus already built); it writes a private staging copy and publishes it with one atomic
    rename at commit. Readers never see a half-written or locked file, a scan open during a rebuild keeps reading
    the version it opened, and an interrupted or crashed build leaves the previous version in place (its staging
    file is collected by the next build).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.location = str(self.directory)

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.sqlite"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def where(self, name: str) -> str:
        return str(self.path(name))

    def open(self, name: str) -> CorpusIndex:
        return CorpusIndex(self.path(name))

    @contextmanager
    def build_lock(self, name: str, on_wait: WaitNotice | None = None) -> Iterator[None]:
        """Hold corpus `name`'s lock (an OS file lock: released when its holder exits, even by a crash)."""
        from filelock import FileLock, Timeout

        self.directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.directory / f"{name}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait(f"another provscan process is building corpus {name!r} in {self.directory}; waiting for it "
                        f"to finish (lock {lock.lock_file})")
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def open_writer(self, name: str, *, fresh: bool) -> StagedCorpusIndex:
        """A staging copy of corpus `name` (empty when `fresh`); the caller holds `build_lock(name)`."""
        for leftover in self.directory.glob(f"{name}.sqlite.build-*"):  # from builds that crashed: nobody else's
            leftover.unlink(missing_ok=True)
        staging = self.directory / f"{name}.sqlite.build-{os.getpid()}-{secrets.token_hex(4)}"
        return StagedCorpusIndex(staging, self.path(name), copy_from=None if fresh else self.path(name))

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.sqlite")) if self.directory.is_dir() else []

    def remove(self, name: str, on_wait: WaitNotice | None = None) -> bool:
        with self.build_lock(name, on_wait):
            if not self.path(name).exists():
                return False
            self.path(name).unlink()
            return True


def index_url() -> str:
    """The configured index URL ('' for the embedded default)."""
    return os.environ.get(INDEX_ENV, "").strip()


def select_storage(url: str, corpora_dir: Path) -> Storage:
    """The storage an index URL names; the Redis client is imported only when a Redis index is used."""
    if url in ("", "embedded"):
        return EmbeddedStorage(corpora_dir)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from provscan.redis_index import RedisStorage

        return RedisStorage(url)
    raise CorpusIndexError(f"unsupported index {url!r}: use redis://HOST:PORT/DB, or nothing for the embedded index")
