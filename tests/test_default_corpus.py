"""The README's main command for real: the default corpus built from the installed transformers wheel on first use,
then the demo submission scanned against it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import transformers_models
from tests.test_cli import SCHEMA, provscan

pytestmark = pytest.mark.slow


def test_first_scan_builds_the_default_corpus_and_finds_the_demo_copies(tmp_path):
    out = tmp_path / "demo.json"
    done = provscan("scan", "examples/demo-submission", "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "default corpus is not built yet; building it now" in done.stderr
    report = json.loads(out.read_text())
    import jsonschema

    jsonschema.validate(report, SCHEMA)
    corpus = report["corpora"][0]
    assert corpus["name"] == "transformers"
    assert corpus["files"] == sum(1 for _ in transformers_models().rglob("*.py"))

    found = {f["submission"]["fragment_name"]: f for f in report["findings"] if f["kind"] == "code-match"}
    expected_sources = {  # submission fragment -> (a true source's name, its model folder)
        "half_rotate": ("rotate_half", "qwen2"),
        "rope_apply": ("apply_rotary_pos_emb", "qwen2"),
        "expand_kv": ("repeat_kv", "qwen2"),
        "HanbitNorm": ("Qwen2RMSNorm", "qwen2"),
        "HanbitAttention": ("Qwen2Attention", "qwen2"),
        "HanbitRouter": ("Glm4MoeTopkRouter", "glm4_moe"),
        "HanbitExperts": ("Glm4MoeExperts", "glm4_moe"),
    }
    assert set(found) == set(expected_sources)
    for name, (source_name, project) in expected_sources.items():
        finding = found[name]
        names = {finding["source"]["name"]} | {a["name"] for a in finding["also_in"]}
        projects = {finding["source"]["project"]} | {a["project"] for a in finding["also_in"]}
        assert source_name in names and project in projects, (name, finding["source"])
    # The submission's original files stay clean.
    code_paths = {f["location"]["path"] for f in report["findings"] if f["kind"] == "code-match"}
    assert code_paths == {"hanbit_lm/attention.py", "hanbit_lm/moe.py"}
    assert report["summary"]["skipped"] == {"unsupported-language": 1}  # README.md
    # moe.py swapped the source's notice for its own and kept its Chinese comments.
    stripped = [f for f in report["findings"] if f["kind"] == "stripped-attribution"]
    assert [(f["location"]["path"], f["severity"]) for f in stripped] == [("hanbit_lm/moe.py", "high")]
    assert "Hanbit AI" in stripped[0]["message"]
    assert any(f["rule_id"] == "comments.chinese" and f["location"]["path"] == "hanbit_lm/moe.py"
               for f in report["findings"])

    # A second scan reuses the corpus (no rebuild message) and lists it.
    again = provscan("scan", "examples/demo-submission", "--fail-on", "high")
    assert again.returncode == 1 and "building" not in again.stderr
    listed = provscan("corpus", "list")
    assert "transformers" in listed.stdout


def test_help_lists_the_commands():
    done = provscan("--help")
    assert done.returncode == 0 and "scan" in done.stdout and "corpus" in done.stdout
