"""Real server processes (`python -m querybase serve`) on free ports, for tests that need more than one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(env: Mapping[str, str], log_path: Path, timeout: float = 30.0) -> Iterator[str]:
    """Start a server with `env` added to the environment; yield its base URL; stop it afterwards."""
    with server_process(env, log_path, timeout=timeout) as (_process, base):
        yield base


@contextmanager
def server_process(
    env: Mapping[str, str], log_path: Path, *args: str, timeout: float = 30.0
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`running_server` with more arguments for `serve`, yielding the process too."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "querybase", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env={**os.environ, "MB_PLUGINS_DIR": str(log_path.parent / "plugins"), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {timeout}s: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield process, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
