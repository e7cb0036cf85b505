"""Attention backends for HanbitLM (original code)."""

import torch


def plain_attention(module, q, k, v, mask, dropout=0.0, scaling=1.0, **_):
    scores = torch.matmul(q, k.transpose(-2, -1)) * scaling
    if mask is not None:
        scores = scores + mask
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    probs = torch.nn.functional.dropout(probs, p=dropout, training=module.training)
    return torch.matmul(probs, v).transpose(1, 2), probs


class _Backends(dict):
    def get_interface(self, name, default):
        return self.get(name, default)


ATTENTION_BACKENDS = _Backends(eager=plain_attention)
