"""Mutation suite in several languages: provscan and Dolos side by side, per clone type, with ROC/threshold curves.

For each language, real functions are taken from source files on this machine (Python: transformers modeling files;
C: the example programs under /usr/share/doc (zlib, nettle, libxmlsec, ...); C++: libstdc++'s headers; CUDA:
CUB's headers and the CUDA toolkit's device-function headers; Java: the JDK's src.zip; JavaScript: npm's own
node_modules; Go: git's contrib).
Each chosen function (distinct after normalisation, 60-600 tokens) is written to a file of its own ("original"),
with one clone per type (tests/mutate_code.py): type 1 (comments and layout), type 2 (+ identifiers renamed and
literals changed), type 3 (+ 10 % or 30 % of one-line statements deleted or followed by an inserted one). Other
functions of the same collection and size range are the negatives ("similar size and topic"). A candidate whose
stream of grammar leaf types is a near clone (difflib ratio >= 0.6) of a function already taken is left out, as
original or negative: collections such as Thrust are full of generated overload families that are type-2 clones
of each other, and calling those "negatives" would mislabel true clones.

Pairs: for each clone type, every original against every clone of that type and every negative of its language;
positive when the clone was made from that original. Scores:
- provscan at its defaults: the pairs it reports (precision, recall, F1);
- provscan's ROC: a second scan with the gates relaxed (Jaccard >= 0.05, 1 shared shingle) scores each pair by
  the Jaccard of its best match (0 when not reported); best F1 over thresholds and the area under the ROC curve;
- Dolos (when npm could install it): its pair similarity, best F1 over thresholds and ROC area.

    python bench/mutation_suite.py [--languages python,c,cpp,cuda,java,javascript,go] [--functions 30]
                                   [--negatives 30] [--seed 0] [--no-peer] [--scan-args "..."] [--write-docs]

--write-docs replaces the generated section of docs/benchmarks.md with the tables printed. CI runs a small slice of
the same suite (tests/test_mutation_suite.py) with floors, never this script.
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from common import REPO, private_cache, run_sampled, transformers_models
from peers.dolos import ensure_dolos, run_dolos

from tests.clone_suite import LanguageSuite, Scored, build_language, f1, pair_scores, score_pairs, stage  # noqa: E402
from tests.mutate_code import CLONE_TYPES  # noqa: E402

DOLOS_LANGUAGE = {"cuda": "cpp"}  # Dolos has no CUDA grammar; CUDA is C++ with extensions
RELAXED = ("--min-similarity", "0.05", "--min-shared-shingles", "1")
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DOCS_BEGIN = "<!-- mutation-suite: begin (written by bench/mutation_suite.py --write-docs) -->"
DOCS_END = "<!-- mutation-suite: end -->"


def _files(*patterns: str, limit: int = 400) -> Iterator[tuple[str, str]]:
    paths = sorted({p for pattern in patterns for p in glob.glob(pattern, recursive=True)})
    for path in paths[:limit]:
        yield path, Path(path).read_text(encoding="utf-8", errors="replace")


def _jdk_sources(limit: int = 120) -> Iterator[tuple[str, str]]:
    for archive in sorted(glob.glob("/usr/lib/jvm/*/lib/src.zip")):
        if not Path(archive).is_file():
            continue  # a dangling symlink when the JDK's source package is not installed
        with zipfile.ZipFile(archive) as zipped:
            names = [n for n in zipped.namelist() if n.startswith("java.base/java/util/") and n.endswith(".java")]
            for name in names[:limit]:
                yield f"{archive}!{name}", zipped.read(name).decode("utf-8", "replace")
        return


def source_files(language: str) -> Iterator[tuple[str, str]]:
    """(path, text) of the real files this language's functions are drawn from."""
    if language == "python":
        yield from ((str(p), p.read_text(encoding="utf-8")) for p in
                    sorted(transformers_models().glob("*/modeling_*.py"))[::7])
    elif language == "c":
        yield from _files("/usr/share/doc/*/examples/**/*.c", "/usr/share/doc/*/examples_old/*.c")
    elif language == "cpp":
        yield from _files("/usr/include/c++/*/bits/*.tcc", "/usr/include/c++/*/bits/*.h", limit=300)
    elif language == "cuda":
        yield from _files("/usr/local/cuda*/include/cccl/cub/**/*.cuh", "/usr/local/cuda*/include/*.hpp", limit=600)
    elif language == "java":
        yield from _jdk_sources()
    elif language == "javascript":
        yield from _files("/usr/lib/node_modules/npm/node_modules/*/lib/**/*.js", limit=600)
    elif language == "go":
        yield from _files("/usr/share/doc/git/contrib/**/*.go", "/usr/lib/go*/src/**/*.go")


def provscan_pairs(root: Path, extra: tuple[str, ...]) -> tuple[dict[tuple[Path, Path], float], float, float]:
    """Scan root/subs against a corpus of root/corpus (`clone_suite.stage`); pair -> Jaccard of its best match."""
    fresh = not (root / "corpus").exists()
    corpus, subs = stage(root)
    if fresh:
        add = run_sampled([sys.executable, "-m", "provscan", "corpus", "add", "suite", str(corpus)])
        if add[4]:
            sys.exit(add[3])
        print(add[2].strip())  # files, fragments, and how many shingles the corpus counts as boilerplate
    seconds, peak, out, err, code = run_sampled([
        sys.executable, "-m", "provscan", "scan", str(subs), "--corpus", "suite", "--format", "json",
        "--no-license-detection", *extra])
    if code not in (0, 1):
        sys.exit(err)
    return pair_scores(json.loads(out), root), seconds, peak


def dolos_pairs(suite: LanguageSuite) -> tuple[dict[tuple[Path, Path], float], float, float, str]:
    files = suite.originals + [p for kind in CLONE_TYPES for p in suite.clones[kind]] + suite.negatives
    run = run_dolos(files, language=DOLOS_LANGUAGE.get(suite.language, suite.language), timeout=1200)
    pairs: dict[tuple[Path, Path], float] = {}
    for left, right, similarity, _fragments in run.pairs:
        pairs[(left, right)] = pairs[(right, left)] = similarity
    return pairs, run.seconds, run.peak_rss_mb, run.error


# --- output ------------------------------------------------------------------------------------------------------

def _git_commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() or "unknown") + (" with uncommitted changes" if dirty else "")


def write_docs(text: str) -> None:
    docs = REPO / "docs/benchmarks.md"
    current = docs.read_text(encoding="utf-8")
    block = f"{DOCS_BEGIN}\n{text.rstrip()}\n{DOCS_END}"
    if DOCS_BEGIN in current:
        current = re.sub(re.escape(DOCS_BEGIN) + ".*?" + re.escape(DOCS_END), lambda _m: block, current, flags=re.S)
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    docs.write_text(current, encoding="utf-8")
    print(f"wrote the mutation-suite section of {docs}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", default="python,c,cpp,cuda,java,javascript,go")
    parser.add_argument("--functions", type=int, default=30, help="originals per language")
    parser.add_argument("--negatives", type=int, default=30, help="negatives per language")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peer", action="store_true", help="provscan only")
    parser.add_argument("--scan-args", default="", help="extra `provscan scan` options for the default-settings run")
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/benchmarks.md")
    args = parser.parse_args()
    private_cache()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="provscan-mutation-"))
    dolos = None if args.no_peer else ensure_dolos()
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    suites = []
    for language in args.languages.split(","):
        texts = (text for _path, text in source_files(language))
        suite = build_language(work, language, texts, args.functions, args.negatives, rng)
        if len(suite.originals) < 5:
            print(f"{language}: only {len(suite.originals)} usable functions in {suite.files_read} files on this "
                  f"machine; language left out", file=sys.stderr)
            continue
        suites.append(suite)
    defaults, seconds, peak = provscan_pairs(work, tuple(args.scan_args.split()))
    relaxed, _s, _p = provscan_pairs(work, RELAXED)
    say("Functions per language (files read; candidates left out as near clones of one already taken): " + ", ".join(
        f"{s.language} {len(s.originals)}+{len(s.negatives)} ({s.files_read} files; {s.near_clones_left_out})"
        for s in suites))
    say(f"Mutation suite, seed {args.seed}, provscan commit {_git_commit()}; provscan corpus add + scan "
        f"{seconds:.1f} s, peak {peak:.0f} MB (all languages in one run)")
    say()
    say("| language | originals / negatives | clone type | provscan P / R / F1 at defaults | provscan best F1 "
        "(Jaccard) | provscan ROC AUC | Dolos best F1 (similarity) | Dolos ROC AUC |")
    say("|---|---|---|---|---|---|---|---|")
    pooled: dict[str, dict[str, list[Scored]]] = {"provscan": {}, "Dolos": {}}
    totals: dict[str, list[int]] = {}
    for suite in suites:
        peer = dolos_pairs(suite) if dolos else None
        if peer and peer[3]:
            print(f"Dolos on {suite.language}: {peer[3]}", file=sys.stderr)
        for kind in CLONE_TYPES:
            counts = score_pairs(suite, kind, defaults).counts(1e-9)
            precision, recall, f1_default = f1(*counts)
            totals[kind] = [a + b for a, b in zip(totals.get(kind, [0, 0, 0]), counts, strict=True)]
            mine = score_pairs(suite, kind, relaxed)
            pooled["provscan"].setdefault(kind, []).append(mine)
            best, threshold = mine.best_f1()
            theirs = "skipped (no npm/Dolos)"
            if peer:
                scored = score_pairs(suite, kind, peer[0])
                pooled["Dolos"].setdefault(kind, []).append(scored)
                peer_best, peer_threshold = scored.best_f1()
                theirs = f"{peer_best:.3f} ({peer_threshold:.2f}) | {scored.roc_auc():.3f}"
            say(f"| {suite.language} | {len(suite.originals)} / {len(suite.negatives)} | {kind} | {precision:.3f} / "
                f"{recall:.3f} / {f1_default:.3f} | {best:.3f} ({threshold:.2f}) | {mine.roc_auc():.3f} | {theirs} |")
    say()
    say("All languages pooled, provscan at its defaults:")
    say()
    say("| clone type | TP | FP | FN | precision | recall | F1 |")
    say("|---|---|---|---|---|---|---|")
    for kind, (tp, fp, fn) in totals.items():
        precision, recall, score = f1(tp, fp, fn)
        say(f"| {kind} | {tp} | {fp} | {fn} | {precision:.3f} | {recall:.3f} | {score:.4f} |")
    missed = [f"{clone.name} ({suite.language}, Jaccard {relaxed.get((original, clone), 0.0):.2f})"
              for suite in suites for kind in CLONE_TYPES
              for original, clone in zip(suite.originals, suite.clones[kind], strict=True)
              if (original, clone) not in defaults]
    say()
    say(f"Clones missed at the defaults (Jaccard with their original, from the relaxed scan): "
        f"{', '.join(missed) or 'none'}")
    for tool, by_kind in pooled.items():
        if not by_kind:
            continue
        say()
        say(f"Threshold curve, {tool} (all languages pooled; precision / recall / false-positive rate at each "
            f"{'Jaccard' if tool == 'provscan' else 'similarity'} threshold):")
        say()
        say("| clone type | " + " | ".join(f">= {t:.1f}" for t in THRESHOLDS)
            + " | ROC AUC | best F1 (threshold; TP/FP/FN there) |")
        say("|---|" + "---|" * (len(THRESHOLDS) + 2))
        for kind, parts in by_kind.items():
            merged = Scored([s for p in parts for s in p.scores], [b for p in parts for b in p.positive])
            negatives = len(merged.positive) - merged.positives
            cells = []
            for threshold in THRESHOLDS:
                precision, recall, _ = merged.at(threshold)
                fp = merged.counts(threshold)[1]
                cells.append(f"{precision:.2f} / {recall:.2f} / {fp / negatives:.4f}")
            best, threshold = merged.best_f1()
            tp, fp, fn = merged.counts(threshold)
            say(f"| {kind} | " + " | ".join(cells) + f" | {merged.roc_auc():.3f} | {best:.4f} ({threshold:.2f}; "
                f"{tp}/{fp}/{fn}) |")
    if args.write_docs:
        write_docs("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
