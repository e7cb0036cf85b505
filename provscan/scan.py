"""The scan pipeline end to end: walk -> parse -> fragments -> fingerprint -> index -> match -> findings.

This module only wires the stages together and collects what the summary needs; each stage lives in its own
module. Reports are rendered by `report` from the `ScanResult` built here.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from provscan import __version__
from provscan.corpus import DEFAULT_CORPUS, DEFAULT_MIN_TOKENS, corpus_exists, open_corpus, settings_of
from provscan.findings import Coverage, Finding, build_findings
from provscan.fingerprint import AnalysisJob, FingerprintedFile, FingerprintSettings, analyse, fingerprint_file
from provscan.match import Match, MatchSettings, OpenCorpus, find_matches
from provscan.parallel import map_unordered
from provscan.walk import Skip, WalkOptions, WalkReport, walk

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class ScanSettings:
    corpora: tuple[str, ...] = (DEFAULT_CORPUS,)
    match: MatchSettings = field(default_factory=MatchSettings)
    min_tokens: int = DEFAULT_MIN_TOKENS
    jobs: int | None = None
    walk: WalkOptions = field(default_factory=WalkOptions)


@dataclass
class FileSummary:
    path: str
    language: str
    code_lines: int
    fragments: int
    parse_errors: int


@dataclass
class ScanResult:
    target: str
    provscan_version: str
    started_at: str
    seconds: float
    settings: ScanSettings
    corpora: list[dict]
    walk: WalkReport
    parse_skips: list[Skip]  # files the walker yielded but no parser could fragment
    files: list[FileSummary]
    findings: list[Finding]
    coverage: Coverage

    @property
    def files_with_parse_errors(self) -> int:
        return sum(1 for f in self.files if f.parse_errors)

    def skipped(self) -> Counter:
        """Every file not scanned, by reason: the walker's skips plus the parse stage's."""
        return self.walk.skipped + Counter(skip.reason for skip in self.parse_skips)


def open_corpora(names: tuple[str, ...]) -> dict[str, OpenCorpus]:
    corpora = {}
    for name in names:
        index = open_corpus(name)
        meta = index.meta()
        corpora[name] = OpenCorpus(name=name, index=index, settings=settings_of(meta), meta=meta)
    return corpora


def missing_corpora(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not corpus_exists(name)]


def scan(target: str | Path, settings: ScanSettings, progress: Progress | None = None) -> ScanResult:
    """Scan a directory, file or archive against the named corpora (which must exist)."""
    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    corpora = open_corpora(settings.corpora)
    try:
        settings_groups: dict[FingerprintSettings, list[OpenCorpus]] = {}
        for corpus in corpora.values():
            settings_groups.setdefault(corpus.settings, []).append(corpus)
        first_settings = next(iter(settings_groups), FingerprintSettings())

        walk_report = WalkReport()
        jobs = [
            AnalysisJob(source.path, source.text, first_settings, settings.min_tokens)
            for source in walk(target, settings.walk, walk_report)
        ]
        parse_skips: list[Skip] = []
        analysed: list[FingerprintedFile] = []
        for done, result in enumerate(map_unordered(analyse, jobs, settings.jobs), start=1):
            if isinstance(result, Skip):
                parse_skips.append(result)
            else:
                analysed.append(result)
            if progress:
                progress("parse", done, len(jobs))
        analysed.sort(key=lambda f: f.normalised.path)

        matches: list[Match] = []
        for fingerprint_settings, group in settings_groups.items():
            files = analysed
            if fingerprint_settings != first_settings:
                files = [fingerprint_file(f.normalised, fingerprint_settings, settings.min_tokens) for f in analysed]
            for corpus in group:
                matches.extend(find_matches(files, corpus, settings.match))
                if progress:
                    progress("match", 1, 1)
        findings, coverage = build_findings(analysed, matches, corpora, settings.match.min_run)
        return ScanResult(
            target=str(target),
            provscan_version=__version__,
            started_at=started_at,
            seconds=time.perf_counter() - started,
            settings=settings,
            corpora=[
                {"name": c.name, "version": c.meta.get("version", ""), "description": c.meta.get("description", ""),
                 "built_at": c.meta.get("built_at", ""), **c.index.stats()}
                for c in corpora.values()
            ],
            walk=walk_report,
            parse_skips=sorted(parse_skips, key=lambda skip: skip.path),
            files=[
                FileSummary(f.normalised.path, f.normalised.language, f.normalised.code_lines,
                            len(f.normalised.fragments), f.normalised.error_nodes)
                for f in analysed
            ],
            findings=findings,
            coverage=coverage,
        )
    finally:
        for corpus in corpora.values():
            corpus.index.close()
