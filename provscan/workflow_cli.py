"""Commands for the workflows beside the one-off scan: `provscan hook`, `provscan baseline ...`, `provscan batch`.

A module of its own, registered on the `cli` group by `provscan.cli`, so the main command module stays small; like
it, this one imports only click at start-up (a pre-commit hook runs on every commit) and the engine inside the
commands. It does not import `provscan.cli` (no import cycle); what both need is in `provscan.cli_common`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from provscan.cli_common import (
    EXIT_FINDINGS,
    FAIL_ON,
    THRESHOLD_OPTIONS,
    check_rules,
    exit_interrupted,
    ready_corpora,
    say,
    settings_from_options,
    walk_options,
)
from provscan.cli_common import fail as _fail

BASELINE_FILE = ".provscan-baseline.json"  # where `provscan baseline create` writes by default


def _engine_options(command):
    """Options of every command that scans: corpora, thresholds, excludes, rules, workers."""
    options = [
        click.option("--corpus", "corpora", multiple=True, metavar="NAME",
                     help="Corpus to match against (repeatable; default: transformers)."),
        *THRESHOLD_OPTIONS,
        click.option("--exclude", multiple=True, metavar="PATTERN", help="gitignore-style pattern to skip."),
        click.option("--max-file-size", type=click.IntRange(1), default=None, metavar="BYTES",
                     help="Skip files larger than this (default 2 MB)."),
        click.option("--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                     metavar="FILE", help="Extra watch-list/marker rules (TOML, repeatable)."),
        click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="Worker processes."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _baseline_option(command):
    return click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=Path(BASELINE_FILE),
                        show_default=True, help="Baseline of accepted findings (used when the file exists).")(command)


def _fast_scan(target: str, paths: list[str] | None, corpora, thresholds: dict, exclude, max_file_size, rule_files,
               jobs, baseline: Path):
    """Scan with the hook's settings: the given `paths` only, or the whole `target` when paths is None.

    The baseline file is never scanned: its messages name model families and sources, which markers would flag.
    """
    from provscan.corpus import CorpusError
    from provscan.hook import FAST_PATH, given_files
    from provscan.index import CorpusIndexError
    from provscan.scan import scan
    from provscan.walk import WalkError, WalkReport

    rules = check_rules(rule_files)
    names = ready_corpora(corpora, jobs)
    own = Path(baseline).resolve()
    if own.is_relative_to(Path.cwd().resolve()):
        exclude = (*exclude, "/" + own.relative_to(Path.cwd().resolve()).as_posix())
    walk = walk_options(exclude, max_file_size)
    settings = settings_from_options(names, rules, walk, jobs or 1, thresholds, **FAST_PATH)
    report = WalkReport()
    try:
        sources = None if paths is None else list(given_files(paths, walk, report))
        result = scan(target, settings, sources=sources)
    except (WalkError, CorpusError, CorpusIndexError) as error:
        _fail(str(error))
    if sources is not None:
        report.warnings += result.walk.warnings  # problems found while analysing the files the hook read
        report.warning_counts += result.walk.warning_counts
        result.walk = report
        texts = {source.path: source.text for source in sources}
    else:
        texts = _texts_of(result, Path(target))
    return result, texts


def _texts_of(result, root: Path) -> dict[str, str]:
    """Texts of the files with findings (for inline ignores): from the result when it keeps them, else from disk."""
    texts = dict(getattr(result, "texts", None) or {})
    for path in {f.path for f in result.findings} - set(texts):
        candidate = root / path if root.is_dir() else root
        if "!/" not in path and candidate.is_file():
            texts[path] = candidate.read_text(encoding="utf-8", errors="replace")
    return texts


def _load_baseline(path: Path | None):
    from provscan.baseline import Baseline, BaselineError

    if path is None or not path.exists():
        return None
    try:
        return Baseline.load(path)
    except BaselineError as error:
        _fail(str(error))


@click.command(short_help="Pre-commit check of the given files (fast: no licence index).")
@click.argument("files", nargs=-1, type=click.Path(path_type=str))
@_engine_options
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="medium", show_default=True,
              help="Exit 1 when a new finding has at least this severity.")
@_baseline_option
def hook(files, corpora, exclude, max_file_size, rule_files, jobs, fail_on, baseline, **thresholds) -> None:
    """Scan just FILES (pre-commit passes the staged files): corpus look-up, notices and markers, no licence index.

    Prints file:line, what matched and a one-line hint per new finding (not in the baseline, not ignored inline)
    and exits 1 when one reaches --fail-on.
    """
    if not files:
        say("hook: no files given, nothing to check (pre-commit passes the staged files)")
        return
    accepted = _load_baseline(baseline)
    result, texts = _fast_scan(".", list(files), corpora, thresholds, exclude, max_file_size, rule_files, jobs,
                               baseline)
    from provscan.baseline import suppress
    from provscan.hook import terminal_lines

    left = suppress(result.findings, accepted, texts)
    for line in terminal_lines(left.findings):
        click.echo(line)
    threshold = FAIL_ON.index(fail_on)
    failing = [f for f in left.findings if threshold and FAIL_ON.index(f.severity) >= threshold]
    quiet = []
    if left.by_baseline:
        quiet.append(f"{left.by_baseline} accepted by {baseline}")
    if left.inline:
        quiet.append(f"{left.inline} ignored inline")
    skipped = sum(result.walk.skipped.values())  # not read at all (files without a parser still get notices read)
    summary = (f"provscan: {len(left.findings)} new finding(s) in {result.walk.files_yielded} file(s) read"
               + (f", {skipped} skipped" if skipped else "") + (f" ({'; '.join(quiet)})" if quiet else ""))
    click.echo(summary, err=True)
    if failing:
        say(f"commit refused: {len(failing)} finding(s) at or above --fail-on {fail_on}: exit {EXIT_FINDINGS}")
        sys.exit(EXIT_FINDINGS)


@click.group(short_help="Accept existing findings, so the hook reports only new ones.")
def baseline() -> None:
    """Accept the findings a code base already has, so the hook reports only new ones."""


def _baseline_command(name: str, short: str, doc: str):
    @_engine_options
    @_baseline_option
    def command(corpora, exclude, max_file_size, rule_files, jobs, baseline, **thresholds) -> None:
        from provscan.baseline import Baseline, BaselineError, suppress

        previous = Baseline()
        if name == "update":
            previous = _load_baseline(baseline) or Baseline()
        elif baseline.exists():
            _fail(f"{baseline}: a baseline exists already; use `provscan baseline update`")
        # Always the current directory: finding ids hash paths, which must read as the hook sees them (relative
        # to the repository root, where pre-commit runs).
        result, texts = _fast_scan(".", None, corpora, thresholds, exclude, max_file_size, rule_files, jobs, baseline)
        findings = suppress(result.findings, None, texts).findings  # inline-ignored findings need no entry
        current, added, removed = previous.updated(findings)
        try:
            current.save(baseline)
        except BaselineError as error:
            _fail(str(error))
        click.echo(f"baseline {baseline}: {len(current.entries)} accepted finding(s) "
                   f"({added} added, {removed} no longer found)")

    command.__doc__ = doc
    return baseline.command(name, short_help=short)(command)


_baseline_command("create", "Accept every finding of the current directory in a new baseline.",
                  "Scan the current directory (the repository root) and accept every finding in a new baseline.")
_baseline_command("update", "Make the baseline exactly the current directory's findings.",
                  "Rescan the current directory and make the baseline exactly its current findings (new ones "
                  "accepted, fixed ones dropped).")


@click.command(short_help="Scan many submissions into one ranked report directory.")
@click.argument("source", metavar="DIR_OR_LIST", type=click.Path(exists=True, path_type=Path))
@_engine_options
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("provscan-batch"), show_default=True, help="Directory for the reports and the index page.")
@click.option("--no-license-detection", is_flag=True,
              help="Skip scancode's licence detection (its index costs ~5 s and 1.4 GB per worker).")
@click.option("--no-cross", is_flag=True, help="Do not compare the submissions with each other.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="off", show_default=True,
              help="Exit 1 when a submission has a finding of at least this severity.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run the scans as Dask tasks on this scheduler (tcp://host:8786); workers need provscan, the "
              "corpus index (e.g. --index redis://...) and OUTPUT under the same path.")
def batch(source, corpora, exclude, max_file_size, rule_files, jobs, out_dir, no_license_detection, no_cross, fail_on,
          scheduler, **thresholds) -> None:
    """Scan every submission of DIR_OR_LIST (each subdirectory or archive, or one path a line) into OUTPUT.

    Submissions are scanned --jobs at a time; a rerun skips those unchanged since; each also gets compared with
    the others (pairs sharing code, with evidence). OUTPUT/index.html ranks them and links to each report.
    """
    from provscan.batch import BatchError, run_batch
    from provscan.parallel import default_jobs

    rules = check_rules(rule_files)
    names = ready_corpora(corpora, jobs)
    workers = jobs or default_jobs()
    # Each submission is scanned in one worker process; the parallelism is across submissions.
    settings = settings_from_options(names, rules, walk_options(exclude, max_file_size), 1, thresholds,
                         license_detection=not no_license_detection)
    try:
        with _BatchProgress() as progress:
            outcome = run_batch(source, out_dir, settings, workers, progress, cross=not no_cross, scheduler=scheduler)
    except BatchError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        kept = len(list(out_dir.glob("submissions/*/status.json")))
        exit_interrupted(f"batch interrupted; {kept} finished submission(s) kept in {out_dir}, a rerun goes on "
                         "from there")
    errors = [s for s in outcome.statuses if s.get("status") != "ok"]
    click.echo(f"provscan batch: {len(outcome.statuses)} submission(s) in {outcome.seconds:.1f}s "
               f"({outcome.resumed} unchanged, not rescanned; {len(errors)} could not be scanned); "
               f"{len(outcome.pairs)} pair(s) share code; index: {out_dir / 'index.html'}")
    for status in errors:
        say(f"{status['name']}: {status.get('error', 'unknown error')}")
    for status in outcome.statuses:
        if status.get("status") == "ok" and not status.get("files_scanned"):
            say(f"{status['name']}: no code file was scanned in it (see its report for what was skipped)")
    threshold = FAIL_ON.index(fail_on)
    failing = [s["name"] for s in outcome.statuses
               if threshold and sum(s.get("findings", {}).get(level, 0) for level in FAIL_ON[threshold:])]
    if failing:
        say(f"{len(failing)} submission(s) with findings at or above --fail-on {fail_on} ({', '.join(failing[:10])}"
            f"{', ...' if len(failing) > 10 else ''}): exit {EXIT_FINDINGS}")
        sys.exit(EXIT_FINDINGS)


class _BatchProgress:
    """A rich progress bar on stderr across submissions, then across comparisons (shown only on a terminal)."""

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console, transient=True, disable=not console.is_terminal)
        self.bar.__enter__()
        self.tasks: dict[str, int] = {}
        return self.update

    def update(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            label = "scanning submissions" if stage == "scan" else "comparing submissions"
            self.tasks[stage] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)
