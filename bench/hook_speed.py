"""Pre-commit hook speed: `provscan hook` on 5 changed files against the default corpus (goal: <= 1.5 s wall), and
`provscan --help` (goal: <= 0.3 s), each a whole process as pre-commit starts it (start-up and imports included).

The 5 files are what a commit might stage: a GLM-4 MoE modeling file with a renamed function pasted in, a mutated
Qwen2 modeling file, and three standard-library modules (original code), 1,549 lines in all. Each figure is the
median of `--repeats` runs after one warm-up run (the corpus is built first, in a private cache directory).

    python bench/hook_speed.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from common import REPO, build_default_corpus, print_load, private_cache, transformers_models

from tests.mutate import mutate


def changed_files(root: Path) -> list[str]:
    models = transformers_models()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    glm = (models / "glm4_moe" / "modeling_glm4_moe.py").read_text(encoding="utf-8")
    start = glm.index("class Glm4MoeTopkRouter")
    (root / "router.py").write_text("import torch\nfrom torch import nn\n\n\n" + glm[start : glm.index("\n\n\n", start)]
                                    .replace("Glm4Moe", "Our") + "\n")
    qwen, _ = mutate((models / "qwen2" / "modeling_qwen2.py").read_text(encoding="utf-8"), {"config": "cfg"}, seed=1)
    (root / "model.py").write_text(qwen)
    for name in ("textwrap.py", "shlex.py", "fnmatch.py"):
        shutil.copy(stdlib / name, root / name)
    return ["router.py", "model.py", "textwrap.py", "shlex.py", "fnmatch.py"]


def wall(command: list[str], cwd: Path, repeats: int) -> tuple[float, float, float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)  # warm-up (and the output)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    private_cache()
    build_default_corpus()
    work = Path(tempfile.mkdtemp(prefix="provscan-hook-bench-"))
    try:
        files = changed_files(work)
        lines = sum((work / f).read_text(encoding="utf-8").count("\n") for f in files)
        hook = [sys.executable, "-m", "provscan", "hook", *files]
        median, low, high, done = wall(hook, work, args.repeats)
        print(f"provscan hook, 5 files ({lines} lines), default corpus: median {median:.3f} s "
              f"(min {low:.3f}, max {high:.3f}, {args.repeats} runs); exit {done.returncode}")
        print("  " + done.stderr.strip().replace("\n", "\n  "))
        print(f"  findings shown: {sum(1 for line in done.stdout.splitlines() if not line.startswith(' '))}")
        median, low, high, _ = wall([sys.executable, "-m", "provscan", "--help"], work, args.repeats)
        print(f"provscan --help: median {median:.3f} s (min {low:.3f}, max {high:.3f})")
        median, low, high, _ = wall([sys.executable, "-c", "pass"], work, args.repeats)
        print(f"python -c pass (interpreter start alone): median {median:.3f} s")
        print_load()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
