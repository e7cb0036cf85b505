"""Tiny transformer-style models built and trained with numpy, for honest tests of the weight statistics.

Each layer is a pre-norm residual SwiGLU MLP block (RMSNorm gamma, gate/up/down projections, named like Llama's
checkpoints); a linear head classifies the final state. Models are trained with Adam on a teacher task, so their
norm gammas move away from 1 the way real ones do (and stay near it), and independently seeded models are
independent in exactly the sense the independence test assumes: symmetric initialisation, the same data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

D_IN, D, UNITS, LAYERS, CLASSES = 24, 32, 96, 3, 10


def init(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    # A learned input projection makes the residual basis the model's own, as a learned embedding does in a real
    # language model: coordinates of two independently initialised models then mean nothing to each other.
    params = {"model.embed_in.weight": rng.normal(0, D_IN ** -0.5, (D, D_IN))}
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}."
        params[prefix + "post_attention_layernorm.weight"] = np.ones(D)
        params[prefix + "mlp.gate_proj.weight"] = rng.normal(0, D ** -0.5, (UNITS, D))
        params[prefix + "mlp.up_proj.weight"] = rng.normal(0, D ** -0.5, (UNITS, D))
        params[prefix + "mlp.down_proj.weight"] = rng.normal(0, UNITS ** -0.5 / LAYERS, (D, UNITS))
    params["model.norm.weight"] = np.ones(D)
    params["lm_head.weight"] = rng.normal(0, D ** -0.5, (CLASSES, D))
    return params


def task(seed: int, n: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels from a random teacher (the same data for every model trained on task `seed`)."""
    rng = np.random.default_rng(10_000 + seed)
    x = rng.normal(size=(n, D_IN))
    teacher = rng.normal(size=(D_IN, CLASSES))
    return x, np.argmax(np.tanh(x @ teacher) + 0.3 * (x ** 2) @ rng.normal(size=(D_IN, CLASSES)) / D_IN, axis=1)


def _silu(a):
    return a / (1 + np.exp(-a))


def _forward_backward(params, x, y):
    cache = []
    h = x @ params["model.embed_in.weight"].T
    for layer in range(LAYERS):
        p = f"model.layers.{layer}."
        r = np.sqrt((h * h).mean(axis=1, keepdims=True) + 1e-6)
        n = h / r
        u = n * params[p + "post_attention_layernorm.weight"]
        a = u @ params[p + "mlp.gate_proj.weight"].T
        b = u @ params[p + "mlp.up_proj.weight"].T
        s = _silu(a)
        m = s * b
        cache.append((h, r, n, u, a, b, s, m))
        h = h + m @ params[p + "mlp.down_proj.weight"].T
    r = np.sqrt((h * h).mean(axis=1, keepdims=True) + 1e-6)
    n = h / r
    u = n * params["model.norm.weight"]
    logits = u @ params["lm_head.weight"].T
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(len(y)), y] + 1e-12).mean()
    grads = {}
    dlogits = probs
    dlogits[np.arange(len(y)), y] -= 1
    dlogits /= len(y)
    grads["lm_head.weight"] = dlogits.T @ u
    du = dlogits @ params["lm_head.weight"]
    grads["model.norm.weight"] = (du * n).sum(axis=0)
    dh = _rms_backward(du * params["model.norm.weight"], n, r)
    for layer in reversed(range(LAYERS)):
        p = f"model.layers.{layer}."
        h_in, r, n, u, a, b, s, m = cache[layer]
        grads[p + "mlp.down_proj.weight"] = dh.T @ m
        dm = dh @ params[p + "mlp.down_proj.weight"]
        ds = dm * b
        db = dm * s
        sig = 1 / (1 + np.exp(-a))
        da = ds * (sig * (1 + a * (1 - sig)))
        grads[p + "mlp.gate_proj.weight"] = da.T @ u
        grads[p + "mlp.up_proj.weight"] = db.T @ u
        du = da @ params[p + "mlp.gate_proj.weight"] + db @ params[p + "mlp.up_proj.weight"]
        grads[p + "post_attention_layernorm.weight"] = (du * n).sum(axis=0)
        dh = dh + _rms_backward(du * params[p + "post_attention_layernorm.weight"], n, r)
    grads["model.embed_in.weight"] = dh.T @ x
    return loss, grads


def _rms_backward(dn, n, r):
    return (dn - n * (dn * n).mean(axis=1, keepdims=True)) / r


def train(params: dict[str, np.ndarray], task_seed: int, steps: int, lr: float = 3e-3, seed: int = 0
          ) -> tuple[dict[str, np.ndarray], float]:
    """Adam on minibatches of the task; returns new parameters (the input is not modified) and the final loss."""
    params = {k: v.copy() for k, v in params.items()}
    x, y = task(task_seed)
    rng = np.random.default_rng(seed)
    first = {k: np.zeros_like(v) for k, v in params.items()}
    second = {k: np.zeros_like(v) for k, v in params.items()}
    loss = float("nan")
    for step in range(1, steps + 1):
        batch = rng.choice(len(x), 128, replace=False)
        loss, grads = _forward_backward(params, x[batch], y[batch])
        for k, g in grads.items():
            first[k] = 0.9 * first[k] + 0.1 * g
            second[k] = 0.999 * second[k] + 0.001 * g * g
            params[k] -= lr * (first[k] / (1 - 0.9 ** step)) / (np.sqrt(second[k] / (1 - 0.999 ** step)) + 1e-8)
    return params, float(loss)


def loss_of(params, task_seed: int) -> float:
    x, y = task(task_seed)
    return float(_forward_backward(params, x, y)[0])


def permute_units(params: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The same function with every layer's hidden units permuted (rows of gate/up, columns of down)."""
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in params.items()}
    for layer in range(LAYERS):
        p = f"model.layers.{layer}.mlp."
        order = rng.permutation(UNITS)
        out[p + "gate_proj.weight"] = params[p + "gate_proj.weight"][order]
        out[p + "up_proj.weight"] = params[p + "up_proj.weight"][order]
        out[p + "down_proj.weight"] = params[p + "down_proj.weight"][:, order]
    return out


def save(params: dict[str, np.ndarray], directory: Path, dtype=np.float32) -> Path:
    """Write the model as a safetensors checkpoint plus a config.json (with the `safetensors` package)."""
    import json

    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v.astype(dtype)) for k, v in params.items()},
              str(directory / "model.safetensors"))
    config = {"model_type": "tiny_swiglu", "architectures": ["TinyForClassification"], "hidden_size": D,
              "num_hidden_layers": LAYERS, "intermediate_size": UNITS, "vocab_size": CLASSES}
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return directory
