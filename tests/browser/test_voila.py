"""Voila: a notebook rendered as a web app (code hidden); the chat works there as in JupyterLab."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port, with_labextension
from .frontends import ECHO_CODE, chat_and_watch, grew, running, screenshot, wait_ready, write_notebook

pytestmark = pytest.mark.browser


def test_voila_app_chat_streams(page: Any, tmp_path: Path) -> None:
    root = tmp_path / "app"
    notebook = write_notebook(
        root / "savanna guide.ipynb",
        ECHO_CODE,
        "chat = nbchat.Chat(echo, max_new_tokens=64, temperature=0)\nchat",
        # a second chat that shows a reply with a code block: Copy only, no insert buttons (there is no notebook)
        "shown = nbchat.Chat(echo)\n"
        "shown.messages = [{'role': 'user', 'content': 'code?'},\n"
        "                  {'role': 'assistant', 'content': '```python\\nx = 1\\n```'}]\n"
        "shown",
    )
    port = free_port()
    command = [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0", "--show_tracebacks=True",
    ]  # fmt: skip
    # nbchat's labextension is on Voila's path too (Voila loads lab extensions): it must not mark the page there
    env = with_labextension({}, tmp_path)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    with running(command, tmp_path / "voila.log", cwd=root, env=env) as server:
        server.wait_for_log("Voilà is running at", timeout=60)
        page.goto(f"http://127.0.0.1:{port}/")
        chat = page.locator(".nbchat").first
        chat.wait_for(timeout=90_000)
        wait_ready(page, chat)
        assert page.locator("text=def echo").count() == 0  # Voila hides the code
        assert page.title().startswith("savanna guide")
        shown = page.locator(".nbchat").nth(1)
        shown.locator(".nbchat-code-copy").wait_for()
        assert shown.locator(".nbchat-code-cell").count() == 0  # no Insert below / Replace active cell in Voila
        assert page.evaluate("() => document.body.dataset.nbchatCells") is None
        loaded = "() => performance.getEntriesByType('resource').some(e => e.name.includes('/nbchat-cells/static/'))"
        assert page.evaluate(loaded)  # Voila did load the extension: it loads without an error and marks nothing
        # (it asks the page for no shared module: Voila provides none of JupyterLab's notebook packages)
        assert not [e for e in errors if "nbchat-cells" in e or '"shareKey":"@jupyterlab/notebook"' in e], errors

        reply, lengths = chat_and_watch(page, chat, "Which animals live in the savanna?")
        assert "You said: Which animals live in the savanna?. Turn 1" in reply
        assert grew(lengths), f"the reply did not grow in steps: {lengths}"
        reply, _ = chat_and_watch(page, chat, "Which of these is the strongest?")
        assert "Turn 2" in reply
        screenshot(page, "voila")
