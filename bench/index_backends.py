"""Embedded (SQLite) vs Redis index: scan throughput with 1 and 2 scanning processes, and a 1M+ fragment corpus.

Part 1, real corpus: the default corpus (transformers models/) is built in both storages (`provscan corpus
build-default`, with and without `--index redis://...`); then a 10k-line submission (a third mutated transformers
code, see `common.make_submission`) is scanned as a user would (`provscan scan --no-license-detection --jobs 1`),
by one process, then by two processes at once (two scanners sharing one index): scans per minute.

Part 2, growth: the default corpus's real file records (token streams, fragments, notices) are written again and
again as new projects whose band keys are drawn afresh (unrelated code of the same shape), through provscan's own
writer API, until the corpus holds >= --fragments fragments. Measured per storage: insert rate, index size (SQLite
file size; Redis `used_memory` growth), bytes per fragment, and the storage part of a query (candidates of one real
fragment's 32 band keys, their fragment rows and file records: what `match` reads before verifying) as p50/p99 over
--queries real fragments, once on the plain corpus and once on the grown one.

Part 3, where Redis memory goes: `MEMORY USAGE` of every 10th key of the default corpus in Redis, by kind (band
buckets, file records, control keys), per fragment; and how many fragments and distinct band keys a scan of the
--lines submission looks up (the query fan-out in docs/scaling.md).

A throw-away redis-server (Debian package) runs on a loopback port for the duration, without persistence.

    python bench/index_backends.py [--fragments 1000000] [--queries 500] [--lines 10000] [--parts 1,2,3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO, make_submission, private_cache

from provscan.corpus import DEFAULT_CORPUS, storage
from provscan.fragments import Fragment
from provscan.index import FileRecord, FragmentRecord
from tests.redis_server import redis_server


def provscan(*args: str, index: str = "") -> list[str]:
    return [sys.executable, "-m", "provscan", *(("--index", index) if index else ()), *args]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(done.stderr)
    return time.perf_counter() - started


def scans_per_minute(submission: Path, index: str, processes: int, rounds: int = 3) -> float:
    """`processes` scanners started together, `rounds` times: finished scans per minute of wall time."""
    command = provscan("scan", str(submission), "--no-license-detection", "--jobs", "1", "--format", "json",
                       index=index)
    started = time.perf_counter()
    for _ in range(rounds):
        running = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for _ in range(processes)]
        for process in running:
            _out, err = process.communicate()
            if process.returncode not in (0, 1):
                sys.exit(err.decode())
    return rounds * processes * 60 / (time.perf_counter() - started)


def real_records(sqlite_path: Path) -> list[FileRecord]:
    """The default corpus's file records as the builder wrote them (read back from the embedded index)."""
    from provscan.index import unpack_array

    db = sqlite3.connect(sqlite_path)
    fragments: dict[int, list[FragmentRecord]] = {}
    for file_id, kind, name, start, end, tok_start, tok_end, keys in db.execute(
        "SELECT file_id, kind, name, start_line, end_line, tok_start, tok_end, band_keys FROM fragments ORDER BY id"
    ):
        fragments.setdefault(file_id, []).append(
            FragmentRecord(Fragment(kind, name, start, end, tok_start, tok_end), np.frombuffer(keys, dtype=np.int64)))
    import json

    records = [
        FileRecord(project, path, sha, language, total, code, json.loads(notices), unpack_array(codes),
                   unpack_array(lines), fragments.get(file_id, []))
        for file_id, project, path, sha, language, total, code, notices, codes, lines in db.execute(
            "SELECT id, project, path, sha256, language, total_lines, code_lines, notices, codes, lines FROM files")
    ]
    db.close()
    return records


def grow(records: list[FileRecord], target_fragments: int, meta: dict[str, str]) -> tuple[int, float]:
    """Write the default corpus, then salted copies of it, as corpus 'grown' in the current storage."""
    per_copy = sum(len(r.fragments) for r in records)
    copies = -(-target_fragments // per_copy)
    rng = np.random.default_rng(7)
    written = 0
    started = time.perf_counter()
    with storage().open_writer("grown", fresh=True) as index:
        for copy in range(copies):
            salt = np.int64(0) if copy == 0 else np.int64(rng.integers(1, 2**62))
            for record in records:
                fragments = [FragmentRecord(f.fragment, f.band_keys ^ salt) for f in record.fragments]
                index.add_file(FileRecord(f"{record.project}~{copy}", f"grow{copy}/{record.path}", record.sha256,
                                          record.language, record.total_lines, record.code_lines, record.notices,
                                          record.codes, record.lines, fragments))
                written += len(fragments)
        index.set_meta({**meta, "name": "grown"})
        index.commit()
    return written, time.perf_counter() - started


def query_latencies(name: str, probes: list[np.ndarray]) -> tuple[float, float]:
    """p50/p99 ms of the storage side of one fragment's query, in a freshly opened corpus (no warm caches)."""
    from provscan.corpus import open_corpus

    times = []
    with open_corpus(name) as index:
        for keys in probes:
            started = time.perf_counter()
            ids = [fid for _qid, fid in index.candidates((int(k), 0) for k in np.unique(keys))]
            for fragment in index.fragments(ids).values():
                index.file(fragment.file_id)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def redis_memory(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("memory")["used_memory"])


def memory_split(url: str, submission: Path) -> None:
    """Bytes per fragment of each kind of key (sampled), and the band keys one scan looks up."""
    import redis

    from provscan.corpus import open_corpus, settings_of
    from provscan.fingerprint import AnalysisJob, FingerprintedFile, analyse
    from provscan.walk import WalkOptions, walk

    client = redis.Redis.from_url(url)
    used: dict[str, int] = {}
    counts: dict[str, int] = {}
    for number, key in enumerate(client.scan_iter(match=f"provscan*{DEFAULT_CORPUS}*", count=5000)):
        kind = "band" if b":b:" in key else "file" if b":f:" in key else "control"
        counts[kind] = counts.get(kind, 0) + 1
        if number % 10 == 0 or kind == "control":
            weight = 1 if kind == "control" else 10
            used[kind] = used.get(kind, 0) + (client.memory_usage(key, samples=0) or 0) * weight
    os.environ["PROVSCAN_INDEX"] = url
    with open_corpus(DEFAULT_CORPUS) as index:
        fragments = index.stats()["fragments"]
        settings = settings_of(index.meta())
    os.environ.pop("PROVSCAN_INDEX")
    split = ", ".join(f"{kind} {counts[kind]:,} keys {used.get(kind, 0) / fragments:,.0f} B/fragment"
                      for kind in ("band", "file", "control") if kind in counts)
    print(f"redis memory by key kind (MEMORY USAGE, 1 in 10 sampled), {fragments:,} fragments: {split}")
    queries, keys = 0, set()
    for source in walk(submission, WalkOptions()):
        result = analyse(AnalysisJob(source.path, source.text, settings, 30))
        if isinstance(result, FingerprintedFile):
            queries += len(result.indexed)
            keys.update(result.band_keys.ravel().tolist())
    print(f"scan of the {submission.name} ({sum(1 for _ in walk(submission, WalkOptions()))} files): {queries} "
          f"fragments looked up, {len(keys):,} distinct band keys")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fragments", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--parts", default="1,2,3", help="which parts to run (part 2 and 3 build what they need)")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not installed (apt-get install redis-server)")
    cache = private_cache()
    with redis_server(binary) as url, tempfile.TemporaryDirectory() as work:
        print(f"redis-server {subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.split()[2]}"
              f" on {url}; {os.cpu_count()} cores")
        # -- part 1: the real default corpus, scanned by 1 and 2 processes ------------------------------------------
        builds = {"embedded": timed(provscan("corpus", "build-default")),
                  "redis": timed(provscan("corpus", "build-default", index=url))}
        submission = Path(work) / "submission"
        make_submission(submission, args.lines)
        for backend, index in (("embedded", ""), ("redis", url)) if 1 in parts else ():
            timed(provscan("scan", str(submission), "--no-license-detection", "--jobs", "1", index=index))  # warm
            one = scans_per_minute(submission, index, 1)
            two = scans_per_minute(submission, index, 2)
            print(f"{backend:8s}: default corpus build {builds[backend]:.1f} s; {args.lines}-line scans per minute: "
                  f"1 process {one:.1f}, 2 processes {two:.1f} ({two / one:.2f}x)")

        if 3 in parts:
            memory_split(url, submission)
        if 2 not in parts:
            return

        # -- part 2: grown to 1M+ fragments --------------------------------------------------------------------------
        sqlite_path = cache / "corpora" / f"{DEFAULT_CORPUS}.sqlite"
        records = real_records(sqlite_path)
        from provscan.corpus import open_corpus

        with open_corpus(DEFAULT_CORPUS) as index:
            meta = index.meta()
            base_stats = index.stats()
        rng = np.random.default_rng(1)
        all_fragments = [f.band_keys for r in records for f in r.fragments]
        probes = [all_fragments[i] for i in rng.choice(len(all_fragments), args.queries, replace=False)]
        print(f"default corpus: {base_stats['files']} files, {base_stats['fragments']} fragments")
        for backend, index in (("embedded", ""), ("redis", url)):
            os.environ["PROVSCAN_INDEX"] = index
            base50, base99 = query_latencies(DEFAULT_CORPUS, probes)
            before = redis_memory(url) if index else 0
            written, seconds = grow(records, args.fragments, meta)
            size = redis_memory(url) - before if index else (cache / "corpora" / "grown.sqlite").stat().st_size
            p50, p99 = query_latencies("grown", probes)
            print(f"{backend:8s}: grown corpus {written:,} fragments written in {seconds:.0f} s "
                  f"({written / seconds:,.0f} fragments/s); size {size / 2**20:,.0f} MiB "
                  f"({size / written:,.0f} B/fragment); query storage side p50/p99: default corpus "
                  f"{base50:.2f}/{base99:.2f} ms, grown {p50:.2f}/{p99:.2f} ms")
        os.environ.pop("PROVSCAN_INDEX", None)


if __name__ == "__main__":
    main()
