"""Clones of real functions in any language provscan parses, for the mutation suite (tests and bench/).

The clone types follow the usual taxonomy (Roy & Cordy): type 1 changes layout and comments only; type 2 also
renames identifiers and changes literals; type 3 also adds and removes statements. The edits are made on the
tree-sitter syntax tree with byte ranges, so one implementation serves every language; what each edit does is
fixed here, independently of the matcher under test, so the expected (original, clone) pairs are known by
construction. Nothing is compiled or run.
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass
from difflib import SequenceMatcher

from provscan.languages import LanguageSpec, all_languages
from provscan.parse import parse_text

# A statement each language accepts anywhere a statement goes: what a type-3 insertion adds.
PROBE_STATEMENT = {
    "python": "probe_{n} = len(str({n})) % 7",
    "c": "int probe_{n} = {n} % 7;",
    "cpp": "int probe_{n} = {n} % 7;",
    "cuda": "int probe_{n} = {n} % 7;",
    "java": "int probe{n} = {n} % 7;",
    "javascript": "let probe{n} = {n} % 7;",
    "typescript": "let probe{n} = {n} % 7;",
    "go": "probe{n} := {n} % 7",
    "rust": "let probe_{n} = {n} % 7;",
}
# What a deleted statement leaves behind (Python blocks may not be empty).
DELETED_STATEMENT = {"python": "pass"}
# Languages whose methods only parse inside a class body: the suite wraps every function of theirs in one.
WRAP_IN_CLASS = {"java": "class Suite{n} {{\n{body}\n}}\n", "javascript": "class Suite{n} {{\n{body}\n}}\n",
                 "typescript": "class Suite{n} {{\n{body}\n}}\n"}
CLONE_TYPES = ("t1", "t2", "t3-10", "t3-30")
EDIT_RATES = {"t3-10": 0.10, "t3-30": 0.30}


@dataclass
class Clones:
    """One original function and its clones, keyed by clone type."""

    original: str
    clones: dict[str, str]


def _spec(language: str) -> LanguageSpec:
    return all_languages()[language]


def suffix_of(language: str) -> str:
    """The file suffix the suite writes a language's functions with (C++'s first suffix sorted is ".c++")."""
    return sorted(_spec(language).extensions)[0] if language != "cpp" else ".cpp"


def _tree(source: str, language: str):
    return parse_text(f"x{suffix_of(language)}", source, _spec(language))


def _walk(node):
    cursor = node.walk()
    visited = False
    while True:
        if not visited:
            yield cursor.node
            if cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited = False
            continue
        if not cursor.goto_parent():
            return
        visited = True


def _replace(source: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply non-overlapping (start, end, replacement) byte edits."""
    out, last = [], 0
    for start, end, text in sorted(edits):
        if start < last:
            continue  # nested in an edit already made (a comment inside a string, say)
        out += [source[last:start], text]
        last = end
    out.append(source[last:])
    return b"".join(out)


def wrap(source: str, language: str, n: int) -> str:
    """The function as a file of its own: in a class where the language needs one for methods."""
    template = WRAP_IN_CLASS.get(language)
    return template.format(n=n, body=source) if template else source


def functions_of(text: str, language: str, min_lines: int = 6, max_lines: int = 120) -> list[str]:
    """Outermost function definitions of a file, dedented, each as a standalone source."""
    parsed = _tree(text, language)
    spec = parsed.language
    found = []

    def visit(node) -> None:
        for child in node.children:
            if child.type in spec.functions and child.type not in ("arrow_function", "function_expression",
                                                                   "lambda_expression", "func_literal"):
                lines = child.end_point[0] - child.start_point[0] + 1
                if min_lines <= lines <= max_lines and not child.has_error:
                    body = parsed.source[child.start_byte : child.end_byte].decode("utf-8", "replace")
                    indent = parsed.source[: child.start_byte].rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
                    found.append(textwrap.dedent(indent.replace(indent.strip(), "") + body) + "\n")
            else:
                visit(child)

    visit(parsed.tree.root_node)
    return found


def type1(source: str, language: str) -> str:
    """Comments removed, indentation halved, blank lines dropped: layout only."""
    parsed = _tree(source, language)
    comments = [(n.start_byte, n.end_byte, b"") for n in _walk(parsed.tree.root_node)
                if n.type in parsed.language.comments]
    text = _replace(parsed.source, comments).decode("utf-8")
    out = []
    for line in text.expandtabs(4).splitlines():
        stripped = line.strip()
        if stripped:
            out.append(" " * ((len(line) - len(line.lstrip())) // 2) + stripped)
    return "\n".join(out) + "\n"


def type2(source: str, language: str) -> str:
    """Type 1, then every identifier renamed consistently and every literal changed."""
    source = type1(source, language)
    parsed = _tree(source, language)
    spec = parsed.language
    names: dict[bytes, bytes] = {}
    edits = []
    for node in _walk(parsed.tree.root_node):
        if node.type in spec.identifiers and node.child_count == 0:
            old = parsed.source[node.start_byte : node.end_byte]
            sigil = old[:1] if old[:1] in (b"#", b"$", b"@") else b""  # JS private names keep their "#"
            stem = old[len(sigil) :][:2].decode("ascii", "replace")
            new = names.setdefault(old, sigil + f"v{len(names)}_{stem}".encode())
            edits.append((node.start_byte, node.end_byte, new))
        elif node.type in spec.numbers:
            edits.append((node.start_byte, node.end_byte, b"17"))
        elif node.type in spec.strings and node.child_count <= 3 and node.start_byte < node.end_byte:
            quote = parsed.source[node.start_byte : node.start_byte + 1]
            if quote in (b'"', b"'", b"`"):
                edits.append((node.start_byte, node.end_byte, quote + b"s" + quote))
    return _replace(parsed.source, edits).decode("utf-8", "replace")


def _simple_statements(parsed) -> list:
    """Statements on one line of their own, not compound (no block inside): the ones type 3 edits."""
    found = []
    for node in _walk(parsed.tree.root_node):
        kind = node.type
        compound = kind.startswith(("function", "class")) or "parameter" in kind
        if compound or not kind.endswith(("statement", "declaration")):
            continue
        if node.start_point[0] != node.end_point[0] or any("block" in c.type or "body" in c.type
                                                           for c in node.children):
            continue
        line = parsed.source.split(b"\n")[node.start_point[0]]
        if line.strip() == parsed.source[node.start_byte : node.end_byte].strip():
            found.append(node)
    return found


def type3(source: str, language: str, rate: float, rng: random.Random) -> str:
    """Type 2, then `rate` of the one-line statements deleted or followed by an inserted statement."""
    source = type2(source, language)
    parsed = _tree(source, language)
    statements = _simple_statements(parsed)
    if not statements:
        raise ValueError("no one-line statements to edit")
    lines = source.split("\n")
    count = max(1, round(rate * len(statements)))
    for serial, node in enumerate(sorted(rng.sample(statements, min(count, len(statements))),
                                         key=lambda n: -n.start_point[0])):
        row = node.start_point[0]
        indent = lines[row][: len(lines[row]) - len(lines[row].lstrip())]
        if rng.random() < 0.5 and "return" not in node.type:
            lines[row] = indent + DELETED_STATEMENT.get(language, "")
        else:
            lines.insert(row + 1, indent + PROBE_STATEMENT[language].format(n=serial + 3))
    return "\n".join(line for line in lines if line.strip()) + "\n"


def leaf_types(source: str, language: str) -> list[str]:
    """The grammar's own token stream with names and literals abstracted (leaf node types, comments left out).

    An outside yardstick for "these two functions are near clones anyway" (generated dispatch code, overload
    families): the suite uses it to keep such pairs out of its negatives, so a negative is really a different
    function, without using provscan's own normaliser to decide its own ground truth.
    """
    parsed = _tree(source, language)
    return [n.type for n in _walk(parsed.tree.root_node)
            if n.child_count == 0 and n.type not in parsed.language.comments]


def near_clone(a: list[str], b: list[str], threshold: float = 0.6) -> bool:
    """difflib's similarity ratio of two leaf-type streams reaches `threshold`."""
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold \
        and matcher.ratio() >= threshold


def make_clones(source: str, language: str, rng: random.Random) -> Clones:
    """All clone types of one function; ValueError when a type cannot be made from it."""
    clones = {"t1": type1(source, language), "t2": type2(source, language)}
    for kind, rate in EDIT_RATES.items():
        clones[kind] = type3(source, language, rate, rng)
    return Clones(original=source, clones=clones)
