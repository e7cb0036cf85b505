"""Report stage, HTML: one self-contained page from which a reviewer can decide on a submission.

The page has the overview (verdict, counts, matched share per source project as inline SVG, notices, markers,
skips, settings and corpus versions), a findings table (sorted, filtered and paged in the browser, so a 2,000-finding
scan stays responsive), the evidence of each finding side by side, and a per-file view.

Everything a submission supplies (code, comments, file names, notices) is untrusted. The page is rendered by jinja2
with autoescaping; code reaches the browser as pygments tokens inside a JSON block (`tojson`, which escapes `<`, `>`,
`&` and `'`), and the page's own script builds the evidence views with `textContent` only, lazily, for the finding
the reviewer opens. A Content-Security-Policy allows only the page's own script and style (by hash) and no network
at all, so nothing from the submission can run or fetch even if it got through.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from functools import cache
from typing import IO

from provscan.findings import SEVERITIES
from provscan.report import to_dict
from provscan.scan import ScanResult

CONTEXT_LINES = 3  # shown around notices and markers, and around matched runs before collapsing the rest
CHART_BARS = 12  # projects drawn in the share chart; the rest are summed as "other projects"
NOTICES_SHOWN = 500  # notices listed in the overview (all are counted)
SKIPS_SHOWN = 500


def write_html(result: ScanResult, out: IO[str]) -> None:
    """One scan as a self-contained HTML page."""
    write_html_reports([result], out)


def write_html_reports(results: list[ScanResult], out: IO[str], *, title: str = "", labels: list[str] | None = None
                       ) -> None:
    """Several scans in one page (`provscan compare` shows both directions), each a section of its own."""
    from markupsafe import Markup

    environment = _environment()
    css = _asset("report.css") + _pygments_css()
    script = _asset("report.js")
    if "</" in script or "</" in css:
        raise ValueError("report assets must not contain '</'")  # they are embedded in <script>/<style> as is
    reports = [_report_view(result, f"r{i}", labels[i] if labels else "") for i, result in enumerate(results)]
    page = environment.get_template("report.html.j2").render(
        title=title or f"provscan report: {results[0].target}",
        reports=reports,
        css=Markup(css),  # the package's own assets, not submission text
        script=Markup(script),
        csp=f"default-src 'none'; img-src data:; style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'",
    )
    out.write(page)


@cache
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("provscan", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _asset(name: str) -> str:
    from importlib.resources import files

    return files("provscan").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return "\n" + HtmlFormatter(style="default").get_style_defs(".code")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# -- the view of one scan -----------------------------------------------------------------------------------------
def _report_view(result: ScanResult, report_id: str, label: str) -> dict:
    from provscan.evidence_text import corpus_texts, submission_texts

    data = to_dict(result)
    findings = data["findings"]
    sub_ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    src_ranges: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for finding in findings:
        _needed_lines(finding, sub_ranges, src_ranges)
    wanted: dict[str, set[str]] = defaultdict(set)
    for corpus, path in src_ranges:
        wanted[corpus].add(path)
    texts = {f"s:{path}": (path, text, sub_ranges[path])
             for path, text in submission_texts(result, set(sub_ranges)).items()}
    texts.update({f"c:{corpus}:{path}": (path, text, src_ranges[(corpus, path)])
                  for (corpus, path), text in corpus_texts(result, wanted).items()})
    files = _highlight_files(texts, result.settings.jobs)
    notices_by_path: dict[str, list[dict]] = defaultdict(list)
    for notice in data["notices"]:
        notices_by_path[notice["path"]].append(notice)
    rows = [_row(f) for f in findings]
    summary = data["summary"]
    return {
        "id": report_id,
        "label": label,
        "data": data,
        "summary": summary,
        "verdict": _verdict(summary),
        "chart": _chart(summary["per_project"], summary["code_lines"]),
        "rows": rows,
        "kinds": sorted({r["kind"] for r in rows}),
        "projects": sorted({r["project"] for r in rows if r["project"]}),
        "severities": list(reversed(SEVERITIES)),
        "notices": data["notices"][:NOTICES_SHOWN],
        "stripped": [f for f in findings if f["kind"] == "stripped-attribution"],
        "kept": [f for f in findings if f["kind"] == "attribution-kept"],
        "markers": [f for f in findings if f["kind"] == "marker"],
        "skips": (result.walk.skips + result.parse_skips)[:SKIPS_SHOWN],
        "file_view": _file_list(findings, notices_by_path),
        "payload": {
            "findings": {f["id"]: f for f in findings},
            # Each file's lines as a JSON string of its own, parsed by the page only when a finding shows it:
            # parsing millions of tokens up front would cost seconds on a big report.
            "files": {key: json.dumps(view, ensure_ascii=False, separators=(",", ":")) for key, view in files.items()},
            "notices": notices_by_path,
            "context": CONTEXT_LINES,
        },
    }


def _verdict(summary: dict) -> str:
    counts = summary["findings"]
    total = sum(counts.values())
    if not total:
        return "No code from the corpora and no provenance notice or marker found."
    by_kind = ", ".join(f"{n} {kind}" for kind, n in summary["findings_by_kind"].items())
    return (
        f"{total} finding(s): {counts['high']} high, {counts['medium']} medium, {counts['low']} low ({by_kind}); "
        f"{summary['matched_lines']} of {summary['code_lines']} code lines ({summary['matched_share']:.1%}) match "
        "corpus code."
    )


def _chart(per_project: list[dict], code_lines: int) -> dict:
    """Bars of the matched share per source project (the biggest first; the rest summed)."""
    bars = [{"label": f"{p['corpus']}/{p['project']}", "lines": p["lines"], "share": p["share"]}
            for p in per_project[:CHART_BARS]]
    rest = per_project[CHART_BARS:]
    if rest:
        lines = sum(p["lines"] for p in rest)
        bars.append({"label": f"{len(rest)} other projects", "lines": lines,
                     "share": round(lines / code_lines, 4) if code_lines else 0.0})
    widest = max((b["share"] for b in bars), default=0.0) or 1.0
    for index, bar in enumerate(bars):
        bar["y"] = index * 26
        bar["width"] = round(300 * bar["share"] / widest, 1)
    return {"bars": bars, "height": len(bars) * 26}


def _row(finding: dict) -> dict:
    kind = finding["kind"]
    if kind == "code-match":
        source = finding["source"]
        project = f"{source['corpus']}/{source['project']}"
        figure = f"{finding['similarity']['jaccard']:.2f}"
    elif "attribution" in finding:
        source = finding["attribution"]["source"]
        project = f"{source['corpus']}/{source['project']}"
        figure = ""
    elif kind == "notice":
        project = finding["notice"].get("organisation", "")
        figure = ""
    elif "model" in finding:
        project = finding["model"].get("reference", "")
        figure = ""
    else:
        project = finding.get("marker", {}).get("organisation", "")
        figure = ""
    location = finding["location"]
    return {
        "id": finding["id"],
        "severity": finding["severity"],
        "rank": SEVERITIES.index(finding["severity"]),
        "kind": kind,
        "project": project,
        "path": location["path"],
        "start_line": location["start_line"],
        "end_line": location["end_line"],
        "message": finding["message"],
        "similarity": figure,
    }


def _file_list(findings: list[dict], notices_by_path: dict[str, list[dict]]) -> list[dict]:
    by_path: dict[str, list[dict]] = defaultdict(list)
    for finding in findings:
        by_path[finding["location"]["path"]].append(finding)
    paths = sorted(set(by_path) | set(notices_by_path))
    return [
        {"path": path,
         "findings": sorted(by_path.get(path, []), key=lambda f: f["location"]["start_line"]),
         "notices": notices_by_path.get(path, []),
         "worst": max((SEVERITIES.index(f["severity"]) for f in by_path.get(path, [])), default=-1)}
        for path in paths
    ]


def _needed_lines(finding: dict, sub: dict, src: dict) -> None:
    """The line ranges of each file that this finding's evidence view shows."""
    location = finding["location"]
    path = location["path"]
    if finding["kind"] == "code-match":
        sub[path].append((location["start_line"], location["end_line"]))
        source = finding["source"]
        src[(source["corpus"], source["path"])].append((source["start_line"], source["end_line"]))
        for member in finding["members"]:
            if member["source"]["path"] == source["path"]:
                src[(source["corpus"], source["path"])].append(
                    (member["source"]["start_line"], member["source"]["end_line"]))
        return
    if "attribution" in finding or "model" in finding:
        return  # shown as the notices on both sides, or as the model statistics: no code lines
    lines = [n for n, _text in _marker_lines(finding)] or [location["start_line"]]
    for line in lines:
        sub[path].append((max(1, line - CONTEXT_LINES), line + CONTEXT_LINES))


def _marker_lines(finding: dict) -> list[tuple[int, str]]:
    if "marker" in finding:
        return [(entry["line"], entry["text"]) for entry in finding["marker"]["lines"]]
    if "notice" in finding:
        return [(finding["notice"]["line"], finding["notice"]["text"])]
    return []


def _highlight_files(texts: dict[str, tuple], workers: int | None) -> dict[str, dict]:
    """key -> (path, LoadedText, line ranges): the wanted lines of every readable file, highlighted (in worker
    processes when there are many files), or the reason a file cannot be shown."""
    from provscan.highlight import HighlightJob, highlight_job
    from provscan.parallel import parallel_map

    views = {key: {"path": path, "lines": {}, "problem": text.warning, "warning": ""}
             for key, (path, text, _ranges) in texts.items() if text.text is None}
    jobs = [HighlightJob(key, path, text.text, tuple(ranges))
            for key, (path, text, ranges) in texts.items() if text.text is not None]
    for key, total, lines in parallel_map(highlight_job, jobs, workers):
        path, text, _ranges = texts[key]
        views[key] = {"path": path, "lines": {str(n): tokens for n, tokens in lines.items()}, "total": total,
                      "problem": "", "warning": text.warning}
    return views
