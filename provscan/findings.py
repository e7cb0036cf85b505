"""Findings stage: from verified matches to what a reviewer reads.

The corpus repeats itself (transformers generates many modeling files from shared code), so one submission
fragment often matches the same code in a dozen model folders. Each submission fragment yields one finding with
one source; sources that are as good are grouped under it ("also in"). Which one is named decides whose notice the
submitter had to keep, so it is not left to chance: the corpus file the rest of the submission file was taken from
(by the other fragments' origins) when it holds this code as well, else the origin the corpus's lineage leads to
(`provscan.lineage`: a later copy's holder is not the author), else a project named like the submission file, then
file affinity (the corpus file that shares most code with the whole submission file). A mutated copy of the Qwen2
modeling file thus attributes even its generic RMSNorm to Qwen2, with Llama as where it was first written.

Nested fragments are folded: a method whose best source (or an equally good one) lies in the same corpus file as its
enclosing class's (or file's) finding becomes a member of that finding instead of a finding of its own.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import xxhash

from provscan.diagnostics import reading
from provscan.fingerprint import FingerprintedFile, shingles
from provscan.lineage import model_name
from provscan.match import (
    EvidenceBlock,
    Match,
    MatchSettings,
    OpenCorpus,
    SourceRef,
    aligned_coverage,
    evidence,
    literals_in,
    shared_literals,
)
from provscan.strength import DEFAULT_RULES, EvidenceStrength, StrengthRules, capped, weigh

SEVERITIES = ("low", "medium", "high")
TIE_TOLERANCE = 0.02  # Jaccard difference within which two sources count as equally good
# A fragment says where its submission file came from only when it shares this many shingles with its source: the
# size at which an overlap is evidence by itself (`provscan.match`), above every hand-checked false alarm (63 at most
# shared shingles, 23 in the three-line `forward`s of third-party code that matched reformer)
VOTE_MIN_SHARED = 2 * MatchSettings.min_shared_shingles


@dataclass
class AlsoIn:
    source: SourceRef
    jaccard: float


@dataclass
class Member:
    """A nested fragment folded into the finding of an enclosing fragment that matched the same source file."""

    kind: str
    name: str
    start_line: int
    end_line: int
    source: SourceRef
    jaccard: float
    containment: float
    evidence: list[EvidenceBlock]


@dataclass
class Finding:
    """What every finding has, whatever its kind: the one findings model of the tool.

    kind: "code-match" | "notice" | "marker" | "stripped-attribution" | "attribution-kept".
    """

    id: str
    kind: str
    severity: str
    rule_id: str
    message: str
    path: str
    start_line: int
    end_line: int


@dataclass
class CodeMatchFinding(Finding):
    """Submission code that matches corpus code, with evidence on both sides."""

    language: str
    fragment_kind: str
    fragment_name: str
    source: SourceRef
    jaccard: float
    containment: float
    source_containment: float
    shared_shingles: int
    alignment: float
    evidence: list[EvidenceBlock]
    source_notices: list[dict]
    local_run: int = 0  # a local block: consecutive shingles shared in order, when only that made the match
    also_in: list[AlsoIn] = field(default_factory=list)
    also_in_total: int = 0
    # Where the corpus's lineage says the code was first written, when that is not the reported source (which is
    # the copy the submission file was taken from; see `origin_among`)
    first_written_in: SourceRef | None = None
    members: list[Member] = field(default_factory=list)
    matched_lines: int = 0
    source_license: dict | None = None  # {"id", "name", "obligations", "restricted"} from the source's notices
    # How much the evidence proves (`provscan.strength`); the severity is capped by it
    strength: EvidenceStrength | None = None

    def fragments(self) -> list[ReportedFragment]:
        """Every submission fragment this finding speaks for: its own, then each folded member."""
        own = ReportedFragment(self.path, self.start_line, self.end_line, self.fragment_kind, self.fragment_name,
                               self.source, self.jaccard, self.also_in, folded=False)
        return [own] + [ReportedFragment(self.path, m.start_line, m.end_line, m.kind, m.name, m.source, m.jaccard,
                                         [], folded=True) for m in self.members]


@dataclass
class ReportedFragment:
    """One submission fragment and the source a finding names for it (evaluation harnesses read findings this way)."""

    path: str
    start_line: int
    end_line: int
    kind: str
    name: str
    source: SourceRef
    jaccard: float
    also_in: list[AlsoIn]
    folded: bool  # a nested fragment folded into an enclosing finding

    @property
    def span(self) -> tuple[str, int, int]:
        return (self.path, self.start_line, self.end_line)


@dataclass
class Coverage:
    code_lines: int = 0
    matched_lines: int = 0
    per_project: dict[tuple[str, str], int] = field(default_factory=dict)  # (corpus, project) -> lines


def severity_of(match: Match) -> str:
    """How strong the evidence is. A match under the default shared-shingle floor can only be an exact copy of a
    small fragment (`MatchSettings.exact_copy_share`): real copies, but also two-line delegating `__init__`s
    that any code base has, so they are reported as weak evidence."""
    if match.shared < MatchSettings.min_shared_shingles:
        return "low"
    if match.local_run:  # a verbatim run of some length inside fragments that are otherwise unlike
        return "medium"
    if match.jaccard >= 0.8 or (match.containment >= 0.9 and match.shared >= 50):
        return "high"
    if (match.jaccard >= 0.6 or max(match.containment, match.source_containment) >= 0.8
            or (match.alignment or 0.0) >= MatchSettings.min_alignment):
        return "medium"
    return "low"


def stable_id(*parts: str) -> str:
    """A finding id that stays the same across runs and line shifts: a hash of what was found, not where."""
    return "PS-" + xxhash.xxh64_hexdigest("\x1f".join(parts).encode("utf-8"))[:12]


def make_ids_unique(findings: list[Finding]) -> None:
    """Give findings that share an id (two `forward` methods of one file matching one source, two markers of one
    rule in one file) ids of their own: baselines and SARIF fingerprints key on the id. The first in line order
    keeps the plain id, the n-th gets the plain id hashed with n, so ids stay stable across runs and line shifts
    as long as the same-named findings keep their order."""
    seen: Counter[str] = Counter()
    for finding in sorted(findings, key=lambda f: (f.path, f.start_line, f.end_line, f.kind)):
        seen[finding.id] += 1
        if seen[finding.id] > 1:
            finding.id = stable_id(finding.id, str(seen[finding.id]))


def finding_id(path: str, fragment_name: str, fragment_kind: str, source: SourceRef) -> str:
    """Id of a code match: what was matched to what."""
    return stable_id(path, fragment_kind, fragment_name, source.corpus, source.path, source.name)


def _rank(matches: list[Match], affinity: dict[tuple[str, int], int], names: frozenset[str] = frozenset()
          ) -> list[Match]:
    """Best first: the equally good sources (within TIE_TOLERANCE of the best Jaccard) ahead of the rest, among
    them a project named like the submission file or its folders (`names`), then file affinity, then score."""
    best_jaccard = max(m.jaccard for m in matches)

    def key(match: Match) -> tuple:
        tied = match.jaccard >= best_jaccard - TIE_TOLERANCE
        named = tied and match.source.project.lower() in names
        return (tied, named, affinity.get(match.source_file_key, 0) if tied else 0, match.score, match.source.path)

    return sorted(matches, key=key, reverse=True)


def project_names_in(path: str) -> frozenset[str]:
    """The names a submission path gives its code, as a corpus would name the project: `models/clip/clip.py`
    -> {"models", "clip"}, `modeling_qwen2.py` -> {"qwen2"}."""
    parts = path.lower().replace("-", "_").split("/")
    return frozenset([*parts[:-1], model_name(parts[-1].rsplit(".", 1)[0])])


def origin_among(first: Match, others: list[Match], taken_from: dict[tuple[str, int], float] | None = None,
                 corpus_order: tuple[str, ...] = ()) -> tuple[Match, Match]:
    """Among equally good sources: (the source to report, where the corpus's lineage says it was first written).

    A copy's holder is not the author, so the lineage is followed from `first` past copies to its root. But when
    one of the sources is a corpus file the rest of the submission file was taken from (`taken_from`: the other
    fragments' origins, weighted by how specific each is), that file is the source: a submitter who copied GLM-4
    MoE's modeling file copied its experts from there, even though GLM-4 MoE had them from Qwen2-MoE, and the
    notice they had to keep is that file's. The root is returned beside it, as where the code was first written.

    Each corpus's lineage is its own; between corpora the user's `corpus_order` (upstream first) says which holds
    the original: the root is sought among the sources of the most upstream corpus that holds the code.
    """
    upstream = _upstream(first, others, corpus_order)
    by_definition = _by_definition(*upstream)
    weights = taken_from or {}
    candidates = [m for m in (first, *others) if weights.get(m.source_file_key)]
    taken = max(candidates, key=lambda m: weights[m.source_file_key]) if candidates else None
    sources = [upstream[0], *upstream[1]]
    if taken is not None and _corpus_rank(taken, corpus_order) == _corpus_rank(upstream[0], corpus_order):
        return taken, _root(taken, sources, by_definition)
    start = _earliest_notice(*upstream) if _lineage_silent(*upstream) else upstream[0]
    root = _root(start, sources, by_definition)
    return (taken or root), root


def _same_project(a: SourceRef, b: SourceRef) -> bool:
    return (a.corpus, a.project) == (b.corpus, b.project)


def _corpus_rank(match: Match, corpus_order: tuple[str, ...]) -> int:
    """Place of the match's corpus in the user's order; corpora not named come after every named one."""
    return corpus_order.index(match.source.corpus) if match.source.corpus in corpus_order else len(corpus_order)


def _upstream(first: Match, others: list[Match], corpus_order: tuple[str, ...]) -> tuple[Match, list[Match]]:
    """The sources in the most upstream corpus that holds the code, in their ranked order (all of them when the
    user gave no order)."""
    if not corpus_order:
        return first, others
    ranked = [first, *others]
    top = min(_corpus_rank(m, corpus_order) for m in ranked)
    kept = [m for m in ranked if _corpus_rank(m, corpus_order) == top]
    return kept[0], kept[1:]


_COPYRIGHT_YEAR = re.compile(r"(?:copyright|\u00a9|\(c\))\D{0,80}?\b((?:19|20)\d\d)\b", re.IGNORECASE)


def _lineage_silent(first: Match, others: list[Match]) -> bool:
    """The corpus's lineage says nothing about `first`: it names no parent for it, and no source names it one."""
    own = (first.source.project, first.source.name)
    return first.derived_from is None and all(
        m.derived_from != own or m.source.corpus != first.source.corpus for m in others)


def _earliest_notice(first: Match, others: list[Match]) -> Match:
    """Where the lineage is silent, the source whose file's copyright notice is the earliest, when it is earlier
    than `first`'s (any corpus has notices, not every corpus has lineage records): a 2019 notice and a 2024 one
    over the same code say which file is likelier the copy. Ties keep `first`, and so does a `first` without a
    dated notice: transformers' generated files carry none, which says nothing of their age."""
    def year(match: Match) -> int | None:
        years = [int(y) for n in match.notices for y in _COPYRIGHT_YEAR.findall(str(n.get("text", "")))]
        return min(years) if years else None

    mine = year(first)
    dated = [(y, m) for m in others if (y := year(m)) is not None]
    if not dated:
        return first
    earliest, match = min(dated, key=lambda pair: pair[0])
    return match if mine is not None and earliest < mine else first


def _by_definition(first: Match, others: list[Match]) -> dict[tuple[str, str, str], Match]:
    """(corpus, project, definition name) -> the best ranked source of that definition: a corpus's lineage names
    definitions of that corpus only."""
    by_definition: dict[tuple[str, str, str], Match] = {}
    for match in (first, *others):
        by_definition.setdefault((match.source.corpus, match.source.project, match.source.name), match)
    return by_definition


def _lineage_chain(start: Match, by_definition: dict[tuple[str, str, str], Match]) -> list[Match]:
    """`start`, the source it was taken from, and so on, as far as the equally good sources go."""
    chain, seen = [start], {id(start)}
    while chain[-1].derived_from is not None:
        parent = by_definition.get((chain[-1].source.corpus, *chain[-1].derived_from))
        if parent is None or id(parent) in seen:
            break
        seen.add(id(parent))
        chain.append(parent)
    return chain


def _root(start: Match, sources: list[Match], by_definition: dict[tuple[str, str, str], Match]) -> Match:
    """Where `start`'s code was first written, as the equally good `sources` tell it: the end of `start`'s lineage
    chain, unless the other sources' chains say better. Two cases do:

    * the chain is cut - its end names a parent that is not among the sources (the parent was changed since, or
      its folder is not in the corpus) - so its end is a copy, not the original;
    * the chain ends at a root that only `start` leads to, while another root is where two or more of the sources'
      chains end: one un-recorded copy (a model that copied without a `# Copied from` line) against several that
      record where they took the code from.

    Then the root most of the sources' chains end at is the origin (ties to the best ranked). Only true roots count,
    definitions the lineage names no parent for, so a cut chain never votes for its own copy."""
    own = _lineage_chain(start, by_definition)[-1]
    led: Counter[int] = Counter()
    roots: dict[int, Match] = {}
    for source in sources:
        end = _lineage_chain(source, by_definition)[-1]
        if end.derived_from is None:
            led[id(end)] += 1
            roots.setdefault(id(end), end)
    if not roots:
        return own
    most_led = max(roots.values(), key=lambda root: led[id(root)])  # first of the most led: the best ranked
    cut = own.derived_from is not None
    lonely = led[id(own)] <= 1 and led[id(most_led)] >= 2
    return most_led if cut or lonely else own


def _fragment_origins(equal_by_fragment: dict[int, tuple[Match, list[Match]]]
                      ) -> dict[int, tuple[tuple[str, int], float]]:
    """Each fragment's evidence of where its submission file came from: its origin's corpus file (the lineage root
    among its equally good sources) and a weight of 1 / the number of projects that hold it equally well, so code
    specific to one model (a Qwen2 attention class, found in 2 files) outweighs generic helpers found in 170
    (`rotate_half`). Only origins that stand on something count: one project holds the code, or the lineage names
    the root as another source's parent (a method found in 50 files with no lineage of its own would otherwise
    vote for whichever file ranked first). Nor does a small match (under VOTE_MIN_SHARED shared shingles): an edited
    three-line helper found in one model folder would otherwise send every generic helper of the file there."""
    origins = {}
    for index, (first, others) in equal_by_fragment.items():
        if first.shared < VOTE_MIN_SHARED:
            continue
        root = _lineage_chain(first, _by_definition(first, others))[-1]
        projects = {(m.source.corpus, m.source.project) for m in (first, *others)}
        parents = {(m.source.corpus, *m.derived_from) for m in (first, *others) if m.derived_from}
        if len(projects) == 1 or (root.source.corpus, root.source.project, root.source.name) in parents:
            origins[index] = (root.source_file_key, 1 / len(projects))
    return origins


def _file_origins(origins: dict[int, tuple[tuple[str, int], float]], enclosing: list[set[int]],
                  fragment_index: int) -> dict[tuple[str, int], float]:
    """Where the rest of a submission file came from, as seen from one fragment: the other fragments' origins
    (`_fragment_origins`), summed per corpus file. A class and its own methods are one piece of evidence, not two
    (`enclosing`: each fragment with its enclosing fragments)."""
    weights: dict[tuple[str, int], float] = defaultdict(float)
    for index, (file_key, weight) in origins.items():
        if index not in enclosing[fragment_index] and fragment_index not in enclosing[index]:
            weights[file_key] += weight
    return weights


def _equally_good(ranked: list[Match]) -> tuple[Match, list[Match]]:
    """The first ranked source and the others within TIE_TOLERANCE of the best Jaccard (not of the first's, which
    may itself sit below the best and would let worse sources in)."""
    best_jaccard = max(m.jaccard for m in ranked)
    equal = [m for m in ranked if m.jaccard >= best_jaccard - TIE_TOLERANCE]
    return equal[0], equal[1:]


def build_findings(
    files: list[FingerprintedFile], matches: list[Match], corpora: dict[str, OpenCorpus], min_run: int = 4,
    strength_rules: StrengthRules = DEFAULT_RULES, corpus_order: tuple[str, ...] = (),
) -> tuple[list[CodeMatchFinding], Coverage]:
    """One finding per reported submission fragment (nested ones folded into their enclosing finding), weighed.

    `corpus_order` names corpora upstream first (`origin_among`); `min_run` is the shortest evidence block."""
    by_fragment: dict[tuple[int, int], list[Match]] = defaultdict(list)
    for match in matches:
        by_fragment[(match.file_index, match.fragment_index)].append(match)
    affinity = _file_affinity(by_fragment)

    findings: list[CodeMatchFinding] = []
    coverage = Coverage()
    for file_index, fingerprinted in enumerate(files):
        with reading(fingerprinted.normalised.path):
            nf = fingerprinted.normalised
            coverage.code_lines += nf.code_lines
            # fragment index -> finding + its files
            owner: dict[int, tuple[CodeMatchFinding, set[tuple[str, int]]]] = {}
            file_findings: list[CodeMatchFinding] = []
            # id(finding) -> (its match's shared shingles not common in the corpus, its shared long literals, the
            # lines holding matched tokens: a docstring is one token, so it counts once, not per line), for weighing
            # once its members are in
            weighing: dict[int, tuple[int, int, set[int]]] = {}
            line_owner: dict[int, tuple[str, str]] = {}
            names = project_names_in(nf.path)
            ranked_here = {index: _rank(by_fragment[(file_index, index)], affinity[file_index], names)
                           for index in range(len(nf.fragments)) if by_fragment.get((file_index, index))}
            equal_here = {index: _equally_good(ranked) for index, ranked in ranked_here.items()}
            origins = _fragment_origins(equal_here)
            enclosing = [_enclosing(nf, index) for index in range(len(nf.fragments))]
            for fragment_index, fragment in enumerate(nf.fragments):
                ranked = ranked_here.get(fragment_index)
                if not ranked:
                    continue
                ancestor = _owning_ancestor(nf, fragment_index, owner)
                if ancestor is not None:
                    parent_finding, parent_files = ancestor
                    # Fold only when one of the enclosing finding's files holds a match as good as this fragment's best
                    # (its own source file first, so nested code points into the file the finding names); otherwise
                    # the fragment's own best source (and its twins) must be reported.
                    parent_source = (parent_finding.source.corpus, parent_finding.source.path)
                    first, others = equal_here[fragment_index]
                    good = [m for m in (first, *others) if m.source_file_key in parent_files]
                    folded = min(good, key=lambda m: (m.source.corpus, m.source.path) != parent_source, default=None)
                    if folded is not None:
                        pair = _evidence(nf, fragment_index, folded, corpora, min_run, align=False)
                        parent_finding.members.append(
                            Member(fragment.kind, fragment.name, fragment.start_line, fragment.end_line,
                                   folded.source, round(folded.jaccard, 4), round(folded.containment, 4),
                                   pair.blocks)
                        )
                        _claim(line_owner, pair.lines, folded.source)
                        weighing[id(parent_finding)][2].update(pair.lines.tolist())
                        continue
                first, others = equal_here[fragment_index]
                # Common stock (`rotate_half`, in 171 files) is attributed to where it was first written: that the
                # rest of the file came from some copy says nothing about where a helper every model has came from
                holders = len({m.source_file_key for m in (first, *others)})
                taken_from = None if strength_rules.common_stock(holders) else _file_origins(
                    origins, enclosing, fragment_index)
                best, root = origin_among(first, others, taken_from, corpus_order)
                tied = [m for m in (first, *others) if m is not best]
                also_in = _distinct_sources(best, tied)
                pair = _evidence(nf, fragment_index, best, corpora, min_run)
                best.alignment = pair.alignment
                finding = CodeMatchFinding(
                    id=finding_id(nf.path, fragment.name, fragment.kind, best.source),
                    kind="code-match",
                    severity=severity_of(best),  # capped by the evidence's strength below
                    rule_id="code-match",
                    message=f"{fragment.kind} {fragment.name} matches {best.source.corpus}/{best.source.project} "
                    f"{best.source.path}:{best.source.start_line}-{best.source.end_line} {best.source.name} "
                    f"(Jaccard {best.jaccard:.2f}"
                    + (f"; a local block of {best.local_run} shingles in the same order)" if best.local_run else ")"),
                    path=nf.path,
                    start_line=fragment.start_line,
                    end_line=fragment.end_line,
                    language=nf.language,
                    fragment_kind=fragment.kind,
                    fragment_name=fragment.name,
                    source=best.source,
                    jaccard=round(best.jaccard, 4),
                    containment=round(best.containment, 4),
                    source_containment=round(best.source_containment, 4),
                    shared_shingles=best.shared,
                    alignment=round(best.alignment, 4),
                    local_run=best.local_run,
                    evidence=pair.blocks,
                    source_notices=best.notices,
                    also_in=also_in[:50],
                    also_in_total=len(also_in),
                    first_written_in=None if _same_project(root.source, best.source) else root.source,
                )
                owner[fragment_index] = (finding, {best.source_file_key} | {m.source_file_key for m in tied})
                file_findings.append(finding)
                _claim(line_owner, pair.lines, best.source)
                weighing[id(finding)] = (pair.uncommon_shingles, pair.literals, set(pair.lines.tolist()))
            for finding in file_findings:
                finding.matched_lines = _count_lines(finding)
                uncommon, literals, code_lines = weighing[id(finding)]
                _weigh(finding, len(code_lines), uncommon, literals, strength_rules)
            findings.extend(file_findings)
            coverage.matched_lines += len(line_owner)
            for project_key, count in Counter(line_owner.values()).items():
                coverage.per_project[project_key] = coverage.per_project.get(project_key, 0) + count
    make_ids_unique(findings)
    findings.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.path, f.start_line))
    return findings, coverage


def _file_affinity(by_fragment: dict[tuple[int, int], list[Match]]) -> dict[int, Counter]:
    """Per submission file: how much of it each corpus file explains (best overlap per submission fragment, summed).

    Taking the best per fragment, not the sum over all matches, keeps a big corpus file that repeats a snippet
    many times from outweighing the file the submission was really copied from.
    """
    affinity: dict[int, Counter] = defaultdict(Counter)
    for (file_index, _fragment), matches in by_fragment.items():
        best: dict[tuple[str, int], int] = {}
        for match in matches:
            best[match.source_file_key] = max(best.get(match.source_file_key, 0), match.shared)
        affinity[file_index].update(best)
    return affinity


def _enclosing(nf, index: int | None) -> set[int]:
    """A fragment and every fragment enclosing it (a method, its class, the file)."""
    found = set()
    while index is not None:
        found.add(index)
        index = nf.fragments[index].parent
    return found


def _owning_ancestor(nf, fragment_index: int, owner: dict) -> tuple | None:
    parent = nf.fragments[fragment_index].parent
    while parent is not None:
        if parent in owner:
            return owner[parent]
        parent = nf.fragments[parent].parent
    return None


def _distinct_sources(best: Match, tied: list[Match]) -> list[AlsoIn]:
    """One entry per corpus file other than the best one's, best fragment first."""
    seen = {best.source_file_key}
    result = []
    for match in tied:
        if match.source_file_key not in seen:
            seen.add(match.source_file_key)
            result.append(AlsoIn(match.source, round(match.jaccard, 4)))
    return result


@dataclass
class _PairEvidence:
    blocks: list[EvidenceBlock]
    lines: np.ndarray  # matched submission lines
    alignment: float | None
    uncommon_shingles: int  # shared shingles that are not common in the corpus
    literals: int  # long string literals shared word for word, not common in the corpus


def _evidence(nf, fragment_index: int, match: Match, corpora: dict[str, OpenCorpus], min_run: int,
              align: bool = True) -> _PairEvidence:
    """Evidence blocks and matched submission lines of a match, its shared uncommon shingles, and (with `align`)
    its aligned coverage from the same shingles: the match stage computes that only for the pairs that needed it
    to pass."""
    fragment = nf.fragments[fragment_index]
    corpus = corpora[match.source.corpus]
    k = corpus.settings.k
    stored = corpus.index.file(match.source_file_key[1])
    src_fragment = corpus.index.fragments([match.source_key[1]])[match.source_key[1]]
    src_codes = stored.codes[src_fragment.tok_start : src_fragment.tok_end]
    sub_codes = nf.codes[fragment.tok_start : fragment.tok_end]
    sub_shingles, src_shingles = shingles(sub_codes, k), shingles(src_codes, k)
    blocks, lines = evidence(
        sub_shingles,
        nf.lines[fragment.tok_start : fragment.tok_end],
        src_shingles,
        stored.lines[src_fragment.tok_start : src_fragment.tok_end],
        k,
        min_run,
    )
    alignment = match.alignment
    if align and alignment is None:
        alignment = aligned_coverage(sub_shingles, src_shingles, k)
    shared = np.intersect1d(sub_shingles, src_shingles)
    uncommon = np.setdiff1d(shared, corpus.common, assume_unique=True).size if corpus.common.size else shared.size
    literals = shared_literals(literals_in(nf.literals, fragment.tok_start, fragment.tok_end),
                               literals_in(stored.literals, src_fragment.tok_start, src_fragment.tok_end),
                               corpus.common_literals)
    return _PairEvidence(blocks, lines, alignment, int(uncommon), literals)


def _weigh(finding: CodeMatchFinding, code_lines: int, uncommon_shingles: int, literals: int,
           rules: StrengthRules) -> None:
    """Cap the finding's severity (by similarity, `severity_of`) by the strength of its evidence, and say why when
    it is not strong. The corpus files holding the code are the reported source's and its "also in" ones."""
    finding.strength = weigh(code_lines, uncommon_shingles, 1 + finding.also_in_total, rules, literals)
    finding.severity = capped(finding.severity, finding.strength, SEVERITIES)
    if finding.strength.level != "strong":
        finding.message += f"; {finding.strength.level} evidence ({'; '.join(finding.strength.reasons)})"


def _claim(line_owner: dict[int, tuple[str, str]], lines: np.ndarray, source: SourceRef) -> None:
    for line in lines.tolist():
        line_owner.setdefault(line, (source.corpus, source.project))


def _count_lines(finding: CodeMatchFinding) -> int:
    lines: set[int] = set()
    for block in finding.evidence + [b for m in finding.members for b in m.evidence]:
        lines.update(range(block.sub_start, block.sub_end + 1))
    return len(lines)
