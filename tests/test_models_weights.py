"""Weight statistics on tiny models trained here with numpy: dependence found, independence not invented.

The models (tests/tiny_models.py) are trained with Adam on a teacher task in well under a second each and written
with the `safetensors` package; provscan reads them back through its own reader, as it would a submission.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import kstest

from provscan.models.artifacts import local_artifacts
from provscan.models.compare import compare_profiles
from provscan.models.errors import ModelFileError
from provscan.models.profile import build_profile
from provscan.models.safetensors_io import open_checkpoint, open_safetensors
from tests import tiny_models as tm

STEPS = 150


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny")


def profile_of(params, directory, dtype=np.float32):
    tm.save(params, directory, dtype)
    return build_profile(directory.name, directory, local_artifacts(directory))


@pytest.fixture(scope="module")
def base(workdir):
    params, loss = tm.train(tm.init(1000), task_seed=0, steps=STEPS)
    assert loss < tm.loss_of(tm.init(1000), 0) / 3  # it really learned the task
    return params, profile_of(params, workdir / "base")


@pytest.fixture(scope="module")
def fine_tuned(base):
    params, _ = tm.train(base[0], task_seed=1, steps=STEPS, seed=7)
    return params


def test_fine_tune_is_dependent_but_not_a_copy(base, fine_tuned, workdir):
    up = "model.layers.0.mlp.up_proj.weight"
    change = np.linalg.norm(fine_tuned[up] - base[0][up]) / np.linalg.norm(base[0][up])
    assert change > 0.1  # a real fine-tune moved the weights
    comparison = compare_profiles(profile_of(fine_tuned, workdir / "ft"), base[1])
    assert comparison.reuse.exact_parameters == 0  # no tensor is byte-identical ...
    assert comparison.independence.log10_p < -30  # ... yet independence is rejected beyond doubt
    assert len(comparison.independence.layers) == tm.LAYERS
    assert all(layer.units == tm.UNITS for layer in comparison.independence.layers)


def test_permuted_fine_tune_escapes_the_standard_test_and_is_caught_by_the_robust_one(base, fine_tuned, workdir):
    permuted = tm.permute_units(fine_tuned, seed=3)
    assert math.isclose(tm.loss_of(permuted, 1), tm.loss_of(fine_tuned, 1), rel_tol=1e-9)  # the same function
    comparison = compare_profiles(profile_of(permuted, workdir / "perm"), base[1])
    assert comparison.independence.log10_p > -2  # the plain matching no longer lines up with the identity
    assert comparison.independence.robust_log10_p < -30


def test_independent_models_give_uniform_p_values_and_norms_that_look_alike_only_by_raw_cosine(base, workdir):
    combined, robust, per_layer, raw_cosines, norm_evidence = [], [], [], [], []
    for seed in range(32):
        params, _ = tm.train(tm.init(seed), task_seed=0, steps=STEPS, seed=seed)  # same data, own initialisation
        comparison = compare_profiles(profile_of(params, workdir / f"independent{seed}"), base[1])
        combined.append(comparison.independence.p)
        robust.append(comparison.independence.robust_p)
        per_layer += [layer.p for layer in comparison.independence.layers]
        raw_cosines.append(comparison.norms.raw_cosine)
        norm_evidence.append(comparison.norms.evidence)
    # Under independence the p-values are uniform on [0, 1].
    assert kstest(combined, "uniform").pvalue > 0.01
    assert kstest(per_layer, "uniform").pvalue > 0.01
    assert kstest(robust, "uniform").pvalue > 0.01
    assert min(combined) > 1e-4
    # Norm weights of unrelated models: raw cosine ~0.99, which is exactly why it is not used as evidence.
    assert min(raw_cosines) > 0.98
    assert sum(norm_evidence) <= 2  # a 1 % test over 32 pairs: at most a chance hit or two
    assert not any(f for f in norm_evidence[:8])


def test_norm_weights_of_a_derivative_are_evidence(base, fine_tuned, workdir):
    comparison = compare_profiles(profile_of(fine_tuned, workdir / "ft-norms"), base[1])
    assert comparison.norms.evidence
    assert comparison.norms.centred_r > 0.5


def test_bf16_copy_is_exact_reuse_after_the_cast(base, workdir):
    comparison = compare_profiles(profile_of(base[0], workdir / "f16", dtype=np.float16), base[1])
    # float16 then bf16 rounds twice, so most tensors no longer hash alike; every one is still a near copy.
    assert comparison.reuse.near_parameters > comparison.reuse.parameters / 2
    assert comparison.reuse.exact_parameters + comparison.reuse.near_parameters == comparison.reuse.parameters
    import ml_dtypes

    comparison = compare_profiles(profile_of(base[0], workdir / "bf16b", dtype=ml_dtypes.bfloat16), base[1])
    assert comparison.reuse.exact_parameters == comparison.reuse.parameters
    assert {m.how for m in comparison.reuse.matches} == {"exact-after-bf16-cast"}
    assert comparison.independence.log10_p < -30


# --- malformed inputs ---------------------------------------------------------------------------------------------
@pytest.fixture
def good_file(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    save_file({"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "b.weight": np.ones(5, np.float32)},
              str(path))
    return path


def test_reader_reads_what_safetensors_wrote(good_file):
    opened = open_safetensors(good_file, "model.safetensors")
    assert opened.array("a.weight").tolist() == np.arange(12, dtype=np.float32).reshape(3, 4).tolist()
    assert opened.rows("a.weight", [2]).tolist() == [[8, 9, 10, 11]]


def test_truncated_file_is_a_clear_error(good_file):
    data = good_file.read_bytes()
    good_file.write_bytes(data[:-8])
    with pytest.raises(ModelFileError, match=r"model.safetensors: truncated: tensor '.*' ends at byte"):
        open_safetensors(good_file, "model.safetensors")
    good_file.write_bytes(data[:5])
    with pytest.raises(ModelFileError, match="shorter than the 8-byte header length"):
        open_safetensors(good_file, "model.safetensors")


@pytest.mark.parametrize(("header", "problem"), [
    (b"{not json", "not valid JSON"),
    (json.dumps({"x": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}).encode(), "unknown dtype 'F99'"),
    (json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}).encode(), "4 bytes for shape [2]"),
    (json.dumps({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}).encode(), "not a list of non-neg"),
    (json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                 "y": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}).encode(), "overlap"),
])
def test_malformed_headers_are_named(tmp_path, header, problem):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(ModelFileError, match=r"^bad.safetensors: .*" + problem.replace("[", r"\[").replace("]", r"\]")):
        open_safetensors(path, "bad.safetensors")


def test_header_length_beyond_the_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes((10_000).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelFileError, match="header claims 10000 bytes but the file has only 2"):
        open_safetensors(path, "bad.safetensors")


def test_lying_index_files(tmp_path, good_file):
    index = tmp_path / "model.safetensors.index.json"

    def check(weight_map, problem, **extra):
        index.write_text(json.dumps({"metadata": extra, "weight_map": weight_map}))
        with pytest.raises(ModelFileError, match=problem):
            open_checkpoint(tmp_path, [], index.name, tmp_path)

    check({"a.weight": "model.safetensors", "b.weight": "model.safetensors", "c.weight": "model.safetensors"},
          r"model.safetensors.index.json: says tensor 'c.weight' is in 'model.safetensors', whose header does not")
    check({"a.weight": "model.safetensors"}, r"does not list tensor 'b.weight'")
    check({"a.weight": "missing.safetensors"}, r"names shard 'missing.safetensors', which does not exist")
    check({"a.weight": "../model.safetensors"}, r"not a file beside the index")
    index.write_text("{]")
    with pytest.raises(ModelFileError, match="index file is not valid JSON"):
        open_checkpoint(tmp_path, [], index.name, tmp_path)
    index.write_text(json.dumps({"metadata": {"total_size": 1}, "weight_map": {"a.weight": "model.safetensors",
                                                                               "b.weight": "model.safetensors"}}))
    checkpoint = open_checkpoint(tmp_path, [], index.name, tmp_path)
    assert "total_size is 1" in checkpoint.warnings[0]  # a miscount is noted, not fatal


def test_a_bad_file_is_an_error_of_the_profile_and_the_rest_is_still_read(tmp_path, base):
    directory = tm.save(base[0], tmp_path / "model")
    (directory / "model.safetensors").write_bytes(b"\x05\0\0\0\0\0\0\0{}")
    profile = build_profile("model", directory, local_artifacts(directory))
    assert profile.weights is None
    assert profile.facts["hidden_size"] == tm.D
    assert profile.errors and profile.errors[0].startswith("model.safetensors: ")


# --- mixture of experts -------------------------------------------------------------------------------------------
def moe_params(seed: int, experts: int = 8, units: int = 32, hidden: int = 24, layers: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    params = {}
    for layer in range(layers):
        for expert in range(experts):
            p = f"model.layers.{layer}.mlp.experts.{expert}."
            params[p + "gate_proj.weight"] = rng.normal(0, 0.2, (units, hidden))
            params[p + "up_proj.weight"] = rng.normal(0, 0.2, (units, hidden))
            params[p + "down_proj.weight"] = rng.normal(0, 0.2, (hidden, units))
        params[f"model.layers.{layer}.post_attention_layernorm.weight"] = 1 + 0.05 * rng.normal(size=hidden)
    return params


def test_moe_experts_are_matched_before_their_units(tmp_path):
    reference = moe_params(0)
    rng = np.random.default_rng(1)
    derived = {name: value.copy() for name, value in reference.items()}
    for layer in range(2):  # a light fine-tune whose experts are stored in another order
        order = rng.permutation(8)
        assert (order != np.arange(8)).any()
        for kind in ("gate_proj", "up_proj", "down_proj"):
            for new, old in enumerate(order):
                value = reference[f"model.layers.{layer}.mlp.experts.{old}.{kind}.weight"]
                derived[f"model.layers.{layer}.mlp.experts.{new}.{kind}.weight"] = value + rng.normal(0, 0.05,
                                                                                                     value.shape)
    base = profile_of(reference, tmp_path / "ref")
    assert len(base.weights.mlps) == 16 and {m.expert for m in base.weights.mlps} == set(range(8))
    dependent = compare_profiles(profile_of(derived, tmp_path / "derived"), base).independence
    assert len(dependent.layers) == 16 and dependent.log10_p < -30
    assert all(layer.p < 1e-10 for layer in dependent.layers)  # every expert found its original, not just fixed points
    independent = compare_profiles(profile_of(moe_params(5), tmp_path / "other"), base).independence
    assert independent.log10_p > -3
