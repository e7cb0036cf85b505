"""Cross-submission similarity (MOSS-style): which submissions share code with each other, with evidence.

Programme entrants can copy each other as well as open models. Every submission's files are fingerprinted as in a
scan and indexed together in one temporary corpus (one project per submission); each submission is then matched
against it like against any corpus, its own project left out, and the findings stage picks the best other
submission per fragment with line-level evidence on both sides. Evidence whose lines are mostly matched to the
reference corpus in that submission's scan is kept but labelled `via_corpus`: two entrants who both copied GLM-4's
router share it because of GLM-4.

Pairs are ranked by a continuous similarity (`provscan.pairsim`) that every pair sharing anything gets, findings or
not: how much of one submission's code, leaving out the lines the reference corpus explains, is found in the other
(containment both ways; the score is the larger), so a programme office can read pairs in order below the
reporting rules too; then by the unexplained lines of their findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provscan.fingerprint import AnalysisJob, FingerprintedFile, FingerprintSettings, analyse
from provscan.walk import WalkOptions, WalkReport, walk

CROSS_CORPUS = "submissions"
EVIDENCE_SHOWN = 5  # per pair
FILE_PAIRS_SHOWN = 3  # per pair: the file pairs sharing most
VIA_CORPUS_SHARE = 0.5  # a shared fragment whose lines are at least this much corpus-matched came via the corpus


@dataclass(frozen=True)
class FingerprintJob:
    name: str
    path: Path
    walk: WalkOptions
    settings: FingerprintSettings
    min_tokens: int


def fingerprint_submission(job: FingerprintJob) -> tuple[str, list[FingerprintedFile]]:
    """Worker: every parsable file of one submission, fingerprinted (an unreadable submission has none)."""
    files = []
    try:
        for source in walk(job.path, job.walk, WalkReport()):
            result = analyse(AnalysisJob(source.path, source.text, job.settings, job.min_tokens))
            if isinstance(result, FingerprintedFile):
                files.append(result)
    except Exception:  # noqa: BLE001 - the submission's own scan reports why; it just takes no part here
        return job.name, []
    return job.name, files


def compare(
    submissions: dict[str, list[FingerprintedFile]],
    index_path: Path,
    settings: FingerprintSettings,
    match_settings,
    corpus_lines: dict[str, dict[str, set[int]]],
    progress=None,
) -> list[dict]:
    """Pairs of submissions sharing code, best first, each with its top evidence."""
    from provscan.findings import build_findings
    from provscan.index import CorpusIndex
    from provscan.match import OpenCorpus, find_matches

    index_path.unlink(missing_ok=True)
    index = CorpusIndex(index_path, writable=True)
    try:
        for name, files in submissions.items():
            for fingerprinted in files:
                index.add_file(_record(name, fingerprinted))
        index.commit()
        corpus = OpenCorpus(CROSS_CORPUS, index, settings, {})
        directed: dict[tuple[str, str], dict] = {}
        for done, (name, files) in enumerate(submissions.items(), start=1):
            matches = [m for m in find_matches(files, corpus, match_settings) if m.source.project != name]
            findings, _ = build_findings(files, matches, {CROSS_CORPUS: corpus}, match_settings.min_run)
            for finding in findings:
                other = finding.source.project
                entry = directed.setdefault((name, other), {"lines": 0, "unexplained": 0, "fragments": 0,
                                                            "max_jaccard": 0.0, "evidence": []})
                via = _via_corpus(finding, corpus_lines.get(name, {}), corpus_lines.get(other, {}), other)
                entry["lines"] += finding.matched_lines
                entry["unexplained"] += 0 if via else finding.matched_lines
                entry["fragments"] += 1
                entry["max_jaccard"] = max(entry["max_jaccard"], finding.jaccard)
                entry["evidence"].append(_evidence(finding, other, via))
            if progress:
                progress(done, len(submissions))
    finally:
        index.close()
        index_path.unlink(missing_ok=True)
    return _pairs(directed, _similarities(submissions, settings.k, corpus_lines))


def _similarities(submissions: dict[str, list[FingerprintedFile]], k: int,
                  corpus_lines: dict[str, dict[str, set[int]]]) -> dict[tuple[str, str], dict]:
    """(a, b) sorted -> the pair's similarity outside the corpus-explained lines, and its closest file pairs."""
    from provscan.pairsim import ShingledFile, group_similarities, pair_similarities, shingle_set

    files = [ShingledFile(name, f.normalised.path, shingle_set(f.normalised.codes, f.normalised.lines, k,
                                                               corpus_lines.get(name, {}).get(f.normalised.path, ())))
             for name, fingerprinted in submissions.items() for f in fingerprinted]
    by_pair: dict[tuple[str, str], list] = {}
    for pair in pair_similarities(files):
        key = tuple(sorted((pair.a.group, pair.b.group)))
        if len(by_pair.setdefault(key, [])) < FILE_PAIRS_SHOWN:
            by_pair[key].append(pair)
    found = {}
    for pair in group_similarities(files):
        key = tuple(sorted((pair.a.group, pair.b.group)))
        found[key] = {**_figures(pair.seen_from(key[0])),
                      "file_pairs": [{"path": p.a.path, "other_path": p.b.path, **_figures(p)}
                                     for p in (p.seen_from(key[0]) for p in by_pair.get(key, []))]}
    return found


def _figures(pair) -> dict:
    return {"a_in_b": round(pair.a_in_b, 4), "b_in_a": round(pair.b_in_a, 4), "score": round(pair.score, 4),
            "shared_shingles": pair.shared}


def _record(name: str, fingerprinted: FingerprintedFile):
    from provscan.index import FileRecord, FragmentRecord

    nf = fingerprinted.normalised
    fragments = [FragmentRecord(nf.fragments[i], fingerprinted.band_keys[row])
                 for row, i in enumerate(fingerprinted.indexed)]
    return FileRecord(project=name, path=f"{name}/{nf.path}", sha256="", language=nf.language,
                      total_lines=nf.total_lines, code_lines=nf.code_lines, notices=[], codes=nf.codes,
                      lines=nf.lines, fragments=fragments)


def _lines(blocks, side: str) -> set[int]:
    lines: set[int] = set()
    for block in blocks:
        start, end = (block.sub_start, block.sub_end) if side == "sub" else (block.src_start, block.src_end)
        lines.update(range(start, end + 1))
    return lines


def _via_corpus(finding, own: dict[str, set[int]], theirs: dict[str, set[int]], other: str) -> bool:
    """Do the shared lines lie mostly in code that the reference corpus explains, on either side?"""
    sub = _lines(finding.evidence, "sub")
    src = _lines(finding.evidence, "src")
    other_path = finding.source.path.removeprefix(other + "/")
    for lines, matched in ((sub, own.get(finding.path, set())), (src, theirs.get(other_path, set()))):
        if lines and len(lines & matched) / len(lines) >= VIA_CORPUS_SHARE:
            return True
    return False


def _evidence(finding, other: str, via: bool) -> dict:
    source = finding.source
    return {
        "path": finding.path, "fragment": f"{finding.fragment_kind} {finding.fragment_name}",
        "lines": [finding.start_line, finding.end_line],
        "other_path": source.path.removeprefix(other + "/"), "other_fragment": f"{source.kind} {source.name}",
        "other_lines": [source.start_line, source.end_line],
        "jaccard": finding.jaccard, "matched_lines": finding.matched_lines, "via_corpus": via,
        "blocks": [[b.sub_start, b.sub_end, b.src_start, b.src_end] for b in finding.evidence],
    }


_NO_FINDINGS = {"lines": 0, "unexplained": 0, "fragments": 0, "max_jaccard": 0.0, "evidence": []}


def _pairs(directed: dict[tuple[str, str], dict], similarities: dict[tuple[str, str], dict]) -> list[dict]:
    """Merge A->B and B->A into one pair: lines on each side, the evidence of the richer direction, and the pair's
    similarity (pairs that share code below the reporting rules have no findings, only that)."""
    pairs = []
    for a, b in sorted({tuple(sorted(key)) for key in directed} | set(similarities)):
        forward, backward = directed.get((a, b)), directed.get((b, a))
        if not forward and not backward:
            forward = _NO_FINDINGS
        richer, reverse = (forward, False) if forward and (not backward or forward["lines"] >= backward["lines"]) \
            else (backward, True)
        evidence = sorted(richer["evidence"], key=lambda e: (e["via_corpus"], -e["matched_lines"]))[:EVIDENCE_SHOWN]
        if reverse:
            evidence = [_flip(e) for e in evidence]
        pairs.append({
            "a": a, "b": b,
            "lines_a": forward["lines"] if forward else 0, "lines_b": backward["lines"] if backward else 0,
            "unexplained_lines": max(d["unexplained"] for d in (forward, backward) if d),
            "fragments": max(d["fragments"] for d in (forward, backward) if d),
            "max_jaccard": max(d["max_jaccard"] for d in (forward, backward) if d),
            "similarity": similarities.get((a, b), {"a_in_b": 0.0, "b_in_a": 0.0, "score": 0.0, "shared_shingles": 0,
                                                    "file_pairs": []}),
            "evidence": evidence,
        })
    pairs.sort(key=lambda p: (-p["similarity"]["score"], -p["unexplained_lines"], -(p["lines_a"] + p["lines_b"]),
                              p["a"], p["b"]))
    return pairs


def _flip(evidence: dict) -> dict:
    """Evidence found from B's side, written from A's (a = the pair's first submission)."""
    return {
        **evidence, "path": evidence["other_path"], "fragment": evidence["other_fragment"],
        "lines": evidence["other_lines"], "other_path": evidence["path"], "other_fragment": evidence["fragment"],
        "other_lines": evidence["lines"], "blocks": [[c, d, a, b] for a, b, c, d in evidence["blocks"]],
    }
