"""Command line: `provscan scan`, `provscan corpus ...`.

Heavy modules (tree-sitter, numpy, datasketch) are imported inside the commands, so `provscan --help` starts fast.
Exit codes: 0 nothing at or above --fail-on, 1 findings at or above --fail-on, 2 usage or fatal error.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from provscan import __version__

EXIT_FINDINGS = 1
EXIT_ERROR = 2
FAIL_ON = ("off", "low", "medium", "high")


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def _progress(description: str):
    """A rich progress bar on stderr (shown only on a terminal); yields an update(done, total) callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = _stderr_console()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fail(message: str) -> None:
    click.echo(f"provscan: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provscan")
def cli() -> None:
    """Find code in a submission that comes from known open-source model projects, with line-level evidence."""


def main() -> None:
    """Console entry point: click's handling, except that Ctrl-C exits 130 (click's default, 1, means findings)."""
    try:
        code = cli.main(standalone_mode=False)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("provscan: interrupted; no report written", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


@cli.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--corpus", "corpora", multiple=True, metavar="NAME",
              help="Corpus to match against (repeatable; default: transformers).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--min-similarity", type=click.FloatRange(0.0, 1.0), default=None,
              help="Minimum Jaccard similarity of a reported match (default 0.5).")
@click.option("--min-containment", type=click.FloatRange(0.0, 1.0), default=None,
              help="Share of either fragment found in the other that also reports a match (default 0.8).")
@click.option("--min-shared-shingles", type=click.IntRange(1), default=None,
              help="Fewest shared shingles a reported match has (default 30): below that, overlaps are boilerplate.")
@click.option("--min-tokens", type=click.IntRange(5), default=None, help="Minimum fragment size in tokens.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="off", show_default=True,
              help="Exit 1 when a finding has at least this severity.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="gitignore-style pattern to skip (repeatable).")
@click.option("--max-file-size", type=click.IntRange(1), default=None, metavar="BYTES",
              help="Skip files larger than this (default 2 MB).")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="Worker processes (default: all cores).")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Extra watch-list/marker rules (TOML, repeatable); same ids replace shipped ones.")
@click.option("--no-license-detection", is_flag=True,
              help="Skip scancode's licence detection (its index costs ~5 s and 1.4 GB); copyrights still found.")
def scan(target, corpora, fmt, output, min_similarity, min_containment, min_shared_shingles, min_tokens, fail_on,
         exclude, max_file_size, jobs, rule_files, no_license_detection) -> None:
    """Scan TARGET (a directory, file or archive) against the corpora."""
    from dataclasses import replace

    from provscan.corpus import DEFAULT_CORPUS, CorpusError, corpus_is_current
    from provscan.index import CorpusIndexError
    from provscan.rulebook import RuleError, load_rulebook
    from provscan.scan import ScanSettings, missing_corpora
    from provscan.scan import scan as run_scan
    from provscan.walk import WalkError, WalkOptions

    if not target.exists():
        _fail(f"{target}: no such file or directory")
    try:
        load_rulebook(tuple(rule_files))  # validate before any work: a bad rule is the user's to fix
    except RuleError as error:
        _fail(str(error))
    names = tuple(corpora) or (DEFAULT_CORPUS,)
    settings = ScanSettings(corpora=names, jobs=jobs, rules=tuple(str(p) for p in rule_files),
                            license_detection=not no_license_detection)
    overrides = {"min_similarity": min_similarity, "min_containment": min_containment,
                 "min_shared_shingles": min_shared_shingles}
    settings.match = replace(settings.match, **{k: v for k, v in overrides.items() if v is not None})
    if min_tokens is not None:
        settings.min_tokens = min_tokens
    walk_options = WalkOptions(exclude=tuple(exclude))
    if max_file_size is not None:
        walk_options = replace(walk_options, max_file_bytes=max_file_size)
    settings.walk = walk_options

    missing = missing_corpora(names)
    others = [name for name in missing if name != DEFAULT_CORPUS]
    if others:
        _fail(f"no corpus named {', '.join(map(repr, others))} (see `provscan corpus list`)")
    if DEFAULT_CORPUS in names and not corpus_is_current(DEFAULT_CORPUS):
        state = "is not built yet" if DEFAULT_CORPUS in missing else "is outdated or unfinished"
        click.echo(f"provscan: the default corpus {state}; building it now (once, well under a minute)", err=True)
        _build_default(jobs)
    try:
        with _progress("scanning") as update:
            result = run_scan(target, settings, progress=lambda _stage, done, total: update(done, total))
    except (WalkError, CorpusError, CorpusIndexError) as error:
        _fail(str(error))
    _emit(result, fmt, output)
    threshold = FAIL_ON.index(fail_on)
    if threshold and any(FAIL_ON.index(f.severity) >= threshold for f in result.findings):
        sys.exit(EXIT_FINDINGS)


def _emit(result, fmt: str, output: Path | None) -> None:
    from provscan.report import write_json, write_text

    writer = write_json if fmt == "json" else write_text
    if output is None:
        if fmt == "text":
            write_text(result, sys.stdout, color=sys.stdout.isatty())
        else:
            writer(result, sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8") as handle:
            writer(result, handle)
    except OSError as error:
        _fail(f"{output}: cannot write report: {error.strerror}")
    click.echo(f"provscan: report written to {output}", err=True)


def _build_default(jobs: int | None, **corpus_settings) -> None:
    from provscan.corpus import CorpusError, build_default_corpus

    try:
        with _progress("building default corpus") as update:
            report = build_default_corpus(jobs=jobs, progress=update, **corpus_settings)
    except CorpusError as error:
        _fail(str(error))
    click.echo(
        f"provscan: corpus 'transformers' built: {report.files_indexed} files, {report.fragments} fragments "
        f"in {report.seconds:.1f}s",
        err=True,
    )


@cli.group()
def corpus() -> None:
    """Manage the corpora of known code (stored under the user cache directory)."""


def _fingerprint_options(command):
    """Options that fix how a corpus is fingerprinted; scans always reuse the corpus's own settings."""
    command = click.option("--shingle-size", "k", type=click.IntRange(3, 64), default=None,
                           help="Tokens per shingle (default 9, chosen in bench/choose_k.py).")(command)
    command = click.option("--min-tokens", type=click.IntRange(5), default=None,
                           help="Smallest fragment indexed, in normalised tokens (default 30).")(command)
    return click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="Worker processes.")(command)


def _corpus_settings(k: int | None, min_tokens: int | None) -> dict:
    from provscan.corpus import DEFAULT_MIN_TOKENS
    from provscan.fingerprint import FingerprintSettings

    settings = FingerprintSettings(k=k) if k else FingerprintSettings()
    return {"settings": settings, "min_tokens": min_tokens or DEFAULT_MIN_TOKENS}


@corpus.command("build-default")
@_fingerprint_options
def build_default(jobs, k, min_tokens) -> None:
    """Build (or update) the default corpus from the installed transformers package's models/ folder."""
    _build_default(jobs, **_corpus_settings(k, min_tokens))


@corpus.command("add")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--split-projects", is_flag=True, help="Each top-level directory of PATH is its own project.")
@_fingerprint_options
def add(name, path, split_projects, jobs, k, min_tokens) -> None:
    """Add (or update) corpus NAME from PATH: a directory, a clone or an archive."""
    from provscan.corpus import CorpusError, add_corpus
    from provscan.walk import WalkError

    try:
        with _progress(f"indexing {name}") as update:
            report = add_corpus(name, path, split_projects=split_projects, jobs=jobs, progress=update,
                                **_corpus_settings(k, min_tokens))
    except (CorpusError, WalkError) as error:
        _fail(str(error))
    skipped = sum(report.walk.skipped.values()) + sum(report.skipped.values())
    click.echo(
        f"corpus {name!r}: {report.files_indexed} files indexed, {report.files_unchanged} unchanged, "
        f"{report.files_removed} removed, {skipped} skipped, {report.fragments} fragments in {report.seconds:.1f}s"
    )


@corpus.command("list")
def list_() -> None:
    """List the corpora with their size and origin."""
    from rich.table import Table

    from provscan.corpus import cache_dir, list_corpora

    infos = list_corpora()
    if not infos:
        click.echo(f"no corpora in {cache_dir() / 'corpora'}; run `provscan corpus build-default`")
        return
    table = Table()
    for column in ("name", "files", "lines", "fragments", "projects", "version", "built"):
        table.add_column(column)
    for info in infos:
        if "error" in info.meta:
            table.add_row(info.name, "-", "-", "-", "-", info.meta["error"], "-")
            continue
        table.add_row(
            info.name, str(info.stats["files"]), str(info.stats["lines"]), str(info.stats["fragments"]),
            str(info.stats["projects"]), info.meta.get("version") or info.meta.get("source", ""),
            info.meta.get("built_at", "unfinished"),
        )
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # piped output: never fold names across lines
    console.print(table)


@corpus.command("remove")
@click.argument("name")
def remove(name) -> None:
    """Delete corpus NAME."""
    from provscan.corpus import CorpusError, remove_corpus

    try:
        remove_corpus(name)
    except CorpusError as error:
        _fail(str(error))
    click.echo(f"corpus {name!r} removed")


if __name__ == "__main__":
    main()
