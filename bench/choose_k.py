"""Choose the shingle size k by measurement: recall on labelled clones against false alarms on unrelated code.

What it measures. For each k (FingerprintSettings.k) a corpus is built with `provscan.corpus.add_corpus` from one
fixed slice of the installed transformers models/ folder (every Nth model folder, sorted, plus the source folders
of the positives), and one submission is scanned against it with `provscan.scan.scan`:

* Positives: real functions and methods (>= 50 Python tokens) of six modeling files, without normalised
  duplicates, copied into the submission as clone type 1 (comments stripped, re-indented), type 2 (type 1 + every
  identifier the function defines renamed, model class-name prefixes replaced) and type 3 (type 2 + harmless
  statements inserted, statements deleted or adjacent independent assignments swapped, on 10 %, 20 % and 30 % of
  the statements, in `--draws` independent random draws; every copy is checked with `ast.parse`). A positive is
  *found* when the scan reports that submission function (as a finding or as a member folded into one) with its
  true source file, with the true file among the equally good sources ("also in"), or with a source fragment whose
  normalised tokens equal the true one's (an exact twin elsewhere in the corpus). Reported with any other source,
  it is a *false attribution*.
* Negatives: real functions of similar size from code that is neither in the corpus nor derived from it (stdlib
  json, email, http, logging, asyncio, argparse; the rich, click and pathspec packages). Any finding on them (any
  kind: function, class, file, folded member) is a *false alarm*. Because false alarms are rare, the negatives are
  also scanned with relaxed verification thresholds: the *near misses* show how much margin each k leaves.

Precision = found / (found + false attributions + false alarms); F1 uses that precision with the recall of the
same positives. The recommendation: among the k values whose false alarms equal the minimum over all k, those whose
F1 on type 3 at <= 20 % edits is within one point of the best (differences the bootstrap cannot tell apart), and of
those the one with the fewest near misses; a bootstrap over the labelled functions shows how stable that choice is.

Why. k decides what one shingle can tell apart. Small k makes shingles that unrelated code shares (false alarms,
long candidate lists); large k lets each edit destroy up to k shingles, so edited clones fall under the similarity
and minimum-shared-shingle thresholds (a function of n normalised tokens has only n - k + 1 shingles). Renaming
alone changes no normalised token, so types 1 and 2 measure attribution among the corpus's many near-identical
twins, while type 3 measures robustness to edits.

Run from the repo root: `python bench/choose_k.py` (about a minute on 2 cores; `--details` lists every miss and
false alarm). It uses a private temporary PROVSCAN_CACHE_DIR (never the user's corpora), prints markdown tables
and writes them to bench/out/choose_k.md.
"""

from __future__ import annotations

import argparse
import ast
import io
import keyword
import os
import random
import re
import shlex
import shutil
import sys
import sysconfig
import tempfile
import time
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from provscan.corpus import DEFAULT_MIN_TOKENS, add_corpus  # noqa: E402
from provscan.fingerprint import FingerprintSettings, unique_shingles  # noqa: E402
from provscan.fragments import normalise  # noqa: E402
from provscan.match import MatchSettings  # noqa: E402
from provscan.parse import parse_text  # noqa: E402
from provscan.scan import ScanResult, ScanSettings, scan  # noqa: E402
from tests.mutate import code_tokens, definitions, reindent, rename, strip_comments  # noqa: E402

K_VALUES = (5, 7, 9, 11, 13, 15)
# Source model folder -> (class-name prefix used in its modeling file, replacement prefix in the clones).
SOURCES = {
    "qwen2": ("Qwen2", "Zeta"),
    "glm4_moe": ("Glm4Moe", "Orion"),
    "deepseek_v3": ("DeepseekV3", "Abyss"),
    "mistral": ("Mistral", "Breeze"),
    "gemma": ("Gemma", "Jewel"),
    "phi3": ("Phi3", "Delta"),
}
NEGATIVE_STDLIB = ("json", "email", "http", "logging", "asyncio", "argparse.py")
NEGATIVE_PACKAGES = ("rich", "click", "pathspec")
# Verification thresholds well below provscan's defaults, for a margin on the negatives (false alarms are rare).
DEFAULT_MATCH = MatchSettings()
RELAXED = MatchSettings(min_similarity=0.3, min_containment=0.6, containment_floor=0.2, min_shared_shingles=15)
MIN_TOKENS = 50  # Python tokens (tokenize) of a labelled function, as in tests/test_engine.py
EDIT_RATES = (10, 20, 30)  # percent of a function's statements edited for type 3
VARIANTS = ("T1", "T2", *(f"T3-{rate}" for rate in EDIT_RATES))
F1_VARIANTS = ("T3-10", "T3-20")  # "type 3 at <= 20 %": the subset the recommendation optimises
BOOTSTRAP_ROUNDS = 1000

_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*")  # same word start as tests.mutate.rename
_COMPOUND = (
    ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
)
_SWAPPABLE = (ast.Assign, ast.AnnAssign, ast.AugAssign)
_HARMLESS = (
    "_probe{n} = {n}",
    "_seen{n} = []",
    'assert {n} >= 0, "bounds"',
    "_flag{n} = bool({n}) or None",
    "_trace{n} = len(str({n}))",
)


# --------------------------------------------------------------------------------------------------- data set


@dataclass
class Original:
    """A labelled function of the corpus: where it lives and its normalised tokens."""

    path: str  # corpus-relative, e.g. "qwen2/modeling_qwen2.py"
    qualname: str
    start_line: int
    end_line: int
    text: str  # dedented to top level
    codes: tuple[int, ...]
    tokens: int


@dataclass
class Item:
    """One function of the submission: a clone of `original`, or a negative when `original` is None."""

    variant: str  # one of VARIANTS, or "neg"
    path: str  # submission-relative
    start_line: int
    end_line: int
    original: Original | None
    name: str = ""
    tokens: int = 0  # Python tokens of the function as written in the submission's source (negatives)


@dataclass
class Dataset:
    corpus_root: Path
    corpus_folders: list[str]
    submission: Path
    items: list[Item]
    notes: list[str] = field(default_factory=list)


def models_root() -> Path:
    """The installed transformers wheel's models/ folder, found without importing transformers."""
    return Path(str(metadata.distribution("transformers").locate_file("transformers/models")))


def corpus_folders(models: Path, count: int) -> list[str]:
    """Every Nth model folder in sorted order (`count` of them) plus the positives' source folders."""
    folders = sorted(p.name for p in models.iterdir() if p.is_dir() and not p.name.startswith("_"))
    step = max(1, len(folders) // count)
    return sorted(set(folders[::step][:count]) | set(SOURCES))


def dedent_definition(source: str, start_line: int, end_line: int) -> str:
    """Lines start..end of `source` moved to column 0 (lines of multi-line strings that are less indented stay)."""
    lines = source.splitlines()[start_line - 1 : end_line]
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines).rstrip() + "\n"


def candidate_functions(source: str) -> list[tuple[str, int, int, int]]:
    """(qualname, start, end, tokens) of top-level functions and methods of top-level classes, >= MIN_TOKENS."""
    defs = definitions(source)
    found = []
    for qualname, definition in defs.items():
        if definition.kind != "function":
            continue
        parent = qualname.rpartition(".")[0]
        if parent and (parent not in defs or defs[parent].kind != "class" or "." in parent):
            continue  # nested in a function (or in a nested class): it travels with its enclosing definition
        tokens = code_tokens(source, definition)
        if tokens >= MIN_TOKENS:
            found.append((qualname, definition.start_line, definition.end_line, tokens))
    return found


_NORMALISED: dict[Path, dict[tuple[int, int], tuple[int, ...]]] = {}


def fragment_codes(path: Path) -> dict[tuple[int, int], tuple[int, ...]]:
    """(start_line, end_line) -> normalised token codes of every fragment of a file, as provscan sees it."""
    if path not in _NORMALISED:
        parsed = parse_text(path.name, path.read_text(encoding="utf-8"))
        nf = normalise(parsed, DEFAULT_MIN_TOKENS)
        _NORMALISED[path] = {
            (f.start_line, f.end_line): tuple(nf.codes[f.tok_start : f.tok_end].tolist()) for f in nf.fragments
        }
    return _NORMALISED[path]


def defined_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names the function defines: its own name, parameters, locals, nested definitions, except/import aliases."""
    names = {func.name}
    for node in ast.walk(func):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler):
            names.add(node.name or "_")
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
    return {n for n in names if n not in ("self", "cls", "_") and not n.startswith("__") and not keyword.iskeyword(n)}


def rename_defined(text: str, prefix: str, replacement: str) -> str:
    """Type-2 renaming with tests.mutate.rename: class-name prefix first, then every name the function defines.

    `rename` replaces any word that *starts* with a key, so a key is applied only when no other word of the text
    starts with it (else renaming `i` would also turn `if` into garbage); longest names go first.
    """
    text = rename(text, {prefix: replacement})
    func = ast.parse(text).body[0]
    for number, old in enumerate(sorted(defined_names(func), key=lambda n: (-len(n), n))):
        if any(word != old and word.startswith(old) for word in code_words(text)):
            continue
        text = rename(text, {old: f"zz{number}"})
    return text


def code_words(text: str) -> set[str]:
    """Identifiers, keywords and string prefixes (f, rb, ...) of the code; words inside strings may change freely."""
    words = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME:
            words.add(token.string)
        elif token.type == tokenize.STRING:
            words.update(_WORD.findall(token.string[: len(token.string) - len(token.string.lstrip("rRbBuUfF"))]))
    return words


def _is_string_statement(stmt: ast.stmt) -> bool:
    """Docstring-like statements: provscan's normaliser drops them, so they are not counted or edited."""
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _blocks(func: ast.AST):
    for node in ast.walk(func):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _owns_lines(stmt: ast.stmt, lines: list[str]) -> bool:
    """The statement starts its first line and nothing but blanks follows it on its last (no `;`, no `if x: y`)."""
    first, last = lines[stmt.lineno - 1], lines[stmt.end_lineno - 1].encode("utf-8")
    return not first[: stmt.col_offset].strip() and not last[stmt.end_col_offset :].strip()


def _dotted(node: ast.AST | None) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _effects(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(reads, writes) as dotted names; a call counts as writing its receiver and its arguments (conservative)."""
    reads: set[str] = set()
    writes: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            name = _dotted(node.value if isinstance(node, ast.Subscript) else node)
            if name:
                (writes if isinstance(node.ctx, ast.Store | ast.Del) else reads).add(name)
        elif isinstance(node, ast.Call):
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            for arg in (receiver, *node.args, *(k.value for k in node.keywords)):
                name = _dotted(arg)
                if name:
                    writes.add(name)
    return reads, writes


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _independent(a: ast.stmt, b: ast.stmt) -> bool:
    reads_a, writes_a = _effects(a)
    reads_b, writes_b = _effects(b)
    return not any(_related(w, x) for w in writes_a for x in reads_b | writes_b) and not any(
        _related(w, x) for w in writes_b for x in reads_a
    )


def _insert(lines: list[str], func: ast.AST, rng: random.Random, serial: int) -> list[str] | None:
    spots = [s for block in _blocks(func) for s in block if _owns_lines(s, lines)]
    if not spots:
        return None
    stmt = rng.choice(spots)
    indent = lines[stmt.lineno - 1][: stmt.col_offset]
    statement = rng.choice(_HARMLESS).format(n=serial)
    return lines[: stmt.end_lineno] + [indent + statement] + lines[stmt.end_lineno :]


def _delete(lines: list[str], func: ast.AST, rng: random.Random, _serial: int) -> list[str] | None:
    spots = [
        s for block in _blocks(func) if len(block) >= 2 for s in block
        if not isinstance(s, _COMPOUND) and not _is_string_statement(s) and _owns_lines(s, lines)
    ]
    if not spots:
        return None
    stmt = rng.choice(spots)
    return lines[: stmt.lineno - 1] + lines[stmt.end_lineno :]


def _swap(lines: list[str], func: ast.AST, rng: random.Random, _serial: int) -> list[str] | None:
    pairs = [
        (a, b) for block in _blocks(func) for a, b in zip(block, block[1:], strict=False)
        if isinstance(a, _SWAPPABLE) and isinstance(b, _SWAPPABLE)
        and _owns_lines(a, lines) and _owns_lines(b, lines) and _independent(a, b)
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    first, between, second = lines[a.lineno - 1 : a.end_lineno], lines[a.end_lineno : b.lineno - 1], lines[
        b.lineno - 1 : b.end_lineno
    ]
    return lines[: a.lineno - 1] + second + between + first + lines[b.end_lineno :]


def edit_statements(text: str, percent: int, rng: random.Random) -> tuple[str, int]:
    """Type-3 edits on `percent` % of the function's statements; returns the text and the edits made."""
    func = ast.parse(text).body[0]
    statements = sum(1 for n in ast.walk(func) if isinstance(n, ast.stmt) and n is not func
                     and not _is_string_statement(n))
    wanted = max(1, round(statements * percent / 100))
    lines = text.splitlines()
    done = 0
    for serial in range(wanted):
        operations = [_insert, _delete, _swap]
        rng.shuffle(operations)
        for operation in operations:
            edited = operation(lines, ast.parse("\n".join(lines)).body[0], rng, serial)
            if edited is None:
                continue
            try:
                ast.parse("\n".join(edited))
            except SyntaxError:
                continue
            lines, done = edited, done + 1
            break
    return "\n".join(lines) + "\n", done


def variants_of(
    original: Original, prefix: str, replacement: str, rng: random.Random, draws: int
) -> list[tuple[str, int, str]]:
    """(variant, draw, text) of every clone of one function; type 3 gets `draws` independent random edits.

    Each text is checked with ast.parse; one that fails is left out (and counted by the caller)."""
    stripped = strip_comments(original.text)
    renamed = rename_defined(stripped, prefix, replacement)
    texts = [("T1", 0, reindent(stripped)), ("T2", 0, reindent(renamed))]
    for percent in EDIT_RATES:
        texts += [(f"T3-{percent}", draw, reindent(edit_statements(renamed, percent, rng)[0])) for draw in range(draws)]
    valid = []
    for variant, draw, text in texts:
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        valid.append((variant, draw, text))
    return valid


def write_functions(path: Path, chunks: list[str]) -> list[tuple[int, int, str]]:
    """Write top-level functions into one file; return each one's (start_line, end_line, name) per `ast`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n\n\n".join(chunk.rstrip() for chunk in chunks) + "\n"
    path.write_text(text, encoding="utf-8")
    body = ast.parse(text).body
    assert len(body) == len(chunks), path
    return [(node.lineno, node.end_lineno, node.name) for node in body]


def build_dataset(work: Path, model_count: int, seed: int, max_negatives: int, draws: int) -> Dataset:
    models = models_root()
    folders = corpus_folders(models, model_count)
    corpus_root = work / "corpus"
    for folder in folders:
        shutil.copytree(models / folder, corpus_root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    submission = work / "submission"
    rng = random.Random(seed)
    items: list[Item] = []
    notes: list[str] = []
    seen_codes: set[tuple[int, ...]] = set()
    skipped = Counter()
    for folder, (prefix, replacement) in SOURCES.items():
        relative = f"{folder}/modeling_{folder}.py"
        source_path = corpus_root / relative
        if not source_path.is_file():
            notes.append(f"missing source file {relative} (skipped)")
            continue
        source = source_path.read_text(encoding="utf-8")
        codes = fragment_codes(source_path)
        per_variant: dict[tuple[str, int], list[tuple[str, Original]]] = {}
        for qualname, start, end, tokens in candidate_functions(source):
            true_codes = codes.get((start, end))
            if true_codes is None:
                skipped["no provscan fragment"] += 1
                continue
            if true_codes in seen_codes:
                skipped["normalised duplicate of an earlier positive"] += 1
                continue
            seen_codes.add(true_codes)
            original = Original(relative, qualname, start, end, dedent_definition(source, start, end), true_codes,
                                tokens)
            texts = variants_of(original, prefix, replacement, rng, draws)
            skipped["variant not valid Python"] += 2 + len(EDIT_RATES) * draws - len(texts)
            for variant, draw, text in texts:
                per_variant.setdefault((variant, draw), []).append((text, original))
        for (variant, draw), pairs in per_variant.items():
            sub_path = f"pos/{folder}_{variant.lower().replace('-', '_')}_{draw}.py"
            spans = write_functions(submission / sub_path, [text for text, _ in pairs])
            items.extend(
                Item(variant, sub_path, start, end, original, name)
                for (start, end, name), (_, original) in zip(spans, pairs, strict=True)
            )
    positives = [i for i in items if i.original]
    max_tokens = max(i.original.tokens for i in positives)
    for reason, count in sorted(skipped.items()):
        notes.append(f"positives skipped: {count} ({reason})")

    negatives: list[tuple[str, str, str, int]] = []  # (origin file label, qualname, dedented text, tokens)
    roots = [Path(sysconfig.get_paths()["stdlib"]) / name for name in NEGATIVE_STDLIB]
    roots += [Path(sysconfig.get_paths()["purelib"]) / name for name in NEGATIVE_PACKAGES]
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        for file in files:
            try:
                source = file.read_text(encoding="utf-8")
                found = candidate_functions(source)
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            label = f"{root.name}/{file.relative_to(root)}" if root.is_dir() else root.name
            for qualname, start, end, tokens in found:
                if tokens <= max_tokens:  # similar size: within the positives' range
                    negatives.append((label, qualname, dedent_definition(source, start, end), tokens))
    if len(negatives) > max_negatives:
        negatives = sorted(random.Random(seed).sample(negatives, max_negatives))
    by_origin: dict[str, list[tuple[str, str, str, int]]] = {}
    for negative in negatives:
        by_origin.setdefault(negative[0].split("/")[0].removesuffix(".py"), []).append(negative)
    for origin, group in by_origin.items():
        for start_index in range(0, len(group), 50):
            chunk = group[start_index : start_index + 50]
            sub_path = f"neg/{origin}_{start_index // 50}.py"
            spans = write_functions(submission / sub_path, [text for _, _, text, _ in chunk])
            items.extend(
                Item("neg", sub_path, s, e, None, f"{g[0]}:{g[1]}", g[3])
                for (s, e, _), g in zip(spans, chunk, strict=True)
            )
    return Dataset(corpus_root, folders, submission, items, notes)


# ------------------------------------------------------------------------------------------------- evaluation


@dataclass
class Reported:
    source_path: str
    source_lines: tuple[int, int]
    also_in: set[str]
    member: bool


def reported_locations(result: ScanResult) -> tuple[dict[tuple[str, int, int], Reported], Counter]:
    """(path, start, end) -> what was reported there (own findings and folded members); plus findings per path."""
    found: dict[tuple[str, int, int], Reported] = {}
    per_path: Counter = Counter()
    for finding in result.code_findings:
        for f in finding.fragments():
            found[f.span] = Reported(f.source.path, (f.source.start_line, f.source.end_line),
                                     {a.source.path for a in f.also_in}, f.folded)
            per_path[f.path] += 1
    return found, per_path


@dataclass
class Figures:
    k: int
    found: Counter = field(default_factory=Counter)  # variant -> found
    reported: Counter = field(default_factory=Counter)  # variant -> reported with any source
    total: Counter = field(default_factory=Counter)  # variant -> labelled
    false_attributions: Counter = field(default_factory=Counter)  # variant -> wrong source
    folded_false: int = 0  # false attributions that were folded members (see the report on findings.py)
    near_twin_false: Counter = field(default_factory=Counter)  # variant -> false attributions naming a source
    # that is itself a verified copy of the true source (a near twin in the corpus)
    false_alarms: int = 0  # findings (incl. members) on negative files
    near_misses: int = 0  # negative functions a scan with RELAXED thresholds reports: the margin left
    negatives: int = 0
    build_seconds: float = 0.0
    scan_seconds: float = 0.0
    misses: list[tuple[Item, Reported | None]] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)  # index in Dataset.items -> "found" | "wrong" | "miss"
    alarms: list[str] = field(default_factory=list)

    def prf(self, variants: tuple[str, ...], accept_near_twins: bool = False) -> tuple[float, float, float]:
        twins = sum(self.near_twin_false[v] for v in variants) if accept_near_twins else 0
        found = sum(self.found[v] for v in variants) + twins
        wrong = sum(self.false_attributions[v] for v in variants) - twins
        total = sum(self.total[v] for v in variants)
        precision = found / (found + wrong + self.false_alarms) if found + wrong + self.false_alarms else 1.0
        recall = found / total if total else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1


def evaluate(k: int, dataset: Dataset, result: ScanResult) -> Figures:
    figures = Figures(k)
    found, per_path = reported_locations(result)
    for number, item in enumerate(dataset.items):
        report = found.get((item.path, item.start_line, item.end_line))
        if item.original is None:
            figures.negatives += 1
            continue
        original = item.original
        figures.total[item.variant] += 1
        if report is None:
            figures.misses.append((item, None))
            figures.outcomes[number] = "miss"
            continue
        figures.reported[item.variant] += 1
        correct = report.source_path == original.path or original.path in report.also_in
        if not correct:
            twin = fragment_codes(dataset.corpus_root / report.source_path).get(report.source_lines)
            correct = twin == original.codes
        figures.outcomes[number] = "found" if correct else "wrong"
        if correct:
            figures.found[item.variant] += 1
        else:
            figures.false_attributions[item.variant] += 1
            figures.folded_false += report.member
            figures.near_twin_false[item.variant] += twin is not None and copies(twin, original.codes, k)
            figures.misses.append((item, report))
    figures.false_alarms = sum(count for path, count in per_path.items() if path.startswith("neg/"))
    figures.alarms = [
        f"{f.path}:{f.start_line}-{f.end_line} {f.fragment_kind} {f.fragment_name} -> {f.source.path}:"
        f"{f.source.start_line} (J={f.jaccard}, C={f.containment})"
        for f in result.code_findings if f.path.startswith("neg/")
    ]
    return figures


def copies(a: tuple[int, ...], b: tuple[int, ...], k: int) -> bool:
    """Would provscan's default verification call these two token streams copies of each other (at this k)?"""
    sa, sb = (unique_shingles(np.asarray(codes, dtype=np.uint32), k) for codes in (a, b))
    shared = int(np.intersect1d(sa, sb).size)
    if not sa.size or not sb.size or shared < DEFAULT_MATCH.min_shared_shingles:
        return False
    jaccard = shared / (sa.size + sb.size - shared)
    contained = shared / min(sa.size, sb.size)
    return jaccard >= DEFAULT_MATCH.min_similarity or (
        jaccard >= DEFAULT_MATCH.containment_floor and contained >= DEFAULT_MATCH.min_containment
    )


def near_misses(dataset: Dataset, result: ScanResult) -> int:
    """Negative functions reported by a scan of neg/ alone with RELAXED verification thresholds."""
    found, _ = reported_locations(result)
    return sum(
        1 for i in dataset.items
        if i.original is None and (i.path.removeprefix("neg/"), i.start_line, i.end_line) in found
    )


# --------------------------------------------------------------------------------------------------- report


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def table(all_figures: list[Figures], wins: Counter, rounds: int) -> str:
    """Main table: recall with the right source per clone type, errors, precision, F1, timings."""
    header = [
        "k", *(f"{v} recall %" for v in VARIANTS), "false attrib. (folded / near twin)", "false alarms", "FA / 1k neg",
        "near misses / 1k neg", "precision %", "recall % (all)", "F1 T3<=20% %", "F1 T3<=20% near twins ok %",
        "bootstrap wins %", "build s", "scan s",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for f in all_figures:
        precision, recall, _ = f.prf(VARIANTS)
        _, _, f1 = f.prf(F1_VARIANTS)
        cells = [str(f.k)] + [percent(f.found[v], f.total[v]) for v in VARIANTS] + [
            f"{sum(f.false_attributions.values())} ({f.folded_false} / {sum(f.near_twin_false.values())})",
            str(f.false_alarms),
            f"{1000 * f.false_alarms / f.negatives:.2f}", f"{1000 * f.near_misses / f.negatives:.1f}",
            f"{100 * precision:.1f}", f"{100 * recall:.1f}", f"{100 * f1:.1f}",
            f"{100 * f.prf(F1_VARIANTS, accept_near_twins=True)[2]:.1f}", percent(wins[f.k], rounds),
            f"{f.build_seconds:.1f}", f"{f.scan_seconds:.1f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def detection_table(all_figures: list[Figures]) -> str:
    """Detection whatever the source: separates "not found" from "found but attributed elsewhere"."""
    header = ["k", *(f"{v} detected %" for v in VARIANTS)]
    rows = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for f in all_figures:
        rows.append("| " + " | ".join([str(f.k)] + [percent(f.reported[v], f.total[v]) for v in VARIANTS]) + " |")
    return "\n".join(rows)


F1_TIE = 0.01  # F1 differences below one point are within the bootstrap's noise on this data set


def _choose(eligible: list[Figures], f1) -> Figures:
    """Among k whose F1 is within F1_TIE of the best, the one with the fewest near misses (the widest margin
    against false alarms), then the higher F1, then the smaller k."""
    best_f1 = max(f1(f) for f in eligible)
    contenders = [f for f in eligible if f1(f) >= best_f1 - F1_TIE]
    return min(contenders, key=lambda f: (f.near_misses, -round(f1(f), 9), f.k))


def recommend(all_figures: list[Figures]) -> Figures:
    """Among the k with the fewest false alarms, `_choose` on F1 for type 3 <= 20 %."""
    fewest = min(f.false_alarms for f in all_figures)
    eligible = [f for f in all_figures if f.false_alarms == fewest]
    return _choose(eligible, lambda f: f.prf(F1_VARIANTS)[2])


def bootstrap_wins(all_figures: list[Figures], items: list[Item], rounds: int, seed: int) -> Counter:
    """How often each k would be recommended when the labelled *functions* are resampled with replacement.

    The clones of one function are not independent (a function too small to survive an edit is missed at every
    rate and draw), so the function is the unit of resampling. False alarms stay as measured.
    """
    groups: dict[int, list[int]] = {}
    for number, item in enumerate(items):
        if item.original is not None and item.variant in F1_VARIANTS:
            groups.setdefault(id(item.original), []).append(number)
    keys = list(groups)
    tallies = {
        f.k: {g: (sum(f.outcomes[n] == "found" for n in groups[g]), sum(f.outcomes[n] == "wrong" for n in groups[g]),
                  len(groups[g])) for g in keys}
        for f in all_figures
    }
    fewest = min(f.false_alarms for f in all_figures)
    eligible = [f for f in all_figures if f.false_alarms == fewest]
    rng = random.Random(seed)
    wins: Counter = Counter()
    for _ in range(rounds):
        sample = [rng.choice(keys) for _ in keys]

        def f1(figures: Figures, sample: list[int] = sample) -> float:
            found = sum(tallies[figures.k][g][0] for g in sample)
            wrong = sum(tallies[figures.k][g][1] for g in sample)
            total = sum(tallies[figures.k][g][2] for g in sample)
            precision = found / (found + wrong + figures.false_alarms) if found else 0.0
            recall = found / total
            return 2 * precision * recall / (precision + recall) if found else 0.0

        wins[_choose(eligible, f1).k] += 1
    return wins


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(Path.cwd()))
    except ValueError:
        shown = str(script)
    return shlex.join(["python", shown, *sys.argv[1:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ks", default=",".join(map(str, K_VALUES)), help="comma-separated shingle sizes")
    parser.add_argument("--models", type=int, default=60, help="model folders in the corpus besides the sources")
    parser.add_argument("--max-negatives", type=int, default=3000, help="cap on negative functions (sampled)")
    parser.add_argument("--draws", type=int, default=10, help="independent random type-3 edits per function and rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--details", action="store_true", help="print every miss and false alarm")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="provscan-choose-k-") as tmp:
        work = Path(tmp)
        os.environ["PROVSCAN_CACHE_DIR"] = str(work / "cache")  # private: never the user's corpora
        dataset = build_dataset(work, args.models, args.seed, args.max_negatives, args.draws)
        positives = [i for i in dataset.items if i.original]
        negatives = [i for i in dataset.items if i.original is None]
        by_variant = Counter(i.variant for i in positives)
        originals = {id(i.original): i.original for i in positives}
        sizes = sorted(o.tokens for o in originals.values())
        print(f"corpus: {len(dataset.corpus_folders)} model folders ({len(SOURCES)} sources + every Nth of the rest)")
        print(f"positives: {len(originals)} functions x variants {dict(by_variant)}; median {sizes[len(sizes) // 2]}"
              f" Python tokens")
        neg_sizes = sorted(i.tokens for i in negatives)
        print(f"negatives: {len(negatives)} functions, median {neg_sizes[len(neg_sizes) // 2]} Python tokens, from "
              f"{', '.join(NEGATIVE_STDLIB + NEGATIVE_PACKAGES)}")
        for note in dataset.notes:
            print("note:", note)

        all_figures = []
        for k in ks:
            name = f"choose-k{k}"
            settings = FingerprintSettings(k=k)
            build = add_corpus(name, dataset.corpus_root, split_projects=True, settings=settings, jobs=args.jobs)
            t0 = time.perf_counter()
            result = scan(dataset.submission, ScanSettings(corpora=(name,), jobs=args.jobs))
            figures = evaluate(k, dataset, result)
            figures.build_seconds = build.seconds
            figures.scan_seconds = time.perf_counter() - t0
            relaxed = scan(dataset.submission / "neg", ScanSettings(corpora=(name,), jobs=args.jobs, match=RELAXED))
            figures.near_misses = near_misses(dataset, relaxed)
            all_figures.append(figures)
            print(f"k={k}: {build.files_indexed} corpus files, {build.fragments} fragments; "
                  f"{len(result.findings)} findings; build {build.seconds:.1f}s scan {figures.scan_seconds:.1f}s",
                  flush=True)
            if args.details:
                for item, report in figures.misses:
                    where = f"-> {report.source_path}:{report.source_lines}" if report else "not reported"
                    print(f"  miss {item.variant} {item.path}:{item.start_line} {item.original.path}:"
                          f"{item.original.qualname} {where}")
                for alarm in figures.alarms:
                    print("  alarm", alarm)

    best = recommend(all_figures)
    wins = bootstrap_wins(all_figures, dataset.items, BOOTSTRAP_ROUNDS, args.seed)
    shares = ", ".join(f"k={k}: {percent(n, BOOTSTRAP_ROUNDS)} %" for k, n in wins.most_common())
    runtime = time.perf_counter() - started
    lines = [
        f"Command: `{command_line()}` (repo root; provscan {metadata.version('provscan')}, transformers "
        f"{metadata.version('transformers')}, {args.jobs} jobs)",
        "",
        f"Corpus: {len(dataset.corpus_folders)} transformers model folders. Positives: {len(originals)} functions "
        f"(>= {MIN_TOKENS} Python tokens) from {len(SOURCES)} modeling files, {len(positives)} clones. Negatives: "
        f"{len(negatives)} functions (stdlib {', '.join(NEGATIVE_STDLIB)}; {', '.join(NEGATIVE_PACKAGES)}).",
        "",
        table(all_figures, wins, BOOTSTRAP_ROUNDS),
        "",
        "Detection with any source (a positive reported at all; the gap to recall is false attributions):",
        "",
        detection_table(all_figures),
        "",
        "Columns: recall = reported with the true file, a tied source in that file's group, or an exact normalised "
        "twin; false attrib. = positives reported with another source (in brackets: how many were folded members, "
        "and how many name a source that provscan's default verification would itself call a copy of the true one); "
        f"false alarms = findings on negatives; near misses = negative functions reported under relaxed thresholds "
        f"(J >= {RELAXED.min_similarity}, or J >= {RELAXED.containment_floor} with containment >= "
        f"{RELAXED.min_containment}; >= {RELAXED.min_shared_shingles} shared shingles); precision = found / (found + "
        "false attrib. + false alarms); F1 on T3-10 and T3-20 together ('near twins ok' "
        "variant counts a source that is a verified copy of the true one as found); bootstrap wins = share of "
        f"{BOOTSTRAP_ROUNDS} resamples of the labelled functions (with replacement) in which that k is recommended.",
        "",
        f"Recommended k = {best.k}: F1 on type 3 <= 20 % of {100 * best.prf(F1_VARIANTS)[2]:.1f} % (within "
        f"{100 * F1_TIE:.0f} point of the best), fewest near misses among those, fewest false alarms "
        f"({best.false_alarms}); recommended in {percent(wins[best.k], BOOTSTRAP_ROUNDS)} % "
        f"of bootstrap resamples ({shares}).",
        f"Runtime: {runtime:.0f} s.",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "choose_k.md").write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {out / 'choose_k.md'}")
    print(f"Recommended k = {best.k}")
    print(f"Command: {command_line()}")


if __name__ == "__main__":
    main()
