"""``%load_ext nbchat`` and ``%%chat`` in a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nbchat.testing import FakeBackend


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbchat")
    yield ip
    ip.run_line_magic("reload_ext", "nbchat")  # a fresh set of conversations for the next test


def markdown_outputs(captured: object) -> list[str]:
    """The HTML of each output (the reply rendered from Markdown, see nbchat._static_html)."""
    return [o.data.get("text/html", "") for o in captured.outputs]  # type: ignore[attr-defined]


def test_chat_magic_answers_and_keeps_the_conversation(shell: InteractiveShell) -> None:
    fake = FakeBackend()
    fake.enqueue(["Lions and zebras."])
    fake.enqueue(["The lion."])
    shell.user_ns["zoo"] = fake
    with capture_output() as first:
        shell.run_cell_magic(
            "chat", "-m zoo --temperature 0 --system 'You are a zoologist.'", "Which animals live in the savanna?\n"
        )
    with capture_output() as second:
        shell.run_cell_magic("chat", "-m zoo", "Which of these is the strongest?")
    assert "Lions and zebras." in markdown_outputs(first)[-1]
    assert "The lion." in markdown_outputs(second)[-1]
    messages, settings = fake.requests[-1]
    assert messages[0] == {"role": "system", "content": "You are a zoologist."}
    assert [m["content"] for m in messages[1:]] == [
        "Which animals live in the savanna?",
        "Lions and zebras.",
        "Which of these is the strongest?",
    ]
    assert settings.temperature == 0


def test_chat_magic_new_and_no_history(shell: InteractiveShell) -> None:
    fake = FakeBackend()
    shell.user_ns["bot"] = fake
    with capture_output():
        shell.run_cell_magic("chat", "-m bot", "one")
        shell.run_cell_magic("chat", "-m bot --no-use-history", "two")
    assert [m["content"] for m in fake.requests[-1][0]] == ["two"]
    with capture_output(), pytest.warns(DeprecationWarning, match="--no-use-history"):  # the old flag still works
        shell.run_cell_magic("chat", "-m bot --no-history", "four")
    assert [m["content"] for m in fake.requests[-1][0]] == ["four"]
    with capture_output():
        shell.run_cell_magic("chat", "-m bot --new", "three")
    assert [m["content"] for m in fake.requests[-1][0]] == ["three"]


def test_chat_magic_shows_errors_in_the_output(shell: InteractiveShell) -> None:
    fake = FakeBackend()
    fake.enqueue(["half"], error=RuntimeError("server went away"))
    shell.user_ns["flaky"] = fake
    with capture_output() as out:
        shell.run_cell_magic("chat", "-m flaky", "hi")
    text = markdown_outputs(out)[-1]
    assert "half" in text
    assert "server went away" in text


def test_chat_magic_thinking_switch_and_folded_thoughts(shell: InteractiveShell) -> None:
    from nbchat.backends import Reasoning

    fake = FakeBackend()
    fake.enqueue([Reasoning("The user asks </details><script>x</script>."), "Hello."])
    shell.user_ns["thinker"] = fake
    with capture_output() as out:
        shell.run_cell_magic("chat", "-m thinker --thinking on", "hi")
    final = markdown_outputs(out)[-1]
    assert fake.requests[-1][1].thinking is True
    assert final.index("<details>") < final.index("Hello.")
    assert "&lt;/details&gt;&lt;script&gt;" in final  # the thoughts cannot close the section or add HTML
    assert final.count("</details>") == 1


def test_chat_magic_speaks_the_administrators_language(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell.user_ns["bot"] = FakeBackend()
    monkeypatch.setenv("NBCHAT_LANG", "zh")
    with capture_output() as out:
        shell.run_cell_magic("chat", "-m bot --schema Missing", "hi")
    shown = out.outputs[-1].data["text/plain"]
    assert shown.startswith("\n\n未发送：--schema 指定的 'Missing'")
    with capture_output() as out:
        shell.run_cell_magic("chat", "-m bot", "hi")
    assert "个 token" in out.outputs[-1].data["text/plain"]
