"""The model stage inside `provscan scan`: directories, single files, archives, bad artifacts, the JSON schema."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from provscan.models.refstore import add_model
from provscan.report import to_dict, write_text
from provscan.scan import ScanSettings, scan
from tests import tiny_models as tm

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "provscan/schema/scan-result.schema.json").read_text())


def run(target: Path) -> dict:
    result = scan(target, ScanSettings(corpora=(), license_detection=False, jobs=1))
    data = to_dict(result)
    jsonschema.validate(json.loads(json.dumps(data)), SCHEMA)
    text = io.StringIO()
    write_text(result, text)
    data["_text"] = text.getvalue()
    return data


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    base, _ = tm.train(tm.init(0), task_seed=0, steps=100)
    tuned, _ = tm.train(base, task_seed=1, steps=100, seed=3)
    other, _ = tm.train(tm.init(1), task_seed=0, steps=100)
    tm.save(base, root / "reference")
    tm.save(tuned, root / "submission" / "checkpoints" / "tuned")
    tm.save(other, root / "independent" / "model")
    (root / "submission" / "train.py").write_text("print('training')\n")
    return root


def test_scan_reports_a_fine_tune_of_a_registered_reference(models):
    add_model("tiny-base", models / "reference")
    data = run(models / "submission")
    kinds = {f["kind"]: f for f in data["findings"]}
    dependence = kinds["weight-dependence"]
    assert dependence["location"]["path"] == "checkpoints/tuned/model.safetensors"
    assert dependence["severity"] == "high" and "p < 1e-300" in dependence["message"]
    assert "weight-reuse" not in kinds  # fine-tuned: no tensor is a copy or near copy
    assert data["models"]["analysed_files"] == 2  # config.json and the weights
    assert "binary" not in data["summary"]["skipped"]
    assert data["summary"]["files_seen"] == 3
    assert "vs tiny-base: tensors exact 0 / near 0" in data["_text"]


def test_independent_model_raises_no_finding_but_shows_its_statistics(models):
    add_model("tiny-base", models / "reference")
    data = run(models / "independent")
    assert not [f for f in data["findings"] if f["kind"].startswith(("weight", "norm"))]
    comparison = data["models"]["directories"][0]["comparisons"][0]
    assert comparison["independence"]["log10_p"] > -4
    assert comparison["norms"]["raw_cosine"] > 0.98 and not comparison["norms"]["evidence"]
    assert "raw cosine" in data["_text"] and "is not evidence" in data["_text"]


def test_single_file_and_archive_targets(models, tmp_path):
    add_model("tiny-base", models / "reference")
    single = run(models / "submission" / "checkpoints" / "tuned" / "model.safetensors")
    assert {f["kind"] for f in single["findings"]} >= {"weight-dependence"}
    archive = tmp_path / "submission.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(models / "submission", arcname="submission")
    packed = run(archive)  # members of archives are not analysed: they stay counted as skipped
    assert packed["models"]["analysed_files"] == 0
    assert packed["summary"]["skipped"].get("binary") == 1


def test_bad_weights_are_a_warning_and_the_rest_is_analysed(models, tmp_path):
    add_model("tiny-base", models / "reference")
    broken = tmp_path / "broken"
    tm.save(tm.init(0), broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    report = run(broken)
    assert report["summary"]["warnings"] == {"model-file-error": 1}
    model = report["models"]["directories"][0]
    assert model["errors"][0].startswith("model.safetensors: truncated: tensor ")
    assert model["facts"]["hidden_size"] == tm.D
    assert report["summary"]["skipped"] == {"binary": 1}  # the unreadable file is not claimed: it stays skipped


def test_no_reference_registered_still_profiles_and_matches_architectures(tmp_path):
    directory = tmp_path / "m"
    tm.save(tm.init(0), directory)
    config = json.loads((directory / "config.json").read_text())
    config.update({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 3584,
                   "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                   "intermediate_size": 18944, "vocab_size": 152064, "rope_theta": 1000000.0})
    (directory / "config.json").write_text(json.dumps(config))
    data = run(directory)
    architecture = [f for f in data["findings"] if f["kind"] == "model-architecture"]
    assert architecture[0]["model"]["reference"] == "qwen2.5-7b" and architecture[0]["severity"] == "low"
    assert data["models"]["references"] == []
    assert "none registered" in data["_text"]


def test_plain_config_json_is_left_to_the_other_stages(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"debug": True, "port": 8080}))
    data = run(tmp_path)
    assert data["models"]["analysed_files"] == 0
    assert data["summary"]["skipped"] == {"unsupported-language": 1}


def test_float_cast_copy_found_as_exact(models, tmp_path):
    import ml_dtypes
    from safetensors.numpy import load_file

    add_model("tiny-base", models / "reference")
    tensors = load_file(str(models / "reference" / "model.safetensors"))
    tm.save({k: v.astype(np.float32) for k, v in tensors.items()}, tmp_path / "copy", dtype=ml_dtypes.bfloat16)
    reuse = [f for f in run(tmp_path / "copy")["findings"] if f["kind"] == "weight-reuse"][0]
    assert reuse["model"]["evidence"]["exact_parameters"] == reuse["model"]["evidence"]["parameters"]
    assert {t["how"] for t in reuse["model"]["evidence"]["tensors"]} == {"exact-after-bf16-cast"}
