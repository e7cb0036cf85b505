"""What every provscan command shares: exit codes, the fatal-error exit, progress, corpora made ready before the
work, outputs checked before it, and scan settings built from options.

A module of its own so that `provscan.cli` and `provscan.workflow_cli` (which `cli` registers) both use one copy
without importing each other. Like them it imports only click at start-up; the engine is imported inside functions.
Exit codes: 0 nothing at or above --fail-on, 1 findings at or above --fail-on, 2 usage or fatal error, 3 internal
error (a bug: never a finding), 130 interrupted, 141 output closed early (a broken pipe).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a program stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a program whose reader went away
FAIL_ON = ("off", "low", "medium", "high")


def fail(message: str) -> None:
    click.echo(f"provscan: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def say(message: str) -> None:
    """A line for the user on stderr (stdout is the report's)."""
    click.echo(f"provscan: {message}", err=True)


def exit_interrupted(message: str) -> None:
    """After Ctrl-C: stop the worker processes now (not after their work in hand), say `message`, exit 130."""
    if "provscan.parallel" in sys.modules:  # no pool can exist otherwise; nothing to import for it
        sys.modules["provscan.parallel"].stop_all_pools()
    say(message)
    sys.exit(EXIT_INTERRUPTED)


def exit_on(findings, fail_on: str, where: str = "") -> None:
    """Exit 1, saying why on stderr, when a finding reaches the --fail-on severity."""
    threshold = FAIL_ON.index(fail_on)
    failing = [f for f in findings if threshold and FAIL_ON.index(f.severity) >= threshold]
    if failing:
        by_level = ", ".join(f"{sum(f.severity == level for f in failing)} {level}" for level in reversed(FAIL_ON[1:])
                             if any(f.severity == level for f in failing))
        say(f"{len(failing)} finding(s){where} at or above --fail-on {fail_on} ({by_level}): exit {EXIT_FINDINGS}")
        sys.exit(EXIT_FINDINGS)


def check_output(path: Path | None, what: str = "report") -> None:
    """Stop before any work when the report cannot be written where asked (not after a long scan)."""
    if path is None:
        return
    parent = path.parent
    if path.is_dir():
        fail(f"{path}: is a directory; give a file name for the {what}")
    if not parent.is_dir():
        fail(f"{path}: cannot write the {what}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{path}: cannot write the {what}: permission denied")


@contextmanager
def progress_bar(description: str, *, plain: bool = False) -> Iterator[Callable[[int, int], None]]:
    """Yield an update(done, total) callback: a rich bar on a terminal; elsewhere (a CI log), with `plain`, lines:
    the first step, then each further tenth of the work a second or more after the line before, and the last, so a
    long first build shows it is alive without a short one filling the log."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        if not plain:
            yield lambda _done, _total: None
            return
        started = time.monotonic()
        last = {"tenth": -1, "at": -1.0}

        def line(done: int, total: int) -> None:
            tenth, now = (10 * done // total if total else 10), time.monotonic()
            first, final = last["tenth"] < 0, done >= total
            if first or final or (tenth > last["tenth"] and now - last["at"] >= 1.0):
                last.update(tenth=tenth, at=now)
                say(f"{description}: {done}/{total} ({done / total if total else 1:.0%}), {now - started:.0f} s")

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def build_default(jobs: int | None, *, unless_current: bool = False, **corpus_settings) -> None:
    """Build (or update) the default corpus, with progress; with `unless_current`, only if no other process has
    built it by the time this one may (two first runs at once: one builds, the other waits and uses its build)."""
    from provscan.corpus import CorpusError, build_default_corpus

    try:
        with progress_bar("building default corpus", plain=True) as update:
            report = build_default_corpus(jobs=jobs, progress=update, on_wait=say, unless_current=unless_current,
                                          **corpus_settings)
    except CorpusError as error:
        fail(str(error))
    if report is None:
        say("corpus 'transformers' was built meanwhile by another provscan process; using it")
        return
    say(f"corpus 'transformers' built: {report.files_indexed} files, {report.fragments} fragments in "
        f"{report.seconds:.1f}s; {common_note(report)}")


def common_note(report) -> str:
    """What a corpus build counted as boilerplate (`common_code`), for its closing message."""
    return (f"{report.common_shingles} shingles found in at least {report.common_threshold} of its "
            f"{report.distinct_contents} distinct fragments are boilerplate, not evidence")


def ready_corpora(corpora: tuple[str, ...], jobs: int | None) -> tuple[str, ...]:
    """The corpus names to use, each checked to exist before any work; the default corpus is built first when it
    is missing or was built by an older provscan (once; another process building it at the same time is waited
    for), and a default corpus built from another transformers release than the installed one is pointed out."""
    from provscan.corpus import DEFAULT_CORPUS, CorpusError, default_corpus_release, default_corpus_source
    from provscan.scan import missing_corpora

    names = tuple(corpora) or (DEFAULT_CORPUS,)
    try:  # a shared index that cannot be reached is a CorpusError naming it, not a traceback
        others = [name for name in missing_corpora(names) if name != DEFAULT_CORPUS]
        if others:
            fail(f"no corpus named {', '.join(map(repr, others))} (see `provscan corpus list`)")
        if DEFAULT_CORPUS not in names:
            return names
        built, installed = default_corpus_release()
        if built is None:
            files = sum(1 for _ in default_corpus_source()[0].rglob("*.py"))
            say(f"the default corpus is not built yet (or was built by another provscan version); building it now "
                f"from {installed}'s {files:,} model files, once (about half a minute on 2 cores, minutes on a busy "
                "machine)")
    except CorpusError as error:
        fail(str(error))
    if built is None:
        build_default(jobs, unless_current=True)
    elif built != installed:
        say(f"note: the default corpus was built from {built}, but {installed} is installed; "
            "`provscan corpus build-default` updates it")
    return names


def check_rules(rule_files) -> tuple[str, ...]:
    """Validate the user's rule files before any work (a bad rule is the user's to fix); their paths as strings."""
    from provscan.rulebook import RuleError, load_rulebook

    try:
        load_rulebook(tuple(rule_files))
    except RuleError as error:
        fail(str(error))
    return tuple(str(p) for p in rule_files)


THRESHOLD_OPTIONS = (
    click.option("--min-similarity", type=click.FloatRange(0.0, 1.0), default=None,
                 help="Minimum Jaccard similarity of a reported match (default 0.5)."),
    click.option("--min-containment", type=click.FloatRange(0.0, 1.0), default=None,
                 help="Share of either fragment found in the other that also reports a match (default 0.8)."),
    click.option("--min-alignment", type=click.FloatRange(0.0, 1.0), default=None,
                 help="Share of both fragments' tokens shared in the same order that also reports a match, for "
                 "copies edited statement by statement (default 0.8)."),
    click.option("--min-shared-shingles", type=click.IntRange(1), default=None,
                 help="Fewest shared shingles a reported match has (default 30): below that, overlaps are "
                 "boilerplate."),
    click.option("--min-local-run", type=click.IntRange(0), default=None,
                 help="Distinct uncommon shingles in one run shared in the same order that report a copied block "
                 "inside a larger fragment (default 50; 0: no local blocks)."),
    click.option("--min-tokens", type=click.IntRange(5), default=None, help="Minimum fragment size in tokens."),
    click.option("--corpus-order", "corpus_order", multiple=True, metavar="NAME",
                 help="Corpora upstream first (repeatable): code two corpora hold equally well was first written in "
                 "the one named first (each corpus's own lineage decides within it)."),
)


def threshold_options(command):
    """The match thresholds every scanning command takes; they reach the command as keyword arguments, which it
    passes on whole (`**thresholds`) to `settings_from_options`."""
    for option in reversed(THRESHOLD_OPTIONS):
        command = option(command)
    return command


def walk_options(exclude: tuple[str, ...], max_file_size: int | None):
    """Walk options from the command line, the exclude patterns checked first (a bad one stops the command)."""
    from provscan.ignore import check_patterns
    from provscan.walk import WalkOptions

    try:
        check_patterns(exclude, "--exclude")
    except ValueError as error:
        fail(str(error))

    options = WalkOptions(exclude=tuple(exclude))
    return options if max_file_size is None else WalkOptions(exclude=tuple(exclude), max_file_bytes=max_file_size)


def _corpus_order(order, scanned: tuple[str, ...]) -> tuple[str, ...]:
    """The --corpus-order names, each one a corpus the command scans (a typo would otherwise order nothing)."""
    order = tuple(order)
    for name in order:
        if name not in scanned:
            fail(f"--corpus-order names {name!r}, which this command does not scan (corpora: {', '.join(scanned)})")
    if len(set(order)) != len(order):
        fail(f"--corpus-order names a corpus twice: {', '.join(order)}")
    return order


def settings_from_options(names: tuple[str, ...], rules: tuple[str, ...], walk, jobs: int | None, thresholds: dict,
                          **flags):
    """ScanSettings from the options: match thresholds and min-tokens given on the command line or in the config."""
    from dataclasses import replace

    from provscan.corpus import DEFAULT_CORPUS
    from provscan.scan import ScanSettings

    settings = ScanSettings(corpora=names, jobs=jobs, rules=rules, walk=walk, **flags)
    given = {key: value for key, value in thresholds.items() if value is not None}
    given["corpus_order"] = _corpus_order(given.get("corpus_order", ()), names or (DEFAULT_CORPUS,))
    settings.min_tokens = given.pop("min_tokens", settings.min_tokens)
    settings.match = replace(settings.match, **given)
    return settings
