"""File-pair similarity on a public labelled plagiarism data set: how well each score separates the pairs labelled
plagiarised from those labelled not, as best-threshold F1 (with its precision, recall and threshold), average
precision and ROC AUC, for provscan's shingle-set scores beside Dolos (https://dolos.ugent.be) on the same pairs.

    python bench/pair_ranking.py [--source PATH] [--version 1|2] [--no-dolos] [--min-tokens 30]

Data set: ConPlag, "Towards a Dataset of Programming Contest Plagiarism in Java" (Slobodkin and Sadovnikov, 2023,
arXiv:2303.10763; published on Zenodo, record 7332790, under CC BY 4.0). Java solutions submitted to a Codeforces
contest (21 problems); pairs that existing detectors showed to be trivially unrelated were left out and the rest
labelled plagiarised / not plagiarised by hand; version 1 is the submissions as sent ("raw"), version 2 the same
pairs with the participants' own template code (fast readers, helper libraries) removed by hand. Every pair is two
solutions of the same problem, so the negatives are hard ones: the same algorithm written twice.

Obtaining it: this machine reaches no Zenodo, so the bench reads a copy of the data set's own repository layout
(versions/labels.csv, versions/version_1, versions/version_2, train_pairs.csv, test_pairs.csv) from `--source`: a
git directory (a public GitHub repository that carries it, Luis-ERP/code-plagarism-detector at commit 248a399,
brought here with the search tool's `fetch`; used by default when it is at /work/.mirror/...), a directory holding
versions/labels.csv, or Zenodo's zip. It is unpacked into bench/out/pair_ranking/ (git-ignored) when the bench
runs (once: delete that folder to unpack another `--source`); nothing of it is committed. That copy's labels.csv
holds 910 pairs (250 plagiarised, 660 not; the paper says 911 and 251), and its version_2 folder has one unlabelled
pair more; the bench uses the labelled ones. a_in_b / b_in_a follow labels.csv's order (sub1, sub2), which says
nothing about who copied whom: max / min containment are the symmetric ones.

Figures: for each score the threshold with the best F1 over all labelled pairs (an oracle threshold, as the data
set's authors report per tool), its precision and recall, average precision and ROC AUC; then the threshold that
is best on the data set's own train split applied to its test split (`test F1`, the honest figure). Dolos runs
once per problem on that problem's files (its pair similarity does not depend on the other files of a run: no
fingerprint filter), with its defaults k = 23, window 17. provscan's scores come from `provscan_scores`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import REPO

OUT = REPO / "bench/out/pair_ranking"
MIRROR = Path("/work/.mirror/Luis-ERP+code-plagarism-detector/repo")
COMMIT = "248a39929819e260eea17dcff8ac4d0ba8a18621"
LABELS_SHA256 = "ef5f0ff357a2ab64bbec4d0de3caef97896dd45011c1e12628f645e984bcab21"
SCORES = ("a_in_b", "b_in_a", "max_containment", "min_containment", "jaccard", "dice")

Pair = tuple[Path, Path]


@dataclass(frozen=True)
class LabelledPair:
    left: Path
    right: Path
    problem: str
    plagiarised: bool
    split: str  # "train", "test" or "" (in neither list)


# --- the data set -------------------------------------------------------------------------------------------------


def obtain(source: Path | None) -> Path:
    """Unpack ConPlag under bench/out/pair_ranking/ (once) and return its `versions` folder."""
    done = OUT / "conplag/versions"
    if (done / "labels.csv").is_file():
        return done
    source = source or (MIRROR if MIRROR.is_dir() else None)
    if source is None or not source.exists():
        sys.exit("ConPlag not found: pass --source with a git directory, folder or zip holding versions/labels.csv "
                 "(Zenodo record 7332790, or the GitHub copy Luis-ERP/code-plagarism-detector, e.g. brought here "
                 "with the search tool's fetch)")
    target = OUT / "conplag"
    target.mkdir(parents=True, exist_ok=True)
    print(f"pair_ranking: unpacking ConPlag from {source} into {target}", file=sys.stderr)
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            safe_extract_zip(archive, target / "zip")
        found = sorted((target / "zip").rglob("versions/labels.csv"))
        if not found:
            sys.exit(f"{source}: no versions/labels.csv inside")
        found[0].parent.rename(done)
    elif (source / "versions/labels.csv").is_file():
        import shutil

        shutil.copytree(source / "versions", done)
    else:  # a git directory (bare, as fetch brings it, or a clone's .git)
        revision = COMMIT if git_has(source, COMMIT) else "HEAD"
        tar = subprocess.run(["git", "--git-dir", str(source), "archive", "--format=tar", revision, "versions"],
                             capture_output=True, check=False)
        if tar.returncode:
            sys.exit(f"{source}: git archive failed: {tar.stderr.decode(errors='replace').strip()}")
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
            archive.extractall(target, filter="data")
    if not (done / "labels.csv").is_file():
        sys.exit(f"{source}: no versions/labels.csv after unpacking")
    return done


def git_has(git_dir: Path, commit: str) -> bool:
    return subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
                          capture_output=True, check=False).returncode == 0


def safe_extract_zip(archive: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for member in archive.infolist():
        path = (target / member.filename).resolve()
        if not path.is_relative_to(root):
            sys.exit(f"zip member escapes the target folder: {member.filename}")
    archive.extractall(target)


def labelled_pairs(versions: Path, version: int) -> list[LabelledPair]:
    """The labelled pairs of one version, each as the two files of its pair folder (`sub1_sub2/sub1.java`): a few
    submissions differ between the folders they appear in, so a pair's files are taken from its own folder."""
    split: dict[str, str] = {}
    for name in ("train", "test"):
        listing = versions / f"{name}_pairs.csv"
        if listing.is_file():
            split.update({line.strip(): name for line in listing.read_text().split() if line.strip()})
    pairs = []
    with open(versions / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            key = f"{row['sub1']}_{row['sub2']}"
            folder = versions / f"version_{version}" / key
            left, right = folder / f"{row['sub1']}.java", folder / f"{row['sub2']}.java"
            if not (left.is_file() and right.is_file()):
                print(f"pair_ranking: {key} has no files in version_{version}; left out", file=sys.stderr)
                continue
            pairs.append(LabelledPair(left, right, row["problem"], row["verdict"].strip() == "1", split.get(key, "")))
    return pairs


# --- provscan's scores --------------------------------------------------------------------------------------------


def provscan_scores(pairs: list[Pair], min_tokens: int = 30) -> dict[Pair, dict[str, float]]:
    """provscan's file-pair similarity (`provscan.pairsim`: shingle sets of k = 9 normalised tokens, containment
    both ways, score = the larger) of each labelled pair, beside the other set measures tried for the default
    score: the smaller containment, Jaccard and Dice. A file that does not parse gets an empty set (scores 0)."""
    from provscan.fingerprint import AnalysisJob, FingerprintedFile, FingerprintSettings, analyse
    from provscan.pairsim import ShingledFile, pair_similarities, shingle_set

    settings = FingerprintSettings()
    files: dict[Path, ShingledFile] = {}
    for path in {path for pair in pairs for path in pair}:
        result = analyse(AnalysisJob(str(path), path.read_text(encoding="utf-8", errors="replace"), settings,
                                     min_tokens=min_tokens))
        if isinstance(result, FingerprintedFile):
            found = shingle_set(result.normalised.codes, result.normalised.lines, settings.k)
        else:
            print(f"pair_ranking: provscan skipped {path.name}: {result.detail}", file=sys.stderr)
            found = np.empty(0, dtype=np.uint64)
        files[path] = ShingledFile(str(path), str(path), found)
    scores = {}
    for a, b in pairs:
        similar = pair_similarities([files[a]], [files[b]])
        sa, sb = files[a].shingles.size, files[b].shingles.size
        if not similar:
            scores[(a, b)] = dict.fromkeys(("a_in_b", "b_in_a", "max_containment", "min_containment", "jaccard",
                                            "dice"), 0.0)
            continue
        pair = similar[0]
        shared = pair.shared
        scores[(a, b)] = {"a_in_b": pair.a_in_b, "b_in_a": pair.b_in_a, "max_containment": pair.score,
                          "min_containment": min(pair.a_in_b, pair.b_in_a),
                          "jaccard": shared / (sa + sb - shared), "dice": 2 * shared / (sa + sb)}
    return scores


# --- Dolos --------------------------------------------------------------------------------------------------------


def dolos_scores(pairs: list[LabelledPair]) -> tuple[dict[Pair, float], float, int] | None:
    """Dolos's similarity of each labelled pair (0 where Dolos reports none), its total wall time and the number of
    files it left out; None when Dolos cannot be had. One run per problem, on the files of that problem's pairs."""
    from peers.dolos import ensure_dolos, run_dolos

    if ensure_dolos() is None:
        return None
    by_problem: dict[str, set[Path]] = defaultdict(set)
    for pair in pairs:
        by_problem[pair.problem].update((pair.left, pair.right))
    found: dict[frozenset[Path], float] = {}
    seconds, left_out = 0.0, 0
    for problem, files in sorted(by_problem.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0):
        run = run_dolos(sorted(files), language="java")
        if not run.finished:
            sys.exit(f"dolos failed on problem {problem}: {run.error}")
        seconds += run.seconds
        left_out += len(run.file_errors)
        for left, right, similarity, _ in run.pairs:
            found[frozenset((left.resolve(), right.resolve()))] = similarity
    scores = {(p.left, p.right): found.get(frozenset((p.left.resolve(), p.right.resolve())), 0.0) for p in pairs}
    return scores, seconds, left_out


# --- metrics ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    f1: float
    precision: float
    recall: float
    threshold: float
    average_precision: float
    roc_auc: float


def sweep(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of "score >= t" at every distinct score t, highest t first."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order].astype(float)
    last = np.r_[np.flatnonzero(np.diff(ranked)), ranked.size - 1]  # the last index of each run of equal scores
    tp = np.cumsum(hits)[last]
    predicted = last + 1.0
    positives = max(hits.sum(), 1.0)
    return ranked[last], tp / predicted, tp / positives


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """(F1, precision, recall, threshold) at the threshold with the best F1 (the highest such threshold)."""
    thresholds, precision, recall = sweep(scores, labels)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=precision + recall > 0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(precision[best]), float(recall[best]), float(thresholds[best])


def f1_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    predicted = scores >= threshold
    tp = float(np.sum(predicted & labels))
    return 2 * tp / (predicted.sum() + labels.sum()) if predicted.sum() + labels.sum() else 0.0


def ranking(scores: np.ndarray, labels: np.ndarray) -> Ranking:
    f1, precision, recall, threshold = best_threshold(scores, labels)
    _, p, r = sweep(scores, labels)
    average_precision = float(np.sum(np.diff(np.r_[0.0, r]) * p))  # sum of (R_n - R_n-1) * P_n, as scikit-learn
    # ROC AUC as the Mann-Whitney statistic: the chance a plagiarised pair outscores an unrelated one, ties half.
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    auc = (ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg) if n_pos and n_neg else float("nan")
    return Ranking(f1, precision, recall, threshold, average_precision, float(auc))


# --- main ---------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="git dir, folder or zip holding ConPlag's versions/labels.csv")
    parser.add_argument("--version", type=int, choices=(1, 2), default=1, help="1 raw (default), 2 template-free")
    parser.add_argument("--no-dolos", action="store_true", help="leave out the Dolos row")
    parser.add_argument("--min-tokens", type=int, default=30, help="provscan's fragment size floor (file scores "
                        "use the whole file's tokens either way)")
    args = parser.parse_args()

    versions = obtain(args.source)
    digest = hashlib.sha256((versions / "labels.csv").read_bytes()).hexdigest()
    if digest != LABELS_SHA256:
        print(f"pair_ranking: labels.csv is not the pinned copy (sha256 {digest[:12]}); figures not comparable with "
              "earlier runs", file=sys.stderr)
    pairs = labelled_pairs(versions, args.version)
    labels = np.array([p.plagiarised for p in pairs])
    test = np.array([p.split == "test" for p in pairs])
    train = np.array([p.split == "train" for p in pairs])
    files = {path for p in pairs for path in (p.left, p.right)}
    print(f"ConPlag version {args.version} ({'raw' if args.version == 1 else 'template-free'}), Java: {len(pairs)} "
          f"labelled pairs ({int(labels.sum())} plagiarised, {int((~labels).sum())} not) in "
          f"{len({p.problem for p in pairs})} problems, {len(files)} files; train/test split {int(train.sum())}/"
          f"{int(test.sum())} pairs ({int(labels[train].sum())}/{int(labels[test].sum())} plagiarised)")
    prevalence = labels.mean()
    print(f"everything called plagiarised: F1 {2 * prevalence / (1 + prevalence):.3f} (precision {prevalence:.3f})\n")

    columns: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    ours = provscan_scores([(p.left, p.right) for p in pairs], args.min_tokens)
    provscan_seconds = time.perf_counter() - started
    for name in SCORES:
        columns[f"provscan {name}"] = np.array([ours[(p.left, p.right)][name] for p in pairs])
    notes = [f"provscan scores: {provscan_seconds:.1f} s in this process"]
    if not args.no_dolos:
        got = dolos_scores(pairs)
        if got is None:
            notes.append("Dolos: not available (see stderr); row left out")
        else:
            dolos, seconds, left_out = got
            columns["dolos similarity"] = np.array([dolos[(p.left, p.right)] for p in pairs])
            notes.append(f"Dolos: {seconds:.1f} s over {len({p.problem for p in pairs})} runs, "
                         f"{left_out} file(s) it could not handle (scored 0)")

    print(f"{'score':<26} {'best F1':>7} {'prec':>6} {'recall':>6} {'thresh':>7} {'AP':>6} {'ROC AUC':>7}"
          f" {'test F1':>7} {'(train thr)':>11}")
    for name, scores in columns.items():
        r = ranking(scores, labels)
        if train.any() and test.any():
            threshold = best_threshold(scores[train], labels[train])[3]
            honest = f"{f1_at(scores[test], labels[test], threshold):>7.3f} {threshold:>11.3f}"
        else:
            honest = f"{'-':>7} {'-':>11}"
        print(f"{name:<26} {r.f1:>7.3f} {r.precision:>6.3f} {r.recall:>6.3f} {r.threshold:>7.3f} "
              f"{r.average_precision:>6.3f} {r.roc_auc:>7.3f} {honest}")
    print("\n" + "\n".join(notes))

    table = OUT / f"scores-version{args.version}.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["left", "right", "problem", "plagiarised", "split", *columns])
        for index, p in enumerate(pairs):
            writer.writerow([p.left.name, p.right.name, p.problem, int(p.plagiarised), p.split,
                             *(f"{columns[name][index]:.6f}" for name in columns)])
    print(f"per-pair scores: {table.relative_to(REPO)}")


if __name__ == "__main__":
    main()
