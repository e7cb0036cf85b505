"""Token sampling for HanbitLM generation (original code)."""

from dataclasses import dataclass

import torch


@dataclass
class SamplingConfig:
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1


def penalise_repeats(logits: torch.Tensor, history: torch.Tensor, penalty: float) -> torch.Tensor:
    """Scale down the logits of tokens already generated, CTRL-style."""
    if penalty == 1.0 or history.numel() == 0:
        return logits
    seen = torch.gather(logits, -1, history)
    seen = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, history, seen)


def sample_next(logits: torch.Tensor, history: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """Pick the next token id from the last position's logits with temperature, top-k and nucleus filtering."""
    logits = penalise_repeats(logits[:, -1, :], history, config.repetition_penalty)
    logits = logits / max(config.temperature, 1e-5)
    if config.top_k > 0:
        kth = torch.topk(logits, config.top_k).values[..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < config.top_p
    sorted_probs = sorted_probs * keep
    choice = torch.multinomial(sorted_probs / sorted_probs.sum(-1, keepdim=True), 1)
    return order.gather(-1, choice)
