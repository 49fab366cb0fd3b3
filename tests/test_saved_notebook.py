"""A notebook saved with widget state: readable without a kernel, small, and free of keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

KEY = "sk-nbchat-test-0123456789abcdefghijklmnop"

CELLS = [
    "import nbchat, os\n"
    "def bot(message, history):\n"
    "    return f'Reply to **{message}** ' + 'lorem ipsum dolor sit amet ' * 20\n"
    "chat = nbchat.Chat(bot, system_prompt='You are a test double.')\n"
    "chat",
    "for n in range(50):\n    chat.ask(f'question {n}')",
    "chat  # a second view of the same widget",
]


def test_saved_notebook_has_transcript_no_duplicates_no_keys(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    env_backup = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = KEY  # the kernel inherits it: nothing may copy it into the notebook
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True).execute()
    finally:
        if env_backup is None:
            os.environ.pop("OPENAI_API_KEY")
        else:
            os.environ["OPENAI_API_KEY"] = env_backup
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()

    first, second = (nb.cells[0].outputs[0], nb.cells[2].outputs[0])
    for output in (first, second):
        transcript = output["data"]["text/markdown"]
        assert "question 49" in transcript  # refreshed after the last reply, not frozen at display time
        assert "Reply to **question 49**" in transcript
        assert "application/vnd.jupyter.widget-view+json" in output["data"]
    assert KEY not in text

    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    chats = [m for m in state.values() if m["state"].get("_anywidget_id") == "nbchat._widget.Chat"]
    assert len(chats) == 1  # two views, one model: the conversation and the bundle are stored once
    bundle_start = chats[0]["state"]["_esm"][:200]
    assert text.count(json.dumps(bundle_start)[1:-1][:120]) == 1
    transcript_bytes = sum(len(o["data"]["text/markdown"]) for o in (first, second))
    beyond = len(text.encode()) - transcript_bytes
    print(f"saved notebook: {len(text.encode()) / 1024:.0f} KiB, {beyond / 1024:.0f} KiB beyond the transcripts")
