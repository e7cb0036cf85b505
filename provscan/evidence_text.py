"""The texts behind a report's evidence: submission files as scanned, corpus files as indexed.

A corpus index keeps token streams, not text (text would triple its size), so a report that shows code side by side
reads corpus files back from where the corpus was built (`source` in the corpus meta: a directory, a single file or
an archive) and checks each against the SHA-256 recorded when it was indexed: a file that changed since is shown
with a warning, because its lines may no longer be the lines the evidence names. Submission files come from the
scan result itself (`ScanResult.texts`); a result without them (built elsewhere) walks the target again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from provscan.textfile import read_disk_file
from provscan.walk import WalkError, WalkOptions, WalkReport, walk


@dataclass
class LoadedText:
    """A file's text for display, or None with the reason it cannot be shown; `warning` flags a doubtful text."""

    text: str | None
    warning: str = ""


def submission_texts(result, paths: set[str]) -> dict[str, LoadedText]:
    """The scanned text of each submission path (from the result; else re-read from the target)."""
    texts = {path: LoadedText(result.texts[path]) for path in paths if path in result.texts}
    missing = paths - set(texts)
    if missing:
        try:
            for source in walk(result.target, result.settings.walk, WalkReport()):
                if source.path in missing:
                    texts[source.path] = LoadedText(source.text, "re-read from the target after the scan")
        except (WalkError, OSError) as error:
            reason = f"cannot re-read the target: {error}"
            return {**texts, **{p: LoadedText(None, reason) for p in missing if p not in texts}}
    return {path: texts.get(path, LoadedText(None, "not found in the target any more")) for path in paths}


def corpus_texts(result, wanted: dict[str, set[str]]) -> dict[tuple[str, str], LoadedText]:
    """(corpus, path) -> text, for the corpus files the findings name, read from each corpus's source."""
    loaded: dict[tuple[str, str], LoadedText] = {}
    for name, paths in wanted.items():
        info = next((c for c in result.corpora if c.get("name") == name), {})
        source, hashes = _corpus_origin(name, info)
        if not source:
            for path in paths:
                loaded[(name, path)] = LoadedText(None, f"corpus {name!r} does not record where it was built from")
            continue
        for path, (text, sha256, problem) in _read_corpus_files(Path(source), paths).items():
            if text is None:
                loaded[(name, path)] = LoadedText(None, problem)
                continue
            warning = ""
            if path in hashes and hashes[path] != sha256:
                warning = f"{source}/{path} changed since the corpus was built: lines may not match the evidence"
            elif not hashes:
                warning = "corpus index not available: file not checked against the indexed version"
            loaded[(name, path)] = LoadedText(text, warning)
    return loaded


def _corpus_origin(name: str, info: dict) -> tuple[str, dict[str, str]]:
    """Where corpus `name` was built from, and the SHA-256 of each file when indexed (empty if unknown)."""
    from provscan.corpus import CorpusError, corpus_path, storage
    from provscan.index import CorpusIndexError

    source = info.get("source", "")
    try:
        corpus_path(name)  # checks the name
        store = storage()  # the embedded files or the shared index the scan read
        if not store.exists(name):
            return source, {}
        with store.open(name) as index:
            return source or index.meta().get("source", ""), index.file_hashes()
    except (CorpusError, CorpusIndexError):
        return source, {}


def _read_corpus_files(source: Path, paths: set[str]) -> dict[str, tuple[str | None, str, str]]:
    """path -> (text, sha256, problem). Directories are read file by file; archives and single files are walked."""
    found: dict[str, tuple[str | None, str, str]] = {}
    cap = WalkOptions().max_file_bytes
    if source.is_dir():
        root = source.resolve()
        for path in paths:
            real = (root / path).resolve()
            if not real.is_relative_to(root):
                found[path] = (None, "", f"{path}: outside the corpus source {source}")
                continue
            report = WalkReport()
            try:
                size = os.stat(real).st_size
            except OSError as error:
                found[path] = (None, "", f"{source}/{path}: cannot be read: {error.strerror or error}")
                continue
            read = read_disk_file(str(real), path, size, cap, report)
            problem = "; ".join(skip.detail for skip in report.skips) or "cannot be read"
            found[path] = (read.text, read.sha256, "") if read else (None, "", f"{source}/{path}: {problem}")
        return found
    try:
        for read in walk(source, WalkOptions(), WalkReport()):
            if read.path in paths:
                found[read.path] = (read.text, read.sha256, "")
    except (WalkError, OSError) as error:
        return {path: (None, "", f"cannot read the corpus source: {error}") for path in paths}
    return {path: found.get(path, (None, "", f"{path}: not in the corpus source {source} any more")) for path in paths}
