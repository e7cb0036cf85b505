"""Opening the default corpus and answering the first query (goal: <= 0.5 s).

In a fresh process: time to open the SQLite index and retrieve + verify the candidates of one real function, with
the imports that path needs counted separately (they are paid once per process). The corpus is built first in a
private cache if needed.

    python bench/index_open.py
"""

from __future__ import annotations

import subprocess
import sys

from common import REPO, private_cache, transformers_models

PROBE = r"""
import time
t0 = time.perf_counter()
import numpy, xxhash, tree_sitter, datasketch  # the scan path's imports
from provscan.corpus import open_corpus, settings_of
from provscan.fingerprint import fingerprint_file
from provscan.fragments import normalise
from provscan.match import MatchSettings, OpenCorpus, find_matches
from provscan.parse import parse_text
t1 = time.perf_counter()
text = open(SOURCE, encoding="utf-8").read()
start = text.index("def repeat_kv")
snippet = text[start : text.index("\n\n\n", start)]
t2 = time.perf_counter()
index = open_corpus("transformers")
meta = index.meta()
corpus = OpenCorpus("transformers", index, settings_of(meta), meta)
fingerprinted = fingerprint_file(normalise(parse_text("q.py", snippet), 30), corpus.settings, 30)
matches = find_matches([fingerprinted], corpus, MatchSettings())
t3 = time.perf_counter()
print(f"imports {t1 - t0:.3f} s; open + fingerprint + first query + verify {t3 - t2:.3f} s; "
      f"{len(matches)} verified matches for repeat_kv")
"""


def main() -> None:
    private_cache()
    build = subprocess.run([sys.executable, "-m", "provscan", "corpus", "build-default"], capture_output=True, cwd=REPO)
    if build.returncode:
        sys.exit(build.stderr.decode())
    source = transformers_models() / "qwen2" / "modeling_qwen2.py"
    for attempt in range(3):
        done = subprocess.run([sys.executable, "-c", f"SOURCE = {str(source)!r}\n" + PROBE], capture_output=True,
                              text=True, cwd=REPO)
        if done.returncode:
            sys.exit(done.stderr)
        print(f"run {attempt + 1}: {done.stdout.strip()}")


if __name__ == "__main__":
    main()
