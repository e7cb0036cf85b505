"""Batch scans as Dask distributed tasks: `provscan batch ... --scheduler tcp://host:8786`.

Why Dask rather than a home-made cluster: a platform that scans submissions by the hundred already runs (or can run)
a Dask scheduler and workers; each worker needs only provscan installed and the corpus index reachable (a shared
Redis index, `--index redis://...`, or the same corpora in its own cache). A task is exactly the local batch's
worker function (`batch.scan_submission`): it writes the submission's reports and then its status file, so results,
resumability and error reports are the local batch's. The output directory must be reachable by the workers under
the same path (a shared filesystem); with a `distributed.LocalCluster` it is simply local.

When a worker dies mid-task, the scheduler runs the task again on another worker (Dask's own rule, up to
`distributed.scheduler.allowed-failures` times); finished submissions keep their status files, so nothing finished
is lost and a rerun of the batch resumes from them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from provscan.batch import BatchError, BatchJob, scan_submission

INDEX_ENV = "PROVSCAN_INDEX"


def scan_on_worker(job: BatchJob, index_url: str) -> dict:
    """Task body: the client's shared index (if any) for this worker process, then the local batch's scan."""
    if index_url:
        os.environ[INDEX_ENV] = index_url
    return scan_submission(job)


def run_jobs_dask(jobs: list[BatchJob], scheduler: str, progress: Callable[[dict], None]) -> Iterator[dict]:
    """Submit every job to the Dask scheduler at `scheduler`; yield statuses as tasks finish."""
    try:
        from distributed import Client, as_completed
    except ImportError as error:
        raise BatchError("--scheduler needs Dask's distributed package: pip install 'provscan[dask]'") from error
    if not jobs:
        return
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise BatchError(f"{scheduler}: cannot reach the Dask scheduler ({error})") from error
    try:
        index_url = os.environ.get(INDEX_ENV, "")
        futures = {
            client.submit(scan_on_worker, job, index_url, key=f"provscan-scan-{job.submission.name}-"
                          f"{job.content_hash[:16]}", pure=False): job
            for job in jobs
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                status = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. KilledWorker after repeated deaths: reported, not finished
                status = {"name": job.submission.name, "path": str(job.submission.path), "status": "error",
                          "error": f"{job.submission.path}: the Dask task failed ({type(error).__name__}: {error}); "
                                   "not marked finished, a rerun retries it"}
            progress(status)
            yield status
    finally:
        client.close()
