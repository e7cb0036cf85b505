"""HTML, JSON and SARIF reports of a real scan, and `provscan compare`: schemas, escaping, evidence texts."""

from __future__ import annotations

import copy
import io
import json
import re
import tarfile
from html import unescape
from pathlib import Path

import jsonschema
import pytest

from provscan.highlight import highlight
from provscan.html_report import write_html
from provscan.report import to_dict
from provscan.sarif import LEVELS, write_sarif
from tests.conftest import transformers_models
from tests.report_case import EVIL_PATH, GLM, PAYLOAD, build_case
from tests.test_cli import SCHEMA, provscan

DATA = Path(__file__).resolve().parent / "data"
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # Module-scoped, so it runs before the per-test cache fixture: a private cache of its own, kept for the
        # module (the HTML report reads the corpus index to check corpus files against their indexed hashes).
        cache = tmp_path_factory.mktemp("report-cache")
        patch.setenv("PROVSCAN_CACHE_DIR", str(cache))
        result, corpus, submission = build_case(tmp_path_factory.mktemp("report-case"))
        html = io.StringIO()
        write_html(result, html)
        yield result, corpus, submission, html.getvalue(), cache


@pytest.fixture()
def case_cache(case, monkeypatch):
    """Tests that read the case's corpus again use its cache (the autouse fixture gives each test an empty one)."""
    monkeypatch.setenv("PROVSCAN_CACHE_DIR", str(case[4]))


def _sarif(result) -> dict:
    out = io.StringIO()
    write_sarif(result, out)
    return json.loads(out.getvalue())


def _payload(html: str) -> dict:
    data = re.search(r'<script type="application/json" id="data-r0">(.*?)</script>', html, re.S).group(1)
    return json.loads(data)


def test_the_case_has_every_kind_of_finding(case):
    result = case[0]
    kinds = {f.kind for f in result.findings}
    assert {"code-match", "stripped-attribution", "attribution-kept", "notice", "marker"} <= kinds
    assert any(f.path == EVIL_PATH and f.kind == "code-match" for f in result.findings)


def test_json_report_of_a_real_scan_validates_against_its_schema(case):
    result = case[0]
    report = json.loads(json.dumps(to_dict(result)))
    jsonschema.validate(report, SCHEMA)
    assert report["corpora"][0]["source"] == str(case[1])  # where the corpus came from, for reproduction


def test_sarif_of_a_real_scan_validates_against_the_official_schema(case):
    result = case[0]
    log = _sarif(result)
    jsonschema.validate(log, SARIF_SCHEMA, cls=jsonschema.Draft4Validator)
    run = log["runs"][0]
    assert len(run["results"]) == len(result.findings)
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) == len({f.rule_id for f in result.findings})
    by_id = {f.id: f for f in result.findings}
    for sarif_result in run["results"]:
        finding = by_id[sarif_result["partialFingerprints"]["provscanFindingId/v1"]]
        assert sarif_result["level"] == LEVELS[finding.severity]
        assert rule_ids[sarif_result["ruleIndex"]] == finding.rule_id
        region = sarif_result["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["endLine"]) == (finding.start_line, finding.end_line)
        if finding.kind == "code-match":
            source = sarif_result["relatedLocations"][0]["physicalLocation"]
            assert source["artifactLocation"]["uri"] == finding.source.path
            assert source["artifactLocation"]["uriBaseId"] == "CORPUS_reportcase"
            assert (source["region"]["startLine"], source["region"]["endLine"]) == (
                finding.source.start_line, finding.source.end_line)
    # The corpus base URI resolves to the corpus directory, so a viewer can open the source side.
    assert run["originalUriBaseIds"]["CORPUS_reportcase"]["uri"] == case[1].resolve().as_uri() + "/"


def test_the_sarif_schema_rejects_what_it_should(case):
    # The shipped schema is strict: an unknown level or a result without a message is invalid.
    log = _sarif(case[0])
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "critical"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SARIF_SCHEMA, cls=jsonschema.Draft4Validator)
    broken = copy.deepcopy(log)
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SARIF_SCHEMA, cls=jsonschema.Draft4Validator)


def test_html_never_carries_submission_markup_unescaped(case):
    html = case[3]
    assert PAYLOAD not in html and "<img" not in html
    # The payload is there, as escaped text: in the table (jinja autoescape) and in the evidence data (tojson).
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e" in html
    assert html.count("<script") == 2  # the evidence data block and the page's own script, nothing else
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1))
    assert "script-src 'sha256-" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched


def test_html_evidence_data_holds_both_sides_with_matched_lines(case):
    result, corpus, _, html, _ = case
    payload = _payload(html)
    finding = next(f for f in result.code_findings if f.path == EVIL_PATH)
    assert payload["findings"][finding.id]["evidence"]
    sub_file = json.loads(payload["files"][f"s:{EVIL_PATH}"])
    src_file = json.loads(payload["files"][f"c:reportcase:{finding.source.path}"])
    assert src_file["warning"] == "" and sub_file["warning"] == ""
    source_lines = (corpus / finding.source.path).read_text(encoding="utf-8").splitlines()
    for block in finding.evidence:
        for line in range(block.src_start, block.src_end + 1):
            tokens = src_file["lines"][str(line)]
            assert "".join(tokens[1::2]) == source_lines[line - 1]
    submitted = result.texts[EVIL_PATH].splitlines()
    for line in range(finding.start_line, finding.end_line + 1):
        assert "".join(sub_file["lines"][str(line)][1::2]) == submitted[line - 1]


def test_changed_corpus_file_is_shown_with_a_warning(case, case_cache):
    result, corpus = case[:2]
    glm = corpus / GLM
    original = glm.read_text(encoding="utf-8")
    try:
        glm.write_text("\n" + original, encoding="utf-8")  # every line moved down by one
        out = io.StringIO()
        write_html(result, out)
    finally:
        glm.write_text(original, encoding="utf-8")
    warning = json.loads(_payload(out.getvalue())["files"][f"c:reportcase:{GLM}"])["warning"]
    assert "changed since the corpus was built" in warning


def test_highlighting_keeps_every_line_and_character():
    text = (transformers_models() / GLM).read_text(encoding="utf-8")
    text += 'x = """multi\nline"""\r\ny = 1\rz = 2\n'  # CRLF is one line break; a lone CR is not one
    lines = highlight(text, "m.py")
    expected = text.replace("\r\n", "\n").split("\n")
    assert len(lines) == len(expected)
    assert ["".join(tokens[1::2]) for tokens in lines] == [line.replace("\r", "\u240d") for line in expected]
    assert any(cls == "k" for tokens in lines for cls in tokens[0::2])  # keywords are classed


def test_scan_writes_html_and_sarif_from_the_command_line(case, case_cache, tmp_path):
    result, _, submission = case[:3]
    html, sarif = tmp_path / "r.html", tmp_path / "r.sarif"
    done = provscan("scan", str(submission), "--corpus", "reportcase", "--no-license-detection", "--format", "sarif",
                    "-o", str(sarif), "--html", str(html))
    assert done.returncode == 0, done.stderr
    log = json.loads(sarif.read_text(encoding="utf-8"))
    jsonschema.validate(log, SARIF_SCHEMA, cls=jsonschema.Draft4Validator)
    assert {r["partialFingerprints"]["provscanFindingId/v1"] for r in log["runs"][0]["results"]} == {
        f.id for f in result.findings}
    page = html.read_text(encoding="utf-8")
    assert set(_payload(page)["findings"]) == {f.id for f in result.findings}


@pytest.mark.parametrize("packed", [False, True], ids=["directory", "archive"])
def test_compare_finds_the_copy_both_ways(case, tmp_path, packed):
    _, corpus, submission = case[:3]
    side_a, prefix = corpus / "glm4_moe", ""
    if packed:
        side_a, prefix = tmp_path / "glm.tar.gz", "glm4_moe/"
        with tarfile.open(side_a, "w:gz") as tar:
            tar.add(corpus / "glm4_moe", arcname="glm4_moe")
    out, page = tmp_path / "cmp.json", tmp_path / "cmp.html"
    done = provscan("compare", str(side_a), str(submission), "--format", "json", "-o", str(out),
                    "--html", str(page), "--no-license-detection", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["schema"] == "provscan-compare-result/1"
    b_in_a, a_in_b = (d["result"] for d in report["directions"])
    for result in (b_in_a, a_in_b):
        jsonschema.validate(result, SCHEMA)
    # B (the submission) in A: the mutated file is the GLM modeling file.
    moe = next(f for f in b_in_a["findings"] if f["kind"] == "code-match" and f["location"]["path"] == "hanbit_moe.py")
    assert moe["source"]["path"] == prefix + "modeling_glm4_moe.py" and moe["similarity"]["jaccard"] >= 0.5
    assert any(f["kind"] == "stripped-attribution" for f in b_in_a["findings"])
    # A in B: the same code the other way round, attributed to the submission's files.
    back = {f["source"]["path"] for f in a_in_b["findings"] if f["kind"] == "code-match"}
    assert "hanbit_moe.py" in back
    # Every file pair that shares anything has a continuous similarity, best first: the copy leads
    pairs = report["file_pairs"]
    assert report["file_pairs_total"] == len(pairs) > 1
    assert (pairs[0]["a_path"], pairs[0]["b_path"]) == (prefix + "modeling_glm4_moe.py", "hanbit_moe.py")
    assert pairs[0]["score"] == max(pairs[0]["a_in_b"], pairs[0]["b_in_a"]) > 0.5
    assert [p["score"] for p in pairs] == sorted((p["score"] for p in pairs), reverse=True)
    html = page.read_text(encoding="utf-8")
    assert html.count('<section class="report"') == 2 and "<img" not in html
    # The evidence text of side A was read back from the directory or archive and matched its indexed hash.
    source_file = json.loads(_payload(html)["files"][f"c:{side_a.name}:{moe['source']['path']}"])
    assert source_file["problem"] == "" and source_file["warning"] == "" and source_file["lines"]
    # The temporary corpora lived in a cache of their own: the user's (this test's) cache holds no corpus.
    assert "no corpora" in provscan("corpus", "list").stdout


def test_model_findings_render_with_their_statistics(case):
    # Model findings (weights, tokenizers) carry statistics instead of lines: both writers show them as they are.
    from dataclasses import replace

    from provscan.models.findings import ModelFinding

    result = case[0]
    model = ModelFinding("PS-000000000001", "weight-reuse", "high", "weights.reuse", f"weights of {PAYLOAD}",
                         "model/model.safetensors", 1, 1, "model", "tiny-ref", {"exact_parameters": 7, "dtype": "bf16"})
    with_model = replace(result, findings=[*result.findings, model])
    log = _sarif(with_model)
    jsonschema.validate(log, SARIF_SCHEMA, cls=jsonschema.Draft4Validator)
    sarif_result = log["runs"][0]["results"][-1]
    assert sarif_result["properties"]["evidence"] == {"exact_parameters": 7, "dtype": "bf16"}
    out = io.StringIO()
    write_html(with_model, out)
    html = out.getvalue()
    assert PAYLOAD not in html and _payload(html)["findings"][model.id]["model"]["reference"] == "tiny-ref"
    assert 'data-project="tiny-ref"' in html
