"""Project configuration: `.provscan.toml` or `[tool.provscan]` in `pyproject.toml`, validated, as click defaults.

Where it is found: from the current directory upwards, the first directory holding a `.provscan.toml` or a
`pyproject.toml` with a `[tool.provscan]` table (`.provscan.toml` wins when a directory has both); the search stops
after the first directory that is a git work tree root (holds `.git`), so one project never reads another's
settings. `provscan --config FILE` names the file instead, `--no-config` ignores any. The scanned target is never
searched: a submission is untrusted data, and its own `.provscan.toml` must not be able to switch checks off.

Why click's `default_map`: the file only supplies defaults, so every CLI flag still overrides it and each command
reads its options exactly as before. Keys apply to every command that has the option; `[tool.provscan.scan]`,
`[tool.provscan.hook]` (also used by `provscan baseline`, whose fingerprints must match the hook's) and
`[tool.provscan.batch]` override them for one command. An unknown key or a value of the wrong type is an error
naming the file and the key: a misspelt `fail-on` silently ignored would let every commit through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provscan.rulesdata import read_user_toml

CONFIG_FILE = ".provscan.toml"
SECTIONS = ("scan", "hook", "batch")  # per-command tables


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Key:
    """One configuration key: the click parameter it sets, what it must be, and how to turn it into the value."""

    param: str
    expected: str
    check: Callable[[Any], bool]
    convert: Callable[[Any, Path], Any] = lambda value, _base: value


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_fraction(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _paths(value: list[str], base: Path) -> list[Path]:
    return [base / v for v in value]


KEYS: dict[str, Key] = {
    "corpora": Key("corpora", "a list of corpus names", _is_strings),
    "exclude": Key("exclude", "a list of gitignore-style patterns", _is_strings),
    "min-similarity": Key("min_similarity", "a number from 0 to 1", _is_fraction, lambda v, _b: float(v)),
    "min-containment": Key("min_containment", "a number from 0 to 1", _is_fraction, lambda v, _b: float(v)),
    "min-alignment": Key("min_alignment", "a number from 0 to 1", _is_fraction, lambda v, _b: float(v)),
    "min-shared-shingles": Key("min_shared_shingles", "an integer >= 1", lambda v: _is_int(v, 1)),
    "min-local-run": Key("min_local_run", "an integer >= 0", lambda v: _is_int(v, 0)),
    "corpus-order": Key("corpus_order", "a list of corpus names, upstream first", _is_strings),
    "min-tokens": Key("min_tokens", "an integer >= 5", lambda v: _is_int(v, 5)),
    "max-file-size": Key("max_file_size", "an integer number of bytes >= 1", lambda v: _is_int(v, 1)),
    "fail-on": Key("fail_on", "one of off, low, medium, high", lambda v: v in ("off", "low", "medium", "high")),
    "rules": Key("rule_files", "a list of rule file paths (relative to the config file)", _is_strings, _paths),
    "format": Key("fmt", "a report format name", lambda v: isinstance(v, str)),
    "jobs": Key("jobs", "an integer >= 1", lambda v: _is_int(v, 1)),
    "license-detection": Key("no_license_detection", "true or false", lambda v: isinstance(v, bool),
                             lambda v, _b: not v),
    "baseline": Key("baseline", "a file path (relative to the config file)", lambda v: isinstance(v, str) and v,
                    lambda v, base: base / v),
}


@dataclass
class ProjectConfig:
    """A validated configuration: where it came from and its values per section ("" = every command)."""

    path: Path
    label: str  # "[tool.provscan]" or the file name, for messages
    values: dict[str, dict[str, Any]]  # section -> config key -> raw value

    def for_command(self, section: str) -> dict[str, Any]:
        """Raw key -> value for one command: the top-level keys, then its own table's."""
        return {**self.values.get("", {}), **self.values.get(section, {})}


def find_config(start: Path) -> Path | None:
    """The configuration file that applies in `start` (see the module docstring for the rule), or None."""
    for directory in [start, *start.parents]:
        own = directory / CONFIG_FILE
        if own.is_file():
            return own
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "provscan" in _read_toml(pyproject).get("tool", {}):
            return pyproject
        if (directory / ".git").exists():
            return None
    return None


def load_config(path: Path) -> ProjectConfig:
    """Read and validate `path` (a `.provscan.toml`, or a `pyproject.toml` whose `[tool.provscan]` is used)."""
    data = _read_toml(path)
    label = path.name
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("provscan", {})
        label = "[tool.provscan]"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {label} must be a table")
    values: dict[str, dict[str, Any]] = {"": {}}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {label} key {key!r} must be a table of settings for `provscan {key}`")
            values[key] = {sub: _checked(path, f"{label} {key}.{sub}", sub, v) for sub, v in value.items()}
        else:
            values[""][key] = _checked(path, label, key, value)
    return ProjectConfig(path=path, label=label, values=values)


def _checked(path: Path, where: str, key: str, value: Any) -> Any:
    spec = KEYS.get(key)
    if spec is None:
        known = ", ".join(sorted([*KEYS, *SECTIONS]))
        raise ConfigError(f"{path}: unknown key {key!r} in {where} (known keys: {known})")
    if not spec.check(value):
        raise ConfigError(f"{path}: key {key!r} in {where} must be {spec.expected}, not {value!r}")
    return value


def _read_toml(path: Path) -> dict:
    return read_user_toml(path, ConfigError, "configuration")


def default_map(config: ProjectConfig, group) -> dict[str, Any]:
    """click `default_map` for `group` (the `cli` group): each command gets the keys it has an option for.

    A value outside an option's choices (say `format = "pdf"`) is reported here, naming the file and the key,
    rather than by click as a bad command-line value the user never typed.
    """
    import click

    result: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            # `provscan baseline create/update` scan with the hook's settings, so the hook's table applies.
            nested = {sub: _command_defaults(config, "hook", cmd) for sub, cmd in command.commands.items()}
            result[name] = {sub: values for sub, values in nested.items() if values}
            continue
        values = _command_defaults(config, name, command)
        if values:
            result[name] = values
    return result


def _command_defaults(config: ProjectConfig, section: str, command) -> dict[str, Any]:
    import click

    params = {p.name: p for p in command.params}
    base = config.path.parent
    values: dict[str, Any] = {}
    for key, raw in config.for_command(section).items():
        spec = KEYS[key]
        param = params.get(spec.param)
        if param is None:
            continue
        if isinstance(param.type, click.Choice) and raw not in param.type.choices:
            choices = ", ".join(map(str, param.type.choices))
            raise ConfigError(f"{config.path}: key {key!r} in {config.label} must be one of {choices}, not {raw!r}")
        values[spec.param] = spec.convert(raw, base)
    return values
