"""Streaming cost of the model stage on a synthetic multi-GB safetensors checkpoint.

Writes a Llama-shaped bf16 checkpoint (hidden 4096, intermediate 14336, 32k vocabulary; --layers decides the size,
default 10 layers = 4.5 GB) as two shards plus an index file into a temporary directory, then measures, each in a
fresh process with the whole process tree's peak RSS sampled:

1. `provscan corpus add-model ref DIR`: the full streaming pass (hash every byte, canonical bf16 hash, samples, MLP
   unit rows, norm vectors) and storing the fingerprint;
2. the scan's model stage on the same directory against that reference: a second streaming pass plus every
   comparison (tensor reuse, independence test, norms).

Prints seconds, seconds per GB and peak RSS; the checkpoint is deleted afterwards. Goal: peak memory <= 1 GB.

    python bench/weights_stream.py [--layers N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, private_cache, run_sampled  # noqa: E402

HIDDEN, INTERMEDIATE, VOCAB, KV = 4096, 14336, 32000, 1024
CHUNK = 16 * 1024 * 1024  # elements generated at a time: the writer's memory stays bounded too


def layer_tensors(layer: int) -> list[tuple[str, tuple[int, ...]]]:
    p = f"model.layers.{layer}."
    return [
        (p + "input_layernorm.weight", (HIDDEN,)),
        (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
        (p + "self_attn.k_proj.weight", (KV, HIDDEN)),
        (p + "self_attn.v_proj.weight", (KV, HIDDEN)),
        (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
        (p + "post_attention_layernorm.weight", (HIDDEN,)),
        (p + "mlp.gate_proj.weight", (INTERMEDIATE, HIDDEN)),
        (p + "mlp.up_proj.weight", (INTERMEDIATE, HIDDEN)),
        (p + "mlp.down_proj.weight", (HIDDEN, INTERMEDIATE)),
    ]


def write_shard(path: Path, tensors: list[tuple[str, tuple[int, ...]]], seed: int) -> int:
    import math

    import ml_dtypes
    import numpy as np

    header, offset = {}, 0
    for name, shape in tensors:
        size = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    rng = np.random.default_rng(seed)
    with path.open("wb") as handle:
        handle.write(len(raw).to_bytes(8, "little") + raw)
        for name, shape in tensors:
            remaining = math.prod(shape)
            while remaining:
                n = min(CHUNK, remaining)
                if name.endswith("norm.weight"):
                    values = 1.0 + 0.05 * rng.standard_normal(n, dtype=np.float32)
                else:
                    values = 0.02 * rng.standard_normal(n, dtype=np.float32)
                handle.write(values.astype(ml_dtypes.bfloat16).tobytes())
                remaining -= n
    return offset


def write_checkpoint(directory: Path, layers: int) -> int:
    everything = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for layer in range(layers):
        everything += layer_tensors(layer)
    everything += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    half = len(everything) // 2
    shards = {"model-00001-of-00002.safetensors": everything[:half],
              "model-00002-of-00002.safetensors": everything[half:]}
    total = 0
    weight_map = {}
    for i, (name, tensors) in enumerate(shards.items()):
        total += write_shard(directory / name, tensors, seed=i)
        weight_map.update({tensor: name for tensor, _ in tensors})
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    (directory / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": HIDDEN,
        "num_hidden_layers": layers, "num_attention_heads": 32, "num_key_value_heads": 8,
        "intermediate_size": INTERMEDIATE, "vocab_size": VOCAB, "rope_theta": 500000.0}))
    return total


STAGE = """
import sys, json
from pathlib import Path
from provscan.models.stage import run_model_stage
root = Path(sys.argv[1])
stage = run_model_stage(root, [p.name for p in root.iterdir()])
comparison = stage.models[0].comparisons[0]
print(json.dumps({"findings": [f.kind for f in stage.findings], "log10_p": comparison["independence"]["log10_p"],
                  "exact": comparison["reuse"]["exact_parameters"], "parameters": comparison["reuse"]["parameters"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=10)
    args = parser.parse_args()
    cache = private_cache()
    work = Path(tempfile.mkdtemp(prefix="provscan-weights-"))
    try:
        total = write_checkpoint(work, args.layers)
        gb = total / 1e9
        print(f"checkpoint: {args.layers} layers, {gb:.2f} GB of bf16 tensors in 2 shards + index")
        seconds, peak, out, err, code = run_sampled(
            [sys.executable, "-m", "provscan", "corpus", "add-model", "ref", str(work)], cwd=REPO)
        assert code == 0, err
        stored = sum(f.stat().st_size for f in (cache / "models" / "ref").iterdir())
        print(f"add-model (one streaming pass + store): {seconds:.1f} s, {seconds / gb:.2f} s/GB, peak RSS "
              f"{peak:.0f} MB; fingerprint stored: {stored / 1e6:.1f} MB; {out.strip()}")
        seconds, peak, out, err, code = run_sampled([sys.executable, "-c", STAGE, str(work)], cwd=REPO)
        assert code == 0, err
        print(f"model stage vs the reference (streaming pass + comparisons): {seconds:.1f} s, {seconds / gb:.2f} s/GB, "
              f"peak RSS {peak:.0f} MB; {out.strip()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
