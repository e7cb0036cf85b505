# HanbitLM 어텐션 모듈 (자체 개발)
import torch
from torch import nn

from .backends import ATTENTION_BACKENDS, plain_attention


def half_rotate(t):
  # 절반을 회전
  a = t[..., : t.shape[-1] // 2]
  b = t[..., t.shape[-1] // 2 :]
  return torch.cat((-b, a), dim=-1)


def rope_apply(query, key, cosine, sine, dim=1):
  cosine = cosine.unsqueeze(dim)
  sine = sine.unsqueeze(dim)
  q_out = (query * cosine) + (half_rotate(query) * sine)
  k_out = (key * cosine) + (half_rotate(key) * sine)
  return q_out, k_out


def expand_kv(x: torch.Tensor, times: int) -> torch.Tensor:
  bsz, kv_heads, length, dim = x.shape
  if times == 1:
    return x
  x = x[:, :, None, :, :].expand(bsz, kv_heads, times, length, dim)
  return x.reshape(bsz, kv_heads * times, length, dim)


class HanbitNorm(nn.Module):
  def __init__(self, size, eps: float = 1e-6) -> None:
    super().__init__()
    self.weight = nn.Parameter(torch.ones(size))
    self.variance_epsilon = eps

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    in_dtype = x.dtype
    x = x.to(torch.float32)
    var = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(var + self.variance_epsilon)
    return self.weight * x.to(in_dtype)


class HanbitAttention(nn.Module):
  """멀티헤드 어텐션"""

  def __init__(self, cfg, idx: int):
    super().__init__()
    self.layer_type = cfg.layer_types[idx] if hasattr(cfg, "layer_types") else None
    self.cfg = cfg
    self.idx = idx
    self.head_dim = getattr(cfg, "head_dim", cfg.hidden_size // cfg.num_attention_heads)
    self.groups = cfg.num_attention_heads // cfg.num_key_value_heads
    self.scale = self.head_dim**-0.5
    self.dropout_p = cfg.attention_dropout
    self.is_causal = True
    self.wq = nn.Linear(cfg.hidden_size, cfg.num_attention_heads * self.head_dim, bias=True)
    self.wk = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * self.head_dim, bias=True)
    self.wv = nn.Linear(cfg.hidden_size, cfg.num_key_value_heads * self.head_dim, bias=True)
    self.wo = nn.Linear(cfg.num_attention_heads * self.head_dim, cfg.hidden_size, bias=False)
    self.window = cfg.sliding_window if self.layer_type == "sliding_attention" else None

  def forward(self, x, pos_emb, mask, cache=None, **kw):
    in_shape = x.shape[:-1]
    shape = (*in_shape, -1, self.head_dim)
    self.calls = getattr(self, "calls", 0) + 1

    q = self.wq(x).view(shape).transpose(1, 2)
    k = self.wk(x).view(shape).transpose(1, 2)
    v = self.wv(x).view(shape).transpose(1, 2)

    cos, sin = pos_emb
    q, k = rope_apply(q, k, cos, sin)

    if cache is not None:
      k, v = cache.update(k, v, self.idx)

    attend = ATTENTION_BACKENDS.get_interface(
      self.cfg._attn_implementation, plain_attention
    )

    out, weights = attend(
      self,
      q,
      k,
      v,
      mask,
      dropout=0.0 if not self.training else self.dropout_p,
      scaling=self.scale,
      sliding_window=self.window,
      **kw,
    )

    out = out.reshape(*in_shape, -1).contiguous()
    out = self.wo(out)
    return out, weights
