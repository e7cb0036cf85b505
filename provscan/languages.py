"""Which language a file is in, and the tree-sitter grammar that parses it.

The table itself is data (`rules/languages.toml`); this module turns it into `LanguageSpec` objects, detects a
file's language by suffix or shebang, and loads grammar wheels lazily so a scan of Python code never pays for
loading the Rust grammar.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

from provscan.rulesdata import load_toml


@dataclass(frozen=True)
class LanguageSpec:
    """How to normalise one language's syntax tree (node-type sets come from the rule file)."""

    name: str
    extensions: frozenset[str]
    shebangs: frozenset[str]
    grammar_module: str
    grammar_function: str
    identifiers: frozenset[str]
    strings: frozenset[str]
    numbers: frozenset[str]
    comments: frozenset[str]
    functions: frozenset[str]
    classes: frozenset[str]
    requires_body: frozenset[str]
    drop_string_statements: bool


@cache
def all_languages() -> dict[str, LanguageSpec]:
    table = load_toml("languages.toml")
    specs = {}
    for name, entry in table.items():
        specs[name] = LanguageSpec(
            name=name,
            extensions=frozenset(entry.get("extensions", [])),
            shebangs=frozenset(entry.get("shebangs", [])),
            grammar_module=entry["grammar"]["module"],
            grammar_function=entry["grammar"]["function"],
            identifiers=frozenset(entry.get("identifiers", [])),
            strings=frozenset(entry.get("strings", [])),
            numbers=frozenset(entry.get("numbers", [])),
            comments=frozenset(entry.get("comments", [])),
            functions=frozenset(entry.get("functions", [])),
            classes=frozenset(entry.get("classes", [])),
            requires_body=frozenset(entry.get("requires_body", [])),
            drop_string_statements=bool(entry.get("drop_string_statements", False)),
        )
    return specs


@cache
def _by_extension() -> dict[str, LanguageSpec]:
    return {ext: spec for spec in all_languages().values() for ext in spec.extensions}


def _shebang_interpreter(first_line: str) -> str | None:
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].strip().split()
    if not words:
        return None
    program = PurePosixPath(words[0]).name
    if program == "env":
        args = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        program = args[0] if args else ""
    return program.rstrip("0123456789.") or program


def detect_language(path: str, text: str | None = None) -> LanguageSpec | None:
    """Language of a file by suffix, else by its shebang line; None when provscan has no parser for it."""
    suffix = PurePosixPath(path).suffix.lower()
    spec = _by_extension().get(suffix)
    if spec is not None or text is None:
        return spec
    interpreter = _shebang_interpreter(text[:200].split("\n", 1)[0])
    if interpreter is None:
        return None
    for candidate in all_languages().values():
        if interpreter in candidate.shebangs or interpreter in {s.rstrip("0123456789.") for s in candidate.shebangs}:
            return candidate
    return None


@cache
def grammar(name: str):
    """The tree-sitter `Language` for a language name, imported on first use."""
    import tree_sitter

    spec = all_languages()[name]
    module = importlib.import_module(spec.grammar_module)
    return tree_sitter.Language(getattr(module, spec.grammar_function)())
