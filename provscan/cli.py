"""Command line: `provscan scan`, `provscan corpus ...`, `provscan compare`.

Heavy modules (tree-sitter, numpy, datasketch) are imported inside the commands, so `provscan --help` starts fast.
Exit codes (`provscan.cli_common`): 0 nothing at or above --fail-on, 1 findings at or above --fail-on, 2 usage or
fatal error, 3 internal error, 130 interrupted, 141 output closed early.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from provscan import __version__
from provscan.cli_common import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    FAIL_ON,
    build_default,
    check_output,
    check_rules,
    common_note,
    exit_interrupted,
    exit_on,
    progress_bar,
    ready_corpora,
    say,
    settings_from_options,
    threshold_options,
    walk_options,
)
from provscan.cli_common import fail as _fail

REPORT_FORMATS = ("text", "json", "html", "sarif")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provscan")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Project configuration to use (default: .provscan.toml or [tool.provscan] in pyproject.toml, "
              "found from the current directory upwards).")
@click.option("--no-config", is_flag=True, help="Ignore any project configuration file.")
@click.option("--index", "index_url", metavar="URL", default=None,
              help="Shared corpus index, e.g. redis://host:6379/0 (default: $PROVSCAN_INDEX, else the embedded one "
              "in the cache directory).")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, no_config: bool, index_url: str | None) -> None:
    """Find code in a submission that comes from known open-source model projects, with line-level evidence."""
    from provscan.config import ConfigError, default_map, find_config, load_config

    if index_url is not None:
        os.environ["PROVSCAN_INDEX"] = index_url  # read by provscan.store here and in every worker process

    try:
        path = None if no_config else config_file or find_config(Path.cwd())
        if path is not None:
            ctx.default_map = default_map(load_config(path), cli)
    except ConfigError as error:
        _fail(str(error))


def main() -> None:
    """Console entry point. Click's own `main` is not used: it makes Ctrl-C and a closed pipe exit 1, which here
    means "findings". Ctrl-C exits 130, a reader that went away 141, an unexpected exception 3 (`cli_common`)."""
    try:
        with cli.make_context("provscan", sys.argv[1:]) as ctx:
            cli.invoke(ctx)
        sys.stdout.flush()
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        exit_interrupted("interrupted; no report written")
    except BrokenPipeError:
        _stdout_gone()
        say("the report's reader closed the output before the end (broken pipe); the report is incomplete")
        sys.exit(EXIT_BROKEN_PIPE)
    except Exception as error:  # noqa: BLE001 - a bug: said as one, with the file it was reading
        _internal_error(error)


def _stdout_gone() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of a closed pipe raises nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _internal_error(error: Exception) -> None:
    import traceback

    from provscan.diagnostics import where_it_failed

    traceback.print_exception(error, file=sys.stderr)
    where = where_it_failed(error)
    say(f"internal error{f' while reading {where}' if where else ''}: {type(error).__name__}: {error}. This is a "
        f"bug in provscan, not a finding; please report it with the traceback above (exit {EXIT_INTERNAL})")
    sys.exit(EXIT_INTERNAL)


@cli.command(short_help="Scan a directory, file or archive against the corpora.")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--corpus", "corpora", multiple=True, metavar="NAME",
              help="Corpus to match against (repeatable; default: transformers).")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--html", "html_output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the self-contained HTML report to FILE.")
@threshold_options
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
def scan(target, corpora, fmt, output, html_output, fail_on, exclude, max_file_size, jobs, rule_files,
         no_license_detection, **thresholds) -> None:
    """Scan TARGET (a directory, file or archive) against the corpora."""
    from provscan.corpus import CorpusError
    from provscan.index import CorpusIndexError
    from provscan.scan import scan as run_scan
    from provscan.walk import WalkError

    if not target.exists():
        _fail(f"{target}: no such file or directory")
    rules = check_rules(rule_files)
    settings = settings_from_options(tuple(corpora), rules, walk_options(exclude, max_file_size), jobs, thresholds,
                                     license_detection=not no_license_detection)
    for path in (output, html_output):
        check_output(path)
    settings.corpora = ready_corpora(tuple(corpora), jobs)
    try:
        with progress_bar("scanning") as update:
            result = run_scan(target, settings, progress=lambda _stage, done, total: update(done, total))
    except (WalkError, CorpusError, CorpusIndexError) as error:
        _fail(str(error))
    _emit(result, fmt, output)
    if html_output is not None:
        _emit(result, "html", html_output)
    _fail_if_nothing_scanned(result)
    exit_on(result.findings, fail_on)


def _fail_if_nothing_scanned(result, side: str = "") -> None:
    """A scan that read no code and no model artifact has checked nothing: say so, and exit 2 rather than 0."""
    if not result.nothing_scanned:
        return
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(result.skipped().items()))
    _fail(f"nothing was scanned in {side or result.target}: {result.walk.files_seen} file(s) seen, none of them code "
          f"provscan reads or a model artifact" + (f" (skipped: {skipped})" if skipped else ""))


def _report_writer(fmt: str):
    """The writer (result, out) of a report format; its module is imported only when that format is asked for."""
    if fmt == "json":
        from provscan.report import write_json as writer
    elif fmt == "html":
        from provscan.html_report import write_html as writer
    elif fmt == "sarif":
        from provscan.sarif import write_sarif as writer
    else:
        from provscan.report import write_text as writer
    return writer


def _emit(result, fmt: str, output: Path | None) -> None:
    writer = _report_writer(fmt)
    if fmt == "text" and output is None:
        _write_to(lambda out: writer(result, out, color=sys.stdout.isatty()), None)
    else:
        _write_to(lambda out: writer(result, out), output)


def _to_stdout(write) -> None:
    """write(out) into memory, then onto stdout with os.write, to the last byte or a BrokenPipeError.

    Why not write to sys.stdout directly: when the reader of a pipe goes away during one large write (an HTML page
    is one), Python's buffered stdout can drop the bytes not yet written without raising, and the report would read
    as complete: a short os.write is retried, and the retry meets the closed pipe.
    """
    import io

    rendered = io.StringIO()
    write(rendered)
    stream = sys.stdout
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (click's test runner): write as usual
        stream.write(rendered.getvalue())
        return
    stream.flush()
    data = memoryview(rendered.getvalue().encode(stream.encoding or "utf-8", stream.errors or "strict"))
    while data:
        data = data[os.write(descriptor, data):]


def _write_to(write, output: Path | None) -> None:
    """Run write(out) on stdout or on the file `output` (a clear error when it cannot be written)."""
    from provscan.diagnostics import reading

    if output is None:
        _to_stdout(write)
        return
    try:
        with reading(f"{output} (writing the report)"), output.open("w", encoding="utf-8") as handle:
            write(handle)
    except OSError as error:
        _fail(f"{output}: cannot write report: {error.strerror}")
    say(f"report written to {output}")


@cli.group(short_help="Manage the corpora of known code (kept in the cache directory).")
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


@corpus.command("build-default", short_help="Build or update the default corpus (installed transformers).")
@_fingerprint_options
def build_default_command(jobs, k, min_tokens) -> None:
    """Build (or update) the default corpus from the installed transformers package's models/ folder."""
    build_default(jobs, **_corpus_settings(k, min_tokens))


@corpus.command("add", short_help="Add or update corpus NAME from a directory, clone or archive.")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--split-projects", is_flag=True,
              help="Each top-level directory of PATH is its own project, and each top-level file (a flat folder "
                   "of one file per model: llama.py -> project llama).")
@_fingerprint_options
def add(name, path, split_projects, jobs, k, min_tokens) -> None:
    """Add (or update) corpus NAME from PATH: a directory, a clone or an archive."""
    from provscan.corpus import CorpusError, add_corpus
    from provscan.walk import WalkError

    try:
        with progress_bar(f"indexing {name}", plain=True) as update:
            report = add_corpus(name, path, split_projects=split_projects, jobs=jobs, progress=update, on_wait=say,
                                **_corpus_settings(k, min_tokens))
    except (CorpusError, WalkError) as error:
        _fail(str(error))
    skipped = sum(report.walk.skipped.values()) + sum(report.skipped.values())
    click.echo(
        f"corpus {name!r}: {report.files_indexed} files indexed, {report.files_unchanged} unchanged, "
        f"{report.files_removed} removed, {skipped} skipped, {report.fragments} fragments in {report.seconds:.1f}s; "
        f"{common_note(report)}"
    )


@corpus.command("list")
def list_() -> None:
    """List the corpora with their size and origin."""
    from rich.table import Table

    from provscan.corpus import CorpusError, list_corpora, storage

    try:
        infos = list_corpora()
    except CorpusError as error:
        _fail(str(error))
    where = storage().location
    if not infos:
        click.echo(f"no corpora in {where}; run `provscan corpus build-default`")
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
    click.echo(f"{len(infos)} {'corpus' if len(infos) == 1 else 'corpora'} in {where}")


@corpus.command("remove")
@click.argument("name")
def remove(name) -> None:
    """Delete corpus NAME."""
    from provscan.corpus import CorpusError, remove_corpus

    try:
        remove_corpus(name, on_wait=say)
    except CorpusError as error:
        _fail(str(error))
    click.echo(f"corpus {name!r} removed")


# -- provscan compare: two repositories against each other, no corpus (logic in provscan.compare) ---------------
@cli.command(short_help="Compare two repositories with each other (no corpus).")
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--html", "html_output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the self-contained HTML report (both directions) to FILE.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="off", show_default=True,
              help="Exit 1 when a finding in either direction has at least this severity.")
@click.option("--min-tokens", type=click.IntRange(5), default=None, help="Minimum fragment size in tokens.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="gitignore-style pattern to skip (repeatable).")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="Worker processes (default: all cores).")
@click.option("--no-license-detection", is_flag=True, help="Skip scancode's licence detection (~5 s, 1.4 GB).")
def compare(a, b, fmt, output, html_output, fail_on, min_tokens, exclude, jobs, no_license_detection) -> None:
    """Compare repositories (or archives) A and B directly: B's code found in A, and A's code found in B."""
    from provscan.compare import comparing, write_comparison
    from provscan.corpus import CorpusError
    from provscan.index import CorpusIndexError
    from provscan.scan import ScanSettings
    from provscan.walk import WalkError, WalkOptions

    settings = ScanSettings(jobs=jobs, license_detection=not no_license_detection,
                            walk=WalkOptions(exclude=tuple(exclude)))
    if min_tokens is not None:
        settings.min_tokens = min_tokens
    color = fmt == "text" and output is None and sys.stdout.isatty()
    for path in (output, html_output):
        check_output(path)
    try:
        with progress_bar("indexing both sides") as update, comparing(a, b, settings, progress=update) as comparison:
            _write_to(lambda out: write_comparison(comparison, fmt, out, color=color), output)
            if html_output is not None:
                _write_to(lambda out: write_comparison(comparison, "html", out), html_output)
            directions = comparison.directions
    except (WalkError, CorpusError, CorpusIndexError) as error:
        _fail(str(error))
    for direction in directions:
        _fail_if_nothing_scanned(direction.result, direction.submission)
    exit_on([f for direction in directions for f in direction.result.findings], fail_on, " (either direction)")


# Workflows beside the one-off scan (pre-commit hook, baselines, batch scans) live in a module of their own.
from provscan.workflow_cli import baseline, batch, hook  # noqa: E402

cli.add_command(hook)
cli.add_command(baseline)
cli.add_command(batch)


# --- reference models (provscan.models) ------------------------------------------------------------------------
@corpus.command("add-model", short_help="Register a local model directory as reference model NAME.")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def add_model(name, path) -> None:
    """Register the model directory PATH (config.json, tokenizer, *.safetensors) as reference model NAME.

    Stores a compact fingerprint (config facts, tokenizer, tensor hashes, sampled weights), never the weights.
    Scans compare every model directory they find with all registered reference models.
    """
    from provscan.models.refstore import ReferenceError
    from provscan.models.refstore import add_model as register

    try:
        profile = register(name, path)
    except ReferenceError as error:
        _fail(str(error))
    summary = profile.summary()
    weights = summary["weights"]
    parts = [f"{len(profile.files)} file(s) read"]
    if weights:
        parts.append(f"{weights['tensors']} tensors, {weights['parameters']:,} parameters")
    if summary["tokenizer"]:
        parts.append(f"tokenizer of {summary['tokenizer']['vocab_size']} tokens")
    click.echo(f"reference model {name!r}: " + ", ".join(parts))
    for error in profile.errors:
        click.echo(f"provscan: warning: {error}", err=True)


@corpus.command("models")
def models() -> None:
    """List the registered reference models."""
    from provscan.models.refstore import list_models, models_dir

    infos = list_models()
    if not infos:
        click.echo(f"no reference models in {models_dir()}; add one with `provscan corpus add-model NAME PATH`")
        return
    for info in infos:
        if "error" in info.meta:
            click.echo(f"{info.name}\tunreadable: {info.meta['error']}")
            continue
        weights = info.summary.get("weights") or {}
        tokenizer = info.summary.get("tokenizer") or {}
        click.echo(f"{info.name}\t{info.summary['facts'].get('model_type', '-')}\t"
                   f"{weights.get('parameters', 0):,} parameters\t{tokenizer.get('vocab_size', 0)} tokens\t"
                   f"{info.meta.get('source', '')}\t{info.meta.get('added_at', '')}")


@corpus.command("remove-model")
@click.argument("name")
def remove_model(name) -> None:
    """Delete reference model NAME."""
    from provscan.models.refstore import ReferenceError
    from provscan.models.refstore import remove_model as remove

    try:
        remove(name)
    except ReferenceError as error:
        _fail(str(error))
    click.echo(f"reference model {name!r} removed")


if __name__ == "__main__":
    main()
