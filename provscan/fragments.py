"""Fragments stage: normalise a syntax tree into a token stream and cut it into fragments.

Normalisation is what makes matching survive renaming and reformatting: comments and docstrings are dropped,
every identifier becomes one token class (ID), literals become their kind (STR, NUM), and layout disappears because
only leaf tokens are kept. Each token keeps its source line, so evidence maps back to lines on both sides.

Normalising literals to STR makes a copy with reworded messages match, but it also throws away evidence: an error
message of 60 characters found word for word in a corpus file was copied, whatever the code around it. So each long
string literal is hashed beside the token stream (`NormalisedFile.literals`: the STR token's place and the hash of
its text, with whitespace collapsed and interpolations emptied, so a renamed `{x}` in an f-string still agrees).

A fragment is a token range of the file's stream: every function, method and class (nested ones too) of at least
`min_tokens` normalised tokens, plus the file as a whole. Because normalisation is context-free per token, a
fragment's tokens are exactly a slice of the file's tokens, which lets the corpus store one stream per file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import xxhash

from provscan.parse import ParsedFile

ID, STR, NUM = "ID", "STR", "NUM"
# A literal this long (in characters, after whitespace is collapsed and interpolations emptied) is hashed as evidence:
# about four words, longer than the names, dtype strings and short keys that any two code bases share.
LITERAL_MIN_CHARS = 24
_QUOTED = re.compile(r'^[A-Za-z@]{0,3}("""|\'\'\'|"|\'|`)(.*)\1$', re.DOTALL)
_INTERPOLATION = re.compile(r"\{[^{}]*\}")

_code_cache: dict[str, int] = {}


def token_code(token: str) -> int:
    """Stable 32-bit code of a normalised token (same in every process and run)."""
    code = _code_cache.get(token)
    if code is None:
        code = xxhash.xxh32_intdigest(token.encode("utf-8"))
        _code_cache[token] = code
    return code


@dataclass
class Fragment:
    """A function, method, class or whole file, as a token range [tok_start, tok_end) of its file's stream."""

    kind: str  # "file" | "class" | "function" | "method"
    name: str
    start_line: int  # 1-based, inclusive
    end_line: int
    tok_start: int
    tok_end: int
    parent: int | None = None  # index of the enclosing fragment in NormalisedFile.fragments

    @property
    def n_tokens(self) -> int:
        return self.tok_end - self.tok_start


@dataclass
class NormalisedFile:
    """A file's normalised token stream (codes and 1-based source lines) and its fragments."""

    path: str
    language: str
    codes: np.ndarray  # uint32 token codes
    lines: np.ndarray  # uint32 source line of each token
    fragments: list[Fragment] = field(default_factory=list)
    error_nodes: int = 0
    total_lines: int = 0
    comments: list[tuple[int, str]] = field(default_factory=list)  # (line, text), only when asked for
    # (token index of the STR token, hash of the text) of each literal of at least LITERAL_MIN_CHARS, uint32 (n, 2)
    literals: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.uint32))

    @property
    def code_lines(self) -> int:
        """Lines holding at least one normalised token (blank, comment and docstring lines do not count)."""
        return int(np.unique(self.lines).size)


def _fragment_name(node, source: bytes) -> str:
    name = node.child_by_field_name("name")
    if name is None:
        for field_name in ("declarator", "type"):
            sub = node.child_by_field_name(field_name)
            while sub is not None and sub.child_by_field_name("declarator") is not None:
                sub = sub.child_by_field_name("declarator")
            if sub is not None:
                name = sub
                break
    if name is None and node.parent is not None and node.parent.type in ("variable_declarator", "pair"):
        name = node.parent.child_by_field_name("name") or node.parent.child_by_field_name("key")
    if name is None:
        return "<anonymous>"
    text = source[name.start_byte : name.end_byte].decode("utf-8", errors="replace")
    return text.split("(", 1)[0].strip()[:120] or "<anonymous>"


def _text(source: bytes, node) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def literal_text(node, source: bytes) -> str:
    """A string literal's text as evidence: quotes and prefixes off, parts of a concatenation joined, whitespace
    collapsed, interpolations emptied (`f"got {x}"` and `f"got {value}"` agree)."""
    return " ".join(_INTERPOLATION.sub("{}", _unquoted(node, source)).split())


def _unquoted(node, source: bytes) -> str:
    if node.type == "concatenated_string":
        return "".join(_unquoted(child, source) for child in node.named_children)
    text = _text(source, node)
    quoted = _QUOTED.match(text)
    return quoted.group(2) if quoted else text


def literal_hash(text: str) -> int:
    return xxhash.xxh32_intdigest(text.encode("utf-8"))


def _is_docstring(node, spec) -> bool:
    return (
        spec.drop_string_statements
        and node.type == "expression_statement"
        and node.named_child_count == 1
        and node.named_children[0].type in spec.strings
    )


def normalise(parsed: ParsedFile, min_tokens: int = 30, keep_comments: bool = False) -> NormalisedFile:
    """Walk the tree once, emitting normalised tokens and recording fragment token ranges.

    With `keep_comments`, comment and docstring texts are kept too (submissions only: the language of comments
    is provenance evidence; the corpus does not need them)."""
    spec = parsed.language
    source = parsed.source
    codes: list[int] = []
    lines: list[int] = []
    fragments: list[Fragment] = []
    open_frags: list[tuple[int, int]] = []  # (depth, fragment index)
    errors = 0
    comments: list[tuple[int, str]] = []
    literals: list[tuple[int, int]] = []
    id_code, str_code, num_code = token_code(ID), token_code(STR), token_code(NUM)
    fragment_types = spec.functions | spec.classes

    cursor = parsed.tree.walk()
    depth = 0
    root = cursor.node
    total_lines = root.end_point[0] + 1 if source else 0
    fragments.append(Fragment("file", parsed.path.rsplit("/", 1)[-1], 1, max(total_lines, 1), 0, 0))
    while True:
        node = cursor.node
        node_type = node.type
        descend = False
        if node_type in spec.comments or node.is_missing:
            if keep_comments and not node.is_missing:
                comments.append((node.start_point[0] + 1, _text(source, node)))
        elif node_type in spec.strings:
            text = literal_text(node, source)
            if len(text) >= LITERAL_MIN_CHARS:
                literals.append((len(codes), literal_hash(text)))
            codes.append(str_code)
            lines.append(node.start_point[0] + 1)
        elif node.child_count == 0:
            # Zero-width leaves (missing tokens, implicit newlines) carry no text and are not tokens.
            if node.end_byte > node.start_byte:
                if node_type in spec.identifiers:
                    codes.append(id_code)
                elif node_type in spec.numbers:
                    codes.append(num_code)
                elif node.is_named:
                    codes.append(token_code(source[node.start_byte : node.end_byte].decode("utf-8", "replace")))
                else:
                    codes.append(token_code(node_type))
                lines.append(node.start_point[0] + 1)
        elif _is_docstring(node, spec):
            if keep_comments:
                comments.append((node.start_point[0] + 1, _text(source, node)))
        else:
            descend = True
            if node_type == "ERROR":
                errors += 1
            if node_type in fragment_types and (
                node_type not in spec.requires_body or node.child_by_field_name("body") is not None
            ):
                kind = "class" if node_type in spec.classes else "function"
                parent = open_frags[-1][1] if open_frags else 0
                if kind == "function" and fragments[parent].kind == "class":
                    kind = "method"
                fragments.append(
                    Fragment(
                        kind,
                        _fragment_name(node, source),
                        node.start_point[0] + 1,
                        node.end_point[0] + 1,
                        len(codes),
                        len(codes),
                        parent,
                    )
                )
                open_frags.append((depth, len(fragments) - 1))
        if descend and cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                break
            depth -= 1
            if open_frags and open_frags[-1][0] == depth:
                fragments[open_frags.pop()[1]].tok_end = len(codes)
        else:
            continue
        break

    fragments[0].tok_end = len(codes)
    kept = _drop_small(fragments, min_tokens)
    return NormalisedFile(
        path=parsed.path,
        language=spec.name,
        codes=np.asarray(codes, dtype=np.uint32),
        lines=np.asarray(lines, dtype=np.uint32),
        fragments=kept,
        error_nodes=errors,
        total_lines=total_lines,
        comments=comments,
        literals=np.asarray(literals, dtype=np.uint32).reshape(-1, 2),
    )


def _drop_small(fragments: list[Fragment], min_tokens: int) -> list[Fragment]:
    """Keep the file fragment and every fragment of at least `min_tokens`; re-point parents past dropped ones."""
    new_index: dict[int, int] = {}
    kept: list[Fragment] = []
    for index, frag in enumerate(fragments):
        if index == 0 or frag.n_tokens >= min_tokens:
            parent = frag.parent
            while parent is not None and parent not in new_index:
                parent = fragments[parent].parent
            frag.parent = new_index.get(parent) if parent is not None else None
            new_index[index] = len(kept)
            kept.append(frag)
    return kept
