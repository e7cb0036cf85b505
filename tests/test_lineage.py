"""The corpus's own lineage, read from real transformers files, and the origin it makes findings name.

A submission that copied GLM-4 MoE's router and experts matches the same code in GLM-4 MoE, in SolarOpen (whose
modular file imports both from glm4_moe) and, for the experts, in a dozen MoE models: the finding must name the
file the code was taken from (glm4_moe, Copyright ZhipuAI), never a later copy's holder, and say where the lineage
says the experts were first written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provscan.findings import make_ids_unique
from provscan.lineage import defined_names, inherit_from_modular, lineage_of
from tests.conftest import copy_models, transformers_models

REPO = Path(__file__).resolve().parent.parent


def folder_of(path: str) -> str:
    return path.split("/")[0]


def lineage(path: str) -> dict:
    return lineage_of(path, (transformers_models() / path).read_text(encoding="utf-8"), folder_of)


def defines(folder: str, name: str) -> bool:
    """Does the model folder define `name` at the top level of one of its files (as the corpus build knows)?"""
    return any(name in defined_names(path.read_text(encoding="utf-8"))
               for path in (transformers_models() / folder).glob("*.py"))


def generated_lineage(folder: str, with_definitions: bool = False) -> dict:
    generated, modular = f"{folder}/modeling_{folder}.py", f"{folder}/modular_{folder}.py"
    models = transformers_models()
    return inherit_from_modular((models / generated).read_text(encoding="utf-8"), lineage(generated),
                                (models / modular).read_text(encoding="utf-8"), lineage(modular),
                                defines if with_definitions else None)


def test_modular_bases_and_imports_are_edges():
    edges = lineage("glm4_moe/modular_glm4_moe.py")
    # `class Glm4MoeTopkRouter(DeepseekV3TopkRouter)` with the base imported from ..deepseek_v3.modeling_deepseek_v3
    assert edges["Glm4MoeTopkRouter"] == ("deepseek_v3", "DeepseekV3TopkRouter")
    assert edges["Glm4MoeAttention"] == ("cohere", "CohereAttention")
    # an imported function the generated file carries a copy of
    assert edges["apply_rotary_pos_emb"] == ("gpt_neox", "apply_rotary_pos_emb")
    assert all(project != "glm4_moe" for project, _name in edges.values())


def test_copied_from_notes_are_edges():
    edges = lineage("chameleon/modeling_chameleon.py")
    assert edges["ChameleonRMSNorm"] == ("llama", "LlamaRMSNorm")
    assert edges["rotate_half"] == ("llama", "rotate_half")


def test_a_generated_file_inherits_its_modular_parents_and_their_dependencies():
    solar = generated_lineage("solar_open")
    # SolarOpen's modular file maps SolarOpen* names to Glm4Moe* ones: the dependencies the converter copied in
    # under SolarOpen's prefix come from glm4_moe
    assert solar["SolarOpenTopkRouter"] == ("glm4_moe", "Glm4MoeTopkRouter")
    assert solar["SolarOpenExperts"] == ("glm4_moe", "Glm4MoeExperts")
    assert solar["SolarOpenAttention"] == ("llama", "LlamaAttention")
    qwen2 = generated_lineage("qwen2")
    assert qwen2["Qwen2RMSNorm"] == ("llama", "LlamaRMSNorm")
    assert qwen2["rotate_half"] == ("llama", "rotate_half")


def test_an_unprefixed_dependency_comes_from_an_imported_model_that_defines_it():
    # DeepSeek-V3's modular file imports most from Llama and DeepSeek-V2; its rotate_half comes in with Llama's
    # apply_rotary_pos_emb, since DeepSeek-V2 defines none
    assert not defines("deepseek_v2", "rotate_half")
    assert generated_lineage("deepseek_v3", with_definitions=True)["rotate_half"] == ("llama", "rotate_half")


def provscan(cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "provscan", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), "PROVSCAN_CACHE_DIR": str(cache)}, timeout=900)


@pytest.fixture(scope="module")
def moe_report(tmp_path_factory) -> dict:
    """The demo's moe.py scanned against the model folders that hold its code: GLM-4 MoE, the models it was built
    from (DeepSeek-V3, Qwen2-MoE, Mixtral), and later copies of it (SolarOpen, GLM-4.5V MoE). Beside it, a file
    that defines one copied function twice (two findings of one name, path and source)."""
    root = tmp_path_factory.mktemp("lineage")
    cache = root / "cache"
    source = copy_models(root / "corpus", ["glm4_moe", "solar_open", "glm4v_moe", "deepseek_v3", "qwen2_moe",
                                           "mixtral"])
    done = provscan(cache, "corpus", "add", "moe", str(source), "--split-projects", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    submission = root / "sub"
    submission.mkdir()
    (submission / "moe.py").write_bytes((REPO / "examples" / "demo-submission" / "hanbit_lm" / "moe.py").read_bytes())
    out = root / "report.json"
    glm = (transformers_models() / "glm4_moe" / "modeling_glm4_moe.py").read_text(encoding="utf-8")
    start = glm.index("def eager_attention_forward")
    function = glm[start:glm.index("\n\n\n", start)]
    (submission / "twice.py").write_text(f"import torch\nfrom torch import nn\n\n\n{function}\n\n\n{function}\n")
    done = provscan(cache, "scan", str(submission), "--corpus", "moe", "--format", "json", "-o", str(out),
                    "--no-license-detection", "--fail-on", "high")
    assert done.returncode == 1, done.stderr
    return json.loads(out.read_text())


def test_the_origin_not_a_later_copy_is_named(moe_report):
    code = {f["submission"]["fragment_name"]: f for f in moe_report["findings"] if f["kind"] == "code-match"}
    router, experts = code["HanbitRouter"], code["HanbitExperts"]
    assert router["source"]["project"] == "glm4_moe"
    # solar_open holds the router just as well: it is a copy, listed, not named
    assert "solar_open" in {a["project"] for a in router["also_in"]}
    assert experts["source"]["project"] == "glm4_moe"
    # the experts were in GLM-4 MoE's file, which had them by way of DeepSeek-V3 and Qwen2-MoE from Mixtral (whose
    # experts are within the tie tolerance of the best Jaccard in this corpus)
    assert experts["first_written_in"]["project"] == "mixtral"
    assert {"deepseek_v3", "qwen2_moe", "mixtral"} <= {a["project"] for a in experts["also_in"]}
    stripped = [f for f in moe_report["findings"] if f["kind"] == "stripped-attribution"]
    assert stripped and all("ZhipuAI" in f["message"] for f in stripped)
    assert not any("Upstage" in f["message"] for f in stripped)


def test_same_named_findings_get_ids_of_their_own(moe_report):
    from provscan.findings import Finding

    ids = [f["id"] for f in moe_report["findings"]]
    assert len(ids) == len(set(ids))
    twins = [f for f in moe_report["findings"] if f["kind"] == "code-match" and f["location"]["path"] == "twice.py"]
    assert len(twins) == 2 and twins[0]["submission"]["fragment_name"] == twins[1]["submission"]["fragment_name"]
    twice = [Finding("PS-1", "marker", "low", "r", "m", "a.py", line, line) for line in (9, 3)]
    make_ids_unique(twice)
    assert twice[1].id == "PS-1" and twice[0].id not in ("PS-1", twice[1].id)  # the first in line order keeps it


def test_a_chain_cut_by_a_missing_folder_ends_where_the_other_sources_lead(tmp_path):
    """The demo's moe.py against a corpus without DeepSeek-V3: GLM-4 MoE's experts name DeepSeek-V3's as their
    parent, which is not there, so GLM-4 MoE's copy is not where they were first written. Qwen2-MoE's record leads
    to Mixtral, and so does Mixtral's own class: Mixtral is named. The file they were taken from stays GLM-4 MoE, and
    the router, whose every chain is cut (no source of it has a recorded root), keeps GLM-4 MoE as its origin."""
    source = copy_models(tmp_path / "corpus", ["glm4_moe", "solar_open", "qwen2_moe", "mixtral"])
    cache = tmp_path / "cache"
    done = provscan(cache, "corpus", "add", "moe", str(source), "--split-projects", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "moe.py").write_bytes((REPO / "examples" / "demo-submission" / "hanbit_lm" / "moe.py").read_bytes())
    out = tmp_path / "report.json"
    done = provscan(cache, "scan", str(submission), "--corpus", "moe", "--format", "json", "-o", str(out),
                    "--no-license-detection")
    assert done.returncode == 0, done.stderr
    code = {f["submission"]["fragment_name"]: f for f in json.loads(out.read_text())["findings"]
            if f["kind"] == "code-match"}
    experts, router = code["HanbitExperts"], code["HanbitRouter"]
    assert experts["source"]["project"] == "glm4_moe"
    assert experts["first_written_in"]["project"] == "mixtral"
    assert router["source"]["project"] == "glm4_moe"
    assert router.get("first_written_in") is None or router["first_written_in"]["project"] == "glm4_moe"


def test_where_the_lineage_is_silent_the_earliest_notice_is_the_origin(tmp_path):
    """A corpus of two projects holding the same class, no lineage records: the file with the earlier copyright
    notice is named (the later one listed), whichever ranks first otherwise (here the later: paths sort it first)."""
    glm = (transformers_models() / "glm4_moe" / "modeling_glm4_moe.py").read_text(encoding="utf-8")
    start = glm.index("class Glm4MoeTopkRouter")
    router = glm[start:glm.index("\n\n\n", start)]
    corpus = tmp_path / "corpus"
    for project, year in (("aaa_early", 2019), ("zzz_later", 2024)):
        (corpus / project).mkdir(parents=True)
        (corpus / project / "router.py").write_text(
            f"# Copyright {year} {project} authors. All rights reserved.\nimport torch\nfrom torch import nn\n\n\n"
            f"{router}\n", encoding="utf-8")
    cache = tmp_path / "cache"
    assert provscan(cache, "corpus", "add", "two", str(corpus), "--split-projects", "--jobs", "1").returncode == 0
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "gate.py").write_text(f"import torch\nfrom torch import nn\n\n\n{router}\n", encoding="utf-8")
    out = tmp_path / "report.json"
    done = provscan(cache, "scan", str(submission), "--corpus", "two", "--format", "json", "-o", str(out),
                    "--no-license-detection")
    assert done.returncode == 0, done.stderr
    [finding] = [f for f in json.loads(out.read_text())["findings"] if f["kind"] == "code-match"]
    assert finding["source"]["project"] == "aaa_early"
    assert [a["project"] for a in finding["also_in"]] == ["zzz_later"]
    stripped = [f for f in json.loads(out.read_text())["findings"] if f["kind"] == "stripped-attribution"]
    assert [f["attribution"]["source"]["project"] for f in stripped] == ["aaa_early"]


def test_the_user_s_corpus_order_names_the_upstream_corpus(tmp_path):
    """Two corpora holding the same class, each with no lineage records: by notices alone the engine's (2019) is
    older, but the user knows the engine adapted the hub's code: `--corpus-order hub --corpus-order engine` makes
    the hub's copy the origin, with the engine's listed. A name the scan does not use is a usage error."""
    glm = (transformers_models() / "glm4_moe" / "modeling_glm4_moe.py").read_text(encoding="utf-8")
    start = glm.index("class Glm4MoeTopkRouter")
    router = glm[start:glm.index("\n\n\n", start)]
    cache = tmp_path / "cache"
    for corpus, project, year in (("engine", "engine", 2019), ("hub", "glm", 2024)):
        folder = tmp_path / corpus / project
        folder.mkdir(parents=True)
        (folder / "router.py").write_text(
            f"# Copyright {year} {project} authors. All rights reserved.\nimport torch\nfrom torch import nn\n\n\n"
            f"{router}\n", encoding="utf-8")
        done = provscan(cache, "corpus", "add", corpus, str(tmp_path / corpus), "--split-projects", "--jobs", "1")
        assert done.returncode == 0, done.stderr
    submission = tmp_path / "sub"
    submission.mkdir()
    (submission / "gate.py").write_text(f"import torch\nfrom torch import nn\n\n\n{router}\n", encoding="utf-8")

    def origin(*order: str) -> tuple[str, list[str]]:
        out = tmp_path / "report.json"
        done = provscan(cache, "scan", str(submission), "--corpus", "engine", "--corpus", "hub", "--format", "json",
                        "-o", str(out), "--no-license-detection", *order)
        assert done.returncode == 0, done.stderr
        [finding] = [f for f in json.loads(out.read_text())["findings"] if f["kind"] == "code-match"]
        return finding["source"]["corpus"], [a["corpus"] for a in finding["also_in"]]

    assert origin() == ("engine", ["hub"])  # the earlier notice, when nothing else orders the two
    assert origin("--corpus-order", "hub", "--corpus-order", "engine") == ("hub", ["engine"])
    assert origin("--corpus-order", "engine") == ("engine", ["hub"])
    done = provscan(cache, "scan", str(submission), "--corpus", "engine", "--corpus-order", "hub")
    assert done.returncode == 2 and "--corpus-order names 'hub'" in done.stderr
