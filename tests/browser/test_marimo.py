"""marimo: ``mo.ui.anywidget(nbchat.Chat(...))`` in an app served by ``marimo run`` (headless, no token)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port
from .frontends import ECHO_CODE, chat_and_watch, grew, running, screenshot, wait_ready

pytestmark = pytest.mark.browser

APP = f"""\
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
{"".join("    " + line if line.strip() else line for line in ECHO_CODE.splitlines(keepends=True))}
    chat = mo.ui.anywidget(nbchat.Chat(echo, system_prompt="You are a test double."))
    chat
    return


if __name__ == "__main__":
    app.run()
"""


def test_marimo_app_chat_streams(page: Any, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    command = [
        sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--host", "127.0.0.1", "--port", str(port),
        "--no-token", "--no-sandbox", "--no-skew-protection",
    ]  # fmt: skip
    with running(command, tmp_path / "marimo.log", cwd=tmp_path, env={"MARIMO_SKIP_UPDATE_CHECK": "1"}) as server:
        server.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=60)
        page.goto(f"http://127.0.0.1:{port}/")
        chat = page.locator(".nbchat").first
        chat.wait_for(timeout=90_000)
        wait_ready(page, chat)

        reply, lengths = chat_and_watch(page, chat, "Hello from marimo")
        assert "You said: Hello from marimo. Turn 1" in reply
        assert grew(lengths), f"the reply did not grow in steps: {lengths}"
        reply, _ = chat_and_watch(page, chat, "And again")
        assert "Turn 2" in reply
        screenshot(page, "marimo")
