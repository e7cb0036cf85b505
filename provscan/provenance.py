"""Findings from notices and markers, and the worst case of all: matched code whose notice was removed.

A code match whose corpus source file carries a copyright notice is checked against the submission file's own
notices. If none names the same holder (same watch-list organisation, or the same holder text), the attribution
was stripped: a finding naming both sides, as strong as the strongest code match it rests on (a stripped notice
over three lines of common code is no accusation: `provscan.strength`). If one does, the foreign notice was kept: a
low-severity "attribution kept" finding, still worth a reviewer's look in a "from scratch" programme.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from provscan.findings import CodeMatchFinding, Finding, stable_id
from provscan.markers import MarkerHit
from provscan.match import SourceRef
from provscan.notices import Notice, holder_of, is_copyright_line
from provscan.rulebook import Rulebook
from provscan.strength import EvidenceStrength, most_allowed, strongest


@dataclass
class NoticeFinding(Finding):
    """A notice in the submission naming a watched organisation."""

    notice: Notice


@dataclass
class MarkerFinding(Finding):
    marker: MarkerHit


@dataclass
class AttributionFinding(Finding):
    """Matched code and the notices on both sides: stripped (none kept) or kept."""

    source: SourceRef
    source_notices: list[dict]
    source_holders: list[str]
    submission_notices: list[Notice]
    code_findings: list[str] = field(default_factory=list)  # ids of the code-match findings behind it
    matched_lines: int = 0
    strength: EvidenceStrength | None = None  # the strongest code match's


def notice_findings(notices: list[Notice], rulebook: Rulebook) -> list[Finding]:
    """Copyright notices whose holder is a watched reference organisation (not a programme participant)."""
    found: list[Finding] = []
    for notice in notices:
        organisation = rulebook.organisations.get(notice.organisation)
        if notice.kind != "copyright" or organisation is None or organisation.role != "reference":
            continue
        found.append(NoticeFinding(
            id=stable_id(notice.path, "notice", notice.holder), kind="notice", severity=organisation.severity,
            rule_id=f"notice.{organisation.id}",
            message=f"copyright notice of {organisation.name}: {notice.holder}",
            path=notice.path, start_line=notice.line, end_line=notice.line, notice=notice,
        ))
    return found


def marker_findings(markers: list[MarkerHit]) -> list[Finding]:
    return [
        MarkerFinding(
            id=stable_id(hit.path, hit.rule_id), kind="marker", severity=hit.severity, rule_id=hit.rule_id,
            message=f"{hit.message} ({hit.count} line(s))" if hit.count > 1 else hit.message,
            path=hit.path, start_line=hit.lines[0][0] if hit.lines else 1,
            end_line=hit.lines[-1][0] if hit.lines else 1, marker=hit,
        )
        for hit in markers
    ]


def attach_licences(code_findings: list[CodeMatchFinding], rulebook: Rulebook) -> None:
    """Name the licence of each match's source (from its notice lines) and what reusing it requires."""
    for finding in code_findings:
        licence = rulebook.licence_in([str(n["text"]) for n in finding.source_notices])
        if licence is not None:
            finding.source_license = {
                "id": licence.id, "name": licence.name, "obligations": licence.obligations,
                "restricted": licence.restricted,
            }


def _holders(source_notices: list[dict]) -> list[str]:
    return [holder_of(str(n["text"])) for n in source_notices if is_copyright_line(str(n["text"]))]


def _same_holder(source_holders: list[str], notice: Notice, rulebook: Rulebook) -> bool:
    if notice.kind != "copyright":
        return False
    mine = {o.id for o in rulebook.organisations_in(notice.holder)}
    for holder in source_holders:
        theirs = {o.id for o in rulebook.organisations_in(holder)}
        if (mine & theirs) or holder.casefold() in notice.holder.casefold() or (
            notice.holder and notice.holder.casefold() in holder.casefold()
        ):
            return True
    return False


def attribution_findings(
    code_findings: list[CodeMatchFinding], notices_by_path: dict[str, list[Notice]], rulebook: Rulebook
) -> list[Finding]:
    """One finding per (submission file, source file) whose source carries a copyright notice."""
    groups: dict[tuple[str, str, str], list[CodeMatchFinding]] = defaultdict(list)
    for finding in code_findings:
        if _holders(finding.source_notices):
            groups[(finding.path, finding.source.corpus, finding.source.path)].append(finding)
    found: list[Finding] = []
    for (path, _corpus, _source_path), group in sorted(groups.items()):
        first = group[0]
        holders = _holders(first.source_notices)
        own = [n for n in notices_by_path.get(path, []) if n.kind == "copyright"]
        kept = [n for n in own if _same_holder(holders, n, rulebook)]
        source_desc = f"{first.source.corpus}/{first.source.project} {first.source.path}"
        holder_desc = "; ".join(holders)
        common = dict(
            path=path, start_line=min(f.start_line for f in group), end_line=max(f.end_line for f in group),
            source=first.source, source_notices=first.source_notices, source_holders=holders,
            code_findings=[f.id for f in group], matched_lines=sum(f.matched_lines for f in group),
            strength=strongest([f.strength for f in group if f.strength is not None]),
        )
        if kept:
            found.append(AttributionFinding(
                id=stable_id(path, "kept", first.source.path), kind="attribution-kept", severity="low",
                rule_id="attribution.kept",
                message=f"code matching {source_desc} keeps its notice ({kept[0].holder})",
                submission_notices=kept, **common,
            ))
        else:
            others = ", ".join(n.holder.rstrip(".") for n in own) or "none"
            strength = common["strength"]
            severity = most_allowed(strength) if strength is not None else "high"
            found.append(AttributionFinding(
                id=stable_id(path, "stripped", first.source.path), kind="stripped-attribution", severity=severity,
                rule_id="attribution.stripped",
                message=f"code matching {source_desc} (Copyright {holder_desc}) carries no notice of that holder; "
                f"the file's own copyright notices: {others}"
                + (f". Source licence {first.source_license['id']}: "
                   f"{first.source_license['obligations'].rstrip('.')}" if first.source_license else "")
                + (f". It rests on {strength.level} evidence only ({'; '.join(strength.reasons)})"
                   if strength is not None and strength.level != "strong" else ""),
                submission_notices=own, **common,
            ))
    return found
