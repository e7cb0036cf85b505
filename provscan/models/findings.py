"""The model finding kinds: what a reviewer reads, with a message that stands on its own (HTML/SARIF writers show
only the generic fields) and the statistics as evidence.

| kind | when | severity |
|---|---|---|
| `weight-reuse` | tensors byte-identical (or identical after a bf16 cast) or near-identical to a reference's | high |
| `weight-dependence` | the independence test rejects independence (p < DEPENDENCE_P) | high below 1e-10, else medium |
| `norm-correlation` | norm weights correlate after centring, beyond the permutation null | medium |
| `tokenizer-reuse` | the tokenizer is the reference's or derived from it | medium |
| `model-architecture` | config.json matches a known family (weak evidence) | low |
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provscan.findings import Finding, stable_id
from provscan.models.compare import Comparison
from provscan.models.config_facts import FamilyMatch
from provscan.models.layout import compress_modules

DEPENDENCE_P = 1e-4
STRONG_LOG10_P = -10.0
KINDS = ("weight-reuse", "weight-dependence", "norm-correlation", "tokenizer-reuse", "model-architecture")


@dataclass
class ModelFinding(Finding):
    """A finding of the model stage; `evidence` holds the statistics behind it (JSON-ready)."""

    model: str = ""  # the model directory, relative to the scanned root
    reference: str = ""  # reference model name, or the architecture table id
    evidence: dict = field(default_factory=dict)


def _finding(kind: str, severity: str, rule: str, message: str, path: str, model: str, reference: str,
             evidence: dict) -> ModelFinding:
    return ModelFinding(stable_id(kind, model, reference, rule), kind, severity, rule, message, path, 1, 1, model,
                        reference, evidence)


def _p_text(log10_p: float) -> str:
    if log10_p < -300:
        return "p < 1e-300"
    return f"p = {10 ** log10_p:.2g}" if log10_p > -4 else f"p = 1e{log10_p:.0f}"


def comparison_findings(model: str, weights_path: str, tokenizer_path: str | None,
                        comparison: Comparison) -> list[ModelFinding]:
    found = []
    ref = comparison.reference
    reuse = comparison.reuse
    if reuse is not None and (reuse.exact_parameters or reuse.near_parameters):
        exact = reuse.modules_with("exact")
        near = reuse.modules_with("near")
        partial = reuse.modules_with("partial")
        parts = []
        if exact:
            parts.append(f"modules identical to reference {ref!r}: {compress_modules(exact)}")
        if near:
            parts.append(f"near-identical (fine-tuned or edited copies): {compress_modules(near)}")
        if partial:
            parts.append(f"partly reused: {compress_modules(partial)}")
        share = (reuse.exact_parameters + reuse.near_parameters) / reuse.parameters if reuse.parameters else 0.0
        message = (f"{share:.1%} of the weights ({reuse.exact_parameters:,} parameters exact, "
                   f"{reuse.near_parameters:,} near) come from reference {ref!r}; " + "; ".join(parts))
        found.append(_finding("weight-reuse", "high", "model.weights.reuse", message, weights_path, model, ref,
                              reuse.to_dict()))
    test = comparison.independence
    if test is not None and test.layers:
        best = min(test.log10_p, test.robust_log10_p if test.robust_log10_p is not None else 0.0)
        if best < _log10(DEPENDENCE_P):
            robust = ("" if test.robust_log10_p is None
                      else f", permutation-robust variant {_p_text(test.robust_log10_p)}")
            message = (f"the weights are not independent of reference {ref!r}: hidden-unit matching test over "
                       f"{len(test.layers)} MLP layer(s) {_p_text(test.log10_p)}{robust} (Zhu et al. 2025; under "
                       "independence p is uniform on [0, 1])")
            severity = "high" if best < STRONG_LOG10_P else "medium"
            found.append(_finding("weight-dependence", severity, "model.weights.dependence", message, weights_path,
                                  model, ref, test.to_dict()))
    norms = comparison.norms
    if norms is not None and norms.evidence:
        message = (f"norm weights correlate with reference {ref!r} after centring: mean r = {norms.centred_r:.3f} "
                   f"over {norms.vectors} vector(s), permutation p {norms.p_text} (raw cosine {norms.raw_cosine:.3f} "
                   "is shown for comparison only: it is ~0.99 for any two models)")
        found.append(_finding("norm-correlation", "medium", "model.weights.norms", message, weights_path, model, ref,
                              norms.to_dict()))
    tokenizer = comparison.tokenizer
    if tokenizer is not None and tokenizer.verdict != "no evidence" and tokenizer_path:
        message = f"tokenizer is {tokenizer.verdict} {'to' if tokenizer.verdict == 'identical' else 'from'} " \
                  f"reference {ref!r}: {tokenizer.reason}"
        found.append(_finding("tokenizer-reuse", "medium", f"model.tokenizer.{tokenizer.verdict}", message,
                              tokenizer_path, model, ref, tokenizer.to_dict()))
    return found


def architecture_finding(model: str, config_path: str, match: FamilyMatch) -> ModelFinding:
    message = (f"config.json matches the {match.id} architecture ({match.source}) on {len(match.equal)} of "
               f"{len(match.equal) + len(match.different)} facts ({', '.join(match.equal)}): weak evidence, such "
               "design choices recur in unrelated models; compare the weights with that family")
    return _finding("model-architecture", "low", "model.config.architecture", message, config_path, model, match.id,
                    match.to_dict())


def _log10(value: float) -> float:
    import math

    return math.log10(value)
