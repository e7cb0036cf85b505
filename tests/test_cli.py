"""The command line as a user runs it: real processes, real files, exit codes, JSON validated by its schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import copy_models, transformers_models
from tests.processes import freeze, interrupt_frozen, read_until, start, thaw

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "provscan" / "schema" / "scan-result.schema.json").read_text())


def provscan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provscan", *args], capture_output=True, text=True, cwd=cwd or REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600,
    )


@pytest.fixture()
def corpus(tmp_path) -> str:
    source = copy_models(tmp_path / "corpus", ["qwen2", "llama"])
    done = provscan("corpus", "add", "small", str(source), "--split-projects", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "files indexed" in done.stdout
    return "small"


@pytest.fixture()
def copied(tmp_path) -> Path:
    """A submission holding Qwen2's RMSNorm class and an original function."""
    text = (transformers_models() / "qwen2" / "modeling_qwen2.py").read_text(encoding="utf-8")
    start = text.index("class Qwen2RMSNorm")
    end = text.index("\n\n\n", start)
    root = tmp_path / "sub"
    root.mkdir()
    header = "import torch\nfrom torch import nn\n\n\n"
    (root / "norm.py").write_text(header + text[start:end].replace("Qwen2", "My") + "\n")
    (root / "mine.py").write_text(
        "def fizzbuzz(limit):\n    out = []\n    for i in range(1, limit + 1):\n"
        "        out.append('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else str(i))\n    return out\n"
    )
    return root


def test_json_report_validates_and_names_the_source(corpus, copied, tmp_path):
    out = tmp_path / "report.json"
    done = provscan("scan", str(copied), "--corpus", corpus, "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    finding = next(f for f in report["findings"] if f.get("submission", {}).get("fragment_name") == "MyRMSNorm")
    assert finding["source"]["name"] in {"Qwen2RMSNorm", "LlamaRMSNorm"}
    assert {finding["source"]["project"]} | {a["project"] for a in finding["also_in"]} == {"qwen2", "llama"}
    assert finding["evidence"][0]["source_lines"][0] == finding["source"]["start_line"]
    # The source file's own notice lines travel with the finding (qwen2's generated file has none; llama's has one).
    source_text = (transformers_models() / finding["source"]["path"]).read_text(encoding="utf-8").splitlines()
    expected = [n + 1 for n, line in enumerate(source_text[:40]) if "Copyright" in line]
    assert [n["line"] for n in finding["source_notices"] if "Copyright" in n["text"]] == expected
    assert report["summary"]["files_scanned"] == 2
    assert not any(f["location"]["path"] == "mine.py" for f in report["findings"])


def test_text_report_and_fail_on_exit_codes(corpus, copied):
    done = provscan("scan", str(copied), "--corpus", corpus)
    assert done.returncode == 0, done.stderr
    assert "norm.py" in done.stdout and ("Qwen2RMSNorm" in done.stdout or "LlamaRMSNorm" in done.stdout)
    failing = provscan("scan", str(copied), "--corpus", corpus, "--fail-on", "medium")
    assert failing.returncode == 1
    clean = provscan("scan", str(copied / "mine.py"), "--corpus", corpus, "--fail-on", "low")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no code from the corpus found" in clean.stdout


def test_usage_and_fatal_errors_exit_2_with_a_clear_message(tmp_path, corpus):
    missing = provscan("scan", str(tmp_path / "nope"), "--corpus", corpus)
    assert missing.returncode == 2 and "nope: no such file or directory" in missing.stderr
    unknown = provscan("scan", str(tmp_path), "--corpus", "no-such-corpus")
    assert unknown.returncode == 2 and "no-such-corpus" in unknown.stderr
    bad_option = provscan("scan", str(tmp_path), "--format", "xml")
    assert bad_option.returncode == 2 and "'--format'" in bad_option.stderr and "'xml'" in bad_option.stderr
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    corrupt = provscan("scan", str(broken), "--corpus", corpus)
    assert corrupt.returncode == 2 and "broken.zip" in corrupt.stderr


def test_corpus_list_and_remove(corpus):
    listed = provscan("corpus", "list")
    assert listed.returncode == 0 and "small" in listed.stdout
    assert provscan("corpus", "remove", corpus).returncode == 0
    assert provscan("corpus", "remove", corpus).returncode == 2


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom provscan.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('numpy', 'tree_sitter', 'datasketch', 'scipy', 'rich') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_corpus_with_another_shingle_size_is_scanned_with_its_own_settings(tmp_path, copied):
    source = copy_models(tmp_path / "corpus", ["qwen2"])
    done = provscan("corpus", "add", "k7", str(source), "--shingle-size", "7", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "r.json"
    assert provscan("scan", str(copied), "--corpus", "k7", "--format", "json", "-o", str(out)).returncode == 0
    report = json.loads(out.read_text())
    assert any(f.get("source", {}).get("name") == "Qwen2RMSNorm" for f in report["findings"])
    from provscan.corpus import open_corpus

    with open_corpus("k7") as index:
        assert index.meta()["k"] == "7"


def test_every_skipped_file_is_listed_with_its_reason(tmp_path, corpus, copied):
    (copied / "NOTES.md").write_text("# notes\n")
    (copied / "weights.bin").write_bytes(b"\x00\x01\x02" * 100)
    (copied / "legacy.py").write_bytes("# caf\xe9\ndef f():\n    return 1\n".encode("latin-1"))
    out = tmp_path / "r.json"
    assert provscan("scan", str(copied), "--corpus", corpus, "--format", "json", "-o", str(out)).returncode == 0
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    listed = {(s["path"], s["reason"]) for s in report["skips"]}
    assert {("NOTES.md", "unsupported-language"), ("weights.bin", "binary")} <= listed
    assert report["summary"]["skipped"] == {"binary": 1, "unsupported-language": 1}
    assert report["summary"]["warnings"] == {"latin-1-fallback": 1}
    assert report["summary"]["files_seen"] == 5 and report["summary"]["files_scanned"] == 3


def test_scanned_code_is_never_imported_executed_or_built(tmp_path, corpus):
    marker = tmp_path / "executed"
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    sub = tmp_path / "hostile"
    sub.mkdir()
    (sub / "setup.py").write_text("import setuptools\n" + payload)
    (sub / "conftest.py").write_text(payload)
    (sub / "__init__.py").write_text(payload)
    (sub / "sitecustomize.py").write_text(payload)
    (sub / "run.sh").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (sub / "run.sh").chmod(0o755)
    done = provscan("scan", str(sub), "--corpus", corpus, cwd=sub)
    assert done.returncode == 0, done.stderr
    assert "4 files scanned" in done.stdout
    assert not marker.exists()


def test_an_interrupted_corpus_build_exits_130_and_leaves_the_previous_version(tmp_path, isolated_cache):
    first = provscan("corpus", "add", "big", str(copy_models(tmp_path / "first", ["qwen2"])), "--jobs", "1")
    assert first.returncode == 0, first.stderr
    # Rebuilding it from the whole models/ folder, interrupted once the build is indexing (its progress shows it
    # when stderr is not a terminal), with the whole process group frozen while the test checks that it runs.
    process = start("corpus", "add", "big", str(transformers_models()), "--jobs", "2")
    seen = read_until(process, lambda line: "indexing big: " in line)
    freeze(process)
    assert process.poll() is None
    done, total = map(int, seen[-1].split("indexing big: ")[1].split(" ")[0].split("/"))
    assert done < total
    interrupt_frozen(process)
    _stdout, stderr = process.communicate()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr and "Error" not in stderr
    # The previous version is untouched and usable; the build's staging copy is gone.
    listed = provscan("corpus", "list")
    row = next(line for line in listed.stdout.splitlines() if " big " in line)
    assert row.split("│")[2].strip() == str(sum(1 for _ in (tmp_path / "first").rglob("*.py")))
    assert [p.name for p in (isolated_cache / "corpora").iterdir() if ".build-" in p.name] == []
    scan = provscan("scan", str(copy_models(tmp_path / "sub", ["qwen2"])), "--corpus", "big",
                    "--no-license-detection", "--format", "json", "-o", str(tmp_path / "r.json"))
    assert scan.returncode == 0, scan.stderr
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["matched_share"] > 0.9


def test_two_builds_of_one_corpus_at_once_take_turns(tmp_path, isolated_cache):
    source = copy_models(tmp_path / "corpus", ["qwen2", "llama", "mistral", "gemma"])
    first = start("corpus", "add", "shared", str(source), "--jobs", "1")
    read_until(first, lambda line: "indexing shared: " in line)  # it holds the corpus's lock now
    freeze(first)
    second = start("corpus", "add", "shared", str(source), "--jobs", "1")
    waiting = read_until(second, lambda line: "waiting for it to finish" in line)
    assert "another provscan process is building corpus 'shared'" in waiting[-1]
    # A scan meanwhile is not blocked by the build, and says clearly that there is no such corpus yet.
    scan = provscan("scan", str(source / "llama"), "--corpus", "shared")
    assert scan.returncode == 2 and "no corpus named 'shared'" in scan.stderr
    thaw(first)
    first_out, first_err = first.communicate()
    second_out, second_err = second.communicate()
    assert first.returncode == 0 and second.returncode == 0, first_err + second_err
    files = sum(1 for _ in source.rglob("*.py"))
    assert f"{files} files indexed, 0 unchanged" in first_out
    assert f"0 files indexed, {files} unchanged" in second_out  # it waited, then found nothing left to do
    assert sorted(p.name for p in (isolated_cache / "corpora").iterdir() if p.name.endswith(".sqlite")) == [
        "shared.sqlite"]
    again = provscan("scan", str(source / "llama"), "--corpus", "shared", "--no-license-detection")
    assert again.returncode == 0 and "llama/modeling_llama.py" in again.stdout, again.stderr


def test_bad_rule_file_is_a_clear_error_and_user_rules_apply(tmp_path, corpus, copied):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[marker]]\nid = 'x'\nkind = 'hub-url'\npattern = '('\nmessage = 'm'\nseverity = 'low'\n")
    done = provscan("scan", str(copied), "--corpus", corpus, "--rules", str(bad))
    assert done.returncode == 2 and str(bad) in done.stderr and "not a valid regular expression" in done.stderr
    good = tmp_path / "good.toml"
    good.write_text("[[marker]]\nid = 'local.fizz'\nkind = 'model-family'\npattern = 'FizzBuzz'\n"
                    "message = 'our own marker'\nseverity = 'high'\n")
    out = tmp_path / "r.json"
    done = provscan("scan", str(copied), "--corpus", corpus, "--rules", str(good), "--no-license-detection",
                    "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    hits = [f for f in report["findings"] if f["rule_id"] == "local.fizz"]
    assert [(f["location"]["path"], f["severity"]) for f in hits] == [("mine.py", "high")]


def test_match_thresholds_from_the_command_line_apply_and_are_recorded(tmp_path, corpus, copied):
    out = tmp_path / "r.json"
    args = ("scan", str(copied), "--corpus", corpus, "--format", "json", "-o", str(out), "--no-license-detection")
    assert provscan(*args, "--min-shared-shingles", "1000").returncode == 0
    strict = json.loads(out.read_text())
    assert strict["settings"]["min_shared_shingles"] == 1000
    assert not [f for f in strict["findings"] if f["kind"] == "code-match"]
    assert provscan(*args, "--min-containment", "0.9", "--min-similarity", "0.7").returncode == 0
    loose = json.loads(out.read_text())
    assert (loose["settings"]["min_containment"], loose["settings"]["min_similarity"]) == (0.9, 0.7)
    assert [f["submission"]["fragment_name"] for f in loose["findings"] if f["kind"] == "code-match"] == ["MyRMSNorm"]


def test_scancode_leaves_no_temporary_directory_behind(tmp_path, corpus, copied):
    """scancode makes a `scancode-tk-*` directory per importing process; provscan removes it when each ends."""
    (copied / "licensed.py").write_text(
        "# Copyright 2024 Example Robotics Inc.\n# Licensed under the Apache License, Version 2.0\n\n"
        "def area(w, h):\n    return w * h\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "provscan", "scan", str(copied), "--corpus", corpus, "--jobs", "2", "--format", "json",
         "-o", str(out)], capture_output=True, text=True, cwd=REPO, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(temp)},
    )
    assert done.returncode in (0, 1), done.stderr
    notices = json.loads(out.read_text())["notices"]
    assert {n["detector"] for n in notices if n["path"] == "licensed.py"} == {"scancode"}  # scancode did run
    assert not list(temp.glob("scancode-tk-*"))
