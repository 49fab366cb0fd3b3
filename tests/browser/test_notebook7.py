"""Jupyter Notebook 7 (``jupyter notebook``): run a notebook with a chat, type, watch the reply stream."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port
from .frontends import ECHO_CODE, chat_and_watch, grew, running, screenshot, wait_ready, write_notebook

pytestmark = pytest.mark.browser


def test_notebook7_chat_streams(page: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_notebook(root / "chat.ipynb", ECHO_CODE, "chat = nbchat.Chat(echo, system_prompt='Be brief.')\nchat")
    settings = tmp_path / "settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--JupyterNotebookApp.expose_app_in_browser=True",  # to run the notebook's cells through the app
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    env = {"JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(settings)}
    with running(command, tmp_path / "notebook.log", cwd=root, env=env) as server:
        base = f"http://127.0.0.1:{port}"
        server.wait_for_http(f"{base}/api/status?token={token}", timeout=90)
        page.goto(f"{base}/notebooks/chat.ipynb?token={token}")
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
