"""Build mutated copies of real Python source for tests and benchmarks.

The mutations are the ones a submission would use to hide where code came from: identifiers renamed, headers and
comments stripped, top-level definitions reordered, indentation and spacing changed, statements inserted. The
original is located with the standard `ast` module (parsing only; nothing is executed), so the expected mapping
from every mutated function back to its source lines is known independently of provscan.
"""

from __future__ import annotations

import ast
import io
import random
import re
import tokenize
from dataclasses import dataclass


@dataclass
class Definition:
    qualname: str
    kind: str  # "function" | "class"
    start_line: int
    end_line: int


def definitions(source: str) -> dict[str, Definition]:
    """Every function and class, keyed by dotted qualified name, with its def/class line and last line."""
    found: dict[str, Definition] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                found.setdefault(name, Definition(name, kind, child.lineno, child.end_lineno or child.lineno))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def strip_comments(source: str) -> str:
    """Drop every comment (including the licence header) with the tokenizer, keeping code intact."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.COMMENT]
    text = tokenize.untokenize(tokens)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def rename(source: str, mapping: dict[str, str]) -> str:
    """Replace whole-word identifiers (and substrings of names for mapping keys that are name parts)."""
    for old, new in mapping.items():
        source = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}", new, source)
    return source


def reorder_top_level(source: str, rng: random.Random) -> str:
    """Shuffle the order of top-level function and class definitions (decorators travel with them)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    blocks = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            blocks.append((start, node.end_lineno))
    if not blocks:
        return source
    head = lines[: blocks[0][0]]
    tail = lines[blocks[-1][1] :]
    chunks = ["\n".join(lines[s:e]) for s, e in blocks]
    rng.shuffle(chunks)
    return "\n".join(head + ["\n\n".join(chunks)] + tail) + "\n"


def reindent(source: str, width: int = 2) -> str:
    """Re-indent 4-space blocks to `width` spaces and add spaces inside brackets (layout only)."""
    out = []
    for line in source.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        out.append(" " * (width * depth) + stripped)
    return "\n".join(out) + "\n"


def insert_statements(source: str, rng: random.Random, count: int, min_body_lines: int = 8) -> tuple[str, list[str]]:
    """Insert a harmless assignment as the first statement of `count` functions with long bodies."""
    tree = ast.parse(source)
    targets = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and (n.end_lineno - n.body[0].lineno) >= min_body_lines
        and not isinstance(n.body[0], ast.Expr)
    ]
    chosen = sorted(rng.sample(targets, min(count, len(targets))), key=lambda n: -n.body[0].lineno)
    lines = source.splitlines()
    for node in chosen:
        first = node.body[0]
        indent = lines[first.lineno - 1][: first.col_offset]
        lines.insert(first.lineno - 1, f"{indent}_trace_counter = len(locals()) + 1")
    return "\n".join(lines) + "\n", [n.name for n in chosen]


def mutate(source: str, renames: dict[str, str], seed: int = 0, inserts: int = 3) -> tuple[str, dict[str, str]]:
    """All mutations together; returns the mutated text and mutated-qualname -> original-qualname."""
    rng = random.Random(seed)
    originals = definitions(source)
    text = strip_comments(source)
    text = rename(text, renames)
    text = reorder_top_level(text, rng)
    text, _ = insert_statements(text, rng, inserts)
    text = reindent(text)
    mapping = {}
    for qualname in originals:
        mapping[rename(qualname, renames)] = qualname
    return text, mapping


def code_tokens(source: str, definition: Definition) -> int:
    """Python tokens (names, operators, literals; no comments or layout) of one definition, via `tokenize`."""
    lines = source.splitlines(keepends=True)[definition.start_line - 1 : definition.end_line]
    indent = len(lines[0]) - len(lines[0].lstrip())
    text = "".join(line[indent:] if line[:indent].isspace() else line for line in lines)
    kinds = {tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING}
    try:
        return sum(1 for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type in kinds)
    except (tokenize.TokenError, IndentationError):
        return 0
