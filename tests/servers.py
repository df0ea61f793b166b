"""Real server processes for the tests: ``semsearch serve`` and ``semsearch mcp --http``
on a free loopback port."""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SEMSEARCH = str(Path(sys.executable).parent / "semsearch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``semsearch serve`` process, ready once /health answers."""

    def __init__(
        self, index: Path, *args: str, cwd: Path | None = None, max_files: int | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [SEMSEARCH, "serve", "--index", str(index), "--port", str(self.port), *args],
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            preexec_fn=None if max_files is None else lambda: _limit_files(max_files),
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stderr.read())
            try:
                if httpx.get(self.url + "/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def post(self, path: str, body: object, timeout: float = 60, **kw: object) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=timeout, **kw)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)


def start_mcp_http(index: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``semsearch mcp --http`` on ``index``, once it listens: the process and its URL."""
    port = free_port()
    process = subprocess.Popen(
        [SEMSEARCH, "mcp", "--http", "--port", str(port), "--index", str(index), *args],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120  # the models load before the server listens
    while True:
        assert process.poll() is None, "the MCP server exited"
        assert time.monotonic() < deadline, "the MCP server did not start"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        time.sleep(0.2)


def _limit_files(n: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
