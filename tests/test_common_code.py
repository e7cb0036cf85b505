"""Common code: shingles found all over the corpus are boilerplate, not evidence (provscan.common_code, match).

The cases come from the hand check of transformers pairs that no automatic rule could confirm (docs/benchmarks.md):
small `__init__`s and three-line `forward`s of unrelated models that share only Hugging Face scaffolding
(`super().__init__()`, `self.x = nn.Linear(...)`, `self.post_init()`) were reported as copies, while small edited
copies of real shared code must still be, and so must larger copies of common code (an overlap of twice the
shared-shingle floor is evidence by its size). Both kinds are scanned here against the real default corpus (the
installed transformers models/), without their own file, as bench/accuracy.py does.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

from provscan.common_code import COMMON_MIN_CONTENTS, common_shingles, decode, encode
from provscan.corpus import build_default_corpus
from provscan.fingerprint import unique_shingles
from provscan.fragments import normalise
from provscan.match import MatchSettings
from provscan.parse import parse_text
from provscan.scan import open_corpora
from tests.clone_labels import scan_without_self
from tests.conftest import transformers_models

K = 9

# (file, class, method): hand-checked false alarms of the engine before common code was discounted.
BOILERPLATE_ONLY = [
    ("megatron_bert/modeling_megatron_bert.py", "MegatronBertSelfOutput", "forward"),  # was J 0.94 to ViLT's
    ("clvp/modeling_clvp.py", "ClvpModel", "__init__"),  # was J 0.86 to Dia's
    ("mgp_str/modeling_mgp_str.py", "MgpstrForSceneTextRecognition", "__init__"),  # was J 0.88 to Funnel's QA head
    ("mobilebert/modeling_mobilebert.py", "BottleneckLayer", "__init__"),  # was J 0.75 to LXMERT's
]
# ...hand-checked copies of common code sharing more than twice the floor (73 and 77 shingles, of which only 5 and
# 18 are uncommon), reported by their size alone...
LARGE_COMMON = [
    ("seamless_m4t/modeling_seamless_m4t.py", "SeamlessM4TConformerFeatureProjection", None),  # J 0.97
    ("oneformer/modeling_oneformer.py", "OneFormerPixelDecoderEncoderLayer", "__init__"),  # J 0.86
]
# ...and hand-checked small derived copies, not identical to their source, that must still be found.
DERIVED = [
    ("data2vec/modeling_data2vec_vision.py", "Data2VecVisionPatchEmbeddings", "__init__"),
    ("deberta_v2/modeling_deberta_v2.py", "DebertaV2ForMultipleChoice", "__init__"),
    ("convnext/modeling_convnext.py", "ConvNextLayer", "__init__"),
    ("pixtral/modeling_pixtral.py", "PixtralVisionRotaryEmbedding", "compute_axial_rope_parameters"),
]


def _codes(relative: str) -> tuple[np.ndarray, list]:
    normalised = normalise(parse_text(relative, (transformers_models() / relative).read_text(encoding="utf-8")), 30)
    return normalised.codes, normalised.fragments


def _lines(relative: str, cls: str, method: str | None) -> tuple[int, int]:
    """Lines of class `cls` of the file, or of its method `method`."""
    _codes_, fragments = _codes(relative)
    found = owner = next(f for f in fragments if f.kind == "class" and f.name == cls)
    if method:
        found = next(f for f in fragments if f.kind == "method" and f.name == method
                     and owner.start_line <= f.start_line <= f.end_line <= owner.end_line)
    return found.start_line, found.end_line


def test_a_shingle_is_common_from_the_threshold_on_and_identical_contents_count_once():
    codes, fragments = _codes("llama/modeling_llama.py")
    base = next(f for f in fragments if f.kind == "method" and f.tok_end - f.tok_start > 60)
    core = codes[base.tok_start : base.tok_end]
    core_set = unique_shingles(core, K)
    rng = np.random.default_rng(0)

    def variants(n: int):
        # n distinct contents that all contain the method's tokens (each with its own random tail of tokens)
        for i in range(n):
            tail = rng.integers(10_000, 20_000, size=K + 3).astype(codes.dtype)
            yield i, np.concatenate([core, tail])

    filler = [(10_000 + i, rng.integers(20_000, 30_000, size=50).astype(codes.dtype)) for i in range(1_950)]
    common, contents, threshold = common_shingles([*variants(COMMON_MIN_CONTENTS), *filler], K)
    assert (contents, threshold) == (2_000, COMMON_MIN_CONTENTS)  # 2.5 % of 2,000 is 50
    assert set(core_set.tolist()) <= set(common.tolist())
    assert common.size < core_set.size + 5  # the random tails and fillers are not common
    common, _contents, _threshold = common_shingles([*variants(COMMON_MIN_CONTENTS - 1), *filler], K)
    assert not set(core_set.tolist()) & set(common.tolist())
    # The same content 500 times is one content: copies do not make their own code common.
    same = [(7, core)] * 500
    common, contents, _threshold = common_shingles([*same, *filler], K)
    assert contents == 1_951 and common.size == 0
    assert np.array_equal(decode(encode(core_set)), core_set) and decode("").size == 0


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory):
    """The real default corpus, built once for this module in its own cache."""
    cache = tmp_path_factory.mktemp("common-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVSCAN_CACHE_DIR", str(cache))
        report = build_default_corpus(jobs=os.cpu_count())
    return cache, report


def _reported(relative: str, corpus, settings: MatchSettings) -> dict[tuple[int, int], str]:
    findings, _analysed = scan_without_self(transformers_models() / relative, relative, corpus, settings)
    return {(f.start_line, f.end_line): f.source.path for finding in findings for f in finding.fragments()}


def test_boilerplate_alone_is_no_longer_a_match_but_edited_copies_still_are(default_corpus, monkeypatch):
    cache, report = default_corpus
    monkeypatch.setenv("PROVSCAN_CACHE_DIR", str(cache))
    # Transformers' models/ has about 20,000 distinct fragment contents: common means found in about 500 of them.
    assert report.distinct_contents > 10_000 and report.common_threshold > 250
    assert 100 < report.common_shingles < 5_000
    corpus = open_corpora(("transformers",))["transformers"]
    assert corpus.common.size == report.common_shingles
    counting_all = replace(MatchSettings(), discount_common=False)
    for relative, cls, method in BOILERPLATE_ONLY:
        lines = _lines(relative, cls, method)
        assert lines in _reported(relative, corpus, counting_all), (relative, cls, method)  # the old false alarm
        assert lines not in _reported(relative, corpus, MatchSettings()), (relative, cls, method)
    floor_40 = replace(MatchSettings(), min_shared_shingles=40)  # now 73 and 77 are less than twice the floor
    for relative, cls, method in LARGE_COMMON:
        lines = _lines(relative, cls, method)
        assert lines in _reported(relative, corpus, MatchSettings()), (relative, cls, method)
        assert lines not in _reported(relative, corpus, floor_40), (relative, cls, method)
        assert lines in _reported(relative, corpus, replace(floor_40, discount_common=False)), (relative, cls, method)
    for relative, cls, method in DERIVED:
        lines = _lines(relative, cls, method)
        before = _reported(relative, corpus, counting_all)
        now = _reported(relative, corpus, MatchSettings())
        assert lines in now and now[lines] == before[lines], (relative, cls, method)
