"""What every provscan command shares: exit codes, the fatal-error exit, and scan settings built from options.

A module of its own so that `provscan.cli` and `provscan.workflow_cli` (which `cli` registers) both use one copy
without importing each other. Like them it imports only click at start-up; the engine is imported inside functions.
Exit codes: 0 nothing at or above --fail-on, 1 findings at or above --fail-on, 2 usage or fatal error.
"""

from __future__ import annotations

import sys

import click

EXIT_FINDINGS = 1
EXIT_ERROR = 2
FAIL_ON = ("off", "low", "medium", "high")


def fail(message: str) -> None:
    click.echo(f"provscan: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


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
    click.option("--min-tokens", type=click.IntRange(5), default=None, help="Minimum fragment size in tokens."),
)


def threshold_options(command):
    """The match thresholds every scanning command takes; they reach the command as keyword arguments, which it
    passes on whole (`**thresholds`) to `settings_from_options`."""
    for option in reversed(THRESHOLD_OPTIONS):
        command = option(command)
    return command


def walk_options(exclude: tuple[str, ...], max_file_size: int | None):
    from provscan.walk import WalkOptions

    options = WalkOptions(exclude=tuple(exclude))
    return options if max_file_size is None else WalkOptions(exclude=tuple(exclude), max_file_bytes=max_file_size)


def settings_from_options(names: tuple[str, ...], rules: tuple[str, ...], walk, jobs: int | None, thresholds: dict,
                          **flags):
    """ScanSettings from the options: match thresholds and min-tokens given on the command line or in the config."""
    from dataclasses import replace

    from provscan.scan import ScanSettings

    settings = ScanSettings(corpora=names, jobs=jobs, rules=rules, walk=walk, **flags)
    given = {key: value for key, value in thresholds.items() if value is not None}
    settings.min_tokens = given.pop("min_tokens", settings.min_tokens)
    settings.match = replace(settings.match, **given)
    return settings
