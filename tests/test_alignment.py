"""Aligned coverage, the verification measure for copies edited statement by statement (provscan.match).

Real functions from the transformers wheel's modeling files and their type-3 clones (tests/mutate_code.py: 30 % of
one-line statements deleted or followed by an inserted statement). Jaccard of shingle sets loses about k shingles
per edit; aligned coverage keeps every token still covered by a shared shingle in the same order. What it must not
do is add up idioms scattered through unrelated code, so order matters: a function with its halves swapped shares
nearly every shingle but only half its tokens in order.
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from provscan.corpus import add_corpus
from provscan.fingerprint import shingles
from provscan.fragments import normalise
from provscan.match import MatchSettings, aligned_coverage
from provscan.parse import parse_text
from provscan.scan import ScanSettings, scan
from tests.conftest import transformers_models
from tests.mutate_code import functions_of, leaf_types, near_clone, type3

K = 9


def _codes(source: str) -> np.ndarray:
    return normalise(parse_text("f.py", source), 30).codes


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = np.unique(shingles(a, K)), np.unique(shingles(b, K))
    shared = np.intersect1d(sa, sb).size
    return shared / (sa.size + sb.size - shared)


def _alignment(a: np.ndarray, b: np.ndarray) -> float:
    return aligned_coverage(shingles(a, K), shingles(b, K), K)


@pytest.fixture(scope="module")
def functions() -> list[str]:
    """40 functions, none a near clone of another by their grammar leaf types (transformers repeats its own code,
    e.g. `eager_attention_forward` in many variants; those pairs are related, not negatives)."""
    found, shapes = [], []
    for path in sorted(transformers_models().glob("*/modeling_*.py"))[::20]:
        for function in functions_of(path.read_text(encoding="utf-8"), "python"):
            shape = leaf_types(function, "python")
            if 80 <= _codes(function).size <= 600 and not any(near_clone(shape, s) for s in shapes):
                found.append(function)
                shapes.append(shape)
        if len(found) >= 40:
            break
    assert len(found) >= 40
    return found[:40]


@pytest.fixture(scope="module")
def edited(functions) -> list[tuple[str, str]]:
    rng = random.Random(3)
    return [(f, type3(f, "python", 0.3, rng)) for f in functions]


def test_identical_code_is_fully_aligned(functions):
    codes = _codes(functions[0])
    assert _alignment(codes, codes) == 1.0


def test_statement_edits_cost_alignment_less_than_jaccard(edited):
    pairs = [(_codes(a), _codes(b)) for a, b in edited]
    jaccards = np.array([_jaccard(a, b) for a, b in pairs])
    alignments = np.array([_alignment(a, b) for a, b in pairs])
    assert (alignments >= jaccards).all()
    assert (alignments - jaccards).mean() >= 0.2
    # Some copies that Jaccard alone would miss at its 0.5 gate are still >= 0.8 aligned.
    edited_hard = jaccards < MatchSettings.min_similarity
    assert (alignments[edited_hard] >= MatchSettings.min_alignment).any(), alignments[edited_hard]


def test_unrelated_functions_stay_below_the_alignment_gate(functions):
    codes = [_codes(f) for f in functions]
    worst = max(_alignment(a, b) for i, a in enumerate(codes) for b in codes[i + 1:])
    assert worst < MatchSettings.min_alignment


def test_alignment_needs_the_same_order(functions):
    codes = max((_codes(f) for f in functions), key=lambda c: c.size)
    half = codes.size // 2
    swapped = np.concatenate([codes[half:], codes[:half]])
    assert _jaccard(codes, swapped) > 0.8  # nearly every shingle is still shared ...
    assert _alignment(codes, swapped) < 0.7  # ... but only one half in the same order


def test_the_alignment_gate_reports_edited_copies_and_its_option_turns_that_off(tmp_path, functions):
    """Edited copies below both the Jaccard and the containment gate are reported because of their alignment.

    Retrieval is probabilistic (LSH proposes a pair of Jaccard 0.4 with probability 0.91, and clones of one original
    share its luck), so the copies are made from distinct originals and most, not all, must be found; none may be
    found once the alignment gate is raised out of reach.
    """
    rng = random.Random(5)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "sub").mkdir()
    chosen = 0
    for original in functions:
        for _attempt in range(10):
            copy = type3(original, "python", 0.3, rng)
            a, b = _codes(original), _codes(copy)
            sa, sb = np.unique(shingles(a, K)), np.unique(shingles(b, K))
            shared = np.intersect1d(sa, sb).size
            if (shared >= 30 and 0.4 <= _jaccard(a, b) < 0.5 and shared / min(sa.size, sb.size) < 0.8
                    and _alignment(a, b) >= 0.82):
                (tmp_path / "corpus" / f"original_{chosen}.py").write_text(original, encoding="utf-8")
                (tmp_path / "sub" / f"copy_{chosen}.py").write_text(copy, encoding="utf-8")
                chosen += 1
                break
    assert chosen >= 6, "too few edited copies below the Jaccard and containment gates in the sample"
    add_corpus("edited", tmp_path / "corpus", jobs=1)
    settings = ScanSettings(corpora=("edited",), jobs=1, license_detection=False)
    # Each file holds just its function, so the match is reported for the whole file.
    found = [f for f in scan(tmp_path / "sub", settings).findings if f.kind == "code-match"]
    assert len(found) >= chosen - 2, (chosen, [f.path for f in found])
    for finding in found:
        assert finding.source.path == finding.path.replace("copy_", "original_")
        assert finding.jaccard < 0.5 and finding.alignment >= 0.82
        # medium by similarity, capped at low when the copy is a few lines (provscan.strength)
        assert finding.severity == ("low" if finding.strength.level == "weak" else "medium"), finding.strength
    settings.match = replace(settings.match, min_alignment=1.0)
    assert not [f for f in scan(tmp_path / "sub", settings).findings if f.kind == "code-match"]


def test_fragment_shingles_cut_from_the_file_stream_equal_the_fragments_own():
    """The matcher shingles each file once and cuts fragments out of that stream (`match._window`)."""
    from provscan.match import _window

    for path in sorted(transformers_models().glob("*/modeling_*.py"))[::60]:
        normalised = normalise(parse_text(path.name, path.read_text(encoding="utf-8")), 30)
        stream = shingles(normalised.codes, K)
        assert len(normalised.fragments) > 3
        for fragment in normalised.fragments:
            own = shingles(normalised.codes[fragment.tok_start : fragment.tok_end], K)
            assert np.array_equal(_window(stream, fragment.tok_start, fragment.tok_end, K), own)
    assert np.array_equal(_window(stream, 5, 10, K), shingles(normalised.codes[5:10], K))  # shorter than k: none
