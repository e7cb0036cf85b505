"""The README's main command for real: the default corpus built from the installed transformers wheel on first use,
then the demo submission scanned against it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import transformers_models
from tests.processes import freeze, read_until, start, thaw
from tests.test_cli import SCHEMA, provscan

pytestmark = pytest.mark.slow


def test_two_first_scans_at_once_build_the_default_corpus_once_and_find_the_demo_copies(tmp_path):
    """Two first scans on one cache (two terminals, a CI matrix): one builds, showing its progress although stderr
    is no terminal; the other waits for it, says so, and uses its build. Both reports are the same."""
    out, other = tmp_path / "demo.json", tmp_path / "other.json"
    first = start("scan", "examples/demo-submission", "--format", "json", "-o", str(out))
    seen = read_until(first, lambda line: "building default corpus: " in line)
    assert "the default corpus is not built yet" in "".join(seen) and "building it now" in "".join(seen)
    freeze(first)  # mid-build, holding the corpus's lock
    second = start("scan", "examples/demo-submission", "--format", "json", "-o", str(other))
    read_until(second, lambda line: "waiting for it to finish" in line)
    thaw(first)
    _, first_err = first.communicate()
    _, second_err = second.communicate()
    assert first.returncode == 0 and second.returncode == 0, "".join(seen) + first_err + second_err
    assert "corpus 'transformers' built:" in first_err
    assert "was built meanwhile by another provscan process; using it" in second_err
    assert "built:" not in second_err and "Traceback" not in first_err + second_err
    report = json.loads(out.read_text())
    assert [f["id"] for f in json.loads(other.read_text())["findings"]] == [f["id"] for f in report["findings"]]
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
    # Helpers every Llama-style model holds are the corpus's common stock: weak evidence, LOW whatever their
    # Jaccard (1.00 for three of them); the copied experts are strong evidence.
    for name in ("half_rotate", "rope_apply", "expand_kv", "HanbitNorm"):
        strength = found[name]["strength"]
        assert found[name]["severity"] == "low" and strength["common_code"], (name, strength)
        assert strength["corpus_files"] == 1 + found[name]["also_in_total"] >= 100
    assert found["HanbitExperts"]["strength"]["level"] == "strong"
    # The submission's original files stay clean.
    code_paths = {f["location"]["path"] for f in report["findings"] if f["kind"] == "code-match"}
    assert code_paths == {"hanbit_lm/attention.py", "hanbit_lm/moe.py"}
    assert report["summary"]["skipped"] == {"unsupported-language": 1}  # README.md
    # moe.py swapped the source's notice for its own and kept its Chinese comments.
    stripped = [f for f in report["findings"] if f["kind"] == "stripped-attribution"]
    assert [(f["location"]["path"], f["severity"]) for f in stripped] == [
        ("hanbit_lm/moe.py", "high"), ("hanbit_lm/attention.py", "low")]
    assert "Hanbit AI" in stripped[0]["message"] and "ZhipuAI" in stripped[0]["message"]
    # attention.py's helpers were first written in Llama's file (Meta's notice), but they are common stock: a
    # stripped notice over them is weak evidence, said as such
    assert stripped[1]["attribution"]["source"]["project"] == "llama"
    assert stripped[1]["attribution"]["strength"]["level"] == "weak" and "weak evidence" in stripped[1]["message"]
    assert any(f["rule_id"] == "comments.chinese" and f["location"]["path"] == "hanbit_lm/moe.py"
               for f in report["findings"])

    # A second scan reuses the corpus (no rebuild message) and lists it.
    again = provscan("scan", "examples/demo-submission", "--fail-on", "high")
    assert again.returncode == 1 and "building" not in again.stderr
    listed = provscan("corpus", "list")
    assert "transformers" in listed.stdout


def test_help_lists_every_command():
    done = provscan("--help")
    assert done.returncode == 0
    listed = {line.split()[0] for line in done.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()}
    assert listed == {"baseline", "batch", "compare", "corpus", "hook", "scan"}
