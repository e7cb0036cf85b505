"""Start provscan as a terminal would and interrupt it as a terminal's Ctrl-C does, whatever the machine's speed.

A Ctrl-C reaches the whole foreground process group, so each command runs in a group of its own and signals go to
the group. A test runner started in the background (`pytest &`, some CI runners) has SIGINT ignored, and an ignored
signal stays ignored in every child: each command starts with SIGINT's default action restored, as in a terminal.
Tests wait for what a command prints or writes, never for time, and freeze the group (SIGSTOP) while they check
that the moment to interrupt has come, so the command cannot finish in between.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """`python -m provscan ARGS` in a process group of its own; stderr is a pipe to read lines from."""
    return subprocess.Popen(
        [sys.executable, "-m", "provscan", *args], cwd=cwd or REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, process_group=0,
        preexec_fn=_sigint_as_in_a_terminal,
    )


def read_until(process: subprocess.Popen, wanted: Callable[[str], bool]) -> list[str]:
    """stderr lines up to and including the first one `wanted` accepts (fails if the process ends first)."""
    seen = []
    for line in process.stderr:
        seen.append(line)
        if wanted(line):
            return seen
    raise AssertionError(f"the process ended (exit {process.wait()}) without printing the line waited for:\n"
                         + "".join(seen))


def freeze(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGSTOP)


def thaw(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGCONT)


def interrupt_frozen(process: subprocess.Popen) -> None:
    """Ctrl-C to the frozen group, then let it run: the signal is handled before it can do anything else."""
    os.killpg(process.pid, signal.SIGINT)
    thaw(process)
