"""Report stage: render a `ScanResult` as JSON (versioned schema) or as a readable text report (rich).

The JSON shape is documented by `provscan/schema/scan-result.schema.json`; `SCHEMA_ID` changes whenever a field is
renamed or removed, so consumers can tell.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import IO

from provscan.findings import SEVERITIES, CodeMatchFinding, Finding
from provscan.match import EvidenceBlock
from provscan.models.findings import ModelFinding
from provscan.models.render import models_section, print_models
from provscan.provenance import AttributionFinding, MarkerFinding, NoticeFinding
from provscan.scan import ScanResult
from provscan.strength import EvidenceStrength

SCHEMA_ID = "provscan-scan-result/1"
SKIPS_LISTED = 200  # per stage; the counts in summary.skipped are always complete
NOTICES_LISTED = 1000


def _blocks(blocks: list[EvidenceBlock]) -> list[dict]:
    return [
        {"submission_lines": [b.sub_start, b.sub_end], "source_lines": [b.src_start, b.src_end], "shingles": b.shingles}
        for b in blocks
    ]


def _strength(strength: EvidenceStrength | None) -> dict | None:
    return None if strength is None else {**asdict(strength), "common_code": strength.common_code}


def _code_match(f: CodeMatchFinding) -> dict:
    return {
        "submission": {
            "path": f.path,
            "language": f.language,
            "fragment_kind": f.fragment_kind,
            "fragment_name": f.fragment_name,
            "start_line": f.start_line,
            "end_line": f.end_line,
        },
        "source": asdict(f.source),
        "similarity": {
            "jaccard": f.jaccard,
            "containment": f.containment,
            "source_containment": f.source_containment,
            "shared_shingles": f.shared_shingles,
            "alignment": f.alignment,
            "local_run": f.local_run,
        },
        "matched_lines": f.matched_lines,
        "strength": _strength(f.strength),
        "evidence": _blocks(f.evidence),
        "source_notices": f.source_notices,
        "source_license": f.source_license,
        "also_in": [{**asdict(a.source), "jaccard": a.jaccard} for a in f.also_in],
        "also_in_total": f.also_in_total,
        "first_written_in": asdict(f.first_written_in) if f.first_written_in else None,
        "members": [
            {
                "fragment_kind": m.kind,
                "fragment_name": m.name,
                "start_line": m.start_line,
                "end_line": m.end_line,
                "source": asdict(m.source),
                "jaccard": m.jaccard,
                "containment": m.containment,
                "evidence": _blocks(m.evidence),
            }
            for m in f.members
        ],
    }


def _finding(f: Finding) -> dict:
    data = {
        "id": f.id,
        "kind": f.kind,
        "severity": f.severity,
        "rule_id": f.rule_id,
        "message": f.message,
        "location": {"path": f.path, "start_line": f.start_line, "end_line": f.end_line},
    }
    if isinstance(f, CodeMatchFinding):
        data.update(_code_match(f))
    elif isinstance(f, NoticeFinding):
        data["notice"] = asdict(f.notice)
    elif isinstance(f, MarkerFinding):
        marker = asdict(f.marker)
        marker["lines"] = [{"line": n, "text": text} for n, text in f.marker.lines]
        data["marker"] = marker
    elif isinstance(f, ModelFinding):
        data["model"] = {"directory": f.model, "reference": f.reference, "evidence": f.evidence}
    elif isinstance(f, AttributionFinding):
        data["attribution"] = {
            "source": asdict(f.source),
            "source_notices": f.source_notices,
            "source_holders": f.source_holders,
            "submission_notices": [asdict(n) for n in f.submission_notices],
            "code_findings": f.code_findings,
            "matched_lines": f.matched_lines,
            "strength": _strength(f.strength),
        }
    return data


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {severity: counts.get(severity, 0) for severity in SEVERITIES}


def to_dict(result: ScanResult) -> dict:
    coverage = result.coverage
    share = coverage.matched_lines / coverage.code_lines if coverage.code_lines else 0.0
    settings = result.settings
    per_project = sorted(coverage.per_project.items(), key=lambda item: -item[1])
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "provscan", "version": result.provscan_version},
        "target": result.target,
        "started_at": result.started_at,
        "seconds": round(result.seconds, 3),
        "settings": {
            "corpora": list(settings.corpora),
            "min_tokens": settings.min_tokens,
            **asdict(settings.match),
            "max_file_bytes": settings.walk.max_file_bytes,
            "exclude": list(settings.walk.exclude),
        },
        "corpora": result.corpora,
        "summary": {
            "files_seen": result.walk.files_seen,
            "files_scanned": len(result.files),
            "files_skipped": sum(result.skipped().values()),
            "skipped": dict(sorted(result.skipped().items())),
            "warnings": dict(sorted(result.walk.warning_counts.items())),
            "files_with_parse_errors": result.files_with_parse_errors,
            "code_lines": coverage.code_lines,
            "matched_lines": coverage.matched_lines,
            "matched_share": round(share, 4),
            "findings": severity_counts(result.findings),
            "findings_by_kind": dict(sorted(Counter(f.kind for f in result.findings).items())),
            "notices": len(result.notices),
            "per_project": [
                {"corpus": corpus, "project": project, "lines": lines,
                 "share": round(lines / coverage.code_lines, 4) if coverage.code_lines else 0.0}
                for (corpus, project), lines in per_project
            ],
            "top_matches": [f.id for f in sorted(result.code_findings, key=lambda f: -f.matched_lines)[:10]],
        },
        "skips": [asdict(s) for s in result.walk.skips[:SKIPS_LISTED] + result.parse_skips[:SKIPS_LISTED]],
        "files": [asdict(f) for f in result.files],
        "notices": [asdict(n) for n in result.notices[:NOTICES_LISTED]],
        "findings": [_finding(f) for f in result.findings],
        "models": models_section(result.models),
    }


def write_json(result: ScanResult, out: IO[str]) -> None:
    json.dump(to_dict(result), out, indent=2, ensure_ascii=False)
    out.write("\n")


def write_text(result: ScanResult, out: IO[str], *, color: bool = False, width: int = 140) -> None:
    from rich.console import Console
    from rich.table import Table

    data = to_dict(result)
    summary = data["summary"]
    console = Console(file=out, force_terminal=color, no_color=not color, width=width, highlight=False, soft_wrap=True)
    counts = summary["findings"]
    total = sum(counts.values())
    if total:
        verdict = f"{total} finding(s): {counts['high']} high, {counts['medium']} medium, {counts['low']} low"
    elif result.nothing_scanned:
        verdict = "nothing scanned: no file could be read as code or a model artifact"
    else:
        verdict = "no code from the corpus found"
    console.print(f"[bold]provscan {result.provscan_version}[/bold] scan of {result.target}: {verdict}")
    console.print(
        f"{summary['files_scanned']} files scanned, {summary['files_skipped']} skipped, "
        f"{summary['matched_lines']} of {summary['code_lines']} code lines matched "
        f"({summary['matched_share']:.1%}), {result.seconds:.1f}s; corpora: "
        + ", ".join(f"{c['name']} ({c.get('version') or 'unversioned'})" for c in result.corpora)
    )
    if summary["skipped"] or summary["warnings"]:
        parts = [f"{reason}: {count}" for reason, count in summary["skipped"].items()]
        parts += [f"{reason} (warning): {count}" for reason, count in summary["warnings"].items()]
        console.print("skipped: " + ", ".join(parts))
    if summary["files_with_parse_errors"]:
        console.print(f"{summary['files_with_parse_errors']} file(s) had syntax errors (fragmented where possible)")
    if summary["per_project"]:
        projects = Table(title="Matched code by source project", title_justify="left")
        projects.add_column("corpus")
        projects.add_column("project")
        projects.add_column("lines", justify="right")
        projects.add_column("share", justify="right")
        for row in summary["per_project"]:
            projects.add_row(row["corpus"], row["project"], str(row["lines"]), f"{row['share']:.1%}")
        console.print(projects)
    print_models(console, data["models"])
    if result.findings:
        console.print("[bold]Findings[/bold] (submission <- source; evidence as submission lines = source lines)")
        for finding in result.findings:
            if isinstance(finding, CodeMatchFinding):
                _print_finding(console, finding)
            else:
                _print_other(console, finding)


_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}


def _print_other(console, finding: Finding) -> None:
    style = _SEVERITY_STYLE[finding.severity]
    console.print(
        f"[{style}]{finding.severity.upper():<6}[/{style}] {finding.path}:{finding.start_line} "
        f"{finding.kind} [dim]{finding.rule_id} {finding.id}[/dim]",
        markup=True,
    )
    console.print(f"       {finding.message}", markup=False)
    if isinstance(finding, AttributionFinding):
        for notice in finding.source_notices[:3]:
            where = notice.get("from", finding.source.path)
            console.print(f"       source {where}:{notice['line']}: {notice['text']}", markup=False)
        for own in finding.submission_notices[:3]:
            console.print(f"       submission {own.path}:{own.line}: {own.text}", markup=False)
    elif isinstance(finding, MarkerFinding):
        shown = ", ".join(f"{line}: {text}" for line, text in finding.marker.lines[:3])
        console.print(f"       lines {shown}", markup=False)
    elif isinstance(finding, NoticeFinding):
        console.print(f"       line {finding.notice.line}: {finding.notice.text}", markup=False)


def _print_finding(console, finding: CodeMatchFinding) -> None:
    style = _SEVERITY_STYLE[finding.severity]
    nested = f" (+{len(finding.members)} nested)" if finding.members else ""
    console.print(
        f"[{style}]{finding.severity.upper():<6}[/{style}] {finding.path}:{finding.start_line}-{finding.end_line} "
        f"{finding.fragment_kind} {finding.fragment_name}{nested}  [dim]{finding.id}[/dim]",
        markup=True,
    )
    source = finding.source
    console.print(
        f"       <- {source.corpus}/{source.project}: {source.path}:{source.start_line}-{source.end_line} "
        f"{source.kind} {source.name}  jaccard {finding.jaccard:.2f}, containment {finding.containment:.2f}, "
        f"aligned {finding.alignment:.2f}, {finding.matched_lines} lines"
        + (f", a local block of {finding.local_run} shingles in one run" if finding.local_run else ""),
        markup=False,
    )
    if finding.also_in_total:
        projects = sorted({a.source.project for a in finding.also_in})
        shown = ", ".join(projects[:8]) + (", ..." if len(projects) > 8 or finding.also_in_total > 50 else "")
        console.print(f"       also in {finding.also_in_total} other corpus file(s): {shown}", markup=False)
    if finding.strength is not None and finding.strength.level != "strong":
        console.print(f"       {finding.strength.level} evidence: {'; '.join(finding.strength.reasons)}",
                      markup=False)
    if finding.first_written_in:
        first = finding.first_written_in
        console.print(f"       first written in {first.corpus}/{first.project}: {first.path}:{first.start_line} "
                      f"{first.name} (the corpus's lineage; {source.project} has it from there)", markup=False)
    if finding.source_license:
        licence = finding.source_license
        console.print(f"       source licence {licence['id']}: {licence['obligations']}", markup=False)
    blocks = ", ".join(f"{b.sub_start}-{b.sub_end}={b.src_start}-{b.src_end}" for b in finding.evidence[:6])
    if len(finding.evidence) > 6:
        blocks += f", +{len(finding.evidence) - 6} more"
    if blocks:
        console.print(f"       evidence {blocks}", markup=False)
