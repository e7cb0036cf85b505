"""Batch scans: many submissions, each scanned like `provscan scan`, in parallel, resumable, one broken one reported.

A programme office scans every entrant's repository. Each subdirectory or archive of the batch directory (or
each path of a list file) is a submission. Worker processes each open the corpora once and scan submission after
submission with them (SQLite pages are shared through the OS cache); a submission's scan runs in its worker, so
`--jobs` submissions are scanned at a time.

Resumable: each finished submission leaves `submissions/<name>/status.json`, written atomically after its reports,
with the submission's content hash (its files' SHA-256s as the walker reads them, or the archive's bytes) and a key
of the settings and corpora it was scanned with. A rerun skips a submission whose hash and key are unchanged, so an
interrupted batch loses nothing that finished. A submission that cannot be scanned (unreadable archive, archive
bomb, any error) gets an error status with the message and the batch goes on; a worker that dies takes only the
submissions it held, which are not marked finished and are retried by the next run.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from provscan.baseline import write_atomic
from provscan.walk import WalkError, WalkOptions, WalkReport, is_archive, walk

STATUS_SCHEMA = "provscan-batch-status/1"


class BatchError(Exception):
    """A batch that cannot start (missing directory, unreadable list); names the path and the problem."""


@dataclass(frozen=True)
class Submission:
    name: str  # unique within the batch and safe as a directory name
    path: Path


@dataclass(frozen=True)
class BatchJob:
    """One submission for a worker (picklable)."""

    submission: Submission
    settings: object  # ScanSettings (typed loosely so this module imports no engine at start-up)
    out_dir: Path
    content_hash: str
    settings_key: str


@dataclass
class Listing:
    submissions: list[Submission] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # entries of the batch directory that are not submissions


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def find_submissions(source: Path) -> Listing:
    """Submissions of a batch directory (each subdirectory or archive) or of a list file (one path a line)."""
    listing = Listing()
    if source.is_dir():
        candidates = []
        for entry in sorted(source.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir() or (entry.is_file() and is_archive(entry.name)):
                candidates.append(entry)
            else:
                listing.ignored.append(entry.name)
    elif source.is_file():
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise BatchError(f"{source}: cannot read submission list: {error}") from None
        candidates = [source.parent / line.strip() for line in lines if line.strip() and not line.startswith("#")]
    else:
        raise BatchError(f"{source}: no such directory or list file")
    taken: set[str] = set()
    for path in candidates:
        base = _UNSAFE.sub("_", path.name).strip("._") or "submission"
        name, number = base, 2
        while name in taken:
            name, number = f"{base}-{number}", number + 1
        taken.add(name)
        listing.submissions.append(Submission(name, path))
    return listing


def content_hash(path: Path, options: WalkOptions) -> str:
    """SHA-256 over what a scan reads: an archive's bytes, or each walked file's path and hash."""
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    for source in walk(path, options, WalkReport()):
        digest.update(f"{source.path}\0{source.sha256}\n".encode())
    return digest.hexdigest()


def settings_key(settings, corpora_meta: list[dict]) -> str:
    """Changes whenever a rescan could give other results: provscan version, scan settings, corpus builds."""
    from provscan import __version__

    data = {"version": __version__, "settings": asdict(settings), "corpora": corpora_meta}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def status_path(out_dir: Path, name: str) -> Path:
    return out_dir / "submissions" / name / "status.json"


def finished(job: BatchJob) -> dict | None:
    """The stored status of a submission already scanned with this content and these settings, else None."""
    path = status_path(job.out_dir, job.submission.name)
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if status.get("content_hash") == job.content_hash and status.get("settings_key") == job.settings_key:
        return status
    return None


# -- worker side -----------------------------------------------------------------------------------------------

# The corpora this worker process opened, reused for every submission it scans, with the settings key they were
# opened for: the key covers each corpus build, so a rebuilt corpus (or another batch in the same process) reopens.
_opened: tuple[str, dict] | None = None


def scan_submission(job: BatchJob) -> dict:
    """Worker: scan one submission, write its reports, then its status (the mark that it finished)."""
    global _opened
    from provscan.report import severity_counts, write_json
    from provscan.scan import open_corpora, scan

    started = time.perf_counter()
    folder = job.out_dir / "submissions" / job.submission.name
    status = {"schema": STATUS_SCHEMA, "name": job.submission.name, "path": str(job.submission.path),
              "content_hash": job.content_hash, "settings_key": job.settings_key}
    try:
        if _opened is None or _opened[0] != job.settings_key:
            _opened = (job.settings_key, open_corpora(job.settings.corpora))
        result = scan(job.submission.path, job.settings, opened=_opened[1])
        buffer = io.StringIO()
        write_json(result, buffer)
        write_atomic(folder / "report.json", buffer.getvalue())
        try:
            html = _write_html(result, folder / "report.html")
        except Exception as error:  # noqa: BLE001 - the JSON report stands; the HTML problem is recorded
            html = False
            status["html_error"] = f"{type(error).__name__}: {error}"
        summary = json.loads(buffer.getvalue())["summary"]
        status.update(
            status="ok", findings=severity_counts(result.findings), code_lines=summary["code_lines"],
            matched_lines=summary["matched_lines"], matched_share=summary["matched_share"],
            files_scanned=summary["files_scanned"], files_skipped=summary["files_skipped"],
            reports=["report.json", *(["report.html"] if html else [])],
            top_projects=summary["per_project"][:5],
        )
    except WalkError as error:
        status.update(status="error", error=str(error))
    except Exception as error:  # noqa: BLE001 - one submission's failure is reported, the batch goes on
        status.update(status="error", error=f"{job.submission.path}: {type(error).__name__}: {error}")
    status.update(seconds=round(time.perf_counter() - started, 3),
                  finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_atomic(status_path(job.out_dir, job.submission.name), json.dumps(status, indent=2) + "\n")
    return status


def _write_html(result, path: Path) -> bool:
    """The per-submission HTML report, when this provscan has the HTML writer."""
    try:
        from provscan.html_report import write_html
    except ImportError:
        return False
    buffer = io.StringIO()
    write_html(result, buffer)
    write_atomic(path, buffer.getvalue())
    return True


# -- parent side -----------------------------------------------------------------------------------------------

Progress = Callable[[dict], None]  # called with each submission's status as it finishes (or is resumed)


def run_jobs(jobs: list[BatchJob], workers: int, progress: Progress) -> Iterator[dict]:
    """Scan every job, `workers` at a time, yielding statuses as they finish; a dead worker costs only its jobs.

    When a worker dies (a submission that exhausts memory, say), every job it left unfinished is queued again once
    in a new pool; a job lost twice is reported as an error and not marked finished, so a rerun retries it.
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            status = scan_submission(job)
            progress(status)
            yield status
        return
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    from provscan.parallel import submit_all, worker_pool

    attempts: dict[str, int] = {}
    pending = list(jobs)
    while pending:
        with worker_pool(min(workers, len(pending))) as pool:
            futures = submit_all(pool, scan_submission, pending)
            pending = []
            for future in as_completed(futures):
                job = futures[future]
                try:
                    status = future.result()
                except BrokenProcessPool:
                    attempts[job.submission.name] = attempts.get(job.submission.name, 0) + 1
                    if attempts[job.submission.name] < 2:
                        pending.append(job)
                        continue
                    status = {"name": job.submission.name, "path": str(job.submission.path), "status": "error",
                              "error": f"{job.submission.path}: the worker process died while scanning it (out of "
                                       "memory?); not marked finished, a rerun retries it"}
                progress(status)
                yield status


# -- the whole batch ---------------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    statuses: list[dict]
    pairs: list[dict]
    ignored: list[str]
    resumed: int
    seconds: float
    cross_seconds: float = 0.0  # comparing the submissions with each other (0 when reused or not asked for)


def corpus_lines_of(out_dir: Path, name: str) -> dict[str, set[int]]:
    """Submission lines matched to the reference corpus, per file, from the submission's stored JSON report."""
    try:
        report = json.loads((out_dir / "submissions" / name / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    lines: dict[str, set[int]] = {}
    for finding in report.get("findings", []):
        if finding.get("kind") != "code-match":
            continue
        blocks = finding.get("evidence", []) + [b for m in finding.get("members", []) for b in m.get("evidence", [])]
        own = lines.setdefault(finding["location"]["path"], set())
        for block in blocks:
            start, end = block["submission_lines"]
            own.update(range(start, end + 1))
    return lines


def run_batch(source: Path, out_dir: Path, settings, workers: int, progress=None, cross: bool = True,
              scheduler: str | None = None) -> BatchOutcome:
    """Scan every submission of `source` into `out_dir` (resuming), compare them with each other, write the index.

    With `scheduler` (tcp://host:8786), submissions are scanned as Dask tasks (`dask_batch`), else by local workers.

    `progress(stage, done, total)` is told of each finished submission ("scan") and compared one ("compare").
    """
    from provscan.batch_report import write_index
    from provscan.crosssim import FingerprintJob, compare, fingerprint_submission
    from provscan.scan import open_corpora

    started = time.perf_counter()
    listing = find_submissions(source)
    corpora = open_corpora(settings.corpora)
    try:
        meta = [{"name": c.name, "built_at": c.meta.get("built_at", ""), "version": c.meta.get("version", "")}
                for c in corpora.values()]
        fingerprint_settings = next(iter(corpora.values())).settings
    finally:
        for corpus in corpora.values():
            corpus.index.close()
    key = settings_key(settings, meta)
    statuses: dict[str, dict] = {}
    todo: list[BatchJob] = []
    for submission in listing.submissions:
        try:
            digest = content_hash(submission.path, settings.walk)
        except (WalkError, OSError) as error:
            digest = f"unreadable:{error}"
        job = BatchJob(submission, settings, out_dir, digest, key)
        done = finished(job)
        if done is not None:
            statuses[submission.name] = {**done, "resumed": True}
        else:
            todo.append(job)
    total = len(listing.submissions)
    resumed = len(statuses)
    if progress:
        progress("scan", resumed, total)

    def advance(_status: dict) -> None:
        if progress:
            progress("scan", len(statuses) + 1, total)

    if scheduler:
        from provscan.dask_batch import run_jobs_dask

        scanned_statuses = run_jobs_dask(todo, scheduler, advance)
    else:
        scanned_statuses = run_jobs(todo, workers, advance)
    for status in scanned_statuses:
        statuses[status["name"]] = status
    ordered = [statuses[s.name] for s in listing.submissions if s.name in statuses]

    pairs: list[dict] = []
    cross_seconds = 0.0
    scanned = [s for s in listing.submissions if statuses.get(s.name, {}).get("status") == "ok"]
    cross_key = hashlib.sha256(json.dumps([key, sorted((s.name, statuses[s.name]["content_hash"]) for s in scanned)])
                               .encode()).hexdigest()
    stored = _stored_pairs(out_dir / "cross-similarity.json", cross_key)
    if stored is not None:
        pairs = stored  # no submission changed since the last comparison
    elif cross and len(scanned) > 1:
        cross_started = time.perf_counter()
        jobs = [FingerprintJob(s.name, s.path, settings.walk, fingerprint_settings, settings.min_tokens)
                for s in scanned]
        fingerprinted = dict(_map(fingerprint_submission, jobs, workers))
        fingerprinted = {s.name: fingerprinted.get(s.name, []) for s in scanned}
        lines = {s.name: corpus_lines_of(out_dir, s.name) for s in scanned}
        pairs = compare(fingerprinted, out_dir / ".cross-index.sqlite", fingerprint_settings, settings.match, lines,
                        progress=(lambda done, n: progress("compare", done, n)) if progress else None)
        write_atomic(out_dir / "cross-similarity.json", json.dumps({"key": cross_key, "pairs": pairs}) + "\n")
        cross_seconds = time.perf_counter() - cross_started
    outcome = BatchOutcome(ordered, pairs, listing.ignored, resumed, time.perf_counter() - started, cross_seconds)
    write_index(outcome, source, out_dir)
    return outcome


def _stored_pairs(path: Path, key: str) -> list[dict] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data["pairs"] if isinstance(data, dict) and data.get("key") == key else None


def _map(func, items: list, workers: int) -> Iterator:
    """func over items in `workers` processes (each item is a whole submission: worth a process even for two)."""
    if workers <= 1 or len(items) <= 1:
        yield from map(func, items)
        return
    from provscan.parallel import map_in_pool

    yield from map_in_pool(func, items, workers)
