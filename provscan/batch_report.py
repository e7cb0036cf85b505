"""The batch's index: submissions ranked by findings, links to each report, and the pairs of similar submissions.

Written as `index.json` (for tools) and `index.html` (one self-contained page, no scripts, every value escaped:
submission names and paths are untrusted). The per-submission reports are the scan's own JSON (and HTML, when the
HTML writer is present) under `submissions/<name>/`.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from urllib.parse import quote

from provscan.baseline import write_atomic

INDEX_SCHEMA = "provscan-batch-index/1"
PAIRS_SHOWN = 50


def rank_key(status: dict) -> tuple:
    """Broken submissions first (nobody has looked at them), then by high, medium, low findings, then matched share."""
    counts = status.get("findings", {})
    return (status.get("status") == "ok", -counts.get("high", 0), -counts.get("medium", 0), -counts.get("low", 0),
            -status.get("matched_share", 0.0), status.get("name", ""))


def write_index(outcome, source: Path, out_dir: Path) -> None:
    ranked = sorted(outcome.statuses, key=rank_key)
    data = {
        "schema": INDEX_SCHEMA,
        "source": str(source),
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(outcome.seconds, 3),
        "cross_seconds": round(outcome.cross_seconds, 3),
        "submissions": len(outcome.statuses),
        "resumed": outcome.resumed,
        "errors": sum(1 for s in outcome.statuses if s.get("status") != "ok"),
        "not_submissions": outcome.ignored,
        "ranking": [{k: v for k, v in s.items() if k not in ("schema", "settings_key")} for s in ranked],
        "pairs": outcome.pairs,
    }
    write_atomic(out_dir / "index.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out_dir / "index.html", _html(data))


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _link(name: str, report: str) -> str:
    return f'<a href="submissions/{quote(name)}/{quote(report)}">{_e(report.rsplit(".", 1)[-1].upper())}</a>'


def _html(data: dict) -> str:
    rows = []
    for rank, status in enumerate(data["ranking"], start=1):
        name = status["name"]
        if status.get("status") != "ok":
            rows.append(f'<tr class="error"><td>{rank}</td><td>{_e(name)}</td>'
                        f'<td colspan="5">error: {_e(status.get("error", "unknown"))}</td><td></td></tr>')
            continue
        counts = status.get("findings", {})
        projects = ", ".join(f"{p['project']} ({p['lines']})" for p in status.get("top_projects", [])[:3])
        links = " ".join(_link(name, report) for report in status.get("reports", []))
        rows.append(
            f"<tr><td>{rank}</td><td>{_e(name)}</td><td class=high>{counts.get('high', 0)}</td>"
            f"<td class=medium>{counts.get('medium', 0)}</td><td>{counts.get('low', 0)}</td>"
            f"<td>{status.get('matched_share', 0.0):.1%} of {status.get('code_lines', 0)}</td>"
            f"<td>{_e(projects)}</td><td>{links}</td></tr>"
        )
    pair_rows = []
    for pair in data["pairs"][:PAIRS_SHOWN]:
        evidence = "<br>".join(
            f"{_e(e['path'])}:{e['lines'][0]}-{e['lines'][1]} {_e(e['fragment'])} = "
            f"{_e(e['other_path'])}:{e['other_lines'][0]}-{e['other_lines'][1]} {_e(e['other_fragment'])} "
            f"(similarity {e['jaccard']:.2f}, {e['matched_lines']} lines"
            f"{', via the corpus' if e['via_corpus'] else ''})"
            for e in pair["evidence"]
        )
        similarity = pair.get("similarity", {})
        closest = "<br>".join(f"{_e(fp['path'])} ~ {_e(fp['other_path'])} ({fp['score']:.2f})"
                              for fp in similarity.get("file_pairs", []))
        pair_rows.append(
            f"<tr><td>{_e(pair['a'])}</td><td>{_e(pair['b'])}</td>"
            f"<td>{similarity.get('score', 0.0):.2f} ({similarity.get('a_in_b', 0.0):.2f} / "
            f"{similarity.get('b_in_a', 0.0):.2f})</td><td class=evidence>{closest}</td>"
            f"<td>{pair['unexplained_lines']}</td>"
            f"<td>{pair['lines_a']} / {pair['lines_b']}</td><td>{pair['fragments']}</td>"
            f"<td>{pair['max_jaccard']:.2f}</td><td class=evidence>{evidence}</td></tr>"
        )
    ignored = (f"<p>Not submissions (neither a directory nor an archive): {_e(', '.join(data['not_submissions']))}</p>"
               if data["not_submissions"] else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>provscan batch: {_e(data['source'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }} table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
.high {{ color: #b00; font-weight: bold; }} .medium {{ color: #a60; }} tr.error td {{ background: #fee; }}
.evidence {{ font-family: monospace; font-size: 90%; }}
</style></head><body>
<h1>provscan batch of {_e(data['source'])}</h1>
<p>{data['submissions']} submission(s), {data['errors']} could not be scanned, {data['resumed']} unchanged since the
last run (not rescanned); written {_e(data['written_at'])}.</p>
{ignored}
<h2>Submissions ranked by findings</h2>
<table><tr><th>#</th><th>submission</th><th>high</th><th>medium</th><th>low</th><th>code matched</th>
<th>top source projects (lines)</th><th>report</th></tr>
{''.join(rows)}
</table>
<h2>Submissions sharing code with each other</h2>
<p>Ranked by similarity: the larger share of one submission's code found in the other (first in second / second
in first), leaving out the lines the reference corpus explains; pairs below the reporting rules are listed too, with
no findings. Then by the shared lines of their findings that the corpus does not explain; "via the corpus" marks
code both may have taken from the same open model. Lines: matched in the first / in the second submission.</p>
<table><tr><th>submission</th><th>submission</th><th>similarity</th><th>closest files</th><th>unexplained lines</th>
<th>lines</th><th>fragments</th><th>best fragment similarity</th><th>top evidence</th></tr>
{''.join(pair_rows) or '<tr><td colspan="9">no shared code found</td></tr>'}
</table>
</body></html>
"""
