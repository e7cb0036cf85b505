"""The model section of the reports: JSON (`models` in the scan result) and a few readable lines of text.

The text states, next to each statistic, what it means: p-values of the independence test (uniform under
independence), centred correlation of norm weights with the raw cosine shown as no evidence, tokenizer overlap
against the baseline of independent tokenizers, and architecture matches as weak evidence.
"""

from __future__ import annotations

NORM_NOTE = ("raw cosine of norm weights is ~0.99 for any two models (gammas sit near 1) and is not evidence; "
             "provscan judges the centred correlation against a permutation null")


def models_section(stage) -> dict:
    """JSON-ready model section; an empty one when the scan met no model artifacts."""
    if stage is None:
        return {"analysed_files": 0, "references": [], "directories": [], "problems": []}
    return {"analysed_files": len(stage.claimed), "references": stage.references,
            "directories": [model.to_dict() for model in stage.models], "problems": stage.problems}


def _p(value: float | None, log10: float | None) -> str:
    if value is None:
        return "n/a"
    if log10 is not None and log10 < -300:
        return "< 1e-300"
    return f"{value:.3g}"


def print_models(console, section: dict) -> None:
    if not section["directories"]:
        return
    references = ", ".join(section["references"]) or "none registered (provscan corpus add-model NAME PATH)"
    console.print(f"[bold]Model artifacts[/bold]: {section['analysed_files']} file(s) analysed; references: "
                  f"{references}", markup=True)
    for model in section["directories"]:
        facts = model["facts"]
        shape = ", ".join(f"{k} {v}" for k, v in facts.items()) or "no config facts"
        console.print(f"  {model['directory']}: {shape}", markup=False)
        if model["nearest_families"]:
            near = "; ".join(f"{f['id']} ({len(f['equal'])}/{len(f['equal']) + len(f['different'])} facts)"
                             for f in model["nearest_families"])
            console.print(f"    nearest known architectures (weak evidence): {near}", markup=False)
        if model["tokenizer"]:
            t = model["tokenizer"]
            console.print(f"    tokenizer {t['path']}: {t['format']} {t['model']}, {t['vocab_size']} tokens, "
                          f"{t['merges']} merges", markup=False)
        if model["weights"]:
            w = model["weights"]
            console.print(f"    weights: {w['tensors']} tensors, {w['parameters']:,} parameters in "
                          f"{len(w['files'])} file(s), {w['mlp_layers']} MLP(s) sampled", markup=False)
        for error in model["errors"]:
            console.print(f"    error: {error}", markup=False)
        for comparison in model["comparisons"]:
            _print_comparison(console, comparison)


def _print_comparison(console, c: dict) -> None:
    parts = []
    if c["tokenizer"]:
        t = c["tokenizer"]
        parts.append(f"tokenizer {t['verdict']} (overlap {t['overlap_of_smaller']:.2f}, same id "
                     f"{t['aligned_fraction']:.2f}, merge prefix {t['merge_prefix']})")
    if c["reuse"]:
        r = c["reuse"]
        parts.append(f"tensors exact {r['exact_parameters']:,} / near {r['near_parameters']:,} of "
                     f"{r['parameters']:,} parameters")
    if c["independence"]:
        i = c["independence"]
        if i["layers_compared"]:
            parts.append(f"independence test p {_p(i['p'], i['log10_p'])}, robust p "
                         f"{_p(i['robust_p'], i['robust_log10_p'])} ({i['layers_compared']} MLPs, "
                         f"{i['units_per_layer']} units each)")
        else:
            parts.append(f"independence test not run: {i['skipped']}")
    if c["norms"]:
        n = c["norms"]
        verdict = "evidence" if n["evidence"] else "no evidence"
        bound = "<=" if n["p"] <= 1 / (n["permutations"] + 1) + 1e-12 else "="
        parts.append(f"norms centred r {n['centred_r']:.3f}, permutation p {bound} {n['p']:.3g} ({verdict}; raw cosine "
                     f"{n['raw_cosine']:.3f} is not evidence)")
    console.print(f"    vs {c['reference']}: " + "; ".join(parts or ["nothing comparable"]), markup=False)
