"""provscan and Dolos side by side: clone detection quality per clone type, and cost as the corpus grows.

(a) Mutation suite. Real functions from transformers modeling files (distinct after normalisation, >= 60 tokens)
    are each written to a file of their own ("orig"), plus one mutant per clone type: type 1 (comments stripped,
    re-indented), type 2 (type 1 + every name the function binds renamed) and type 3 (type 2 + statements inserted
    and deleted at 10 % and 30 % of the statements). Real stdlib functions of similar size are the negatives.
    A pair is positive when it is (orig_i, mutant_i of the type). Dolos compares all files with all files; its
    F1 is taken at its best similarity threshold. provscan indexes the originals as a corpus and scans the mutants
    and negatives: its F1 is reported at the default settings, and at its best Jaccard threshold beside Dolos's.
(b) Cost. A ~50k-line submission (see common.make_submission) against growing slices of the models/ folder:
    provscan = `corpus add` (once per corpus) and `scan` of the submission, shown apart; Dolos = one all-vs-all run
    over submission + slice (that is how it works). Wall time and peak memory of each (process trees sampled
    every 20 ms).

    python bench/peer_compare.py [--functions 30] [--negatives 50] [--slices 40,80,160,320] [--dolos-timeout 600]

Dolos is installed under bench/.peers/ when npm is available (bench/peers/README.md); otherwise its columns are
skipped with a message. CI does not run this benchmark.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import shutil
import sys
import sysconfig
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path

from common import make_submission, private_cache, run_sampled, transformers_models
from peers.dolos import ensure_dolos, run_dolos

from tests.mutate import reindent, strip_comments  # noqa: E402

TYPES = ("t1", "t2", "t3-10", "t3-30")


def _functions(path: Path, min_lines: int = 6) -> list[str]:
    """Top-level functions and methods of a file, dedented, as standalone sources."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines = text.splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 >= min_lines:
            found.append(textwrap.dedent("\n".join(lines[node.lineno - 1 : node.end_lineno])) + "\n")
    return found


def _bound_names(source: str) -> list[str]:
    tree = ast.parse(source)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.arg not in ("self", "cls"):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
    return sorted(names, key=len, reverse=True)


def _rename_all(source: str) -> str:
    for number, name in enumerate(_bound_names(source)):
        source = re.sub(rf"\b{re.escape(name)}\b", f"v{number}_{name[:2]}", source)
    return source


def _edit(source: str, rate: float, rng: random.Random) -> str:
    """Insert or delete simple statements at `rate` of the function's body statements (stays valid Python)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    body = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and not isinstance(n, ast.FunctionDef | ast.ClassDef)
            and n.lineno == n.end_lineno]
    count = max(1, round(rate * len(body)))
    for node in sorted(rng.sample(body, min(count, len(body))), key=lambda n: -n.lineno):
        indent = lines[node.lineno - 1][: node.col_offset]
        if rng.random() < 0.5 and not isinstance(node, ast.Return | ast.Pass):
            lines[node.lineno - 1] = f"{indent}pass"
        else:
            lines.insert(node.lineno, f"{indent}_probe = len(str(locals())) % 7")
    edited = "\n".join(lines) + "\n"
    ast.parse(edited)
    return edited


def build_suite(root: Path, functions: int, negatives: int, seed: int) -> tuple[dict, list[Path]]:
    """Write the suite; returns {function index: {"orig": path, type: path}} and the negative files."""
    from provscan.fragments import normalise
    from provscan.index import content_hash
    from provscan.parse import parse_text

    rng = random.Random(seed)
    pool = []
    for path in sorted(transformers_models().glob("*/modeling_*.py"))[::7]:
        pool.extend(_functions(path))
    rng.shuffle(pool)
    seen, chosen = set(), []
    for source in pool:
        normalised = normalise(parse_text("f.py", source), 30)
        if normalised.codes.size < 60 or len(normalised.codes) > 600:
            continue
        digest = content_hash(normalised.codes)
        if digest in seen:
            continue
        try:
            variants = {"t1": reindent(strip_comments(source))}
            variants["t2"] = _rename_all(variants["t1"])
            variants["t3-10"] = _edit(variants["t2"], 0.10, rng)
            variants["t3-30"] = _edit(variants["t2"], 0.30, rng)
        except (SyntaxError, ValueError):
            continue
        seen.add(digest)
        chosen.append((source, variants))
        if len(chosen) == functions:
            break
    suite: dict[int, dict[str, Path]] = defaultdict(dict)
    (root / "orig").mkdir(parents=True)
    (root / "sub").mkdir()
    for index, (source, variants) in enumerate(chosen):
        suite[index]["orig"] = root / "orig" / f"f{index:03d}.py"
        suite[index]["orig"].write_text(source, encoding="utf-8")
        for kind, text in variants.items():
            suite[index][kind] = root / "sub" / f"{kind}_f{index:03d}.py"
            suite[index][kind].write_text(text, encoding="utf-8")
    negative_pool = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        negative_pool.extend(_functions(path, min_lines=8))
    rng.shuffle(negative_pool)
    negative_files = []
    for index, source in enumerate(negative_pool[:negatives]):
        path = root / "sub" / f"neg_{index:03d}.py"
        path.write_text(source, encoding="utf-8")
        negative_files.append(path)
    return suite, negative_files


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def best_threshold_f1(scored: list[tuple[float, bool]], positives: int) -> tuple[float, float]:
    """Best F1 over thresholds on scored pairs (unscored positives count as misses); returns (F1, threshold)."""
    best = (0.0, 1.0)
    scored = sorted(scored, key=lambda item: -item[0])
    tp = fp = 0
    for score, positive in scored:
        tp += positive
        fp += not positive
        best = max(best, (f1(tp, fp, positives - tp)[2], score))
    return best


def evaluate_pairs(pair_scores: dict[tuple[Path, Path], float], suite: dict, negatives: list[Path], kind: str,
                   reported: set | None = None) -> dict:
    """Scores of the (orig, candidate) pairs for one clone type: each mutant of the type, and each negative,
    against every original. `reported` (provscan) are the pairs the tool reported at its defaults."""
    candidates = [entry[kind] for entry in suite.values()] + negatives
    scored = []
    tp = fp = 0
    for entry in suite.values():
        for candidate in candidates:
            positive = candidate == entry[kind]
            score = pair_scores.get((entry["orig"], candidate), 0.0)
            if score > 0:
                scored.append((score, positive))
            if reported is not None and (entry["orig"], candidate) in reported:
                tp += positive
                fp += not positive
    best, threshold = best_threshold_f1(scored, len(suite))
    result = {"best_f1": best, "threshold": threshold}
    if reported is not None:
        result["default"] = f1(tp, fp, len(suite) - tp)
    return result


def provscan_suite(suite: dict, negatives: list[Path], root: Path, extra: tuple[str, ...] = ()
                   ) -> tuple[dict, float, float, set]:
    """Corpus of originals, scan of mutants + negatives; pair score = Jaccard of the best match per file."""
    add = [sys.executable, "-m", "provscan", "corpus", "add", "suite", str(root / "orig")]
    seconds_add, peak_add, _out, err, code = run_sampled(add)
    if code:
        sys.exit(err)
    scan = [sys.executable, "-m", "provscan", "scan", str(root / "sub"), "--corpus", "suite", "--format", "json",
            "--no-license-detection", *extra]
    seconds_scan, peak_scan, out, err, code = run_sampled(scan)
    if code not in (0, 1):
        sys.exit(err)
    report = json.loads(out)
    scores: dict[tuple[Path, Path], float] = {}
    reported = set()
    for finding in report["findings"]:
        if finding["kind"] != "code-match":
            continue
        candidate = root / "sub" / finding["submission"]["path"]
        sources = [finding["source"]] + finding["also_in"]
        for source in sources:
            pair = (root / "orig" / source["path"], candidate)
            scores[pair] = max(scores.get(pair, 0.0), source.get("jaccard", finding["similarity"]["jaccard"]))
            reported.add(pair)
    return scores, seconds_add + seconds_scan, max(peak_add, peak_scan), reported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=30)
    parser.add_argument("--negatives", type=int, default=50)
    parser.add_argument("--slices", default="40,80,160,320")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dolos-timeout", type=float, default=600)
    parser.add_argument("--skip-cost", action="store_true", help="only part (a)")
    parser.add_argument("--no-peer", action="store_true", help="provscan only")
    parser.add_argument("--scan-args", default="", help="extra `provscan scan` options, e.g. '--min-similarity 0.45'")
    args = parser.parse_args()
    private_cache()
    work = Path(tempfile.mkdtemp(prefix="provscan-peer-"))
    dolos = None if args.no_peer else ensure_dolos()

    suite, negatives = build_suite(work / "suite", args.functions, args.negatives, args.seed)
    files = sorted((work / "suite").rglob("*.py"))
    print(f"(a) mutation suite: {len(suite)} functions x {len(TYPES)} clone types, {len(negatives)} negatives, "
          f"{len(files)} files")
    ps_scores, ps_seconds, ps_peak, ps_reported = provscan_suite(suite, negatives, work / "suite",
                                                                  tuple(args.scan_args.split()))
    dolos_scores: dict[tuple[Path, Path], float] = {}
    if dolos:
        run = run_dolos(files, timeout=1200)
        for left, right, similarity, _fragments in run.pairs:
            dolos_scores[(left, right)] = dolos_scores[(right, left)] = similarity
        print(f"    Dolos: {run.seconds:.1f} s, peak {run.peak_rss_mb:.0f} MB, finished={run.finished} {run.error}")
    print(f"    provscan (corpus add + scan): {ps_seconds:.1f} s, peak {ps_peak:.0f} MB")
    print("\n| clone type | provscan P / R / F1 at defaults | provscan best F1 (threshold) "
          "| Dolos best F1 (threshold) |")
    print("|---|---|---|---|")
    for kind in TYPES:
        mine = evaluate_pairs(ps_scores, suite, negatives, kind, ps_reported)
        precision, recall, f1_default = mine["default"]
        theirs = evaluate_pairs(dolos_scores, suite, negatives, kind) if dolos else None
        peer = f"{theirs['best_f1']:.3f} ({theirs['threshold']:.2f})" if theirs else "skipped (no npm/Dolos)"
        print(f"| {kind} | {precision:.3f} / {recall:.3f} / {f1_default:.3f} | {mine['best_f1']:.3f} "
              f"({mine['threshold']:.2f}) | {peer} |")

    if args.skip_cost:
        shutil.rmtree(work, ignore_errors=True)
        return
    counts = make_submission(work / "submission", 50_000)
    submission_files = sorted((work / "submission").glob("*.py"))
    print(f"\n(b) submission: {sum(counts.values())} lines in {len(submission_files)} files")
    print("| corpus slice (modeling files, lines) | provscan corpus add | provscan scan | Dolos all-vs-all |")
    print("|---|---|---|---|")
    modeling = sorted(transformers_models().glob("*/modeling_*.py"))
    for size in (int(s) for s in args.slices.split(",")):
        chosen = modeling[:: max(1, len(modeling) // size)][:size]
        slice_root = work / f"slice{size}"
        slice_root.mkdir()
        for path in chosen:
            shutil.copy(path, slice_root / f"{path.parent.name}__{path.name}")
        lines = sum(p.read_text(encoding="utf-8").count("\n") for p in chosen)
        add = run_sampled([sys.executable, "-m", "provscan", "corpus", "add", f"s{size}", str(slice_root)])
        scan = run_sampled([sys.executable, "-m", "provscan", "scan", str(work / "submission"), "--corpus",
                            f"s{size}", "--format", "json", "--no-license-detection"])
        mine = f"{add[0]:.1f} s, {add[1]:.0f} MB | {scan[0]:.1f} s, {scan[1]:.0f} MB"
        peer = "skipped"
        if dolos:
            run = run_dolos(submission_files + [slice_root / p.name for p in sorted(slice_root.iterdir())],
                            timeout=args.dolos_timeout)
            peer = (f"{run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB" if run.finished
                    else f"did not finish ({run.error})")
        print(f"| {size} files, {lines} lines | {mine} | {peer} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
