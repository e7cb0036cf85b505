"""Driver for the peer tool Dolos (https://dolos.ugent.be), so benchmarks can put its figures beside provscan's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import REPO  # noqa: E402

PACKAGE = "@dodona/dolos-lib@3.5.1"
DEFAULT_ROOT = REPO / "bench/.peers/dolos"


def ensure_dolos(root: Path = DEFAULT_ROOT) -> Path | None:
    root = Path(root)
    if (root / "node_modules/@dodona/dolos-lib/package.json").is_file():
        return root
    npm = shutil.which("npm")
    if npm is None:
        print("dolos: npm not found on PATH; peer columns skipped", file=sys.stderr)
        return None
    print(f"dolos: installing {PACKAGE} into {root} (npm, about 80 s, once)", file=sys.stderr)
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", PACKAGE],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"dolos: npm install failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return root
