"""The notebook context (``Chat(context="notebook")``) and *Ask the chat* (``nbchat.explain_errors()``), in a real
IPython shell with a recording comm (no browser): what the chip shows is exactly what the model is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import nbchat
from nbchat._notebook import NotebookCell, build_context, error_report
from nbchat._policy import PolicyWarning
from nbchat.testing import FakeBackend, RecordingComm


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.history_manager.reset()  # In/Out start again at 1
    ip.user_ns["In"][:] = [""]
    ip.user_ns["Out"].clear()
    ip.execution_count = 1
    yield ip
    nbchat.explain_errors(on=False)
    for callback in list(ip.events.callbacks["post_run_cell"]):
        owner = getattr(callback, "__self__", callback)
        if type(owner).__module__.startswith("nbchat"):
            ip.events.unregister("post_run_cell", callback)
    if hasattr(ip, "_nbchat_cell_recorder"):
        del ip._nbchat_cell_recorder


def cells(n: int, code_chars: int = 40, output_chars: int = 40) -> list[NotebookCell]:
    return [NotebookCell(i, f"x{i} = {i}  # " + "c" * code_chars, "o" * output_chars) for i in range(1, n + 1)]


# ---------------------------------------------------------------------------------------------- the builder
def test_the_budget_is_respected_and_the_newest_cells_come_first() -> None:
    context = build_context(cells(50), budget=200)
    assert 0 < context.tokens <= 200
    numbers = [c.number for c in context.cells]
    assert numbers == sorted(numbers, reverse=True)  # newest first
    assert numbers[0] == 50
    assert numbers == list(range(50, 50 - len(numbers), -1))
    assert context.text.index("# In [50]") < context.text.index(f"# In [{numbers[-1]}]")
    bigger = build_context(cells(50), budget=2000)
    assert len(bigger.cells) > len(context.cells)
    assert bigger.tokens <= 2000


def test_long_outputs_are_cut_with_a_marker_and_a_huge_newest_cell_still_fits() -> None:
    context = build_context([NotebookCell(7, "print(big)", "y" * 20_000)], budget=5000, output_tokens=100)
    assert "characters left out" in context.text
    assert context.text.count("y") < 500
    huge = build_context([NotebookCell(3, "z" * 40_000, "")], budget=100)
    assert huge.cells
    assert huge.tokens <= 100
    assert "characters left out" in huge.text


def test_secrets_in_code_and_outputs_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789")
    code = 'client = OpenAI(api_key="sk-abcdefgh")\nprint(os.environ["OPENAI_API_KEY"])'
    output = "sk-live-0123456789\nconnected to https://bob:hunter22@db.example.com/x?token=t0k3n"
    text = build_context([NotebookCell(1, code, output)], budget=1000).text
    for secret in ("sk-abcdefgh", "sk-live-0123456789", "hunter22", "t0k3n"):
        assert secret not in text
    assert 'api_key="***"' in text
    assert "db.example.com" in text


def test_empty_cells_are_skipped_and_no_cells_give_no_attachment() -> None:
    assert build_context([NotebookCell(1, "   ", "")], budget=100).attachment() is None
    assert build_context([], budget=100).chip()["first"] is None


# ---------------------------------------------------------------------------------------------- in a chat
def make_chat(comms: list[RecordingComm], **kwargs: Any) -> tuple[nbchat.Chat, FakeBackend, RecordingComm]:
    fake = FakeBackend(context_window=kwargs.pop("context_window", 4096))
    chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now"), **kwargs)
    return chat, fake, comms[-1]


def sent_text(fake: FakeBackend) -> str:
    content = fake.requests[-1][0][-1]["content"]
    return content if isinstance(content, str) else "\n".join(p.get("text", "") for p in content)


def test_the_chip_shows_exactly_what_is_sent(shell: InteractiveShell, comms: list[RecordingComm]) -> None:
    shell.run_cell("import math\nradius = 3", store_history=True)
    shell.run_cell("math.pi * radius ** 2", store_history=True)
    chat, fake, comm = make_chat(comms)
    chat.notebook_context = "notebook"
    shell.run_cell("area = 28.27\narea", store_history=True)
    chip = chat.context_preview
    assert (chip["first"], chip["last"], chip["cells"]) == (1, 3, 3)
    assert "# Out [2]:\n28.274333882308138" in chip["text"]  # an Out[] from before the chat existed
    assert chip["text"].index("# In [3]") < chip["text"].index("# In [1]")
    assert chip["tokens"] == -(-len(chip["text"]) // 4)
    assert comm.state_updates("context_preview")[-1] == chip  # the browser got it
    shell.user_ns["chat"] = chat
    shown: list[Any] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("IPython.display.display", lambda *objs, **_: shown.extend(objs))
        shell.run_cell("chat", store_history=True)
    assert len(shown) == 1  # recording the cell's result did not display the widget a second time
    chip = chat.context_preview  # the chip follows each cell run
    assert "<nbchat.Chat" in chip["text"]
    chat.ask("What is the area?")
    assert chip["text"] in sent_text(fake)  # the chip's text is the text part sent, as it is
    assert chat.conversation.history[-2].attachments[-1].as_text() == chip["text"]


def test_the_budget_the_user_sets_and_the_default_fraction(shell: InteractiveShell, comms: list[RecordingComm]) -> None:
    for i in range(40):
        shell.run_cell(
            f"value_{i} = {i} * 1000  # a comment to make the cell longer than a few tokens", store_history=True
        )
    chat, _, _ = make_chat(comms, context="notebook", context_window=400)
    assert chat.context_budget_tokens() == 100  # a quarter of the window
    assert chat.context_preview["tokens"] <= 100 + 20  # the attachment's header and fence on top
    chat.context_budget = 300
    assert 100 < chat.context_preview["tokens"] <= 300 + 20
    assert chat.context_preview["last"] == 40


def test_removing_the_chip_sends_one_message_without_it(shell: InteractiveShell, comms: list[RecordingComm]) -> None:
    shell.run_cell("secret_number = 42", store_history=True)
    chat, fake, _comm = make_chat(comms, context="notebook")
    chat._handle_custom_msg({"kind": "submit", "text": "hi", "context": False}, [])
    _wait_idle(chat)
    assert "secret_number" not in sent_text(fake)
    chat.ask("again")
    assert "secret_number" in sent_text(fake)


def test_the_policy_switches_it_off_or_caps_it(
    shell: InteractiveShell, comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    shell.run_cell("x = 1", store_history=True)
    monkeypatch.setenv("NBCHAT_MAX_NOTEBOOK_CONTEXT_TOKENS", "50")
    chat, _, _ = make_chat(comms, context="notebook", context_tokens=5000)
    assert chat.context_budget_tokens() == 50
    monkeypatch.setenv("NBCHAT_NOTEBOOK_CONTEXT", "off")
    with pytest.raises(Exception, match="switched off by the administrator"):
        make_chat(comms, context="notebook")
    chat2, _fake, _ = make_chat(comms)
    assert chat2.context_allowed is False
    assert chat2.notebook_context == "off"
    chat.ask("hi")  # a chat made before the policy changed sends no context either
    assert chat.conversation.history[-2].attachments == []


def test_an_error_report_has_type_message_and_user_frames_only(shell: InteractiveShell) -> None:
    result = shell.run_cell(
        "import json\ndef load(text):\n    return json.loads(text)\nload('{bad')", store_history=True
    )
    report = error_report(result.error_in_exec)
    assert "JSONDecodeError" in report
    assert "line 1 column 2" in report
    assert "load('{bad')" in report
    assert "return json.loads(text)" in report
    assert "json/decoder.py" not in report
    assert "json/__init__.py" not in report


def test_ask_the_chat_shows_a_button_under_an_error_and_fills_the_last_chat(
    shell: InteractiveShell, comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbchat._explain import AskButton

    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **_: shown.extend(objs))
    assert nbchat.explain_errors() is True
    chat, _, comm = make_chat(comms)
    result = shell.run_cell("token = 'abc'\napi_key = 'sk-12345678'\n1 / 0", store_history=True)
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    buttons = [b for box in shown for b in box.children if isinstance(b, AskButton)]
    assert len(buttons) == 1
    assert buttons[0].kind == "ZeroDivisionError"
    shell.run_cell("2 + 2", store_history=True)
    assert len(shown) == 1  # no button without an error
    assert not chat.ask_draft  # nothing before the click
    buttons[0]._handle_custom_msg({"kind": "ask"}, [])
    draft = chat.ask_draft
    assert draft["kind"] == "ZeroDivisionError"
    assert "division by zero" in draft["error"]
    assert "1 / 0" in draft["code"]
    assert "sk-12345678" not in draft["code"]
    assert comm.state_updates("ask_draft")[-1] == draft


def test_ask_the_chat_makes_a_chat_when_there_is_none(shell: InteractiveShell, comms: list[RecordingComm]) -> None:
    from nbchat import _notebook_view
    from nbchat._explain import AskButton

    _notebook_view._chats.clear()
    button = AskButton("1/0", "ZeroDivisionError: division by zero", "ZeroDivisionError")
    box = button.show()
    fake = FakeBackend()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("nbchat._widget.Conversation", lambda *a, **k: nbchat.Conversation(fake, prepare="now"))
        chat = button.ask()
    assert box.children[-1] is chat
    assert chat.ask_draft["code"] == "1/0"


def test_explain_errors_is_off_by_default_and_the_policy_can_refuse(
    shell: InteractiveShell, comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **_: shown.extend(objs))
    shell.run_cell("1 / 0", store_history=True)
    assert shown == []
    monkeypatch.setenv("NBCHAT_EXPLAIN_ERRORS", "off")
    with pytest.warns(PolicyWarning, match="switched off"):
        assert nbchat.explain_errors() is False


def _wait_idle(chat: nbchat.Chat) -> None:
    import time

    deadline = time.monotonic() + 10
    while chat.conversation.busy and time.monotonic() < deadline:
        time.sleep(0.01)


def test_json_of_the_chip_is_plain(shell: InteractiveShell, comms: list[RecordingComm]) -> None:
    shell.run_cell("y = 2", store_history=True)
    chat, _, _ = make_chat(comms, context="notebook")
    json.dumps(chat.context_preview)  # synced state: plain JSON
    assert chat.context_preview["cells"] == 1
