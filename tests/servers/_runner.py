"""Start an ASGI app on 127.0.0.1 in a thread or a subprocess, on a free port, and stop it again."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["free_port", "run_in_thread", "start_script", "wait_until_up"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def run_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread; yield its base URL ``http://127.0.0.1:PORT``."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"test-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            msg = f"test server on port {port} did not start"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def wait_until_up(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    """Poll ``url`` until it answers (any HTTP status) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            msg = f"server process exited with {proc.returncode} before {url} answered"
            raise RuntimeError(msg)
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    msg = f"{url} did not answer within {timeout} s"
    raise TimeoutError(msg)


def start_script(script: str, port: int, *args: str) -> subprocess.Popen[bytes]:
    """Run ``tests/servers/<script>`` as a subprocess on ``port``; return once it answers ``/health``."""
    path = Path(__file__).with_name(script)
    proc = subprocess.Popen(
        [sys.executable, str(path), "--port", str(port), *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout=30)
    return proc
