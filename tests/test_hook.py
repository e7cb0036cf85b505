"""The pre-commit hook, baselines and inline ignores, run as a team would: real processes in a real repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_models, transformers_models
from tests.test_cli import provscan

REPO = Path(__file__).resolve().parent.parent


def glm_function(name: str = "attend") -> str:
    """GLM-4 MoE's eager attention function as a committer would paste it, renamed."""
    text = (transformers_models() / "glm4_moe" / "modeling_glm4_moe.py").read_text(encoding="utf-8")
    start = text.index("def eager_attention_forward(")
    body = text[start : text.index("\n\n\n", start)]
    return "import torch\nfrom torch import nn\n\n\n" + body.replace("eager_attention_forward", name) + "\n"


CLEAN = (
    "def fizzbuzz(limit):\n    out = []\n    for i in range(1, limit + 1):\n"
    "        out.append('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else str(i))\n    return out\n"
)


@pytest.fixture()
def project(tmp_path) -> Path:
    """A repository working tree with a copied GLM function and an original one; corpus 'glm' = glm4_moe."""
    source = copy_models(tmp_path / "corpus", ["glm4_moe"])
    done = provscan("corpus", "add", "glm", str(source), "--split-projects", "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "attention.py").write_text(glm_function())
    (root / "pkg" / "clean.py").write_text(CLEAN)
    (root / ".provscan.toml").write_text('corpora = ["glm"]\n')
    return root


def def_line(path: Path, name: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(f"def {name}("))


def finding_ids(output: str) -> list[str]:
    return re.findall(r"\[(PS-[0-9a-f]{12})\]", output)


def test_hook_shows_file_line_source_and_hint_and_fails_only_on_findings(project):
    done = provscan("hook", "pkg/attention.py", "pkg/clean.py", cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    line = def_line(project / "pkg" / "attention.py", "attend")
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"pkg/attention.py:{line}: HIGH code-match function attend matches glm/glm4_moe "
                            "glm4_moe/modeling_glm4_moe.py:")
    assert "eager_attention_forward" in first
    assert done.stdout.splitlines()[1].startswith("    hint: ")
    assert "pkg/clean.py" not in done.stdout
    assert "commit refused" in done.stderr
    clean = provscan("hook", "pkg/clean.py", cwd=project)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == ""
    lenient = provscan("hook", "pkg/attention.py", "--fail-on", "off", cwd=project)
    assert lenient.returncode == 0 and "attend" in lenient.stdout


def test_hook_skips_deleted_excluded_and_vendored_paths(project):
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".venv" / "lib" / "copy.py").write_text(glm_function())
    (project / "gen").mkdir()
    (project / "gen" / "copy.py").write_text(glm_function())
    done = provscan("hook", "pkg/gone.py", ".venv/lib/copy.py", "gen/copy.py", "--exclude", "gen/", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 new finding(s) in 0 file(s) read, 3 skipped" in done.stderr


def test_finding_ids_survive_line_shifts_so_a_baseline_keeps_accepting(project):
    first = provscan("hook", "pkg/attention.py", "--fail-on", "off", cwd=project)
    ids = finding_ids(first.stdout)
    assert ids
    created = provscan("baseline", "create", cwd=project)
    assert created.returncode == 0, created.stderr
    baseline = json.loads((project / ".provscan-baseline.json").read_text())
    assert {e["id"] for e in baseline["findings"]} >= set(ids)
    assert {e["path"] for e in baseline["findings"]} == {"pkg/attention.py"}

    path = project / "pkg" / "attention.py"
    path.write_text("# a header added later\n\n\nimport os\n\n\n" + path.read_text())
    shifted = provscan("hook", "pkg/attention.py", "--baseline", "none.json", "--fail-on", "off", cwd=project)
    assert finding_ids(shifted.stdout) == ids  # same ids, other lines
    assert f"pkg/attention.py:{def_line(path, 'attend')}:" in shifted.stdout

    accepted = provscan("hook", "pkg/attention.py", "pkg/clean.py", cwd=project)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert accepted.stdout == ""
    assert "accepted by .provscan-baseline.json" in accepted.stderr


def test_baseline_reports_only_new_findings_and_update_accepts_and_drops(project):
    assert provscan("baseline", "create", cwd=project).returncode == 0
    again = provscan("baseline", "create", cwd=project)
    assert again.returncode == 2 and "baseline update" in again.stderr
    (project / "pkg" / "more.py").write_text(glm_function("attend_more"))
    new = provscan("hook", "pkg/attention.py", "pkg/more.py", cwd=project)
    assert new.returncode == 1
    assert "pkg/more.py" in new.stdout and "pkg/attention.py" not in new.stdout

    updated = provscan("baseline", "update", cwd=project)
    assert updated.returncode == 0, updated.stderr
    assert re.search(r"\(\d+ added, 0 no longer found\)", updated.stdout) and "(0 added" not in updated.stdout
    assert provscan("hook", "pkg/more.py", cwd=project).returncode == 0

    (project / "pkg" / "more.py").unlink()
    dropped = provscan("baseline", "update", cwd=project)
    assert "0 added" in dropped.stdout and "0 no longer found" not in dropped.stdout
    entries = json.loads((project / ".provscan-baseline.json").read_text())["findings"]
    assert {e["path"] for e in entries} == {"pkg/attention.py"}
    assert all(e["accepted_at"] for e in entries)


@pytest.mark.parametrize(
    ("comment_at", "rules", "ignored"),
    [("above", "code-match", {"code-match"}), ("same", "code-match", {"code-match"}),
     ("same", "code-match, attribution.stripped", {"code-match", "attribution.stripped"}),
     ("above", "comments.chinese", set()), ("two-above", "code-match", set())],
)
def test_inline_ignore_suppresses_one_finding_on_its_line_or_the_line_above(project, comment_at, rules, ignored):
    lines = glm_function().splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("def attend("))
    comment = f"# provscan: ignore[{rules}]"
    if comment_at == "same":
        lines[at] += f"  {comment}"
    else:
        lines.insert(at if comment_at == "above" else at - 1, comment)
        if comment_at == "two-above":
            lines.insert(at, "")
    (project / "pkg" / "attention.py").write_text("\n".join(lines) + "\n")
    done = provscan("hook", "pkg/attention.py", cwd=project)
    reported = set(re.findall(r"^pkg/attention.py:\d+: \w+ (\S+)", done.stdout, re.MULTILINE))
    # The copied function gives a code match and, as GLM's notice is missing, a stripped-attribution finding.
    assert reported == {"code-match", "attribution.stripped"} - ignored, done.stdout
    assert (f"{len(ignored)} ignored inline" in done.stderr) == bool(ignored), done.stderr
    assert done.returncode == (0 if len(ignored) == 2 else 1)


def test_pre_commit_hooks_manifest_is_valid():
    manifest = str(REPO / ".pre-commit-hooks.yaml")
    done = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", manifest], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pre_commit_refuses_a_copied_glm_function_and_passes_a_clean_commit(project, tmp_path):
    """A real git repository with pre-commit installed; the hook is this checkout's manifest entry, run locally."""
    import yaml

    manifest = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in manifest if h["id"] == "provscan")
    # repo: local runs this checkout's provscan (language: system); nothing is cloned or installed.
    local = {**hook, "entry": f"{sys.executable} -m provscan hook", "language": "system"}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=600)

    shutil.move(project / "pkg" / "attention.py", tmp_path / "attention.py")
    assert run("git", "init", "-q").returncode == 0
    installed = run(sys.executable, "-m", "pre_commit", "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    run("git", "add", ".provscan.toml", ".pre-commit-config.yaml", "pkg/clean.py")
    clean = run("git", "commit", "-q", "-m", "clean code")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "provscan" in clean.stdout + clean.stderr  # the hook ran and passed

    shutil.move(tmp_path / "attention.py", project / "pkg" / "attention.py")
    run("git", "add", "pkg/attention.py")
    refused = run("git", "commit", "-q", "-m", "copied code")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert f"pkg/attention.py:{def_line(project / 'pkg' / 'attention.py', 'attend')}: HIGH code-match" in output
    assert "glm4_moe/modeling_glm4_moe.py" in output
    log = run("git", "log", "--oneline")
    assert log.stdout.count("\n") == 1  # only the clean commit landed


def test_the_hook_never_loads_scancode(project):
    """The fast path: corpus look-up and provscan's own notice detection, never scancode (licence index or copyright
    parser)."""
    # A copyright line and a licence header: what a full scan hands to scancode's copyright and licence detection.
    (project / "pkg" / "header.py").write_text(
        "# Copyright 2024 Example Corp. All rights reserved.\n# Licensed under the Apache License, Version 2.0\n"
        + CLEAN
    )
    code = (
        "import os, sys\nfrom click.testing import CliRunner\nfrom provscan.cli import cli\n"
        "r = CliRunner().invoke(cli, ['hook', 'pkg/attention.py', 'pkg/clean.py', 'pkg/header.py'])\n"
        "assert r.exit_code == 1, r.output\n"
        "heavy = [m for m in ('licensedcode', 'cluecode') if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"
