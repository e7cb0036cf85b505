"""The HTML report in a real browser: Debian's Chromium, headless, driven by playwright (never `playwright install`).

Without Chromium these tests skip on a developer machine and fail in CI (CI=true), where `.ci/run` installs it.
A screenshot of each page is saved under the test's temporary directory.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from provscan.html_report import write_html
from tests.report_case import EVIL_PATH, PAYLOAD, build_case, build_many

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _require_browser():
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        missing = "the playwright package (pip install '.[test]')"
    else:
        missing = "" if Path(CHROMIUM).exists() else f"Chromium at {CHROMIUM} (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need {missing}")
        pytest.skip(f"browser tests need {missing}")


class Browser:
    """A fresh headless Chromium profile; records dialogs, page errors and every request the page makes."""

    def __init__(self, profile: Path) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.context = self._playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def close(self) -> None:
        self.context.close()
        self._playwright.stop()


@pytest.fixture()
def browser(tmp_path):
    _require_browser()
    opened = Browser(tmp_path / "profile")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def report_case(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVSCAN_CACHE_DIR", str(tmp_path_factory.mktemp("browser-cache")))
        result, _, _ = build_case(tmp_path_factory.mktemp("browser-case"))
        html = io.StringIO()
        write_html(result, html)
        yield result, html.getvalue()


def _open_evidence(page, finding_id: str):
    """Follow a finding's evidence link and wait until the report's hash router has shown the evidence view (the
    `hashchange` event runs after the click returns, so checking at once races it on a loaded machine)."""
    page.click(f'#r0-findings a[href="#ev-r0-{finding_id}"]')
    evidence = page.locator("#r0-evidence")
    evidence.wait_for(state="visible", timeout=10_000)
    return evidence


def _visible_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#r0-findings tbody tr",
        "rows => rows.map(r => ({id: r.dataset.id, kind: r.dataset.kind, path: r.dataset.path}))",
    )


def test_report_overview_findings_evidence_and_filters_in_chromium(report_case, browser, tmp_path):
    result, html = report_case
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    page = browser.page
    page.goto(path.as_uri())

    verdict = page.locator("#r0-overview .verdict")
    assert verdict.is_visible() and f"{len(result.findings)} finding(s)" in verdict.inner_text()
    assert page.locator("#r0-overview svg.chart rect").count() >= 1
    rows = _visible_rows(page)
    assert sorted(r["id"] for r in rows) == sorted(f.id for f in result.findings)

    # Filtering: by kind, then by path as well.
    page.select_option('#r0-findings select[data-filter="kind"]', "code-match")
    code = [f for f in result.findings if f.kind == "code-match"]
    assert sorted(r["id"] for r in _visible_rows(page)) == sorted(f.id for f in code)
    page.fill('#r0-findings input[data-filter="path"]', "hanbit")
    assert [r["id"] for r in _visible_rows(page)] == [f.id for f in code if "hanbit" in f.path]
    page.fill('#r0-findings input[data-filter="path"]', "")
    page.select_option('#r0-findings select[data-filter="kind"]', "")
    assert len(_visible_rows(page)) == len(result.findings)
    # Sorting by location puts the rows in path order.
    page.click('#r0-findings th[data-sort="path"]')
    shown = [r["path"] for r in _visible_rows(page)]
    assert shown == sorted(shown)

    # A finding row links to its side-by-side evidence.
    finding = next(f for f in result.code_findings if f.path == EVIL_PATH)
    evidence = _open_evidence(page, finding.id)
    assert evidence.is_visible()
    sides = evidence.locator(".side")
    assert sides.count() == 2 and sides.nth(0).is_visible() and sides.nth(1).is_visible()
    matched_sub = {int(n) for n in sides.nth(0).locator("tr.m td.ln").all_inner_texts()}
    matched_src = {int(n) for n in sides.nth(1).locator("tr.m td.ln").all_inner_texts()}
    assert matched_sub == {n for b in finding.evidence for n in range(b.sub_start, b.sub_end + 1)}
    assert matched_src == {n for b in finding.evidence for n in range(b.src_start, b.src_end + 1)}
    assert sides.nth(1).locator("span.k").count() > 0  # highlighted by pygments
    assert f"{finding.jaccard:.2f}" in evidence.inner_text()

    # The payload in the file name, a comment, a string and a notice shows as text; nothing ran or loaded.
    assert PAYLOAD in sides.nth(0).inner_text()
    assert PAYLOAD in page.locator("#r0-overview").inner_text()
    assert page.evaluate("document.images.length") == 0
    assert browser.dialogs == [] and browser.errors == []
    assert browser.requests == [path.as_uri()]
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # The reordered whole-file copy: clicking an evidence block brings its lines into view on both sides.
    whole = next(f for f in result.code_findings if f.path == "hanbit_moe.py")
    _open_evidence(page, whole.id)
    last = max(whole.evidence, key=lambda b: b.sub_start)
    page.locator("#r0-evidence li.block").nth(whole.evidence.index(last)).click()
    for side, line in ((0, last.sub_start), (1, last.src_start)):
        in_view = page.evaluate(
            """([side, line]) => {
                const box = document.querySelectorAll('#r0-evidence .code-scroll')[side];
                const row = box.querySelector(`tr[data-line="${line}"]`).getBoundingClientRect();
                const view = box.getBoundingClientRect();
                return row.top >= view.top && row.bottom <= view.bottom;
            }""", [side, line])
        assert in_view, (side, line)
    page.screenshot(path=str(tmp_path / "whole-file.png"))


@pytest.mark.slow
def test_a_2000_finding_report_pages_and_opens_evidence(tmp_path, browser):
    result = build_many(tmp_path / "case", 2000, jobs=2)
    assert len(result.code_findings) >= 1900
    path = tmp_path / "many.html"
    with path.open("w", encoding="utf-8") as out:
        write_html(result, out)
    page = browser.page
    page.goto(path.as_uri(), timeout=120_000)
    assert len(_visible_rows(page)) == 100  # one page of rows in the DOM, not thousands
    info = page.locator("#r0-findings .page-info")
    assert info.inner_text() == f"rows 1-100 of {len(result.findings)}"
    page.click('#r0-findings button[data-page="1"]')
    assert info.inner_text() == f"rows 101-200 of {len(result.findings)}"
    row = _visible_rows(page)[-1]
    assert _open_evidence(page, row["id"]).is_visible()
    assert browser.errors == [] and browser.dialogs == []
    page.screenshot(path=str(tmp_path / "many.png"))
