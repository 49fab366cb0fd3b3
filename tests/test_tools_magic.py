"""``%%chat --tools`` in a real IPython shell, with a callable model that calls tools (the documented rule: a
``tools`` parameter), and ``Chat(tools=...)`` / ``Compare(tools=...)`` passing them to their conversations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nbchat.backends import ToolCallDelta
from tests import test_magic


def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Iterator[Any]:
    """Calls the first tool it is given once, then answers with the result."""
    if messages[-1]["role"] == "tool":
        yield f"The tool said {messages[-1]['content']}."
        return
    yield ToolCallDelta(0, "k1", tools[0]["function"]["name"], '{"text": "<b>bold</b>"}')


def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


shell = test_magic.shell  # the fixture: a real IPython shell with nbchat loaded


def html_of(captured: object) -> str:
    return str(captured.outputs[-1].data.get("text/html", ""))  # type: ignore[attr-defined]


def test_chat_magic_tools_need_approve_auto_then_show_each_call(shell: InteractiveShell) -> None:
    shell.user_ns.update({"bot": model, "shout": shout, "number": 3})
    with capture_output() as refused:
        shell.run_cell_magic("chat", "-m bot --tools shout", "Shout this.")
    assert "Not sent:" in html_of(refused)
    assert "--approve auto" in html_of(refused)
    with capture_output() as wrong:
        shell.run_cell_magic("chat", "-m bot --tools number --approve auto", "Shout this.")
    assert "not a function of this notebook" in html_of(wrong)
    with capture_output() as answered:
        shell.run_cell_magic("chat", "-m bot --tools shout --approve auto", "Shout this.")
    html = html_of(answered)
    assert "The tool said &lt;B&gt;BOLD&lt;/B&gt;." in html  # the result is text in every view: no HTML runs
    assert "<b>" not in html.lower()  # nor in the call's arguments, shown as text in a fence
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "Tool call" in html
    assert "shout" in html


def test_chat_and_compare_pass_tools_to_their_conversations(comms: Any) -> None:
    import nbchat

    chat = nbchat.Chat(model, tools=[shout], tool_approval="auto")
    assert [t.name for t in chat.conversation.tools] == ["shout"]
    compare = nbchat.Compare([model, model], tools=[shout], tool_approval="auto")
    assert all([t.name for t in c.conversation.tools] == ["shout"] for c in compare.columns)
