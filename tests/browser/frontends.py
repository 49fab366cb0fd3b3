"""Shared pieces of the front-end tests: a server process on 127.0.0.1, a test notebook, chatting in a page.

Every wait is bounded; a server that does not come up fails the test with the end of its log.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nbformat

from .conftest import ARTIFACTS, free_port, with_labextension

# A chat function that streams a fixed answer word by word (~0.06 s a word): fast, deterministic, visibly streamed.
ECHO_CODE = '''\
import time

import nbchat


def echo(message, history):
    """Stream back the question and its turn number (earlier user messages + 1)."""
    turn = 1 + sum(1 for m in history if m["role"] == "user")
    words = f"You said: {message}. Turn {turn}; this answer streams word by word.".split()
    for word in words:
        time.sleep(0.06)
        yield word + " "
'''


def write_notebook(path: Path, *cells: str) -> Path:
    """Write a notebook of code cells (python3 kernel) to ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


class Server:
    """A server process started by a test; its output goes to ``log``."""

    def __init__(self, command: Sequence[str], log: Path, *, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its kernels too
        )

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_http(self, url: str, timeout: float) -> None:
        """Wait until ``url`` answers with any HTTP status (bounded by ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                msg = f"server exited with {self.process.returncode} before {url} answered:\n{self.log_tail()}"
                raise AssertionError(msg)
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    msg = f"{url} did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                    raise AssertionError(msg) from None
                time.sleep(0.3)

    def wait_for_log(self, text: str, timeout: float) -> str:
        """Wait until ``text`` appears in the output; return the output so far."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.log.read_text(errors="replace")
            if text in out:
                return out
            if self.process.poll() is not None or time.monotonic() > deadline:
                msg = f"{text!r} did not appear in the server's output within {timeout:.0f} s:\n{self.log_tail()}"
                raise AssertionError(msg)
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` to the server, wait (bounded), then kill its process group if needed; return its status."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):  # kernels it left behind, if any
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log_file.close()
        return int(self.process.returncode)


@contextlib.contextmanager
def running(command: Sequence[str], log: Path, *, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start a :class:`Server` and stop it when the block ends."""
    server = Server(command, log, cwd=cwd, env=env)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def notebook7(root: Path, tmp: Path) -> Iterator[Callable[[str], str]]:
    """Jupyter Notebook 7 serving ``root`` on 127.0.0.1, with this tree's nbchat labextension; yields
    ``url(path)`` (authenticated). ``window.jupyterapp`` is exposed: tests read and run the notebook through it."""
    settings = tmp / "settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    env = with_labextension({"JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(settings)}, tmp)
    with running(command, tmp / "notebook.log", cwd=root, env=env) as server:
        base = f"http://127.0.0.1:{port}"
        server.wait_for_http(f"{base}/api/status?token={token}", timeout=90)
        yield lambda path: f"{base}/{path}{'&' if '?' in path else '?'}token={token}"


def wait_ready(page: Any, chat: Any, timeout_ms: int = 120_000) -> None:
    """Wait until the widget says its model is ready (``.nbchat[data-status="ready"]``)."""
    page.wait_for_function("(el) => el.dataset.status === 'ready'", arg=chat.element_handle(), timeout=timeout_ms)


def open_web_chat(server: Server, page: Any, *, start_s: float = 90, ready_ms: int = 180_000) -> Any:
    """Wait for ``nbchat web``'s URL in ``server``'s output, open it in ``page`` and wait for a ready chat; returns
    the chat (a locator of ``.nbchat``)."""
    out = server.wait_for_log("Press Ctrl+C to stop.", timeout=start_s)
    url = re.search(r"^\s+(http://127\.0\.0\.1:\d+/)$", out, re.MULTILINE)  # the page's URL, not a model's
    assert url is not None, out
    page.goto(url.group(1))
    chat = page.locator(".nbchat").first
    chat.wait_for(timeout=ready_ms)
    wait_ready(page, chat, timeout_ms=ready_ms)
    return chat


# Records, in the page, the length of the streaming reply's text at each change of the chat's DOM: the samples do not
# depend on how fast the test process can poll the browser (a loaded machine may poll only once or twice per reply).
WATCH = """(root) => {
  window.__nbchatLengths = [];
  const observer = new MutationObserver(() => {
    const streaming = root.querySelector('[data-role=assistant][data-status=streaming]');
    if (streaming) window.__nbchatLengths.push(streaming.textContent.length);
  });
  observer.observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
  window.__nbchatWatch = observer;
}"""


def chat_and_watch(page: Any, chat: Any, text: str, *, timeout_ms: int = 60_000) -> tuple[str, list[int]]:
    """Type ``text`` into the chat, press Enter, record the reply's length while it streams; wait until it is done.

    Returns the reply's text and the lengths seen at each change of the view (several different ones: it streamed).
    """
    done_before = chat.locator('[data-role="assistant"][data-status="done"]').count()
    box = chat.get_by_label("Message", exact=True)
    box.fill(text)
    chat.evaluate(WATCH)
    box.press("Enter")
    page.wait_for_function(
        "([root, n]) => root.querySelectorAll('[data-role=assistant][data-status=done]').length > n",
        arg=[chat.element_handle(), done_before],
        timeout=timeout_ms,
    )
    lengths: list[int] = page.evaluate("() => { window.__nbchatWatch.disconnect(); return window.__nbchatLengths; }")
    reply = chat.locator('[data-role="assistant"][data-status="done"]').last.inner_text()
    return reply, lengths


def grew(lengths: list[int]) -> bool:
    """Whether a sampled reply grew in at least three visible steps."""
    return len({n for n in lengths if n > 0}) >= 3


def screenshot(target: Any, name: str) -> Path:
    """Save a screenshot of ``target`` (page or element) as tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path
