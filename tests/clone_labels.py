"""transformers' own clone labels ("# Copied from ..." annotations) and how to score provscan against them.

Besides the labels, `ProvenanceGraph` links definitions by transformers' own provenance records (labels, modular
files and the code generated from them, identical normalised content), to judge the reported pairs that carry no
label: two definitions in one component share an origin, a clone pair in the BigCloneBench sense.

Shared by `bench/accuracy.py` (the whole wheel) and `tests/test_accuracy.py` (a slice, as a regression test).
"""

from __future__ import annotations

import ast
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.mutate import Definition, definitions

ANNOTATION = re.compile(r"^\s*# Copied from transformers\.models\.(\w+)\.(\w+)\.([\w.]+)(?:\s+with\s+.*)?$")


@dataclass
class Label:
    path: str  # corpus-relative path of the annotated file
    qualname: str
    start_line: int
    end_line: int
    source_path: str
    source_qualname: str
    source_start: int
    source_end: int


def collect_labels(models: Path) -> tuple[list[Label], Counter]:
    """Every resolvable annotation directly above a def/class, and why the others were not used."""
    labels: list[Label] = []
    dropped: Counter = Counter()
    source_defs: dict[str, dict] = {}
    for path in sorted(models.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "# Copied from" not in text:
            continue
        lines = text.splitlines()
        try:
            defs = definitions(text)
        except SyntaxError:
            dropped["file does not parse"] += 1
            continue
        by_line = {d.start_line: d for d in defs.values()}
        relative = path.relative_to(models).as_posix()
        for number, line in enumerate(lines, start=1):
            if "# Copied from" not in line:
                continue
            match = ANNOTATION.match(line)
            if match is None:
                dropped["not a transformers.models reference"] += 1
                continue
            target = number + 1
            while target <= len(lines) and lines[target - 1].lstrip().startswith("@"):
                target += 1
            definition = by_line.get(target)
            if definition is None:
                dropped["not directly above a def or class"] += 1
                continue
            folder, module, qualname = match.groups()
            source_file = models / folder / f"{module}.py"
            if not source_file.exists():
                dropped["source file not in models/"] += 1
                continue
            key = source_file.as_posix()
            if key not in source_defs:
                source_defs[key] = definitions(source_file.read_text(encoding="utf-8"))
            source = source_defs[key].get(qualname)
            if source is None:
                dropped["source definition not found"] += 1
                continue
            if f"{folder}/{module}.py" == relative:
                # e.g. whisper's tokenizer: an annotation left above the very definition it names once the fast
                # tokenizer was merged into the same file. The file under test is left out of the corpus, so a
                # source in the same file can never be found and says nothing about the matcher.
                dropped["source in the same file"] += 1
                continue
            labels.append(Label(relative, definition.qualname, definition.start_line, definition.end_line,
                                f"{folder}/{module}.py", qualname, source.start_line, source.end_line))
    return labels, dropped


class Twins:
    """Normalised-content identity of corpus fragments, from the corpus index (content hashes)."""

    def __init__(self, index_path: Path) -> None:
        self.db = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
        self._cache: dict[tuple[str, int, int], int | None] = {}

    def content(self, path: str, start: int, end: int) -> int | None:
        key = (path, start, end)
        if key not in self._cache:
            row = self.db.execute(
                "SELECT f.content_hash FROM fragments f JOIN files fi ON fi.id = f.file_id"
                " WHERE fi.path = ? AND f.start_line = ? AND f.end_line = ? AND f.kind != 'file'",
                key,
            ).fetchone()
            self._cache[key] = row[0] if row else None
        return self._cache[key]

    def same(self, a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
        if a == b:
            return True
        content = self.content(*a)
        return content is not None and content == self.content(*b)


GENERATED_FROM = re.compile(
    r"This file was automatically generated from src/transformers/models/(\w+)/(modular_\w+)\.py"
)

Node = tuple[str, str]  # (corpus-relative path, dotted qualname) of a def or class


class Definitions:
    """`tests.mutate.definitions` of files under models/, parsed once; maps a fragment's lines to its definition."""

    def __init__(self, models: Path) -> None:
        self.models = models
        self._files: dict[str, dict[str, Definition]] = {}
        self._spans: dict[str, dict[tuple[int, int], str]] = {}
        self._starts: dict[str, dict[int, list[str]]] = {}

    def of(self, path: str) -> dict[str, Definition]:
        if path not in self._files:
            file = self.models / path
            try:
                found = definitions(file.read_text(encoding="utf-8")) if file.is_file() else {}
            except (SyntaxError, UnicodeDecodeError, ValueError):
                found = {}
            self._files[path] = found
            self._spans[path] = {(d.start_line, d.end_line): d.qualname for d in found.values()}
            starts: dict[int, list[str]] = defaultdict(list)
            for d in found.values():
                starts[d.start_line].append(d.qualname)
            self._starts[path] = starts
        return self._files[path]

    def kind(self, node: Node) -> str | None:
        definition = self.of(node[0]).get(node[1])
        return definition.kind if definition else None

    def at(self, path: str, start: int, end: int) -> Node | None:
        """The definition whose def/class line and last line are the fragment's (or the only one on its first line:
        tree-sitter and `ast` can disagree on where a definition ends, e.g. trailing comments)."""
        self.of(path)
        qualname = self._spans[path].get((start, end))
        if qualname is None:
            candidates = self._starts[path].get(start, [])
            if len(candidates) != 1:
                return None
            qualname = candidates[0]
        return path, qualname


class ProvenanceGraph:
    """Definitions of transformers linked by transformers' own provenance records, as union-find components.

    Edges (node = corpus-relative path + dotted qualname; a class only ever links to a class and a function to a
    function, never a class to its own methods):
    * "copied from": every `# Copied from` label, and its nested definitions (class A copied from class S gives
      A.m <-> S.m for each nested m defined in both);
    * "modular": a class `XFoo(Base)` in `models/X/modular_X.py` whose Base is imported from another model's modeling
      module links the generated `XFoo` (in the files of folder X whose header says they were generated from that
      modular file) to `y/modeling_y.py` Base, and every method of the generated XFoo that the modular body does not
      define to Base's method of that name; a function imported from another model's modeling module and present at
      the top level of a generated file links to the imported one;
    * "twins": definitions whose fragments have the same normalised content hash in the corpus index.
    Two definitions in one component share an origin by transformers' own records: they are a clone pair in the
    BigCloneBench sense (code derived from the same code), whether or not the text was changed since.
    """

    def __init__(self, defs: Definitions) -> None:
        self.defs = defs
        self.parent: dict[Node, Node] = {}
        self.edges: Counter = Counter()
        self.refused: Counter = Counter()  # edges not made because the two ends are not the same kind
        self._seen: set[frozenset] = set()
        # copy -> the definitions it was taken from, by every rule but "twins" (which says nothing of direction)
        self.sources: dict[Node, set[Node]] = defaultdict(set)

    def find(self, node: Node) -> Node:
        root = node
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while node != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def link(self, a: Node, b: Node, rule: str) -> bool:
        if a == b:
            return False
        kind = self.defs.kind(a)
        if kind is None or kind != self.defs.kind(b):
            self.refused[rule] += 1
            return False
        if rule != "twins":
            self.sources[a].add(b)
        key = frozenset((a, b))
        if key in self._seen:
            return False
        self._seen.add(key)
        self.edges[rule] += 1
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_a] = root_b
        return True

    def has_edge(self, a: Node, b: Node) -> bool:
        return frozenset((a, b)) in self._seen

    def same(self, a: Node | None, b: Node | None) -> bool:
        return a is not None and b is not None and (a == b or (a in self.parent and b in self.parent
                                                               and self.find(a) == self.find(b)))

    def roots(self, node: Node) -> set[Node]:
        """The ends of `node`'s lineage: its sources, their sources, and so on, to definitions taken from nothing
        recorded (several when a class has several bases; cycles, which transformers' records do not have by
        intent, stop the walk)."""
        roots, seen, todo = set(), {node}, [node]
        while todo:
            current = todo.pop()
            parents = self.sources.get(current, set()) - seen
            if not parents and current != node:
                roots.add(current)
            seen |= parents
            todo.extend(parents)
        return roots

    def components(self) -> dict[Node, list[Node]]:
        groups: dict[Node, list[Node]] = defaultdict(list)
        for node in self.parent:
            groups[self.find(node)].append(node)
        return groups

    def add_labels(self, labels: list[Label]) -> None:
        for label in labels:
            copy, source = (label.path, label.qualname), (label.source_path, label.source_qualname)
            self.link(copy, source, "copied from")
            if self.defs.kind(copy) != "class":
                continue
            source_defs = self.defs.of(label.source_path)
            for qualname in self.defs.of(label.path):
                if qualname.startswith(label.qualname + "."):
                    nested = label.source_qualname + qualname[len(label.qualname):]
                    if nested in source_defs:
                        self.link((label.path, qualname), (label.source_path, nested), "copied from (nested)")

    def add_modular(self, models: Path, folders: list[str] | None = None) -> None:
        """Modular edges of every modular file under models/ (or of those in `folders`; the converter writes the
        generated files beside their modular file)."""
        generated: dict[str, list[str]] = defaultdict(list)
        files = models.rglob("*.py") if folders is None else (p for f in folders for p in (models / f).glob("*.py"))
        for path in sorted(files):
            with path.open(encoding="utf-8", errors="replace") as handle:
                head = "".join(handle.readline() for _ in range(12))
            match = GENERATED_FROM.search(head)
            if match:
                generated[f"{match.group(1)}/{match.group(2)}.py"].append(path.relative_to(models).as_posix())
        for modular, outputs in sorted(generated.items()):
            file = models / modular
            if file.is_file():
                self._add_modular_file(models, modular, ast.parse(file.read_text(encoding="utf-8")), outputs)

    def _add_modular_file(self, models: Path, modular: str, tree: ast.Module, outputs: list[str]) -> None:
        folder = modular.split("/")[0]
        imported: dict[str, Node] = {}  # local name -> (y/modeling_y.py, name there)
        local: set[str] = set()  # names the modular file defines itself at the top level
        statements = list(tree.body)
        while statements:
            node = statements.pop(0)
            if isinstance(node, ast.If | ast.Try):  # `if is_torch_available():`, `try: ... except ImportError`
                statements[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                                  *(s for h in getattr(node, "handlers", []) for s in h.body)]
            elif isinstance(node, ast.ImportFrom):
                source = modeling_module(node, folder, models)
                if source is not None:
                    for alias in node.names:
                        imported[alias.asname or alias.name] = (source, alias.name)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                local.add(node.name)
        for name in local:
            imported.pop(name, None)  # redefined in the modular file: the generated one is that definition
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [imported[b.id] for b in node.bases if isinstance(b, ast.Name) and b.id in imported]
            bases = [b for b in bases if self.defs.kind(b) == "class"]
            if not bases:
                continue
            overridden = {n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef
                                                                   | ast.ClassDef)}
            overridden |= {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets
                           if isinstance(t, ast.Name)}
            for output in outputs:
                out_defs = self.defs.of(output)
                if node.name not in out_defs or out_defs[node.name].kind != "class":
                    continue
                for base in bases:
                    self.link((output, node.name), base, "modular class")
                prefix = node.name + "."
                for qualname in out_defs:
                    if not qualname.startswith(prefix):
                        continue
                    rest = qualname[len(prefix):]
                    if rest.split(".")[0] in overridden:
                        continue
                    for base_path, base_name in bases:  # the first base defining it, as Python's MRO would
                        if f"{base_name}.{rest}" in self.defs.of(base_path):
                            self.link((output, qualname), (base_path, f"{base_name}.{rest}"), "modular method")
                            break
        for name, source in imported.items():
            if self.defs.kind(source) != "function" or "." in source[1]:
                continue
            for output in outputs:
                for candidate in dict.fromkeys((name, source[1])):
                    definition = self.defs.of(output).get(candidate)
                    if definition is not None and definition.kind == "function":
                        self.link((output, candidate), source, "modular function")
                        break

    def add_twins(self, twins: Twins) -> None:
        groups: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for path, start, end, content in twins.db.execute(
            "SELECT fi.path, f.start_line, f.end_line, f.content_hash FROM fragments f JOIN files fi"
            " ON fi.id = f.file_id WHERE f.kind != 'file'"
        ):
            groups[content].append((path, start, end))
        for group in groups.values():
            if len(group) < 2:
                continue
            nodes = [n for n in (self.defs.at(*fragment) for fragment in group) if n is not None]
            for node in nodes[1:]:
                self.link(nodes[0], node, "twins")

    def summary(self) -> str:
        sizes = sorted((len(c) for c in self.components().values()), reverse=True)
        edges = ", ".join(f"{rule} {count}" for rule, count in self.edges.items())
        return (f"provenance graph: {sum(self.edges.values())} edges ({edges}); {len(self.parent)} definitions in "
                f"{len(sizes)} components; largest {sizes[:5]}")


def modeling_module(node: ast.ImportFrom, folder: str, models: Path) -> str | None:
    """`from ..y.modeling_y import ...` (or `from transformers.models.y.modeling_y import ...`) in models/<folder>/:
    the corpus-relative path of y's modeling file, when y is another model folder and the file exists."""
    module = node.module or ""
    if node.level == 0 and module.startswith("transformers.models."):
        module = module[len("transformers.models."):]
    elif node.level != 2:
        return None
    parts = module.split(".")
    if len(parts) != 2 or parts[0] == folder or not parts[1].startswith("modeling_"):
        return None
    path = f"{parts[0]}/{parts[1]}.py"
    return path if (models / path).is_file() else None


def provenance_graph(models: Path, labels: list[Label], twins: Twins) -> ProvenanceGraph:
    """The provenance graph of transformers' models/ folder (the installed wheel, read as files, never imported),
    with twins from the corpus index behind `twins`."""
    graph = ProvenanceGraph(Definitions(models))
    graph.add_labels(labels)
    graph.add_modular(models)
    graph.add_twins(twins)
    return graph


class LabelSources:
    """Shingle sets of labelled source definitions, to tell how similar a label's own source is to the copy."""

    def __init__(self, models: Path, k: int) -> None:
        self.models, self.k = models, k
        self._files: dict[str, object] = {}

    def _shingles(self, normalised, start: int, end: int):
        from provscan.fingerprint import unique_shingles

        for fragment in normalised.fragments:
            if (fragment.start_line, fragment.end_line) == (start, end) and fragment.kind != "file":
                return unique_shingles(normalised.codes[fragment.tok_start : fragment.tok_end], self.k)
        return None

    def jaccard(self, analysed, label: Label) -> float:
        """Jaccard of the annotated definition (as scanned) and its labelled source; 1.0 when either is missing."""
        import numpy as np

        from provscan.fragments import normalise
        from provscan.parse import parse_text

        if label.source_path not in self._files:
            text = (self.models / label.source_path).read_text(encoding="utf-8")
            self._files[label.source_path] = normalise(parse_text(label.source_path, text), 30)
        source = self._shingles(self._files[label.source_path], label.source_start, label.source_end)
        copy = self._shingles(analysed.normalised, label.start_line, label.end_line)
        if source is None or copy is None:
            return 1.0
        shared = np.intersect1d(source, copy).size
        return shared / (source.size + copy.size - shared)


def scan_without_self(path: Path, relative: str, corpus, match_settings):
    """Scan one file (annotations blanked) against the corpus, dropping its own fragments from the candidates."""
    from provscan.findings import build_findings
    from provscan.fingerprint import AnalysisJob, analyse
    from provscan.match import find_matches

    text = "\n".join("" if "# Copied from" in line else line for line in path.read_text(encoding="utf-8").splitlines())
    analysed = analyse(AnalysisJob(relative, text, corpus.settings, 30))
    if not hasattr(analysed, "normalised"):
        return [], None
    matches = [m for m in find_matches([analysed], corpus, match_settings) if m.source.path != relative]
    findings, _coverage = build_findings([analysed], matches, {corpus.name: corpus}, match_settings.min_run)
    return findings, analysed


def reported_pairs(findings) -> dict[tuple[int, int], tuple]:
    """(start, end) of each reported submission fragment -> (best source, equally good sources, jaccard, kind)."""
    pairs = {}
    for finding in findings:
        for f in finding.fragments():
            also = [(a.source.path, a.source.start_line, a.source.end_line) for a in f.also_in]
            pairs[(f.start_line, f.end_line)] = ((f.source.path, f.source.start_line, f.source.end_line), also,
                                                 f.jaccard, f.kind)
    return pairs


def evaluate(files, by_file, models: Path, corpus, twins: Twins, match_settings,
             graph: ProvenanceGraph) -> tuple[Counter, Counter, list, list]:
    """Score every annotated file: label outcomes (recall), pair verdicts (precision), the unverified pairs, and the
    labels not found (with the source reported instead, if any).

    Each reported (fragment -> best source) pair is, in this order: "annotated" (a label names that source or a
    twin of it), "identical" (identical shingle sets after normalisation), "linked" (both definitions are in one
    component of the provenance `graph`: a shared origin by transformers' own records, a clone pair in the
    BigCloneBench sense) or "unverified"."""
    outcome: Counter = Counter()
    totals: Counter = Counter()
    unverified: list[tuple] = []
    failures: list[tuple] = []
    sources = LabelSources(models, corpus.settings.k)
    for relative in files:
        findings, analysed = scan_without_self(models / relative, relative, corpus, match_settings)
        pairs = reported_pairs(findings)
        sizes = {(f.start_line, f.end_line): f.n_tokens for f in analysed.normalised.fragments} if analysed else {}
        labelled: dict[tuple[int, int], list[Label]] = defaultdict(list)
        for label in by_file[relative]:
            labelled[(label.start_line, label.end_line)].append(label)
            truth = (label.source_path, label.source_start, label.source_end)
            if sizes.get((label.start_line, label.end_line), 0) < 30:
                outcome["below minimum size"] += 1
                continue
            outcome["evaluable"] += 1
            reported = pairs.get((label.start_line, label.end_line))
            if reported is None:
                outcome["missed"] += 1
                failures.append((relative, label, "not reported", None))
                continue
            best, also, jaccard, _kind = reported
            outcome["recall@1 strict"] += best == truth
            right = twins.same(best, truth)
            outcome["recall@1 twins"] += right
            # A different source that is at least as similar as the annotated one is a true statement about the
            # code (copies of copies: nemotron's and persimmon's rotary embeddings are closer to each other than to
            # llama's, which both name).
            outcome["right or as similar"] += right or jaccard >= sources.jaccard(analysed, label) - 1e-9
            found = any(twins.same(s, truth) for s in [best, *also])
            outcome["recall"] += found
            if not found:
                failures.append((relative, label, "other source", best))
        for span, (best, _also, jaccard, kind) in pairs.items():
            if kind == "file":
                continue
            totals["pairs"] += 1
            truths = [(lab.source_path, lab.source_start, lab.source_end) for lab in labelled.get(span, [])]
            if any(twins.same(best, truth) for truth in truths):
                totals["annotated"] += 1
            elif jaccard >= 0.9999:  # identical shingle sets after normalisation
                totals["identical"] += 1
            elif graph.same(graph.defs.at(relative, *span), graph.defs.at(*best)):
                totals["linked"] += 1
            else:
                totals["unverified"] += 1
                unverified.append((relative, span, best, jaccard))
    return outcome, totals, unverified, failures
