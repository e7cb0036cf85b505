"""Severity from evidence strength, on real transformers code: a copied helper of a few lines is weak evidence
whatever its Jaccard, and a stripped notice over it is no accusation; a whole copied class is strong."""

from __future__ import annotations

import pytest

from provscan.corpus import add_corpus
from provscan.scan import ScanSettings, scan
from provscan.strength import StrengthRules, weigh
from tests.conftest import copy_models, transformers_models
from tests.mutate import definitions

LLAMA = "llama/modeling_llama.py"
HEADER = "# Copyright 2025 Hanbit AI Corp. All rights reserved.\nimport torch\nfrom torch import nn\n\n\n"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVSCAN_CACHE_DIR", str(tmp_path_factory.mktemp("strength-cache")))
        root = tmp_path_factory.mktemp("strength")
        corpus = copy_models(root / "corpus", ["llama", "mistral"])
        assert add_corpus("small", corpus, split_projects=True, jobs=1).files_indexed >= 4
        text = (transformers_models() / LLAMA).read_text(encoding="utf-8")
        lines, defs = text.splitlines(), definitions(text)

        def body(*names: str) -> str:
            return "\n\n\n".join("\n".join(lines[defs[n].start_line - 1 : defs[n].end_line]) for n in names)

        sub = root / "submission"
        sub.mkdir()
        # Two helpers every Llama-style model has, under a notice of the submitter's own
        (sub / "helpers.py").write_text(HEADER + body("rotate_half", "repeat_kv") + "\n", encoding="utf-8")
        # The whole attention class and its eager kernel, under the same notice
        (sub / "attention.py").write_text(HEADER + body("eager_attention_forward", "LlamaAttention") + "\n",
                                          encoding="utf-8")
        yield scan(sub, ScanSettings(corpora=("small",), jobs=1, license_detection=False))


def _by_path(result, kind: str) -> dict:
    found: dict = {}
    for finding in result.findings:
        if finding.kind == kind:
            found.setdefault(finding.path, []).append(finding)
    return found


def test_a_few_copied_lines_are_weak_evidence_whatever_their_jaccard(scanned):
    helpers = _by_path(scanned, "code-match")["helpers.py"]
    assert {f.fragment_name for f in helpers} == {"rotate_half", "repeat_kv"}
    for finding in helpers:
        assert finding.jaccard == 1.0  # exact copies...
        assert finding.strength.level == "weak" and finding.severity == "low"  # ...of a few lines
        assert finding.strength.code_lines < StrengthRules().min_lines
        assert any(r.startswith("few lines") for r in finding.strength.reasons)
        assert "weak evidence" in finding.message


def test_a_stripped_notice_takes_the_strength_of_the_code_it_rests_on(scanned):
    stripped = _by_path(scanned, "stripped-attribution")
    weak, strong = stripped["helpers.py"][0], stripped["attention.py"][0]
    assert weak.severity == "low" and weak.strength.level == "weak"
    assert "weak evidence only" in weak.message and "few lines" in weak.message
    assert strong.severity == "high" and strong.strength.level == "strong"
    assert "evidence only" not in strong.message


def test_a_whole_copied_class_is_strong_evidence(scanned):
    attention = {f.fragment_name: f for f in _by_path(scanned, "code-match")["attention.py"]}
    finding = attention["LlamaAttention"]
    assert finding.severity == "high" and finding.strength.level == "strong", finding.strength
    assert finding.strength.code_lines >= StrengthRules().strong_lines
    assert finding.strength.uncommon_shingles >= StrengthRules().strong_uncommon
    assert finding.strength.reasons == []


def test_code_held_by_very_many_corpus_files_is_common_code():
    rules = StrengthRules()
    held = weigh(code_lines=40, uncommon_shingles=200, corpus_files=rules.common_files, rules=rules)
    assert held.level == "weak" and held.common_code
    assert not weigh(40, 200, rules.common_files - 1, rules).common_code
    assert weigh(rules.strong_lines - 1, 200, 1, rules).level == "moderate"
    assert weigh(rules.strong_lines, rules.strong_uncommon, 1, rules).level == "strong"


def test_long_literals_shared_word_for_word_lift_a_small_copy_to_moderate(tmp_path):
    """Longformer's `_get_question_end_index` is 8 lines of code with two long assertion messages: copied as it is,
    the messages are text the submitter did not write, and the evidence is moderate (MEDIUM); the same code with
    the messages reworded matches just as well (literals normalise to STR) but is weak (LOW)."""
    corpus = copy_models(tmp_path / "corpus", ["longformer", "llama"])
    assert add_corpus("small", corpus, split_projects=True, jobs=1).files_indexed >= 4
    text = (transformers_models() / "longformer" / "modeling_longformer.py").read_text(encoding="utf-8")
    definition = definitions(text)["_get_question_end_index"]
    function = "\n".join(text.splitlines()[definition.start_line - 1 : definition.end_line])
    reworded = function.replace("`input_ids` should have two dimensions", "expected a batch of token id rows")
    reworded = reworded.replace("There should be exactly three separator tokens", "Three separators are needed")
    assert reworded.count("\n") == function.count("\n") and reworded != function
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "copied.py").write_text(HEADER + function + "\n", encoding="utf-8")
    (sub / "reworded.py").write_text(HEADER + reworded + "\n", encoding="utf-8")
    result = scan(sub, ScanSettings(corpora=("small",), jobs=1, license_detection=False))
    found = {f.path: f for f in result.findings if f.kind == "code-match"}
    copied, rewritten = found["copied.py"], found["reworded.py"]
    assert copied.jaccard == rewritten.jaccard == 1.0
    assert copied.strength.code_lines < StrengthRules().min_lines
    assert copied.strength.literals == 2 and copied.strength.level == "moderate" and copied.severity == "medium"
    assert any("long string literals" in reason for reason in copied.strength.reasons)
    assert rewritten.strength.literals == 0 and rewritten.strength.level == "weak" and rewritten.severity == "low"


def test_shared_literals_do_not_lift_common_code():
    rules = StrengthRules()
    assert weigh(5, 10, 1, rules, literals=rules.literal_lift).level == "moderate"
    assert weigh(5, 10, 1, rules, literals=rules.literal_lift - 1).level == "weak"
    assert weigh(40, 200, rules.common_files, rules, literals=5).level == "weak"
