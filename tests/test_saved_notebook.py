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
        transcript = output["data"]["text/html"]
        assert "question 49" in transcript  # refreshed after the last reply, not frozen at display time
        assert "Reply to <strong>question 49</strong>" in transcript
        assert "application/vnd.jupyter.widget-view+json" in output["data"]
    assert KEY not in text

    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    chats = [m for m in state.values() if m["state"].get("_anywidget_id") == "nbchat._widget.Chat"]
    assert len(chats) == 1  # two views, one model: the conversation and the bundle are stored once
    bundle_start = chats[0]["state"]["_esm"][:200]
    assert text.count(json.dumps(bundle_start)[1:-1][:120]) == 1
    transcript_bytes = sum(len(o["data"]["text/html"]) for o in (first, second))
    beyond = len(text.encode()) - transcript_bytes
    print(f"saved notebook: {len(text.encode()) / 1024:.0f} KiB, {beyond / 1024:.0f} KiB beyond the transcripts")


# ---------------------------------------------------------------------------------------------------- keys
ENV_KEY = "sk-proj-EnvKey7Qm2Lx9Vb4Nc8Zr1Ty6Ws3Pd5Hf0Jg2Kk4"
ARG_KEY = "sk-proj-ArgKey3Rt8Yu1Io6Pa9Sd2Fg5Hj7Kl0Zx4Cv6Bn8"
DOTENV_KEY = "sk-proj-DotEnvKey5Wq1Er7Ty3Ui9Op2As6Df0Gh4Jk8Lz"

KEY_CELLS = [
    # every log record of every library, at DEBUG, into a file; every message any widget sends, recorded
    "import json, logging, os, ipywidgets\n"
    "logging.basicConfig(level=logging.DEBUG, filename='debug.log', force=True)\n"
    "sent = []\n"
    "_send = ipywidgets.Widget._send\n"
    "def recording_send(self, msg, buffers=None):\n"
    "    sent.append(msg)\n"
    "    return _send(self, msg, buffers)\n"
    "ipywidgets.Widget._send = recording_send\n"
    "import nbchat",
    # the key from the environment ($NBCHAT_API_KEY), for a server named by URL
    "by_env = nbchat.Chat(os.environ['STUB_URL'], model='unauthorized-once')\nby_env",
    # the key passed as api_key= (read from a file, so that the notebook's source does not hold it)
    "by_arg = nbchat.Chat(os.environ['STUB_URL'], model='unauthorized-once', api_key=open('key.txt').read().strip())\n"
    "by_arg",
    # the key from .env, for an online source whose base URL .env points at the stub
    "by_dotenv = nbchat.Chat('openai:unauthorized-once')\nby_dotenv",
    # each hits the echoing 401 once (the error is printed into the notebook), then works
    "for chat in (by_env, by_arg, by_dotenv):\n"
    "    try:\n"
    "        chat.ask('hello')\n"
    "    except nbchat.GenerationError as exc:\n"
    "        print('error:', exc)\n"
    "    print(chat.ask('hello'))",
    # every other way out: reprs, details and 'copy as code' (as the browser asks for them), files, transcripts
    "reprs = []\n"
    "for chat in (by_env, by_arg, by_dotenv):\n"
    "    conv = chat.conversation\n"
    "    failed = conv.history[1].id\n"
    "    chat._handle_custom_msg({'kind': 'provenance', 'id': failed}, [])\n"
    "    chat._handle_custom_msg({'kind': 'code', 'id': failed}, [])\n"
    "    reprs += [repr(chat), repr(conv), repr(conv.backend), str(conv.backend.describe()), str(conv.spec),\n"
    "              str(conv.request_of(failed)), conv.request_code(failed), chat.to_markdown(), str(chat.messages)]\n"
    "    chat.save(f'saved-{len(reprs)}.json')\n"
    "print(reprs[0], reprs[3])\n"
    "open('reprs.txt', 'w').write('\\n'.join(reprs))\n"
    "open('sent.json', 'w').write(json.dumps(sent, default=str))\n"
    "logging.shutdown()",
]


def test_keys_never_leave_the_kernel(tmp_path: Path, openai_stub) -> None:
    """A real-looking key from the environment, from api_key= and from .env, an echoing 401 for each, then replies:
    the key is in none of the saved notebook (widget state stored), the conversation files, the messages sent to
    the browser, the DEBUG logs of every library, or the reprs and transcripts."""
    (tmp_path / "key.txt").write_text(ARG_KEY)
    (tmp_path / ".env").write_text(f"NBCHAT_OPENAI_API_KEY={DOTENV_KEY}\nNBCHAT_OPENAI_BASE_URL={openai_stub.url}/v1\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in KEY_CELLS]
    saved_env = dict(os.environ)
    os.environ.update({"NBCHAT_API_KEY": ENV_KEY, "STUB_URL": f"{openai_stub.url}/v1"})
    for name in ("OPENAI_API_KEY", "NBCHAT_OPENAI_API_KEY", "NBCHAT_OPENAI_BASE_URL"):
        os.environ.pop(name, None)
    try:
        client = NotebookClient(
            nb, timeout=120, kernel_name="python3", store_widget_state=True, resources={"metadata": {"path": tmp_path}}
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    nbformat.write(nb, tmp_path / "keys.ipynb")

    # the keys did reach the server (so the test is not vacuous), and each chat got its 401 and then its reply
    from tests.servers import openai_stub as stub_module

    sent_keys = [h.get("authorization", "") for h in stub_module.app.state.headers]
    for key in (ENV_KEY, ARG_KEY, DOTENV_KEY):
        assert f"Bearer {key}" in sent_keys
    printed = "".join(o.get("text", "") for o in nb.cells[4].outputs)
    assert printed.count("rejected the API key (401") == 3
    assert printed.count("Bearer ***") == 3
    assert printed.count("You said: hello") == 3

    places = {
        "saved notebook": (tmp_path / "keys.ipynb").read_text(),
        "conversation files": "".join(p.read_text() for p in sorted(tmp_path.glob("saved-*.json"))),
        "messages to the browser": (tmp_path / "sent.json").read_text(),
        "DEBUG logs": (tmp_path / "debug.log").read_text(),
        "reprs, details, code, transcripts": (tmp_path / "reprs.txt").read_text(),
    }
    assert "widget-state" in places["saved notebook"]
    assert '"kind": "code"' in places["messages to the browser"]
    assert "openai" in places["DEBUG logs"]
    counts = {
        where: sum(text.count(k) + text.count(k[8:24]) for k in (ENV_KEY, ARG_KEY, DOTENV_KEY))
        for where, text in places.items()
    }
    for where, count in counts.items():
        print(f"key occurrences in {where}: {count} ({len(places[where]) / 1024:.0f} KiB searched)")
    assert counts == dict.fromkeys(places, 0)
