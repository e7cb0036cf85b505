"""False code-matches on independent code that has the shape of transformers code: other frameworks' ports of
transformers models (MLX, Keras, JAX, Paddle) and independent PyTorch re-implementations, next to unrelated code
(bench/false_matches.py's ten packages), all scanned against the full default corpus.

    python bench/false_matches_ports.py [--scan-args "--min-similarity 0.4"] [--seed 0]

Ports and re-implementations may hold real copies (a helper taken from transformers, with or without a "Copied
from" note), so their HIGH/MEDIUM code-matches are not all false: every one is written with both sides' code to
bench/out/ports/findings.md (in a seeded random order per kind, so reading from the top is a fixed-seed sample;
the findings themselves, with their keys, in findings.json beside it), and a reviewer's verdict per finding is
kept in bench/data/ports_judged.tsv (package, path, fragment, source project, source name, verdict copied or
not-copied, reason). The bench counts judged not-copied findings as false, reports the
unjudged ones separately and extrapolates them by the not-copied share of the judged ones of their kind.
Findings of the unrelated packages are all false.

The wheels, pinned below, are downloaded with `pip download --no-deps` into bench/out/ports/ (git-ignored) when the
bench runs and are not there yet (it says so). They are read as data only: the scanned paths are copied out of
the archive into a temporary folder, never installed, imported or executed. Scans run one at a time.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from common import REPO, build_default_corpus, private_cache, transformers_models
from false_matches import packages as unrelated_packages

OUT = REPO / "bench" / "out" / "ports"
JUDGED = REPO / "bench" / "data" / "ports_judged.tsv"
JUDGED_COLUMNS = ("package", "path", "fragment", "source_project", "source_name", "verdict", "reason")
SERIOUS = ("high", "medium")
KINDS = ("port", "reimpl", "unrelated")
KIND_NAMES = {"port": "other-framework ports", "reimpl": "PyTorch re-implementations", "unrelated": "unrelated"}
# Lines of a scanned file that say where its code came from: shown beside each finding to help the verdict.
ATTRIBUTION_WORDS = ("copied from", "adapted from", "modified from", "ported from", "borrowed from", "taken from",
                     "based on", "transformers", "huggingface", "hugging face")


@dataclass(frozen=True)
class Package:
    name: str  # PyPI name
    version: str
    kind: str  # "port" or "reimpl"
    paths: tuple[str, ...]  # archive folders (ending in "/") or files scanned; the package's model code

    @property
    def label(self) -> str:
        return f"{self.name}=={self.version}"


PACKAGES = (
    # (a) other-framework ports of transformers models
    Package("mlx-lm", "0.32.2", "port", ("mlx_lm/models/",)),
    Package("mlx-vlm", "0.7.10", "port", ("mlx_vlm/models/",)),
    Package("keras-hub", "0.32.0", "port", ("keras_hub/src/models/",)),
    Package("easydel", "0.3.0", "port", ("easydel/modules/",)),
    Package("paddlenlp", "2.8.1", "port", ("paddlenlp/transformers/",)),
    # (b) independent PyTorch re-implementations
    Package("litgpt", "0.5.13", "reimpl", ("litgpt/",)),
    Package("torchtune", "0.6.1", "reimpl", ("torchtune/models/", "torchtune/modules/")),
    Package("nanotron", "0.4", "reimpl", ("nanotron/",)),
    Package("open-clip-torch", "3.3.0", "reimpl", ("open_clip/",)),
    Package("timm", "1.0.31", "reimpl", ("timm/models/", "timm/layers/")),
    Package("flash-linear-attention", "0.6.0", "reimpl", ("fla/models/", "fla/layers/")),
    Package("torchtitan", "0.3.0", "reimpl", ("torchtitan/models/",)),
)

Key = tuple[str, str, str, str, str]


def wheel(package: Package) -> Path:
    """The package's pinned wheel in bench/out/ports/, downloaded first if it is not there."""
    stem = f"{package.name.replace('-', '_')}-{package.version}-"
    found = sorted(OUT.glob(f"{stem}*.whl"))
    if not found:
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"downloading {package.label} (pip download --no-deps) into {OUT.relative_to(REPO)}/", flush=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               package.label, "-d", str(OUT)], capture_output=True, text=True)
        found = sorted(OUT.glob(f"{stem}*.whl"))
        if done.returncode or not found:
            sys.exit(f"{package.label}: pip download failed: {done.stderr.strip()}")
    return found[0]


def extract(package: Package, root: Path) -> Path:
    """Copy the package's scanned paths (Python files only) out of its wheel into root/<name>; returns that folder."""
    target = root / package.name
    with zipfile.ZipFile(wheel(package)) as archive:
        for member in archive.infolist():
            name = PurePosixPath(member.filename)
            if member.is_dir() or name.suffix != ".py" or name.is_absolute() or ".." in name.parts:
                continue
            if not any(member.filename.startswith(p) if p.endswith("/") else member.filename == p
                       for p in package.paths):
                continue
            destination = target.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(member))
    return target


def scan(path: Path, scan_args: str) -> dict[str, Any]:
    with tempfile.TemporaryFile("w+") as out:  # a file, not a pipe: the JSON of a large package is large
        done = subprocess.run([sys.executable, "-m", "provscan", "scan", str(path), "--format", "json",
                               "--no-license-detection", *scan_args.split()], cwd=REPO, stdout=out,
                              stderr=subprocess.PIPE, text=True)
        if done.returncode not in (0, 1):
            sys.exit(f"{path}: {done.stderr}")
        out.seek(0)
        report: dict[str, Any] = json.load(out)
    return report


def key(package: str, finding: dict[str, Any]) -> Key:
    return (package, finding["location"]["path"], finding["submission"]["fragment_name"],
            finding["source"]["project"], finding["source"]["name"])


def load_judged() -> dict[Key, tuple[str, str]]:
    judged: dict[Key, tuple[str, str]] = {}
    if not JUDGED.exists():
        return judged
    for number, line in enumerate(JUDGED.read_text(encoding="utf-8").splitlines(), 1):
        if number == 1 or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(JUDGED_COLUMNS) or fields[5] not in ("copied", "not-copied"):
            sys.exit(f"{JUDGED}:{number}: expected {len(JUDGED_COLUMNS)} tab-separated fields, verdict "
                     f"copied or not-copied")
        judged[(fields[0], fields[1], fields[2], fields[3], fields[4])] = (fields[5], fields[6])
    return judged


def lines_of(path: Path, start: int, end: int) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(f"{n:5d}  {text[n - 1]}" for n in range(start, min(end, len(text)) + 1))


def attribution_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [f"{n}: {line.strip()[:160]}" for n, line in enumerate(text, 1)
            if any(word in line.lower() for word in ATTRIBUTION_WORDS)]


def write_findings(serious: list[tuple[str, Path, dict[str, Any]]], judged: dict[Key, tuple[str, str]],
                   seed: int) -> Path:
    """Every HIGH/MEDIUM code-match of the ports and re-implementations with both sides' code, in a seeded order."""
    models = transformers_models()
    kind_of = {p.name: p.kind for p in PACKAGES}
    parts = [f"# HIGH/MEDIUM code-matches of ports and re-implementations ({len(serious)})\n\nOne section per kind, "
             f"each in an order shuffled with seed {seed}: reading a section from the top reads a fixed-seed "
             f"sample of it.\n"]
    for kind in ("port", "reimpl"):
        order = [entry for entry in serious if kind_of[entry[0]] == kind]
        random.Random(seed).shuffle(order)
        parts.append(f"# {KIND_NAMES[kind]}: {len(order)}\n")
        for number, (package, root, finding) in enumerate(order, 1):
            parts.extend(_finding_md(f"{kind} {number}", package, root, finding, judged, models))
    path = OUT / "findings.md"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    (OUT / "findings.json").write_text(json.dumps([{"key": key(package, finding), "kind": kind_of[package],
                                                    "finding": finding} for package, _, finding in serious],
                                                  indent=1), encoding="utf-8")
    return path


def _finding_md(number: str, package: str, root: Path, finding: dict[str, Any], judged: dict[Key, tuple[str, str]],
                models: Path) -> list[str]:
    parts: list[str] = []
    source, similarity = finding["source"], finding["similarity"]
    submission_file = root / finding["location"]["path"]
    verdict = judged.get(key(package, finding))
    parts.append(f"## {number}. {finding['severity'].upper()} {package}: {finding['location']['path']}:"
                 f"{finding['location']['start_line']}-{finding['location']['end_line']} "
                 f"{finding['submission']['fragment_kind']} {finding['submission']['fragment_name']}\n")
    parts.append(f"- key: `{chr(9).join(key(package, finding))}`")
    parts.append(f"- verdict: {verdict[0] + ' (' + verdict[1] + ')' if verdict else 'UNJUDGED'}")
    parts.append(f"- source: {source['project']}: {source['path']}:{source['start_line']}-{source['end_line']} "
                 f"{source['kind']} {source['name']}; corpus files holding it: {1 + finding['also_in_total']}")
    parts.append(f"- Jaccard {similarity['jaccard']:.2f}, containment {similarity['containment']:.2f} / "
                 f"{similarity['source_containment']:.2f}, aligned {similarity.get('alignment') or 0:.2f}, "
                 f"{similarity['shared_shingles']} shared shingles, {finding['matched_lines']} matched lines; "
                 f"evidence " + ", ".join(f"{e['submission_lines'][0]}-{e['submission_lines'][1]}="
                                          f"{e['source_lines'][0]}-{e['source_lines'][1]}"
                                          for e in finding["evidence"]))
    notes = attribution_lines(submission_file)
    parts.append("- attribution lines in the scanned file: " + ("; ".join(notes[:8]) if notes else "none"))
    parts.append("\nscanned:\n```python\n" + lines_of(submission_file, finding["location"]["start_line"],
                                                     finding["location"]["end_line"]) + "\n```")
    parts.append("source:\n```python\n" + lines_of(models / source["path"], source["start_line"],
                                                   source["end_line"]) + "\n```\n")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scan-args", default="", help="extra `provscan scan` options")
    parser.add_argument("--seed", type=int, default=0, help="seed of findings.md's order (the judged sample)")
    args = parser.parse_args()
    private_cache()
    build_default_corpus()
    judged = load_judged()
    lines: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    serious: list[tuple[str, Path, dict[str, Any]]] = []
    unrelated_serious: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="provscan-ports-") as temp:
        targets: list[tuple[str, str, Path, str]] = [(p.label, p.kind, Path(), ", ".join(p.paths))
                                                     for p in PACKAGES]
        targets += [(path.name, "unrelated", path, str(path)) for path in unrelated_packages()]
        print(f"{'package':<32} {'kind':<9} {'files':>6} {'code lines':>10} {'high':>5} {'medium':>6} {'low':>5}  "
              f"scanned")
        for label, kind, path, shown in targets:
            if kind != "unrelated":
                package = next(p for p in PACKAGES if p.label == label)
                path = extract(package, Path(temp))
            report = scan(path, args.scan_args)
            matches = [f for f in report["findings"] if f["kind"] == "code-match"]
            by_severity = Counter(f["severity"] for f in matches)
            files, code = report["summary"]["files_scanned"], report["summary"]["code_lines"]
            print(f"{label:<32} {kind:<9} {files:>6} {code:>10} {by_severity['high']:>5} {by_severity['medium']:>6} "
                  f"{by_severity['low']:>5}  {shown}", flush=True)
            lines[kind] += code
            counts[kind].update(by_severity)
            for finding in matches:
                if finding["severity"] not in SERIOUS:
                    continue
                if kind == "unrelated":
                    unrelated_serious[f"{label}: {finding['location']['path']}:{finding['location']['start_line']} "
                                      f"{finding['submission']['fragment_name']} <- {finding['source']['path']}:"
                                      f"{finding['source']['start_line']} {finding['source']['name']}"] += 1
                else:
                    serious.append((label.split("==")[0], path, finding))
        findings_md = write_findings(serious, judged, args.seed)
    print(f"\nHIGH/MEDIUM findings of ports and re-implementations with both sides' code: "
          f"{findings_md.relative_to(REPO)}; verdicts read from {JUDGED.relative_to(REPO)} ({len(judged)} rows)")
    if unrelated_serious:
        print("unrelated packages' HIGH/MEDIUM code-matches (all false):")
        for text in sorted(unrelated_serious):
            print(f"    {text}")

    verdicts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    used: set[Key] = set()
    for package, _, finding in serious:
        kind = next(p.kind for p in PACKAGES if p.name == package)
        verdict = judged.get(key(package, finding))
        verdicts[kind][verdict[0] if verdict else "unjudged"] += 1
        if verdict:
            used.add(key(package, finding))
    verdicts["unrelated"]["not-copied"] = counts["unrelated"]["high"] + counts["unrelated"]["medium"]
    judged_all = sum(verdicts[k]["copied"] + verdicts[k]["not-copied"] for k in ("port", "reimpl"))
    pooled = (sum(verdicts[k]["not-copied"] for k in ("port", "reimpl")) / judged_all) if judged_all else None

    print("\nper 10k code lines (code-match findings):")
    print(f"{'kind':<28} {'code lines':>10} {'HIGH':>6} {'MEDIUM':>7} {'HIGH/10k':>9} {'MED/10k':>8} | {'judged':>6} "
          f"{'copied':>6} {'not-cop':>7} {'unjudged':>8} | {'false H+M/10k judged':>20} {'extrapolated':>12}")
    for kind in KINDS:
        code = lines[kind] or 1
        high, medium = counts[kind]["high"], counts[kind]["medium"]
        v = verdicts[kind]
        done = v["copied"] + v["not-copied"]
        rate = v["not-copied"] / done if done else pooled
        estimate = v["not-copied"] + (v["unjudged"] * rate if rate is not None else 0)
        extrapolated = f"{estimate / code * 1e4:.2f}" if rate is not None or not v["unjudged"] else "n/a"
        print(f"{KIND_NAMES[kind]:<28} {lines[kind]:>10} {high:>6} {medium:>7} {high / code * 1e4:>9.2f} "
              f"{medium / code * 1e4:>8.2f} | {done:>6} {v['copied']:>6} {v['not-copied']:>7} {v['unjudged']:>8} | "
              f"{v['not-copied'] / code * 1e4:>20.2f} {extrapolated:>12}")
    for kind in ("port", "reimpl"):
        v = verdicts[kind]
        done = v["copied"] + v["not-copied"]
        if v["unjudged"] and (done or pooled is not None):
            share = f"{v['not-copied'] / done:.0%} of {done} judged" if done else f"pooled {pooled:.0%}"
            print(f"  {KIND_NAMES[kind]}: {v['unjudged']} unjudged HIGH/MEDIUM extrapolated as not-copied at {share}")
    print("  unrelated packages: every HIGH/MEDIUM code-match is false")
    stale = len(judged) - len(used)
    if stale:
        print(f"  {stale} row(s) of {JUDGED.name} match no current HIGH/MEDIUM finding (severity or source changed)")


if __name__ == "__main__":
    main()
