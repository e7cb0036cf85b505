"""Every case answers clearly and early: nothing scanned, outputs that cannot be written, why a gate failed, a reader
that went away, a hook given nothing, a bad pattern, where the corpora are, help that is not cut, and a crash that
never reads as findings. Real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import copy_models, transformers_models
from tests.processes import REPO, start
from tests.test_cli import provscan


@pytest.fixture()
def corpus(tmp_path) -> str:
    done = provscan("corpus", "add", "one", str(copy_models(tmp_path / "corpus", ["llama"])), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    return "one"


@pytest.fixture()
def copied(tmp_path):
    root = tmp_path / "sub"
    root.mkdir()
    (root / "model.py").write_text((transformers_models() / "llama" / "modeling_llama.py").read_text(encoding="utf-8"))
    return root


def test_a_scan_that_reads_nothing_says_so_and_exits_2(tmp_path, corpus):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = provscan("scan", str(empty), "--corpus", corpus, "--fail-on", "low")
    assert done.returncode == 2
    assert "nothing scanned" in done.stdout and f"nothing was scanned in {empty}: 0 file(s) seen" in done.stderr
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text("# Our model\n")
    (docs / "notes.txt").write_text("trained from scratch\n")
    out = tmp_path / "r.json"
    done = provscan("scan", str(docs), "--corpus", corpus, "--format", "json", "-o", str(out))
    assert done.returncode == 2
    assert "2 file(s) seen" in done.stderr and "unsupported-language 2" in done.stderr
    assert json.loads(out.read_text())["summary"]["files_scanned"] == 0  # the report is still written


def test_an_output_that_cannot_be_written_stops_the_scan_before_it_starts(tmp_path, corpus, copied):
    for option in ("-o", "--html"):
        done = provscan("scan", str(copied), "--corpus", corpus, option, str(tmp_path / "no-such-dir" / "r.html"))
        assert done.returncode == 2 and done.stdout == ""  # no text report: nothing was scanned
        assert f"{tmp_path / 'no-such-dir'} does not exist" in done.stderr
    done = provscan("scan", str(copied), "--corpus", corpus, "-o", str(tmp_path))
    assert done.returncode == 2 and "is a directory" in done.stderr
    done = provscan("compare", str(copied), str(copied), "-o", str(tmp_path / "gone" / "c.json"))
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_a_failing_gate_says_why(corpus, copied):
    done = provscan("scan", str(copied), "--corpus", corpus, "--fail-on", "high", "--no-license-detection")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "at or above --fail-on high" in last and last.endswith("exit 1")
    high = json.loads(provscan("scan", str(copied), "--corpus", corpus, "--no-license-detection", "--format",
                               "json").stdout)["summary"]["findings"]["high"]
    assert last.startswith(f"provscan: {high} finding(s)")


def test_a_reader_that_goes_away_is_not_findings(corpus, copied):
    """`provscan scan ... --format html | head -1`: the page is far larger than a pipe holds, so writing it meets
    the closed pipe whatever the machine's speed."""
    process = start("scan", str(copied), "--corpus", corpus, "--format", "html", "--no-license-detection")
    assert process.stdout.readline().startswith("<!DOCTYPE html>")
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait() == 141, stderr
    assert "broken pipe" in stderr and "Traceback" not in stderr


def test_the_hook_with_no_files_says_there_was_nothing_to_check(tmp_path):
    done = provscan("hook", cwd=tmp_path)
    assert done.returncode == 0 and "no files given, nothing to check" in done.stderr


def test_a_bad_exclude_pattern_is_named_as_written_before_any_work(tmp_path):
    done = provscan("scan", str(tmp_path), "--exclude", "[z-a]")  # no corpus needed: the pattern is checked first
    assert done.returncode == 2
    assert "--exclude: invalid pattern '[z-a]': bad character range z-a" in done.stderr
    assert "position" not in done.stderr and "corpus" not in done.stderr


def test_corpus_list_says_where_the_corpora_are(corpus, isolated_cache):
    listed = provscan("corpus", "list")
    assert listed.returncode == 0
    assert listed.stdout.strip().splitlines()[-1] == f"1 corpus in {isolated_cache / 'corpora'}"


@pytest.mark.parametrize("group", [(), ("corpus",), ("baseline",)])
def test_help_lists_every_command_with_its_whole_summary(group):
    done = provscan(*group, "--help")
    assert done.returncode == 0
    commands = done.stdout.split("Commands:\n", 1)[1]
    assert commands.strip() and "..." not in commands and "…" not in commands


def test_a_crash_is_an_internal_error_naming_the_file_never_findings(tmp_path, corpus, copied):
    """A file name that is not UTF-8 crashes provscan 0.1.0's finding ids (issue 17). Whatever the fix, such a file
    must never make a scan exit 1 ("findings reached --fail-on"): exit 0 once handled, 3 with the file named while
    it is a crash."""
    name = b"caf\xe9.py"
    (copied / name.decode("utf-8", "surrogateescape")).write_text((copied / "model.py").read_text())
    done = subprocess.run([sys.executable, "-m", "provscan", "scan", str(copied), "--corpus", corpus, "--fail-on",
                           "off", "--no-license-detection"], capture_output=True, cwd=tmp_path, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode in (0, 3), stderr
    if done.returncode == 3:
        assert "internal error while reading caf" in stderr and "not a finding" in stderr
