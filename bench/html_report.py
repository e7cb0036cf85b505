"""HTML report at scale: a scan with about 2,000 code findings rendered and opened in headless Chromium.

The submission is one real transformers class or function per file (see `tests/report_case.build_many`), scanned
against the model folders they came from. Prints: findings, render time and page size, and in Chromium (Debian's,
driven by playwright) the time to load the page, to filter the table, to turn a page and to open one evidence view.

    python bench/html_report.py [--files 2000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import private_cache


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers: comparable across runs on a busy shared machine."""
    import resource

    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    private_cache()
    from provscan.html_report import write_html
    from tests.report_case import build_many
    from tests.test_html_browser import CHROMIUM, CHROMIUM_ARGS

    root = Path(tempfile.mkdtemp(prefix="provscan-html-bench-"))
    started = time.perf_counter()
    result = build_many(root, args.files, jobs=args.jobs)
    print(f"corpus add + scan: {time.perf_counter() - started:.1f} s; {len(result.findings)} findings "
          f"({len(result.code_findings)} code matches)")
    page_path = root / "report.html"
    started, cpu = time.perf_counter(), _cpu_seconds()
    with page_path.open("w", encoding="utf-8") as out:
        write_html(result, out)
    print(f"render: {time.perf_counter() - started:.1f} s wall, {_cpu_seconds() - cpu:.1f} s CPU (this process and "
          f"its workers), {page_path.stat().st_size / 1e6:.1f} MB")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(root / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        started = time.perf_counter()
        page.goto(page_path.as_uri(), timeout=300_000)
        page.wait_for_selector("#r0-findings tbody tr")
        print(f"chromium: load to first table page {time.perf_counter() - started:.2f} s")
        timings = page.evaluate("""() => {
            const t0 = performance.now();
            const kind = document.querySelector('#r0-findings select[data-filter="kind"]');
            kind.value = 'marker'; kind.dispatchEvent(new Event('change'));
            const t1 = performance.now();
            kind.value = ''; kind.dispatchEvent(new Event('change'));
            document.querySelector('#r0-findings th[data-sort="path"]').click();
            const t2 = performance.now();
            document.querySelector('#r0-findings button[data-page="1"]').click();
            const t3 = performance.now();
            const link = document.querySelector('#r0-findings tbody tr:last-child a.ev-link');
            location.hash = link.getAttribute('href');
            window.dispatchEvent(new HashChangeEvent('hashchange'));
            const t4 = performance.now();
            return {filter: t1 - t0, sort: t2 - t1, page: t3 - t2, evidence: t4 - t3,
                    rows: document.querySelectorAll('#r0-findings tbody tr').length};
        }""")
        memory = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize / 1e6 : -1")
        print("chromium: filter {filter:.0f} ms, sort+refilter {sort:.0f} ms, next page {page:.0f} ms, "
              "open evidence {evidence:.0f} ms; {rows} rows in the DOM".format(**timings)
              + f"; JS heap {memory:.0f} MB")
        context.close()


if __name__ == "__main__":
    main()
