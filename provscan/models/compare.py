"""A submission's model profile against one reference profile: every statistic, whether or not it is evidence.

The comparison keeps the numbers that are not evidence too (a raw norm cosine of 0.99, a 0.8 vocabulary overlap,
an independence p of 0.4), because a reviewer who has heard such a number quoted needs to see it next to the
statistic that actually decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from provscan.models.config_facts import compare_facts
from provscan.models.independence import IndependenceResult, independence_test
from provscan.models.norms import NormResult, compare_norms
from provscan.models.profile import ModelProfile
from provscan.models.reuse import ReuseResult, compare_tensors
from provscan.models.tokenizer_compare import TokenizerComparison, compare_tokenizers


@dataclass
class Comparison:
    reference: str
    config_equal: list[str]
    config_different: list[str]
    tokenizer: TokenizerComparison | None = None
    reuse: ReuseResult | None = None
    independence: IndependenceResult | None = None
    norms: NormResult | None = None

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "config": {"equal": self.config_equal, "different": self.config_different},
            "tokenizer": self.tokenizer.to_dict() if self.tokenizer else None,
            "reuse": self.reuse.to_dict() if self.reuse else None,
            "independence": self.independence.to_dict() if self.independence else None,
            "norms": self.norms.to_dict() if self.norms else None,
        }


def compare_profiles(submission: ModelProfile, reference: ModelProfile) -> Comparison:
    equal, different = compare_facts(submission.facts, reference.facts)
    comparison = Comparison(reference.name, equal, different)
    if submission.tokenizer is not None and reference.tokenizer is not None:
        comparison.tokenizer = compare_tokenizers(submission.tokenizer, reference.tokenizer)
    if submission.weights is not None and reference.weights is not None:
        comparison.reuse = compare_tensors(submission.weights, reference.weights)
        comparison.independence = independence_test(reference.weights.mlps, submission.weights.mlps)
        comparison.norms = compare_norms(reference.weights.norms, submission.weights.norms)
    return comparison
