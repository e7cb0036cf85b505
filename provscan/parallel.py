"""Run per-file work in worker processes, in order-independent fashion, and stop them at once on Ctrl-C.

Why processes: parsing and hashing are CPU-bound Python; two cores halve the corpus build. Small jobs run in
process, because starting workers (each imports numpy, tree-sitter and datasketch) costs more than it saves.

Why `worker_pool` rather than a bare `ProcessPoolExecutor`: a terminal's Ctrl-C reaches every process of the
foreground group, workers included. A worker that gets it while starting up prints a `KeyboardInterrupt` traceback,
and a parent interrupted while handing a new worker its start-up data leaves it failing with `EOFError: Ran out of
input`. So workers are started with SIGINT blocked (a blocked signal stays blocked across the exec that starts
them, and they ignore it for good once running): the parent alone handles Ctrl-C, and a Ctrl-C that arrives while
workers start is delivered to the parent the moment they have. And an executor that is shut down still waits for
the work its workers hold (seconds of it per worker, more on a loaded machine), so an interrupted pool terminates
its workers instead.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

IN_PROCESS_BELOW = 24  # items; below this a pool costs more than it saves


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold back SIGINT in this thread (and in processes started meanwhile); a Ctrl-C meanwhile arrives after."""
    can_block = hasattr(signal, "pthread_sigmask")
    if can_block:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if can_block:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the pool and reports once)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_now(pool: ProcessPoolExecutor) -> None:
    """Terminate the workers instead of waiting for the work they hold (Ctrl-C, or a consumer that stopped early).

    The pool then goes down by its own path for a worker that died: its manager thread fails the futures left and
    frees the queues. One wait of that path needs help: a worker terminated while writing a result leaves half a
    message in the result pipe, and the manager thread would wait for the rest forever, since this process holds
    the pipe's write end too; closing that end once the workers are gone ends the read. The executor has no public
    way to do this (Python 3.14's `terminate_workers` does not close the pipe), hence four of its internals, each
    looked up with a default. No `shutdown(cancel_futures=True)` first: on Python 3.11 the manager thread then
    fails on the cancelled futures with a traceback.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for process in workers:
        if process.is_alive():
            process.terminate()
    for process in workers:
        process.join(timeout=10)
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        writer.close()
    calls = getattr(pool, "_call_queue", None)
    if calls is not None:  # its feeder thread may be blocked on a full pipe that no worker reads now
        calls.cancel_join_thread()
    # Wait for the manager thread to finish going down: on Python 3.11 the interpreter's exit hook wakes it through
    # a pipe it may be closing at that very moment ("OSError: Bad file descriptor" traceback; 3.12 added a lock).
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None and manager.is_alive():
        manager.join(timeout=10)


_live_pools: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()


@contextmanager
def worker_pool(workers: int, initializer: Callable[[], None] = ignore_interrupts) -> Iterator[ProcessPoolExecutor]:
    """A spawn-context process pool that is stopped at once when the caller's block raises (Ctrl-C included).

    Submit work with `submit_all` (or under `interrupts_held`): the pool starts its workers as work is submitted.
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer)
    _live_pools.add(pool)
    try:
        yield pool
    except BaseException:
        stop_now(pool)
        raise
    finally:
        _live_pools.discard(pool)
    pool.shutdown(wait=False, cancel_futures=True)


def stop_all_pools() -> None:
    """Stop every pool still open in this process (on Ctrl-C, before exiting).

    Needed beside `worker_pool`'s own handling: when Ctrl-C lands while the consumer of `parallel_map` is between
    two results, the generator holding the pool is not closed until the exception, and every frame it keeps
    alive, is freed, which may be only at interpreter exit, after exit has waited for the workers' work.
    """
    for pool in list(_live_pools):
        stop_now(pool)


def submit_all(pool: ProcessPoolExecutor, func: Callable[[T], R], items: Iterable[T]) -> dict:
    """{future: item} for func(item) on every item; workers start here, with SIGINT held back (module docstring)."""
    with interrupts_held():
        return {pool.submit(func, item): item for item in items}


def parallel_map(func: Callable[[T], R], items: Iterable[T], jobs: int | None = None) -> Iterator[R]:
    """Yield func(item) for every item, in the items' order; small batches run in this process."""
    jobs = jobs or default_jobs()
    items = list(items)
    if jobs <= 1 or len(items) < IN_PROCESS_BELOW:
        yield from map(func, items)
        return
    yield from map_in_pool(func, items, jobs, chunk=max(1, min(32, len(items) // (jobs * 8))))


def map_in_pool(func: Callable[[T], R], items: list[T], jobs: int, chunk: int = 1) -> Iterator[R]:
    """Yield func(item) for every item, in order, computed `chunk` items per task in `jobs` worker processes.

    Not `Executor.map`: closing its iterator cancels the futures left, and on Python 3.11 the pool's manager thread
    then fails on them with a traceback when `stop_now` terminates the workers.
    """
    with worker_pool(min(jobs, len(items))) as pool:
        chunks = [items[start : start + chunk] for start in range(0, len(items), chunk)]
        futures = list(submit_all(pool, functools.partial(_run_chunk, func), chunks))
        del chunks
        futures.reverse()
        while futures:  # popped as consumed: a future keeps its result alive for as long as it is referenced
            yield from futures.pop().result()


def _run_chunk(func: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [func(item) for item in chunk]
