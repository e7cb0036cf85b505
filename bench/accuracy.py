"""Accuracy against ground truth: transformers' own "# Copied from" clone labels.

The transformers wheel marks copied code with `# Copied from transformers.models.X.module.Name [with A->B]`. For
every annotation sitting directly above a def or class (decorators allowed), the label is: that definition <- the
named definition in models/X/module.py. Each annotated file is scanned on its own with every annotation line blanked
(line numbers kept), against the default corpus *minus the file under test* (its own fragments are dropped from the
candidates, which is exactly what a corpus without it would return), so a hit must come from the code itself.

Reported:
* recall@1 - the label's definition is reported and its best source is the labelled source;
* recall@1, twins accepted - or the best source is token-identical to the labelled one after normalisation
  (transformers repeats code verbatim across model folders; any of the copies is a right answer);
* recall - the labelled source (or a twin) is the best source or among the equally good "also in" sources;
* precision over all reported (submission fragment -> best source) pairs in the annotated files, judged two ways:
  - strict: the share that is annotated (to that source or a twin) or verified identical after normalisation
    (identical shingle sets);
  - by provenance: those, plus the pairs whose two definitions are linked in transformers' own provenance records.
    Since 2024 transformers records derivation in modular files (`models/X/modular_X.py`: `class XFoo(LlamaFoo)`
    with only some methods overridden, from which `modeling_X.py` is generated with the parent's code copied in)
    rather than with "Copied from". The judge builds a graph over definitions (file + dotted name) from the wheel's
    files alone, independently of provscan: every "Copied from" label and its nested definitions; each modular
    class's generated class <-> its imported base in another model's modeling file, and each generated method the
    modular body does not override <-> the base's method (an overridden method gets no link), and each function
    imported from another model's modeling file <-> its generated copy; and definitions with identical normalised
    content in the corpus index. A pair whose two definitions are in one component of that graph share an origin
    by transformers' own records: a clone pair in the BigCloneBench sense, even where the code was edited since.
  The rest ("unverified") are not necessarily wrong; `--sample N` prints N of them to check by hand (see
  docs/benchmarks.md for the result of that check). The graph's size (edges by rule, components, the largest
  component) is printed so that one can see it is not a single blob linking everything.
Labels on definitions below the minimum fragment size (30 normalised tokens) cannot be found by design; they are
counted apart.

    python bench/accuracy.py [--files N] [--sample N] [--wheel FILE]

`--wheel FILE` measures that transformers wheel instead of the installed one: its models/ folder is extracted (never
imported), the labels are read from it and the corpus `transformers` is built from it with `corpus add
--split-projects` (one project per model folder, as the default corpus).
"""

from __future__ import annotations

import argparse
import email
import random
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from importlib import metadata
from pathlib import Path

from common import REPO, private_cache, transformers_models  # also puts the repo on sys.path

from tests.clone_labels import Label, Twins, collect_labels, evaluate, provenance_graph  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=0, help="only the first N annotated files (0: all)")
    parser.add_argument("--sample", type=int, default=20, help="unverified pairs to print for a hand check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-similarity", type=float, default=None)
    parser.add_argument("--min-containment", type=float, default=None)
    parser.add_argument("--min-shared-shingles", type=int, default=None)
    parser.add_argument("--exact-copy-share", type=float, default=None)
    parser.add_argument("--count-common", action="store_true",
                        help="count the corpus's common shingles as evidence (discount_common off: the old behaviour)")
    parser.add_argument("--unverified-out", metavar="FILE", help="write every unverified pair to FILE, one a line")
    parser.add_argument("--wheel", metavar="FILE", type=Path,
                        help="measure this transformers wheel's models/ folder instead of the installed transformers")
    args = parser.parse_args()

    cache = private_cache()
    if args.wheel:
        models, release = _extract_models(args.wheel, cache / "wheel")
        build_command = ["corpus", "add", "transformers", str(models), "--split-projects"]
    else:
        models, release = transformers_models(), metadata.version("transformers")
        build_command = ["corpus", "build-default"]
    print(f"transformers {release}: {models}")
    labels, dropped = collect_labels(models)
    by_file: dict[str, list[Label]] = defaultdict(list)
    for label in labels:
        by_file[label.path].append(label)
    files = sorted(by_file)[: args.files or None]
    print(f"labels: {len(labels)} annotations above a def/class resolved in {len(by_file)} files; "
          f"not used: {dict(dropped)}")

    started = time.perf_counter()
    build = subprocess.run([sys.executable, "-m", "provscan", *build_command], cwd=REPO, capture_output=True, text=True)
    if build.returncode:
        sys.exit(build.stderr)
    print((build.stdout + build.stderr).strip())  # `corpus add` reports on stdout, `build-default` on stderr

    from provscan.match import MatchSettings
    from provscan.scan import open_corpora

    corpus = open_corpora(("transformers",))["transformers"]
    twins = Twins(cache / "corpora" / "transformers.sqlite")
    overrides = {"min_similarity": args.min_similarity, "min_containment": args.min_containment,
                 "min_shared_shingles": args.min_shared_shingles, "exact_copy_share": args.exact_copy_share}
    match_settings = MatchSettings(**{k: v for k, v in overrides.items() if v is not None},
                                   discount_common=not args.count_common)
    print(f"match settings: {match_settings}")
    graph_started = time.perf_counter()
    graph = provenance_graph(models, labels, twins)
    print(f"{graph.summary()} ({time.perf_counter() - graph_started:.0f} s)")
    outcome, totals, unverified, failures = evaluate(files, by_file, models, corpus, twins, match_settings, graph)
    seconds = time.perf_counter() - started
    evaluable = outcome["evaluable"]
    print(f"\nfiles scanned: {len(files)}; {seconds:.0f} s including the corpus build")
    print(f"labels evaluable: {evaluable} (+{outcome['below minimum size']} below the 30-token minimum)")
    for name in ("recall@1 strict", "recall@1 twins", "recall"):
        print(f"  {name:<16} {outcome[name] / evaluable:.4f}  ({outcome[name]}/{evaluable})")
    print(f"  missed           {outcome['missed']}")
    reported = evaluable - outcome["missed"]
    print(f"  precision on labelled definitions (reported source is the annotated one or its twin) "
          f"{outcome['recall@1 twins'] / max(reported, 1):.4f}  ({outcome['recall@1 twins']}/{reported})")
    print(f"  ... or a source at least as similar as the annotated one "
          f"{outcome['right or as similar'] / max(reported, 1):.4f}  ({outcome['right or as similar']}/{reported})")
    precise = totals["annotated"] + totals["identical"]
    linked = precise + totals["linked"]
    print(f"pairs reported (fragments, not whole files): {totals['pairs']}; annotated {totals['annotated']}, "
          f"identical after normalisation {totals['identical']}, provenance-linked {totals['linked']}, "
          f"unverified {totals['unverified']}")
    print(f"  precision, strict (annotated or identical) {precise / max(totals['pairs'], 1):.4f}  "
          f"({precise}/{totals['pairs']})")
    print(f"  precision by provenance (annotated, identical or linked) {linked / max(totals['pairs'], 1):.4f}  "
          f"({linked}/{totals['pairs']})")
    for relative, label, reason, best in failures:
        where = f" -> {best[0]}:{best[1]}-{best[2]}" if best else ""
        print(f"  label not found ({reason}): {relative}:{label.start_line} {label.qualname} <- "
              f"{label.source_path}:{label.source_start} {label.source_qualname}{where}")
    rng = random.Random(args.seed)
    for pair in rng.sample(unverified, min(args.sample, len(unverified))):
        print(f"  unverified: {_pair_line(*pair)}")
    if args.unverified_out:
        with open(args.unverified_out, "w", encoding="utf-8") as out:
            out.writelines(_pair_line(*pair) + "\n" for pair in unverified)


def _extract_models(wheel: Path, destination: Path) -> tuple[Path, str]:
    """Extract the wheel's transformers/models/ folder under `destination`; returns it and the wheel's version."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(destination, [name for name in names if name.startswith("transformers/models/")])
        metadata_file = next(name for name in names if name.endswith(".dist-info/METADATA"))
        release = email.message_from_bytes(archive.read(metadata_file))["Version"]
    return destination / "transformers" / "models", release


def _pair_line(relative: str, span: tuple, best: tuple, jaccard: float) -> str:
    return f"{relative}:{span[0]}-{span[1]} -> {best[0]}:{best[1]}-{best[2]} (J={jaccard:.2f})"


if __name__ == "__main__":
    main()
