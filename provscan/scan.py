"""The scan pipeline end to end: walk -> parse -> fragments -> fingerprint -> index -> match -> findings.

This module only wires the stages together and collects what the summary needs; each stage lives in its own
module. Reports are rendered by `report` from the `ScanResult` built here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from provscan import __version__
from provscan.corpus import DEFAULT_CORPUS, DEFAULT_MIN_TOKENS, corpus_exists, open_corpus, settings_of
from provscan.diagnostics import reading
from provscan.findings import SEVERITIES, CodeMatchFinding, Coverage, Finding, build_findings, make_ids_unique
from provscan.fingerprint import AnalysisJob, FingerprintedFile, FingerprintSettings, analyse, fingerprint_file
from provscan.markers import MarkerHit, detect_markers
from provscan.match import Match, MatchSettings, OpenCorpus, find_matches
from provscan.notices import Notice, detect_notices, licence_query, load_license_index, scancode_licenses
from provscan.parallel import parallel_map
from provscan.provenance import attach_licences, attribution_findings, marker_findings, notice_findings
from provscan.rulebook import load_rulebook
from provscan.walk import Skip, SourceFile, WalkOptions, WalkReport, walk

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class ScanSettings:
    corpora: tuple[str, ...] = (DEFAULT_CORPUS,)
    match: MatchSettings = field(default_factory=MatchSettings)
    min_tokens: int = DEFAULT_MIN_TOKENS
    jobs: int | None = None
    walk: WalkOptions = field(default_factory=WalkOptions)
    rules: tuple[str, ...] = ()  # user rule files on top of the shipped ones
    license_detection: bool = True  # scancode's licence index: ~5 s and 1.4 GB per process on first use
    scancode_copyrights: bool = True  # refine holders with scancode's cluecode (~0.5 s per process); the hook skips it
    model_analysis: bool = True  # config/tokenizer/weights of model directories (provscan.models)
    model_references: tuple[str, ...] | None = None  # reference models to compare them with (None: all registered)


@dataclass(frozen=True)
class SubmissionJob:
    """One submission file for a worker: fingerprint it (if a parser handles it) and read its notices/markers."""

    analysis: AnalysisJob
    rules: tuple[str, ...]
    scancode_copyrights: bool = True


@dataclass
class FileAnalysis:
    path: str
    fingerprinted: FingerprintedFile | None
    skip: Skip | None
    notices: list[Notice]
    markers: list[MarkerHit]
    problems: list[Skip]


def analyse_submission(job: SubmissionJob) -> FileAnalysis:
    """Worker: code fingerprint plus notices and markers of one file (any text file has notices)."""
    with reading(job.analysis.path):
        return _analyse_submission(job)


def _analyse_submission(job: SubmissionJob) -> FileAnalysis:
    result = analyse(job.analysis)
    fingerprinted = result if isinstance(result, FingerprintedFile) else None
    path, text = job.analysis.path, job.analysis.text
    notices: list[Notice] = []
    markers: list[MarkerHit] = []
    problems: list[Skip] = []
    try:
        rulebook = load_rulebook(job.rules)
        # Licence detection runs in the main process (one 1.4 GB index, not one per worker): see `scan`.
        notices = detect_notices(path, text, rulebook, licenses=False, scancode_copyrights=job.scancode_copyrights)
        comments = fingerprinted.normalised.comments if fingerprinted else None
        markers = detect_markers(path, text, comments, rulebook)
    except Exception as error:  # noqa: BLE001 - one file's failure is reported, the scan goes on
        problems.append(Skip(path, "notice-detection-failed", f"{type(error).__name__}: {error}"))
    skip = result if isinstance(result, Skip) else None
    return FileAnalysis(path, fingerprinted, skip, notices, markers, problems)


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
    notices: list[Notice] = field(default_factory=list)  # every notice found in the submission
    # Text of each submission file with a finding: reports that show evidence render exactly what was scanned.
    texts: dict[str, str] = field(default_factory=dict)
    models: object | None = None  # provscan.models.stage.ModelStageResult when model artifacts were analysed

    @property
    def code_findings(self) -> list[CodeMatchFinding]:
        return [f for f in self.findings if isinstance(f, CodeMatchFinding)]

    @property
    def nothing_scanned(self) -> bool:
        """No code file was fingerprinted and no model artifact analysed: the scan checked nothing."""
        return not self.files and not (self.models is not None and self.models.models)

    @property
    def files_with_parse_errors(self) -> int:
        return sum(1 for f in self.files if f.parse_errors)

    def skipped(self) -> Counter:
        """Every file not scanned, by reason: the walker's skips plus the parse stage's."""
        return self.walk.skipped + Counter(skip.reason for skip in self.parse_skips)


def _collect(file_result: FileAnalysis, parse_skips: list[Skip], analysed: list[FingerprintedFile],
             notices: list[Notice], markers: list[MarkerHit], walk_report: WalkReport) -> None:
    """Add one file's analysis to what the scan collects."""
    if file_result.skip is not None:
        parse_skips.append(file_result.skip)
    if file_result.fingerprinted is not None:
        analysed.append(file_result.fingerprinted)
    notices.extend(file_result.notices)
    markers.extend(file_result.markers)
    for problem in file_result.problems:
        walk_report.add_warning(problem.path, problem.reason, problem.detail)


def open_corpora(names: tuple[str, ...]) -> dict[str, OpenCorpus]:
    corpora = {}
    for name in names:
        index = open_corpus(name)
        meta = index.meta()
        corpora[name] = OpenCorpus(name=name, index=index, settings=settings_of(meta), meta=meta)
    return corpora


def missing_corpora(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not corpus_exists(name)]


def scan(
    target: str | Path, settings: ScanSettings, progress: Progress | None = None, *,
    sources: Iterable[SourceFile] | None = None, opened: dict[str, OpenCorpus] | None = None,
) -> ScanResult:
    """Scan a directory, file or archive against the named corpora (which must exist).

    `sources` replaces the walk of `target` (the pre-commit hook scans just the staged files); `opened` are corpora
    the caller keeps open across scans (a batch worker opens its index once for all its submissions).
    """
    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    corpora = opened if opened is not None else open_corpora(settings.corpora)
    try:
        settings_groups: dict[FingerprintSettings, list[OpenCorpus]] = {}
        for corpus in corpora.values():
            settings_groups.setdefault(corpus.settings, []).append(corpus)
        first_settings = next(iter(settings_groups), FingerprintSettings())

        rulebook = load_rulebook(settings.rules)
        walk_report = WalkReport()
        with reading(str(target)):
            jobs = [
                SubmissionJob(
                    AnalysisJob(source.path, source.text, first_settings, settings.min_tokens, keep_comments=True),
                    settings.rules,
                    settings.scancode_copyrights,
                )
                for source in (walk(target, settings.walk, walk_report) if sources is None else sources)
            ]
        licence_files = [job.analysis for job in jobs if licence_query(job.analysis.path, job.analysis.text)]
        index_loader = None
        if settings.license_detection and licence_files:
            # The index loads (~5 s) in a thread while the workers parse: the main process is idle meanwhile.
            index_loader = threading.Thread(target=load_license_index, daemon=True)
            index_loader.start()
        parse_skips: list[Skip] = []
        analysed: list[FingerprintedFile] = []
        notices: list[Notice] = []
        markers: list[MarkerHit] = []
        for done, file_result in enumerate(parallel_map(analyse_submission, jobs, settings.jobs), start=1):
            _collect(file_result, parse_skips, analysed, notices, markers, walk_report)
            if progress:
                progress("parse", done, len(jobs))
        analysed.sort(key=lambda f: f.normalised.path)
        if index_loader is not None:
            index_loader.join()
            for job in licence_files:
                try:
                    notices.extend(scancode_licenses(job.path, job.text))
                except Exception as error:  # noqa: BLE001 - reported, the scan goes on
                    walk_report.add_warning(job.path, "license-detection-failed", f"{type(error).__name__}: {error}")
        notices.sort(key=lambda n: (n.path, n.line))
        markers.sort(key=lambda m: (m.path, m.rule_id))

        matches: list[Match] = []
        for fingerprint_settings, group in settings_groups.items():
            files = analysed
            if fingerprint_settings != first_settings:
                files = [fingerprint_file(f.normalised, fingerprint_settings, settings.min_tokens) for f in analysed]
            for corpus in group:
                with reading(f"corpus {corpus.name!r} (matching the submission against it)"):
                    matches.extend(find_matches(files, corpus, settings.match))
                if progress:
                    progress("match", 1, 1)
        code_findings, coverage = build_findings(analysed, matches, corpora, settings.match.min_run,
                                                  corpus_order=settings.match.corpus_order)
        attach_licences(code_findings, rulebook)
        notices_by_path: dict[str, list[Notice]] = {}
        for notice in notices:
            notices_by_path.setdefault(notice.path, []).append(notice)
        models = None
        if settings.model_analysis and sources is None:
            from provscan.models.stage import scan_models

            with reading(f"{target} (model artifacts)"):
                models, parse_skips = scan_models(target, settings.model_references,
                                                  [job.analysis.path for job in jobs], walk_report, parse_skips)
        findings: list[Finding] = [
            *code_findings,
            *attribution_findings(code_findings, notices_by_path, rulebook),
            *notice_findings(notices, rulebook),
            *marker_findings(markers),
            *(models.findings if models else []),
        ]
        make_ids_unique(findings)
        findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.path, f.start_line, f.kind))
        with_findings = {f.path for f in findings}
        return ScanResult(
            target=str(target),
            provscan_version=__version__,
            started_at=started_at,
            seconds=time.perf_counter() - started,
            settings=settings,
            corpora=[
                {"name": c.name, "version": c.meta.get("version", ""), "description": c.meta.get("description", ""),
                 "built_at": c.meta.get("built_at", ""), "source": c.meta.get("source", ""), **c.index.stats()}
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
            notices=notices,
            texts={job.analysis.path: job.analysis.text for job in jobs if job.analysis.path in with_findings},
            models=models,
        )
    finally:
        for corpus in corpora.values() if opened is None else ():
            corpus.index.close()
