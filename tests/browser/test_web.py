"""``nbchat web``: the command serves a chat page through Voila, prints its URL, and cleans up on Ctrl+C."""

from __future__ import annotations

import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from nbchat._cli import port_is_free

from .frontends import Server, chat_and_watch, grew, screenshot, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("embedded_ready")]


def test_nbchat_web_with_the_embedded_model(page: Any, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = [
        str(Path(sys.executable).with_name("nbchat")), "web", "--system", "You are a helpful zoologist.",
        "--max-new-tokens", "40", "--temperature", "0", "--title", "Savanna chat",
    ]  # fmt: skip
    server = Server(command, tmp_path / "nbchat-web.log", cwd=tmp_path, env={"TMPDIR": str(temp)})
    try:
        out = server.wait_for_log("Press Ctrl+C to stop.", timeout=90)
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", out)
        assert url is not None, out
        port = int(url.group(1))
        assert 20500 <= port <= 20799  # LazyLLM's range, first free port
        assert "nbchat web: chat with the default model at" in out
        assert [p.name for p in temp.iterdir() if p.name.startswith("nbchat-web-")]  # the generated notebook

        page.goto(url.group(0))
        chat = page.locator(".nbchat").first
        chat.wait_for(timeout=120_000)
        wait_ready(page, chat, timeout_ms=180_000)
        assert "SmolLM2" in chat.inner_text()
        assert page.title().startswith("Savanna chat")
        reply, lengths = chat_and_watch(page, chat, "Which animals live in the savanna?", timeout_ms=120_000)
        assert len(reply.split("\n")[0]) > 10
        assert grew(lengths), f"the reply did not grow in steps: {lengths}"
        screenshot(page, "nbchat-web")
    finally:
        status = server.stop(signal.SIGINT, timeout=30)  # Ctrl+C
    assert status == 0, server.log_tail()
    assert "stopping" in server.log.read_text()
    assert not [p.name for p in temp.iterdir() if p.name.startswith("nbchat-web-")]  # temporary files removed
    assert port_is_free("127.0.0.1", port)  # Voila is gone
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
