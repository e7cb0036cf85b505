"""The staged case of the notices issue: GLM-4 MoE code with its ZhipuAI header swapped for another company's, a
file that kept "Copyright Zhipu AI", and a clean file of the test's own writing."""

from __future__ import annotations

import json

import jsonschema
import pytest

from provscan.corpus import add_corpus
from provscan.scan import ScanSettings, scan
from tests.conftest import copy_models, transformers_models
from tests.mutate import definitions
from tests.test_cli import SCHEMA

GLM = "glm4_moe/modeling_glm4_moe.py"


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # Module-scoped, so it runs before the per-test cache fixture: give it a private cache of its own.
        patch.setenv("PROVSCAN_CACHE_DIR", str(tmp_path_factory.mktemp("staged-cache")))
        yield _stage(tmp_path_factory.mktemp("staged"))


def _stage(root):
    corpus = copy_models(root / "corpus", ["glm4_moe", "qwen2"])
    assert add_corpus("glm", corpus, split_projects=True, jobs=1).files_indexed >= 6
    original = (transformers_models() / GLM).read_text(encoding="utf-8")
    lines = original.splitlines()
    notice_line = next(i for i, line in enumerate(lines) if "Copyright" in line)
    assert "ZhipuAI" in lines[notice_line]

    sub = root / "submission"
    sub.mkdir()
    swapped = list(lines)
    swapped[notice_line] = "# Copyright 2025 Hanbit AI Corp. All rights reserved."
    (sub / "moe_model.py").write_text("\n".join(swapped).replace("Glm4Moe", "Hanbit") + "\n", encoding="utf-8")

    defs = definitions(original)
    picked = [defs[name] for name in ("Glm4MoeMLP", "Glm4MoeTopkRouter")]
    body = "\n\n\n".join("\n".join(lines[d.start_line - 1 : d.end_line]) for d in picked)
    (sub / "router.py").write_text(
        "# Copyright 2025 Zhipu AI\nimport torch\nfrom torch import nn\n\n\n" + body + "\n", encoding="utf-8"
    )
    (sub / "clean.py").write_text(
        "def moving_average(values, window):\n    out, total = [], 0.0\n    for i, value in enumerate(values):\n"
        "        total += value\n        if i >= window:\n            total -= values[i - window]\n"
        "        out.append(total / min(i + 1, window))\n    return out\n",
        encoding="utf-8",
    )
    result = scan(sub, ScanSettings(corpora=("glm",), jobs=1, license_detection=False))
    return result, notice_line + 1


def test_swapped_header_is_reported_as_stripped_attribution_naming_both_notices(staged):
    result, notice_line = staged
    stripped = [f for f in result.findings if f.kind == "stripped-attribution"]
    assert [f.path for f in stripped] == ["moe_model.py"]
    finding = stripped[0]
    assert finding.severity == "high" and finding.source.path == GLM
    assert any(n["line"] == notice_line and "ZhipuAI" in n["text"] for n in finding.source_notices)
    assert [n.holder.rstrip(".") for n in finding.submission_notices] == ["Hanbit AI Corp"]
    assert "ZhipuAI" in finding.message and "Hanbit AI Corp" in finding.message
    assert finding.code_findings and finding.matched_lines > 100
    # The licence of the source travels with the match: transformers files are Apache-2.0.
    code = [f for f in result.code_findings if f.id in finding.code_findings]
    assert code and all(f.source_license and f.source_license["id"] == "Apache-2.0" for f in code)
    assert "NOTICE" in finding.message


def test_kept_zhipu_notice_is_reported_with_its_evidence(staged):
    result, _ = staged
    kept = [f for f in result.findings if f.kind == "attribution-kept"]
    assert [(f.path, f.severity) for f in kept] == [("router.py", "low")]
    assert kept[0].submission_notices[0].organisation == "zhipu"
    notices = [f for f in result.findings if f.kind == "notice"]
    assert [(f.path, f.start_line, f.notice.organisation, f.severity) for f in notices] == [
        ("router.py", 1, "zhipu", "high")
    ]


def test_clean_file_yields_nothing(staged):
    result, _ = staged
    assert not [f for f in result.findings if f.path == "clean.py"]


def test_report_validates_and_lists_every_kind(staged):
    from provscan.report import to_dict

    result, _ = staged
    report = json.loads(json.dumps(to_dict(result)))
    jsonschema.validate(report, SCHEMA)
    kinds = report["summary"]["findings_by_kind"]
    assert kinds["stripped-attribution"] == 1 and kinds["attribution-kept"] == 1 and kinds["code-match"] >= 2
    stripped = next(f for f in report["findings"] if f["kind"] == "stripped-attribution")
    assert stripped["attribution"]["source"]["path"] == GLM


def test_generated_file_inherits_the_notice_of_its_modular_source(tmp_path):
    # transformers generates modeling files from modular files; when only the modular file carries the notice,
    # the generated file's matches must still know whose code it is.
    original = (transformers_models() / GLM).read_text(encoding="utf-8")
    body = "\n".join(line for line in original.splitlines() if "Copyright" not in line)
    folder = tmp_path / "corpus" / "widget"
    folder.mkdir(parents=True)
    (folder / "modular_widget.py").write_text("# Copyright 2025 Widget Labs. All rights reserved.\nimport os\n")
    (folder / "modeling_widget.py").write_text(
        "# This file was automatically generated from src/transformers/models/widget/modular_widget.py.\n" + body
    )
    add_corpus("gen", tmp_path / "corpus", split_projects=True, jobs=1)
    from provscan.corpus import open_corpus

    with open_corpus("gen") as index:
        inherited = index.notices_of("widget/modeling_widget.py")
    assert [(n["text"], n["from"]) for n in inherited if "Copyright" in n["text"]] == [
        ("Copyright 2025 Widget Labs. All rights reserved.", "widget/modular_widget.py")
    ]
