"""Jupyter Notebook 7 (``jupyter notebook``): run a notebook with a chat, type, watch the reply stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .frontends import ECHO_CODE, chat_and_watch, grew, notebook7, screenshot, wait_ready, write_notebook

pytestmark = pytest.mark.browser


def test_notebook7_chat_streams(page: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_notebook(root / "chat.ipynb", ECHO_CODE, "chat = nbchat.Chat(echo, system_prompt='Be brief.')\nchat")
    with notebook7(root, tmp_path) as url:
        page.goto(url("notebooks/chat.ipynb"))
        page.wait_for_function(
            "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
            timeout=120_000,
        )
        assert page.locator("#jp-NotebookPanel-header, .jp-NotebookPanel-toolbar").count() > 0  # Notebook 7's UI
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        chat = page.locator(".nbchat").first
        chat.wait_for(timeout=60_000)
        wait_ready(page, chat)

        reply, lengths = chat_and_watch(page, chat, "Hello from Notebook 7")
        assert "You said: Hello from Notebook 7. Turn 1" in reply
        assert grew(lengths), f"the reply did not grow in steps: {lengths}"
        reply, _ = chat_and_watch(page, chat, "And again")
        assert "Turn 2" in reply  # the history went along
        screenshot(page, "notebook7")

        # Export works here too: the downloaded nbchat JSON holds both turns.
        chat.locator('[data-testid="nbchat-export"]').click()
        with page.expect_download() as info:
            chat.locator('[data-testid="nbchat-export-json"]').click()
        saved = tmp_path / "exported.json"
        info.value.save_as(str(saved))
        assert [m["content"] for m in json.loads(saved.read_text())["messages"]][::2] == [
            "Hello from Notebook 7",
            "And again",
        ]
