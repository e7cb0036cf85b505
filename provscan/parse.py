"""Parse stage: turn a decoded source file into a tree-sitter syntax tree.

Only parsing happens here (the tree is data; scanned code is never imported or run). Language detection lives in
`languages`, normalisation in `fragments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from provscan.languages import LanguageSpec, detect_language, grammar


@dataclass
class ParsedFile:
    """A file with its syntax tree; `source` is the UTF-8 encoding the tree's byte offsets refer to."""

    path: str
    language: LanguageSpec
    source: bytes
    tree: object  # tree_sitter.Tree


@cache
def _parser(language_name: str):
    import tree_sitter

    return tree_sitter.Parser(grammar(language_name))


def parse_text(path: str, text: str, language: LanguageSpec | None = None) -> ParsedFile | None:
    """Parse `text`; None when no grammar handles the file (the caller counts that as a skip)."""
    spec = language or detect_language(path, text)
    if spec is None:
        return None
    source = text.encode("utf-8", errors="surrogatepass")
    tree = _parser(spec.name).parse(source)
    return ParsedFile(path=path, language=spec, source=source, tree=tree)
