"""A real, throw-away redis-server for tests and benches: loopback, free port, temp dir, no persistence.

Debian's `redis-server` package provides the binary (`.ci/run` installs it). Without it, tests skip, except under CI
(`CI` set), where a missing server is a failure: the shared-index tests must run there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_redis_server() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server not installed (Debian package redis-server; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


@contextmanager
def redis_server(binary: str = "redis-server") -> Iterator[str]:
    """Start redis-server on a free loopback port; yield its URL (db 0); stop it and remove its directory."""
    from provscan.redis_index import wait_for_server

    with tempfile.TemporaryDirectory(prefix="provscan-redis-") as directory:
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", directory, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            wait_for_server(url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
