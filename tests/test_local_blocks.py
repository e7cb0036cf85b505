"""A copied block inside a function that grew: the last 28 lines of GLM-4 MoE's attention `forward`, verbatim, under
19 lines of the test's own writing. The whole fragments are unlike (Jaccard 0.32, below every gate), so only the
long run of shingles shared in the same order shows the copy, with both sides' lines."""

from __future__ import annotations

import pytest

from provscan.corpus import add_corpus
from provscan.match import MatchSettings
from provscan.scan import ScanSettings, scan
from tests.conftest import copy_models, transformers_models

GLM = "glm4_moe/modeling_glm4_moe.py"
OWN = '''import math

import torch
from torch import nn


class GatedAttention(nn.Module):
    def forward(self, hidden_states, position_embeddings, attention_mask, past_key_values=None, **kwargs):
        batch, length, width = hidden_states.shape
        gate = torch.sigmoid(self.gate(hidden_states.mean(dim=1, keepdim=True)))
        mixed = hidden_states * gate + self.bias.view(1, 1, -1)
        if self.window is not None and length > self.window:
            mixed = mixed[:, -self.window :, :]
            attention_mask = attention_mask[..., -self.window :]
        scores = []
        for head in range(self.num_heads):
            chunk = mixed[..., head * self.head_dim : (head + 1) * self.head_dim]
            scores.append(chunk.norm(dim=-1, keepdim=True))
        energy = torch.cat(scores, dim=-1).softmax(dim=-1)
        input_shape = mixed.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = (self.q_proj(mixed) * energy.repeat_interleave(self.head_dim, -1)).view(hidden_shape)
        key_states = self.k_proj(mixed).view(hidden_shape) / math.sqrt(self.head_dim)
        value_states = torch.tanh(self.v_proj(mixed)).view(hidden_shape)
        del batch, width
'''


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVSCAN_CACHE_DIR", str(tmp_path_factory.mktemp("local-cache")))
        root = tmp_path_factory.mktemp("local")
        assert add_corpus("glm", copy_models(root / "corpus", ["glm4_moe"]), split_projects=True,
                          jobs=1).files_indexed >= 3
        lines = (transformers_models() / GLM).read_text(encoding="utf-8").splitlines()
        start = next(i for i, line in enumerate(lines) if "query_states = query_states.transpose(1, 2)" in line)
        end = next(i for i in range(start, len(lines)) if lines[i].strip() == "return attn_output, attn_weights")
        sub = root / "submission"
        sub.mkdir()
        (sub / "gated.py").write_text(OWN + "\n".join(lines[start : end + 1]) + "\n", encoding="utf-8")
        settings = ScanSettings(corpora=("glm",), jobs=1, license_detection=False)
        yield (scan(sub, settings), scan(sub, ScanSettings(corpora=("glm",), jobs=1, license_detection=False,
                                                          match=MatchSettings(min_local_run=0))),
               OWN.count("\n") + 1, start + 1, end + 1)


def test_a_copied_block_inside_a_grown_function_is_reported_with_both_sides_lines(grown):
    result, _, block_start, src_start, src_end = grown
    [finding] = result.code_findings
    assert finding.source.path == GLM and finding.source.name == "forward"
    settings = MatchSettings()
    # the whole fragments are unlike, below every gate...
    assert finding.jaccard < settings.min_similarity and finding.containment < settings.min_containment
    assert finding.alignment < settings.min_alignment
    assert finding.local_run >= MatchSettings().min_local_run  # ...but share a long run in the same order
    assert finding.severity == "medium" and "local block" in finding.message
    # the evidence names the copied lines on both sides
    block = max(finding.evidence, key=lambda b: b.sub_end - b.sub_start)
    assert block.sub_start == block_start and block.sub_end == block_start + (src_end - src_start)
    assert (block.src_start, block.src_end) == (src_start, src_end)


def test_without_local_blocks_the_copy_goes_unreported(grown):
    _, without, *_ = grown
    assert without.code_findings == []
