"""Driver for the peer tool Dolos (https://dolos.ugent.be), so benchmarks can put its figures beside provscan's.

Dolos is a published plagiarism detector (tree-sitter tokens, k-gram winnowing with k = 23, window 17). Running it
on the same files gives the accuracy and speed benchmarks an outside reference instead of only our own numbers.
Its CLI is not on the reachable npm registry, its library is: `ensure_dolos` installs it under bench/.peers/ (git
ignored) and `run_dolos` drives it through `dolos_pairs.mjs` in a node process whose time and memory are measured
like provscan's own runs (`common.run_sampled`).

    from peers.dolos import ensure_dolos, run_dolos   # with bench/ on sys.path, as the bench scripts have
    if ensure_dolos():
        run = run_dolos(files)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import REPO, run_sampled  # noqa: E402

PACKAGE = "@dodona/dolos-lib@3.5.1"
DEFAULT_ROOT = REPO / "bench/.peers/dolos"
SCRIPT = Path(__file__).resolve().parent / "dolos_pairs.mjs"

Lines = tuple[int, int]
Fragment = tuple[Lines, Lines]


@dataclass
class DolosRun:
    """One Dolos run. `pairs` are (left, right, similarity, fragments), most similar first; fragments are
    ((left first line, left last line), (right first line, right last line)), 1-based, and empty unless asked for.

    `finished` is False when the run timed out or failed as a whole; `error` then says why (with the last stage the
    run reached, the partial information a killed run leaves). Files Dolos could not handle are listed in
    `file_errors` and left out of the pairs; `error` mentions them too, so a caller checking only `error` sees them.
    """

    pairs: list[tuple[Path, Path, float, list[Fragment]]] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    finished: bool = False
    error: str = ""
    files: int = 0
    file_errors: list[tuple[Path, str]] = field(default_factory=list)
    timings_ms: dict[str, int] = field(default_factory=dict)


def ensure_dolos(root: Path = DEFAULT_ROOT) -> Path | None:
    """Install Dolos's library under `root` once and return `root`, or None (reason printed) when it cannot be had.

    A bench set-up step, not a test: it needs npm and the npm registry, and about 80 s to compile the tree-sitter
    parsers. Benchmarks leave out the peer columns when this returns None instead of failing.
    """
    root = Path(root)
    if (root / "node_modules/@dodona/dolos-lib/package.json").is_file():
        return root
    npm = shutil.which("npm")
    if npm is None:
        print("dolos: npm not found on PATH; Dolos peer figures skipped", file=sys.stderr)
        return None
    print(f"dolos: installing {PACKAGE} into {root} with npm (about 80 s, once)", file=sys.stderr)
    root.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", PACKAGE],
                              capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        print("dolos: npm install took over 15 minutes; Dolos peer figures skipped", file=sys.stderr)
        return None
    if done.returncode != 0 or not (root / "node_modules/@dodona/dolos-lib/package.json").is_file():
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        print(f"dolos: npm install failed (exit {done.returncode}): {tail}; Dolos peer figures skipped",
              file=sys.stderr)
        return None
    return root


def run_dolos(files: list[Path], language: str = "python", fragments: bool = False, timeout: float = 600,
              k: int = 23, window: int = 17, min_fragment_kgrams: int = 1, root: Path = DEFAULT_ROOT) -> DolosRun:
    """Run Dolos on `files` in one node process and return its pairs with wall time and peak memory of the tree.

    Never raises for Dolos's sake: a missing install, a node crash, a timeout or bad files come back in the run's
    `error` / `file_errors`, so a benchmark can print what it has and go on. Does not install: call `ensure_dolos`
    first (an 80 s install must not land inside a timed run). Fragments cost a second pass per pair (3x the time and
    2.5x the memory on 40 modeling files), so they are off unless asked for; Dolos pairs every occurrence of a shared
    k-gram, so boilerplate gives hundreds of one-k-gram fragments per pair, and `min_fragment_kgrams` (Dolos's
    `buildFragments(minimumOccurrences)`) drops fragments made of fewer k-grams.
    """
    root = Path(root)
    if not (root / "node_modules/@dodona/dolos-lib/package.json").is_file():
        return DolosRun(error=f"Dolos is not installed under {root}; call ensure_dolos() first")
    node = shutil.which("node")
    timeout_bin = shutil.which("timeout")
    if node is None or timeout_bin is None:
        return DolosRun(error="node or coreutils timeout not found on PATH")
    # run_sampled runs in REPO, so every path handed to node is absolute; map them back to the caller's Paths.
    by_name = {str(Path(f).resolve()): Path(f) for f in files}
    config = {"dolos_root": str(root.resolve()), "files": list(by_name), "language": language, "k": k,
              "window": window, "fragments": fragments, "min_fragment_kgrams": min_fragment_kgrams}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="dolos-config-", delete=False) as handle:
        json.dump(config, handle)
    try:
        # coreutils timeout (a few hundred kB of RSS, inside the sampled tree) rather than a Python timer, so that
        # run_sampled's measurement is reused unchanged; -k kills node if it ignores SIGTERM.
        command = [timeout_bin, "-k", "10", str(timeout), node, str(SCRIPT), handle.name]
        seconds, peak, stdout, stderr, code = run_sampled(command)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    run = DolosRun(seconds=seconds, peak_rss_mb=peak)
    stages = [line for line in stderr.splitlines() if line.startswith("dolos: ")]
    reached = f"; last stage: {stages[-1][7:]}" if stages else ""
    if code in (124, 137):
        run.error = f"timed out after {timeout:g} s{reached}"
        return run
    try:
        result = json.loads(stdout)
    except json.JSONDecodeError:
        run.error = f"node exited {code} without a result{reached}: {stderr.strip()[-500:]}"
        return run
    if "error" in result:
        run.error = f"{result['error']}{reached}"
        return run

    def back(name: str) -> Path:
        return by_name.get(name, Path(name))

    run.pairs = [(back(p["left"]), back(p["right"]), float(p["similarity"]),
                  [(tuple(f["left"]), tuple(f["right"])) for f in p.get("fragments", [])]) for p in result["pairs"]]
    run.files = result["files"]
    run.file_errors = [(back(e["path"]), f"{e['stage']}: {e['message']}") for e in result["errors"]]
    run.timings_ms = result.get("timings_ms", {})
    run.finished = True
    if run.file_errors:
        run.error = f"{len(run.file_errors)} file(s) left out: " + "; ".join(
            f"{path.name}: {message}" for path, message in run.file_errors[:3])
    return run
