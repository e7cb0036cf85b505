"""Origin accuracy on transformers' own lineage: is the reported origin the definition the code was first written as?

Each modeling file of the transformers wheel is scanned against the default corpus with its own model folder left
out (matches into that folder are dropped, exactly what a corpus without the folder would return). For each
reported fragment whose definition has a recorded lineage, the truth is the lineage root: the `# Copied from`
target, the modular base class or imported function, followed to its end (`tests.clone_labels.ProvenanceGraph`
reads those records from the wheel's files with `ast`, independently of `provscan.lineage`). Roots inside the
scanned folder are left out (the folder is not in the corpus).

Reported, over the fragments that have a root outside their folder:
* origin@1 - the project the finding gives as where the code was first written (`first_written_in`, or the source
  when the two are one) is a root's project;
* source@1 - the same for the reported source alone (the copy the finding says the file was taken from);
* the same two over the fragments where a root is among the equally good sources (Jaccard within the findings
  stage's tie tolerance of the best): where the code is unchanged since it was first written, so the corpus can
  tell. Where a root is not as similar as the best source, the code changed after it was taken (an overridden
  method) and the closest copy is the honest answer; those are counted apart.

    python bench/origin.py [--files N] [--seed S] [--sample N]

`--files N` scans a random sample of N modeling files (seeded); 0 scans all of them.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter, defaultdict
from importlib import metadata

from common import build_default_corpus, private_cache, transformers_models  # also puts the repo on sys.path

from tests.clone_labels import Twins, collect_labels, provenance_graph  # noqa: E402

GENERATED = re.compile(r"This file was automatically generated from src/transformers/models/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=0, help="scan a random sample of N modeling files (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=15, help="wrong origins to print")
    args = parser.parse_args()

    cache = private_cache()
    models = transformers_models()
    print(f"transformers {metadata.version('transformers')}: {models}")
    started = time.perf_counter()
    build_default_corpus()

    from provscan.findings import TIE_TOLERANCE, build_findings
    from provscan.fingerprint import AnalysisJob, analyse
    from provscan.match import MatchSettings, find_matches
    from provscan.scan import open_corpora

    corpus = open_corpora(("transformers",))["transformers"]
    twins = Twins(cache / "corpora" / "transformers.sqlite")
    labels, _dropped = collect_labels(models)
    graph = provenance_graph(models, labels, twins)
    print(graph.summary())
    files = sorted(p.relative_to(models).as_posix() for p in models.glob("*/modeling_*.py"))
    if args.files:
        files = sorted(random.Random(args.seed).sample(files, min(args.files, len(files))))
    settings = MatchSettings()
    outcome: Counter = Counter()
    wrong: list[str] = []
    for relative in files:
        folder = relative.split("/")[0]
        text = (models / relative).read_text(encoding="utf-8")
        analysed = analyse(AnalysisJob(relative, text, corpus.settings, 30))
        if not hasattr(analysed, "normalised"):
            continue
        matches = [m for m in find_matches([analysed], corpus, settings) if m.source.project != folder]
        findings, _ = build_findings([analysed], matches, {corpus.name: corpus}, settings.min_run)
        by_span = defaultdict(list)
        for match in matches:
            fragment = analysed.normalised.fragments[match.fragment_index]
            by_span[(fragment.start_line, fragment.end_line)].append(match)
        outcome["files"] += 1
        outcome["generated files"] += bool(GENERATED.search(text[:2000]))
        for finding in findings:
            node = graph.defs.at(relative, finding.start_line, finding.end_line)
            roots = {r for r in graph.roots(node) if r[0].split("/")[0] != folder} if node else set()
            if not roots:
                outcome["reported, no lineage outside the folder"] += 1
                continue
            root_projects = {r[0].split("/")[0] for r in roots}
            first = getattr(finding, "first_written_in", None) or finding.source
            candidates = by_span[(finding.start_line, finding.end_line)]
            best = max(m.jaccard for m in candidates)
            tied = any(m.jaccard >= best - TIE_TOLERANCE and _is_root(graph, twins, m, roots) for m in candidates)
            for scope in ("all", "root equally good") if tied else ("all",):
                outcome[f"{scope}: evaluable"] += 1
                outcome[f"{scope}: origin@1"] += first.project in root_projects
                outcome[f"{scope}: source@1"] += finding.source.project in root_projects
            if not tied:
                outcome["root not as similar as the best source"] += 1
            elif first.project not in root_projects:
                wrong.append(f"{relative}:{finding.start_line} {finding.fragment_name} -> origin {first.project} "
                             f"({first.name}), source {finding.source.project}; lineage root "
                             f"{', '.join(sorted(f'{r[0]}:{r[1]}' for r in roots))}")
    seconds = time.perf_counter() - started
    print(f"\nmodeling files scanned: {outcome['files']} ({outcome['generated files']} generated from a modular "
          f"file); {seconds:.0f} s including the corpus build")
    print(f"findings with no lineage outside their folder: {outcome['reported, no lineage outside the folder']}")
    for scope in ("all", "root equally good"):
        evaluable = outcome[f"{scope}: evaluable"]
        print(f"{scope}: {evaluable} findings with a lineage root outside their folder")
        for name in ("origin@1", "source@1"):
            print(f"  {name:<9} {outcome[f'{scope}: {name}'] / max(evaluable, 1):.4f}  "
                  f"({outcome[f'{scope}: {name}']}/{evaluable})")
    print(f"root not as similar as the best source (code changed since): "
          f"{outcome['root not as similar as the best source']}")
    for line in random.Random(args.seed).sample(wrong, min(args.sample, len(wrong))):
        print(f"  wrong origin: {line}")


def _is_root(graph, twins: Twins, match, roots: set) -> bool:
    source = match.source
    node = graph.defs.at(source.path, source.start_line, source.end_line)
    if node in roots:
        return True
    span = (source.path, source.start_line, source.end_line)
    for path, qualname in roots:
        definition = graph.defs.of(path).get(qualname)
        if definition is not None and twins.same(span, (path, definition.start_line, definition.end_line)):
            return True
    return False


if __name__ == "__main__":
    main()
