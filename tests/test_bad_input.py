"""Bad input and rough use, kernel side: empty and huge messages, odd characters, out-of-range settings from Python
and from the browser, double sends, Stop before the first token, Clear mid-reply. Nothing duplicated, nothing lost,
never stuck "generating"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import traitlets

import nbchat
from nbchat.testing import FakeBackend, RecordingComm, wait_for_view

ODD_TEXTS = [
    "right-to-left override: \u202eabc\u202c done",
    "isolates \u2067שלום\u2069 and marks \u200f\u200e",
    "emoji 🦁🦒🐘 with ZWJ 👩‍🔬 and flags 🇰🇪",
    "CJK 你好，世界 · 日本語のテキスト · 한국어",
    "control characters \x07 bell \x1b[31m ANSI \x1b[0m tab\there \x00 NUL \x7f DEL",
    "zero width\u200bspace and combining e\u0301 and surrogate pair 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]


def browser_sends(chat: nbchat.Chat, **state: Any) -> None:
    """A state update from the browser (what `model.set(...); model.save_changes()` sends)."""
    chat._handle_msg({"content": {"data": {"method": "update", "state": state}}, "buffers": []})


def browser_says(chat: nbchat.Chat, content: dict[str, Any]) -> None:
    chat._handle_custom_msg(content, [])


def wait_idle(conv: nbchat.Conversation, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while conv.busy:
        assert time.monotonic() < deadline, "stuck generating"
        time.sleep(0.01)


def settle(chat: nbchat.Chat) -> None:
    """Until the reply is done and the view's own sync thread has shown it."""
    wait_idle(chat.conversation)
    wait_for_view(chat)


def make_chat(comms: list[RecordingComm], fn: Any = None, **kwargs: Any) -> tuple[nbchat.Chat, RecordingComm]:
    conv = nbchat.Conversation(fn if fn is not None else FakeBackend(), prepare="now", **kwargs)
    return nbchat.Chat(conversation=conv), comms[-1]


# ---------------------------------------------------------------------------------------------------- messages
@pytest.mark.parametrize("text", ["", "   ", "\n\t \n", "\u3000"])
def test_empty_messages_are_not_sent(comms: list[RecordingComm], text: str) -> None:
    chat, comm = make_chat(comms)
    browser_says(chat, {"kind": "submit", "text": text})
    assert chat.conversation.history == []
    assert comm.custom("notice")[-1]["text"] == "The message is empty; type something to send."
    with pytest.raises(ValueError, match="empty"):
        chat.conversation.send(text)
    assert chat.status == "ready"


def test_a_1mb_message_is_accepted_and_answered(comms: list[RecordingComm], tmp_path: Path) -> None:
    big = ("A pasted log line with some words in it, number 12345.\n" * 20_000)[:1_000_000]
    chat, comm = make_chat(comms, lambda message, history: f"Got {len(message)} characters.")
    started = time.perf_counter()
    browser_says(chat, {"kind": "submit", "text": big})
    settle(chat)
    elapsed = time.perf_counter() - started
    user, reply = chat.conversation.history
    assert user.content == big
    assert reply.content == "Got 1000000 characters."
    assert [m["content"] for m in comm.state_updates("_messages")[-1]] == [big, reply.content]
    assert len(chat._transcript()) < 40_000  # the static transcript in the notebook stays small
    chat.save(tmp_path / "big.json")
    assert nbchat.Conversation.load(tmp_path / "big.json", FakeBackend()).history[0].content == big
    print(f"1 MB message through the kernel side: {elapsed * 1000:.0f} ms")
    assert elapsed < 5


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_odd_characters_round_trip(comms: list[RecordingComm], tmp_path: Path, text: str) -> None:
    chat, comm = make_chat(comms, lambda message, history: message)
    browser_says(chat, {"kind": "submit", "text": text})
    settle(chat)
    assert [m.content for m in chat.conversation.history] == [text, text]
    assert [m["content"] for m in comm.state_updates("_messages")[-1]] == [text, text]
    chat.save(tmp_path / "odd.json")
    again = nbchat.Conversation.load(tmp_path / "odd.json", FakeBackend())
    assert [m.content for m in again.history] == [text, text]
    assert text in chat.to_markdown()


# ---------------------------------------------------------------------------------------------------- settings
def test_out_of_range_settings_from_python_raise_with_the_range(comms: list[RecordingComm]) -> None:
    chat, _ = make_chat(comms)
    with pytest.raises(traitlets.TraitError, match="between 0 and 2"):
        chat.temperature = 50
    with pytest.raises(traitlets.TraitError, match=">= 1"):
        chat.max_new_tokens = -3
    chat.max_new_tokens = 10**9  # clamped to the slider's limit (the context window, when known)
    assert chat.max_new_tokens == chat.max_new_tokens_limit
    assert chat.conversation.settings.max_new_tokens == chat.max_new_tokens_limit
    assert (chat.temperature, chat.conversation.settings.temperature) == (0.7, 0.7)
    for bad in ({"max_new_tokens": 0}, {"max_new_tokens": -1}, {"temperature": 50}, {"temperature": -0.1},
                {"top_p": 0}, {"top_p": 1.5}):  # fmt: skip
        with pytest.raises(ValueError, match="must be"):
            nbchat.Conversation(FakeBackend(), prepare="lazy", **bad)
    with pytest.raises(TypeError, match="integer"):
        nbchat.Conversation(FakeBackend(), prepare="lazy", max_new_tokens=2.5)


def test_out_of_range_settings_from_the_browser_are_refused_with_a_notice(comms: list[RecordingComm]) -> None:
    chat, comm = make_chat(comms, FakeBackend(context_window=2048))
    browser_sends(chat, temperature=50)
    assert chat.temperature == 0.7
    assert chat.conversation.settings.temperature == 0.7
    notice = comm.custom("notice")[-1]
    assert "Temperature: 50 was refused, 0.7 is kept" in notice["text"]
    assert "between 0 and 2" in notice["text"]
    assert comm.state_updates("temperature")[-1] == 0.7  # the browser is put back in line

    browser_sends(chat, max_new_tokens=-5)
    assert chat.max_new_tokens == 256
    assert "Max new tokens: -5 was refused" in comm.custom("notice")[-1]["text"]
    assert comm.state_updates("max_new_tokens")[-1] == 256

    browser_sends(chat, max_new_tokens=100_000)  # beyond the context window: clamped, and said
    assert chat.max_new_tokens == chat.conversation.settings.max_new_tokens == 2048
    assert "at most 2048" in comm.custom("notice")[-1]["text"]
    assert comm.state_updates("max_new_tokens")[-1] == 2048

    browser_sends(chat, temperature="hot")
    assert chat.temperature == 0.7

    # traits that are Python's to set: put back, not taken
    browser_sends(chat, status="generating", max_new_tokens_limit=10**9, _messages=[{"id": "x"}], temperature=1.2)
    assert chat.status == "ready"
    assert chat.max_new_tokens_limit == 2048
    assert chat._messages == []
    assert chat.temperature == chat.conversation.settings.temperature == 1.2
    assert comm.state_updates("status")[-1] == "ready"


# ---------------------------------------------------------------------------------------------------- rough use
def slow_words(first_delay: float = 0.0, words: int = 200, gap: float = 0.01) -> Any:
    def bot(message: str, history: list[dict[str, str]]) -> Iterator[str]:
        time.sleep(first_delay)
        for i in range(words):
            time.sleep(gap)
            yield f"w{i} "

    return bot


def test_double_send_keeps_one_message_and_gives_the_second_back(comms: list[RecordingComm]) -> None:
    chat, comm = make_chat(comms, slow_words())
    browser_says(chat, {"kind": "submit", "text": "first"})
    browser_says(chat, {"kind": "submit", "text": "first"})  # double-click / Enter twice
    browser_says(chat, {"kind": "submit", "text": "typed while it streams"})
    notices = comm.custom("notice")
    assert [n.get("restore") for n in notices] == ["first", "typed while it streams"]  # the browser puts it back
    assert "still being generated" in notices[0]["text"]
    chat.stop()
    settle(chat)
    assert [m.content for m in chat.conversation.history if m.role == "user"] == ["first"]
    assert chat.status == "ready"
    browser_says(chat, {"kind": "submit", "text": "typed while it streams"})
    browser_says(chat, {"kind": "stop"})
    settle(chat)
    assert [m.content for m in chat.conversation.history if m.role == "user"] == ["first", "typed while it streams"]


def test_stop_before_the_first_token(comms: list[RecordingComm]) -> None:
    chat, _ = make_chat(comms, slow_words(first_delay=5))
    browser_says(chat, {"kind": "submit", "text": "think hard"})
    time.sleep(0.2)
    started = time.perf_counter()
    browser_says(chat, {"kind": "stop"})
    settle(chat)
    latency = time.perf_counter() - started
    reply = chat.conversation.history[-1]
    assert (reply.status, reply.content) == ("stopped", "")
    assert chat.status == "ready"
    assert chat._messages[-1]["status"] == "stopped"
    assert latency < 1.5  # the callable is left to finish on its own; the turn ends at once
    print(f"Stop before the first token (callable asleep): {latency * 1000:.0f} ms")


def test_clear_while_streaming(comms: list[RecordingComm]) -> None:
    fake = FakeBackend(delay=0.01)
    chat, comm = make_chat(comms, fake, max_new_tokens=500)
    fake.enqueue([f"t{i} " for i in range(300)])
    browser_says(chat, {"kind": "submit", "text": "go"})
    deadline = time.monotonic() + 5
    while not comm.custom("delta"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    browser_says(chat, {"kind": "clear"})
    settle(chat)
    assert chat.conversation.history == []
    assert chat._messages == []
    assert chat.status == "ready"
    fake.enqueue(["fresh"])
    browser_says(chat, {"kind": "submit", "text": "again"})
    settle(chat)
    assert [m.content for m in chat.conversation.history] == ["again", "fresh"]


def test_sends_from_many_threads_never_duplicate_or_stick(comms: list[RecordingComm]) -> None:
    """Ten browser submits racing (two views, quick fingers): one turn at a time, each refused one given back."""
    chat, comm = make_chat(comms, slow_words(words=5, gap=0.005))
    barrier = threading.Barrier(10)

    def press(n: int) -> None:
        barrier.wait()
        browser_says(chat, {"kind": "submit", "text": f"message {n}"})

    threads = [threading.Thread(target=press, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle(chat)
    sent = [m.content for m in chat.conversation.history if m.role == "user"]
    refused = [n["restore"] for n in comm.custom("notice") if "restore" in n]
    assert len(sent) == 1
    assert sorted(sent + refused) == sorted(f"message {n}" for n in range(10))  # none lost, none twice
    assert chat.status == "ready"
    assert chat.conversation.history[-1].status == "done"
