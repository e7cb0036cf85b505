"""Run per-file work in worker processes, in order-independent fashion, with a progress callback.

Why processes: parsing and hashing are CPU-bound Python; two cores halve the corpus build. Small jobs run in
process, because starting workers (each imports numpy, tree-sitter and datasketch) costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

IN_PROCESS_BELOW = 24  # items; below this a pool costs more than it saves


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def map_unordered(
    func: Callable[[T], R], items: Iterable[T], jobs: int | None = None, expected: int | None = None
) -> Iterator[R]:
    """Yield func(item) for every item; results arrive in completion order."""
    jobs = jobs or default_jobs()
    items = list(items)
    if jobs <= 1 or len(items) < IN_PROCESS_BELOW:
        yield from map(func, items)
        return
    context = multiprocessing.get_context("spawn")
    chunk = max(1, min(32, len(items) // (jobs * 8)))
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_ignore_interrupts)
    try:
        yield from pool.map(func, items, chunksize=chunk)
    except BaseException:
        # Ctrl-C (or a consumer that stops early): drop queued work instead of finishing it.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which cancels the pool and reports once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
