"""Evidence strength: how much a code match proves, whatever its similarity figures say.

Why: Jaccard says how alike two fragments are, not how much that likeness proves. Three `self.x = X(config)` lines
are identical (Jaccard 1.00) in any Hugging Face-style code base, and a three-line `forward` held by 219 corpus
files names no author. A reviewer who raises a HIGH on that has made the kind of claim that gets retracted. So a
match's severity is capped by the strength of its evidence, measured three ways:

* matched lines: the submission lines on which matched tokens start (tokens covered by runs of shared shingles in
  the same order), the fragment's own and its folded members'. A docstring is one token, so a helper with a long
  docstring is still a few lines of code;
* uncommon shingles: shared shingles that are not common across the corpus (`provscan.common_code`: found in 2.5 %
  or more of its distinct fragment contents). Token-identical copies count once there, so code copied verbatim
  into many model folders is still "uncommon" by this measure, which is why the next one is needed;
* corpus files: how many corpus files hold the code as well as the reported source (it and its "also in" list).
  Code in hundreds of files is the corpus's common stock: a copy of it names no one in particular.

Beside them, long string literals shared word for word (`provscan.fragments`: an error message of four words or
more, normalised to STR in the token stream) that are not common across the corpus (`provscan.common_code`): text
someone wrote, found verbatim, is evidence of copying that code shape alone is not.

Levels (`StrengthRules`; measured in docs/benchmarks.md, "Severity from evidence strength"):

* weak: fewer than `min_lines` matched lines, fewer than `min_uncommon` uncommon shingles, or held by at least
  `common_files` corpus files ("common code"). At most LOW, whatever the Jaccard.
* strong: at least `strong_lines` matched lines and `strong_uncommon` uncommon shingles (above the 63 shared
  shingles of the largest hand-checked false alarm). Its severity is what the similarity figures give.
* moderate: the rest. At most MEDIUM. Evidence weak only for its size (few lines, little uncommon code), not for
  being common code, is moderate when it shares at least `literal_lift` uncommon long literals.

A stripped-attribution finding is as strong as the strongest code match it rests on (`provscan.provenance`): weak
evidence makes it LOW, moderate MEDIUM, strong HIGH.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("weak", "moderate", "strong")
_CAP = {"weak": "low", "moderate": "medium", "strong": "high"}


@dataclass(frozen=True)
class StrengthRules:
    min_lines: int = 10
    min_uncommon: int = 30
    common_files: int = 100
    strong_lines: int = 20
    strong_uncommon: int = 64
    literal_lift: int = 2

    def common_stock(self, corpus_files: int) -> bool:
        """Code held by this many corpus files is the corpus's common stock: a copy of it names no one."""
        return corpus_files >= self.common_files


DEFAULT_RULES = StrengthRules()


@dataclass
class EvidenceStrength:
    """What a code finding's evidence amounts to, with the reasons a reviewer can check."""

    level: str
    code_lines: int
    uncommon_shingles: int
    corpus_files: int
    literals: int = 0  # long string literals shared word for word, not common in the corpus
    reasons: list[str] = field(default_factory=list)

    @property
    def common_code(self) -> bool:
        return any(reason.startswith("common code") for reason in self.reasons)


def weigh(code_lines: int, uncommon_shingles: int, corpus_files: int,
          rules: StrengthRules = DEFAULT_RULES, literals: int = 0) -> EvidenceStrength:
    reasons = []
    common = rules.common_stock(corpus_files)
    if common:
        reasons.append(f"common code: held by {corpus_files} corpus files")
    if code_lines < rules.min_lines:
        reasons.append(f"few lines: {code_lines} matched")
    if uncommon_shingles < rules.min_uncommon:
        reasons.append(f"little uncommon code: {uncommon_shingles} shingles not common in the corpus")
    if reasons and not common and literals >= rules.literal_lift:
        level = "moderate"
        reasons.append(f"but {literals} long string literals shared word for word (not common in the corpus)")
    elif reasons:
        level = "weak"
    elif code_lines >= rules.strong_lines and uncommon_shingles >= rules.strong_uncommon:
        level = "strong"
    else:
        level = "moderate"
        reasons.append(f"{code_lines} matched lines, {uncommon_shingles} uncommon shingles: under the "
                       f"{rules.strong_lines} lines and {rules.strong_uncommon} shingles of strong evidence")
    return EvidenceStrength(level, code_lines, uncommon_shingles, corpus_files, literals, reasons)


def most_allowed(strength: EvidenceStrength) -> str:
    """The highest severity evidence of this strength may carry."""
    return _CAP[strength.level]


def capped(severity: str, strength: EvidenceStrength, severities: tuple[str, ...]) -> str:
    """`severity`, lowered to what `strength` allows."""
    return severities[min(severities.index(severity), severities.index(most_allowed(strength)))]


def strongest(strengths: list[EvidenceStrength]) -> EvidenceStrength | None:
    return max(strengths, key=lambda s: (LEVELS.index(s.level), s.code_lines), default=None)
