"""Ctrl-C latency: how long provscan takes to exit after an interrupt, mid corpus build and mid scan.

A terminal's Ctrl-C sends SIGINT to the whole foreground process group (provscan and its worker processes), so this
script starts each command in a process group of its own and signals the group, as a terminal would. It waits for
an observable state before signalling: `--delay` seconds after start (the same for every version measured), and for
the build also until its worker processes exist. Reported: seconds from the signal to the exit of every process of
the group, the exit code, and whether stderr carries a traceback.

    python bench/interrupt_latency.py [--runs 3] [--delay 3] [--load 2]

`--load N` keeps N busy-looping processes running meanwhile (a loaded CI machine).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, make_submission, private_cache, transformers_models


def _processes() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, state) of every process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found.append((int(entry.name), int(fields[1]), int(fields[2]), fields[0]))
    return found


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies do not count: reaping an orphan is the init's job,
    and some containers' init does it only every few seconds)."""
    return any(group == pgid and state != "Z" for _pid, _parent, group, state in _processes())


def _children(pid: int) -> list[int]:
    return [child for child, parent, _group, _state in _processes() if parent == pid]


def interrupt_once(command: list[str], delay: float, want_workers: int) -> tuple[float, int, str]:
    """(seconds from the signal to the group's exit, exit code, the traceback on stderr or "")."""
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, process_group=0,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay)
        while want_workers and len(_children(process.pid)) < want_workers and process.poll() is None:
            time.sleep(0.05)
        if process.poll() is not None:
            sys.exit(f"{command} finished before the interrupt; use a smaller --delay")
        signalled = time.perf_counter()
        os.killpg(process.pid, signal.SIGINT)
        process.wait()
        while _group_alive(process.pid):
            time.sleep(0.01)
        seconds = time.perf_counter() - signalled
        err.seek(0)
        stderr = err.read()
        return seconds, process.returncode, stderr[stderr.find("Traceback"):] if "Traceback" in stderr else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds after start before the interrupt")
    parser.add_argument("--load", type=int, default=0, help="busy processes to run meanwhile")
    args = parser.parse_args()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        measure(args)
    finally:
        for burner in burners:
            burner.kill()


def measure(args) -> None:
    cache = private_cache()
    provscan = [sys.executable, "-m", "provscan"]
    submission = Path(tempfile.mkdtemp(prefix="provscan-interrupt-")) / "submission"
    make_submission(submission, 50_000)
    cases = {
        "corpus add (whole transformers models/, --jobs 2)": (
            [*provscan, "corpus", "add", "big", str(transformers_models()), "--jobs", "2"], 2),
        "scan of a 50k-line submission (licence detection on, --jobs 2)": (
            [*provscan, "scan", str(submission), "--corpus", "small", "--jobs", "2"], 0),
    }
    small = subprocess.run([*provscan, "corpus", "add", "small", str(transformers_models() / "llama")], cwd=REPO,
                           capture_output=True, text=True)
    if small.returncode:
        sys.exit(small.stderr)
    print(f"cache {cache}; {args.runs} runs each, SIGINT to the process group {args.delay:.1f} s after start; "
          f"{args.load} busy process(es) beside")
    for label, (command, workers) in cases.items():
        outcomes = [interrupt_once(command, args.delay, workers) for _ in range(args.runs)]
        seconds = [s for s, _code, _tb in outcomes]
        print(f"{label}: exit after {statistics.median(seconds):.2f} s median "
              f"({', '.join(f'{s:.2f}' for s in seconds)}); exit codes {sorted({c for _s, c, _tb in outcomes})}; "
              f"tracebacks {sum(bool(tb) for _s, _c, tb in outcomes)}")
        for traceback in {tb for _s, _c, tb in outcomes if tb}:
            print(f"  traceback seen:\n{traceback}", file=sys.stderr)


if __name__ == "__main__":
    main()
