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
