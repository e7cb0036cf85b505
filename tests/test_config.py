"""Project configuration: found where documented, validated key by key, applied under the command-line flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provscan.config import ConfigError, find_config, load_config
from tests.conftest import copy_models, transformers_models
from tests.test_cli import provscan


@pytest.fixture()
def project(tmp_path) -> Path:
    """A project directory whose submission holds Qwen2's RMSNorm, with a small corpus of qwen2 built."""
    source = copy_models(tmp_path / "corpus", ["qwen2"])
    done = provscan("corpus", "add", "small", str(source), "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    text = (transformers_models() / "qwen2" / "modeling_qwen2.py").read_text(encoding="utf-8")
    start = text.index("class Qwen2RMSNorm")
    norm = text[start : text.index("\n\n\n", start)].replace("Qwen2", "My")
    (root / "sub" / "norm.py").write_text("import torch\nfrom torch import nn\n\n\n" + norm + "\n")
    return root


def test_pyproject_settings_apply_and_flags_override_them(project):
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.provscan]\ncorpora = ["small"]\nfail-on = "medium"\nformat = "json"\n'
    )
    configured = provscan("scan", "sub", cwd=project)
    assert configured.returncode == 1, configured.stderr  # fail-on from the file
    report = json.loads(configured.stdout)  # format from the file
    assert report["settings"]["corpora"] == ["small"]
    overridden = provscan("scan", "sub", "--fail-on", "off", "--format", "text", cwd=project)
    assert overridden.returncode == 0, overridden.stderr
    assert overridden.stdout.startswith("provscan")
    ignored = provscan("--no-config", "scan", "sub", "--corpus", "small", "--format", "json", cwd=project)
    assert ignored.returncode == 0


def test_provscan_toml_excludes_and_thresholds_reach_the_scan(project):
    (project / ".provscan.toml").write_text(
        'corpora = ["small"]\nexclude = ["norm.py"]\nmin-similarity = 0.7\n[scan]\nformat = "json"\n'
    )
    done = provscan("scan", "sub", cwd=project)
    # The configuration excluded the only file: the scan checked nothing, says so and does not pass as clean.
    assert done.returncode == 2 and "nothing was scanned in sub" in done.stderr and "excluded 1" in done.stderr
    report = json.loads(done.stdout)
    assert report["settings"]["exclude"] == ["norm.py"]
    assert report["settings"]["min_similarity"] == 0.7
    assert report["summary"]["files_scanned"] == 0
    assert report["summary"]["skipped"] == {"excluded": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('fail_on = "high"\n', "unknown key 'fail_on'"),
        ("[tool.provscan]\nfail-on = 3\n", "key 'fail-on' in [tool.provscan] must be one of off, low, medium, high"),
        ('[tool.provscan]\nmin-similarity = "high"\n', "key 'min-similarity' in [tool.provscan] must be a number"),
        ("[tool.provscan]\nexclude = 'tests/'\n", "key 'exclude' in [tool.provscan] must be a list"),
        ('[tool.provscan]\nformat = "pdf"\n', "key 'format' in [tool.provscan] must be one of"),
        ("[tool.provscan.hook]\ncolour = true\n", "unknown key 'colour' in [tool.provscan] hook.colour"),
        ("[tool.provscan\n", "not valid TOML"),
    ],
)
def test_a_bad_configuration_is_an_error_naming_file_and_key(tmp_path, text, expected):
    name = ".provscan.toml" if not text.startswith("[tool") else "pyproject.toml"
    path = tmp_path / name
    path.write_text(text)
    done = provscan("scan", ".", cwd=tmp_path)
    assert done.returncode == 2
    assert str(path) in done.stderr and expected in done.stderr, done.stderr


def test_config_is_found_upwards_and_not_past_the_repository_root(tmp_path):
    (tmp_path / ".provscan.toml").write_text('fail-on = "high"\n')
    repo = tmp_path / "repo"
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path / ".provscan.toml"
    (repo / ".git").mkdir()
    assert find_config(deep) is None  # the repository root ends the search
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(deep) is None  # a pyproject.toml without [tool.provscan] is not a configuration
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.provscan]\nfail-on = "low"\n')
    assert find_config(deep) == repo / "pyproject.toml"
    (repo / ".provscan.toml").write_text('fail-on = "medium"\n')
    assert find_config(deep) == repo / ".provscan.toml"  # wins over pyproject.toml in the same directory


def test_sections_override_top_level_keys_and_paths_are_relative_to_the_file(tmp_path):
    path = tmp_path / ".provscan.toml"
    path.write_text('fail-on = "low"\nrules = ["rules/extra.toml"]\n[hook]\nfail-on = "high"\n')
    config = load_config(path)
    assert config.for_command("hook")["fail-on"] == "high"
    assert config.for_command("scan")["fail-on"] == "low"
    from provscan.cli import cli
    from provscan.config import default_map

    defaults = default_map(config, cli)
    assert defaults["scan"]["fail_on"] == "low"
    assert defaults["hook"]["fail_on"] == "high"
    assert defaults["baseline"]["create"]["rule_files"] == [tmp_path / "rules" / "extra.toml"]
    assert "fail_on" not in defaults["baseline"]["create"]  # baseline has no --fail-on
    with pytest.raises(ConfigError, match="must be a table"):
        path.write_text('hook = "x"\n')
        load_config(path)
