"""Report stage, SARIF 2.1.0: findings for code-scanning UIs.

One run per scan. Each distinct rule id (`code-match`, `attribution.stripped`, `notice.<org>`, marker ids) is a
reporting descriptor; each finding is a result at its submission location with provscan's severity as the SARIF
level (high -> error, medium -> warning, low -> note) and its stable id as a partial fingerprint, so code-scanning
UIs track it across runs. The corpus side of the evidence (source fragment, matched line blocks, source notices) is
given as related locations under a `uriBaseId` per corpus, described in `originalUriBaseIds` when the corpus was
built from a local directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO
from urllib.parse import quote

from provscan.findings import CodeMatchFinding, Finding
from provscan.models.findings import ModelFinding
from provscan.provenance import AttributionFinding, MarkerFinding, NoticeFinding
from provscan.scan import ScanResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"high": "error", "medium": "warning", "low": "note"}
SUBMISSION_BASE = "SUBMISSION"
RELATED_BLOCKS = 20  # evidence blocks given as related locations per result (all are in the JSON report)

_RULE_HELP = {
    "code-match": "Submission code matches code of a known project in a corpus (after normalising identifiers, "
    "literals, comments and layout). Check the evidence, the source's licence and its obligations.",
    "attribution.stripped": "Code matching a source file that carries a copyright notice, in a file that keeps no "
    "notice of that holder: the attribution was removed or replaced.",
    "attribution.kept": "Code matching a source file whose holder's notice the submission file keeps.",
}


def write_sarif(result: ScanResult, out: IO[str]) -> None:
    """One scan as a SARIF 2.1.0 log."""
    write_sarif_runs([result], out)


def write_sarif_runs(results: list[ScanResult], out: IO[str]) -> None:
    """Several scans (`provscan compare` gives one per direction) as runs of one SARIF log."""
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [sarif_run(result) for result in results]}
    json.dump(log, out, indent=2, ensure_ascii=False)
    out.write("\n")


def sarif_run(result: ScanResult) -> dict:
    rules: dict[str, dict] = {}
    for finding in result.findings:
        if finding.rule_id not in rules:
            rules[finding.rule_id] = _rule(finding)
    rule_index = {rule_id: index for index, rule_id in enumerate(rules)}
    bases = {SUBMISSION_BASE: _base_uri(result.target)}
    for corpus in result.corpora:
        bases[_corpus_base(corpus["name"])] = _base_uri(corpus.get("source", ""))
    return {
        "tool": {
            "driver": {
                "name": "provscan",
                "version": result.provscan_version,
                "semanticVersion": result.provscan_version,
                "rules": list(rules.values()),
            }
        },
        "invocations": [{"executionSuccessful": True, "startTimeUtc": result.started_at}],
        "originalUriBaseIds": {
            name: ({"uri": uri} if uri else {"description": {"text": "not a local directory"}})
            for name, uri in bases.items()
        },
        "results": [_result(finding, rule_index[finding.rule_id]) for finding in result.findings],
        "properties": {
            "target": result.target,
            "corpora": [
                {key: corpus.get(key, "") for key in ("name", "version", "built_at", "source")}
                for corpus in result.corpora
            ],
            "matchedLines": result.coverage.matched_lines,
            "codeLines": result.coverage.code_lines,
            "skipped": dict(sorted(result.skipped().items())),
        },
    }


def _rule(finding: Finding) -> dict:
    short = finding.kind.replace("-", " ")
    if isinstance(finding, MarkerFinding):
        short = finding.marker.message
    elif isinstance(finding, NoticeFinding):
        short = f"copyright notice of a watched organisation ({finding.notice.organisation})"
    text = _RULE_HELP.get(finding.rule_id, short)
    return {
        "id": finding.rule_id,
        "name": finding.kind,
        "shortDescription": {"text": short},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
        "properties": {"kind": finding.kind},
    }


def _result(finding: Finding, rule_index: int) -> dict:
    result = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(SUBMISSION_BASE, finding.path, finding.start_line, finding.end_line)],
        "partialFingerprints": {"provscanFindingId/v1": finding.id},
        "properties": {"severity": finding.severity, "kind": finding.kind, "findingId": finding.id},
    }
    related = _related(finding)
    if related:
        for index, location in enumerate(related, start=1):
            location["id"] = index
        result["relatedLocations"] = related
    if isinstance(finding, CodeMatchFinding):
        result["properties"].update({
            "source": f"{finding.source.corpus}/{finding.source.project}",
            "jaccard": finding.jaccard,
            "containment": finding.containment,
            "sourceContainment": finding.source_containment,
            "sharedShingles": finding.shared_shingles,
            "alignment": finding.alignment,
            "matchedLines": finding.matched_lines,
            "alsoIn": finding.also_in_total,
            "localRun": finding.local_run,
            **({"evidenceStrength": finding.strength.level, "strengthReasons": finding.strength.reasons}
               if finding.strength else {}),
            **({"sourceLicense": finding.source_license["id"]} if finding.source_license else {}),
        })
    elif isinstance(finding, ModelFinding):
        result["properties"].update({"model": finding.model, "reference": finding.reference,
                                     "evidence": finding.evidence})
    return result


def _related(finding: Finding) -> list[dict]:
    if isinstance(finding, CodeMatchFinding):
        source = finding.source
        base = _corpus_base(source.corpus)
        related = [_location(base, source.path, source.start_line, source.end_line,
                             f"source {source.kind} {source.name} in {source.corpus}/{source.project}")]
        for block in finding.evidence[:RELATED_BLOCKS]:
            related.append(_location(base, source.path, block.src_start, block.src_end,
                                     f"matches submission lines {block.sub_start}-{block.sub_end} "
                                     f"({block.shingles} shared shingles)"))
        return related
    if isinstance(finding, AttributionFinding):
        base = _corpus_base(finding.source.corpus)
        return [
            _location(base, str(notice.get("from", finding.source.path)), notice["line"], notice["line"],
                      f"source notice: {notice['text']}")
            for notice in finding.source_notices
        ]
    return []


def _location(base: str, path: str, start: int, end: int, message: str = "") -> dict:
    location: dict = {
        "physicalLocation": {
            "artifactLocation": {"uri": quote(path), "uriBaseId": base},
            "region": {"startLine": max(1, start), "endLine": max(start, end, 1)},
        }
    }
    if message:
        location["message"] = {"text": message}
    return location


def _corpus_base(name: str) -> str:
    return f"CORPUS_{name}"


def _base_uri(path: str) -> str:
    """A file:// URI ending in '/' for a local directory (SARIF requires the slash); '' otherwise."""
    if not path:
        return ""
    directory = Path(path)
    if not directory.is_dir():
        return ""
    return directory.resolve().as_uri().rstrip("/") + "/"
