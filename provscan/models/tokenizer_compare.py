"""Compare two tokenizers, and judge the numbers against what independent tokenizers already share.

Raw overlap proves nothing: byte-level BPEs trained on similar web text share most of their frequent tokens (an
independent pair often shares 0.6-0.85 of the smaller vocabulary). What a derived tokenizer keeps and an independent
one does not is the arrangement: the same token at the same id, and the same merges in the same order. The verdict
uses those, with thresholds set well above the largest value measured between independent real tokenizers
(`rules/tokenizers.toml`, which records that baseline and how it was measured).
"""

from __future__ import annotations

from dataclasses import dataclass

from provscan.models.tokenizer_io import TokenizerData
from provscan.rulesdata import load_toml


@dataclass
class TokenizerComparison:
    vocab_a: int
    vocab_b: int
    shared_tokens: int
    jaccard: float
    overlap_of_smaller: float
    same_id: int
    same_id_fraction: float  # of the smaller vocabulary
    aligned_fraction: float  # of the smaller vocabulary: same token at the same id after the commonest id shift
    id_offset: int  # that shift (0 when ids are unchanged; tokens inserted before a copied block shift it)
    merges_a: int
    merges_b: int
    merge_prefix: int  # leading merges identical and in the same order
    merge_prefix_fraction: float  # of the smaller merge list
    shared_merges_fraction: float
    special_shared: int
    same_pre_tokenizer: bool
    verdict: str  # "identical" | "derived" | "no evidence"
    reason: str

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        for key in ("jaccard", "overlap_of_smaller", "same_id_fraction", "aligned_fraction", "merge_prefix_fraction",
                    "shared_merges_fraction"):
            data[key] = round(data[key], 4)
        return data


def thresholds() -> dict:
    return load_toml("tokenizers.toml")["thresholds"]


def compare_tokenizers(a: TokenizerData, b: TokenizerData) -> TokenizerComparison:
    set_a = {t for t in a.tokens if t}
    set_b = {t for t in b.tokens if t}
    shared = len(set_a & set_b)
    union = len(set_a | set_b) or 1
    smaller = min(len(set_a), len(set_b)) or 1
    same_id = sum(1 for x, y in zip(a.tokens, b.tokens, strict=False) if x and x == y)
    id_offset, aligned = _best_offset(a.tokens, b.tokens)
    prefix = 0
    for x, y in zip(a.merges, b.merges, strict=False):
        if x != y:
            break
        prefix += 1
    smaller_merges = min(len(a.merges), len(b.merges))
    shared_merges = len(set(a.merges) & set(b.merges)) / smaller_merges if smaller_merges else 0.0
    comparison = TokenizerComparison(
        len(a.tokens), len(b.tokens), shared, shared / union, shared / smaller, same_id, same_id / smaller,
        aligned / smaller, id_offset,
        len(a.merges), len(b.merges), prefix, prefix / smaller_merges if smaller_merges else 0.0, shared_merges,
        len(set(a.special) & set(b.special)), bool(a.pre_tokenizer) and a.pre_tokenizer == b.pre_tokenizer,
        "no evidence", "")
    comparison.verdict, comparison.reason = _verdict(a, b, comparison)
    return comparison


def _best_offset(a: list[str], b: list[str]) -> tuple[int, int]:
    """The id shift (b id - a id) shared by most common tokens, and how many tokens share it."""
    from collections import Counter

    ids_b = {token: i for i, token in enumerate(b) if token}
    offsets = Counter(ids_b[token] - i for i, token in enumerate(a) if token and token in ids_b)
    if not offsets:
        return 0, 0
    return offsets.most_common(1)[0]


def _verdict(a: TokenizerData, b: TokenizerData, c: TokenizerComparison) -> tuple[str, str]:
    limits = thresholds()
    if a.tokens == b.tokens and a.merges == b.merges:
        merges = f" and the same {len(a.merges)} merges" if a.merges else ""
        return "identical", f"the same {len(a.tokens)} tokens at the same ids{merges}"
    reasons = []
    aligned = round(c.aligned_fraction * min(c.vocab_a, c.vocab_b))
    if aligned >= limits["min_same_id_tokens"] and c.aligned_fraction >= limits["same_id_fraction"]:
        shift = f" (ids shifted by {c.id_offset})" if c.id_offset else ""
        reasons.append(f"{c.aligned_fraction:.1%} of the smaller vocabulary has the same token at the same id{shift}")
    if c.merge_prefix >= limits["min_merge_prefix"] and c.merge_prefix_fraction >= limits["merge_prefix_fraction"]:
        reasons.append(f"the first {c.merge_prefix} merges ({c.merge_prefix_fraction:.1%} of the smaller list) are "
                       "identical and in the same order")
    if (not reasons and c.overlap_of_smaller >= limits["reordered_overlap"]
            and c.shared_tokens >= limits["min_same_id_tokens"]
            and (not (a.merges and b.merges) or c.shared_merges_fraction >= limits["reordered_overlap"])):
        reasons.append(f"the same vocabulary{' and merges' if a.merges and b.merges else ''} "
                       f"({c.overlap_of_smaller:.1%} of the smaller) in a different order")
    if reasons:
        return "derived", "; ".join(reasons)
    return "no evidence", (f"vocabulary overlap {c.overlap_of_smaller:.1%} of the smaller (Jaccard {c.jaccard:.2f}) is "
                           f"within what independent tokenizers share; same-id {c.same_id_fraction:.1%}, "
                           f"shared merge prefix {c.merge_prefix}")
