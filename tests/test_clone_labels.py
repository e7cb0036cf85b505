"""The provenance graph's modular rule (tests/clone_labels.py), on real transformers files and on a tiny tree.

Expectations come from reading the wheel's files, not from the code under test: models/mistral/modular_mistral.py
imports LlamaMLP, LlamaAttention, LlamaDecoderLayer, LlamaModel, LlamaForCausalLM, apply_rotary_pos_emb and
eager_attention_forward from ..llama.modeling_llama; `MistralMLP(LlamaMLP)` defines only `__init__`,
`MistralAttention(LlamaAttention)` defines `__init__` and `forward`, `MistralDecoderLayer(LlamaDecoderLayer)` only
`__init__`, `MistralModel(LlamaModel)` only `forward`, and `MistralForCausalLM(LlamaForCausalLM)` is `pass`.
`rotate_half` is copied into modeling_mistral.py as a dependency but not imported by the modular file.
"""

from __future__ import annotations

from tests.clone_labels import Definitions, ProvenanceGraph
from tests.conftest import transformers_models

MISTRAL, LLAMA = "mistral/modeling_mistral.py", "llama/modeling_llama.py"


def modular_graph(models, folders) -> ProvenanceGraph:
    graph = ProvenanceGraph(Definitions(models))
    graph.add_modular(models, folders)
    return graph


def test_modular_rule_on_mistral():
    graph = modular_graph(transformers_models(), ["mistral"])
    linked = [
        ("MistralMLP", "LlamaMLP"),
        ("MistralMLP.forward", "LlamaMLP.forward"),  # inherited: the generated forward is llama's, renamed
        ("MistralAttention", "LlamaAttention"),
        ("MistralDecoderLayer", "LlamaDecoderLayer"),
        ("MistralDecoderLayer.forward", "LlamaDecoderLayer.forward"),
        ("MistralModel", "LlamaModel"),
        ("MistralModel.__init__", "LlamaModel.__init__"),
        ("MistralForCausalLM", "LlamaForCausalLM"),
        ("MistralForCausalLM.__init__", "LlamaForCausalLM.__init__"),
        ("MistralForCausalLM.forward", "LlamaForCausalLM.forward"),
        ("apply_rotary_pos_emb", "apply_rotary_pos_emb"),
        ("eager_attention_forward", "eager_attention_forward"),
    ]
    for mistral, llama in linked:
        assert graph.has_edge((MISTRAL, mistral), (LLAMA, llama)), (mistral, llama)
    overridden = [
        ("MistralMLP.__init__", "LlamaMLP.__init__"),
        ("MistralAttention.__init__", "LlamaAttention.__init__"),
        ("MistralAttention.forward", "LlamaAttention.forward"),
        ("MistralDecoderLayer.__init__", "LlamaDecoderLayer.__init__"),
        ("MistralModel.forward", "LlamaModel.forward"),
        ("rotate_half", "rotate_half"),  # not imported by the modular file: no modular edge
    ]
    for mistral, llama in overridden:
        assert not graph.same((MISTRAL, mistral), (LLAMA, llama)), (mistral, llama)
    # a class never links to a method, nor to a function
    assert not graph.same((MISTRAL, "MistralMLP"), (LLAMA, "LlamaMLP.forward"))
    assert graph.refused["modular class"] == 0


HEADER = "# This file was automatically generated from src/transformers/models/{0}/modular_{0}.py.\n"


def test_modular_rule_aliases_and_local_bases(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "modeling_base.py").write_text(
        "class BaseMLP:\n    def __init__(self):\n        self.a = 1\n\n"
        "    def forward(self, x):\n        return x\n\n\n"
        "def helper(x):\n    return x\n"
    )
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "modular_new.py").write_text(
        "import torch.nn as nn\n"
        "from ..base.modeling_base import BaseMLP as Parent, helper as base_helper\n\n\n"
        "class NewMLP(Parent):\n    def __init__(self):\n        self.a = 2\n\n\n"
        "class NewLocal(NewMLP):\n    pass\n\n\n"
        "class NewModule(nn.Module):\n    pass\n"
    )
    (tmp_path / "new" / "modeling_new.py").write_text(
        HEADER.format("new")
        + "class NewMLP:\n    def __init__(self):\n        self.a = 2\n\n"
        "    def forward(self, x):\n        return x\n\n\n"
        "def helper(x):\n    return x\n\n\n"
        "class NewLocal(NewMLP):\n    pass\n\n\n"
        "class NewModule:\n    pass\n"
    )
    graph = modular_graph(tmp_path, None)
    new, base = "new/modeling_new.py", "base/modeling_base.py"
    assert graph.has_edge((new, "NewMLP"), (base, "BaseMLP"))
    assert graph.has_edge((new, "NewMLP.forward"), (base, "BaseMLP.forward"))
    assert graph.has_edge((new, "helper"), (base, "helper"))
    assert not graph.same((new, "NewMLP.__init__"), (base, "BaseMLP.__init__"))
    assert not graph.same((new, "NewLocal"), (base, "BaseMLP"))  # base defined in the same modular file
    assert set(graph.edges) == {"modular class", "modular method", "modular function"}
    assert sum(graph.edges.values()) == 3
