"""Typing ahead: the widget sends the question while it is typed, and a local model evaluates its prompt early."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import nbchat
from nbchat.testing import FakeBackend, RecordingComm


class PrefillingFake(FakeBackend):
    """A fake that records what it was asked to prefill; ``hold`` keeps a prefill running until released."""

    can_prefill = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefilled: list[str] = []
        self.cancelled: list[str] = []
        self.hold = threading.Event()
        self.hold.set()

    def prefill(self, messages: list[dict[str, str]], cancel: threading.Event) -> int | None:
        text = messages[-1]["content"]
        self.prefilled.append(text)
        while not self.hold.wait(0.005):
            if cancel.is_set():
                self.cancelled.append(text)
                return None
        return len(messages)


def settle(conv: nbchat.Conversation) -> None:
    """Until the worker has run everything queued, and what those tasks queued in turn (a load or a reply queues
    the next turn's prefill when it ends)."""
    for _ in range(3):
        conv._executor.submit(lambda: None).result(timeout=5)


def drafts(fake: PrefillingFake) -> list[str]:
    """What was prefilled for typed drafts (an empty question is the next turn's start, prefilled when idle)."""
    return [text for text in fake.prefilled if text]


def test_drafts_are_prefilled_with_the_messages_a_send_would_use() -> None:
    fake = PrefillingFake()
    conv = nbchat.Conversation(fake, prepare="now", system_prompt="Be brief.")
    conv.prefill("Which ani")
    settle(conv)
    assert drafts(fake) == ["Which ani"]
    conv.prefill("   ")  # blank: nothing to do
    settle(conv)
    assert drafts(fake) == ["Which ani"]
    assert conv.history == []  # a draft never enters the history
    fake.enqueue(["Lions."])
    conv.ask("Which animals live there?")
    conv.prefill("And the fastest?")
    settle(conv)
    assert fake.prefilled[-1] == "And the fastest?"
    # what the backend got is what the next request will send: system message, history, then the draft
    assert conv.build_messages("And the fastest?")[0] == {"role": "system", "content": "Be brief."}


def test_drafts_coalesce_to_the_latest_and_a_send_cancels_a_running_prefill() -> None:
    fake = PrefillingFake()
    conv = nbchat.Conversation(fake, prepare="now")
    settle(conv)  # the next turn's start, prefilled once loaded
    fake.hold.clear()  # the first prefill keeps running
    conv.prefill("W")
    deadline = time.monotonic() + 5
    while not drafts(fake) and time.monotonic() < deadline:
        time.sleep(0.005)
    for text in ("Wh", "Whi", "Whic"):  # queued behind it: only the latest is kept
        conv.prefill(text)
    fake.hold.set()
    settle(conv)
    assert drafts(fake) == ["W", "Whic"]
    fake.hold.clear()
    conv.prefill("Which")
    deadline = time.monotonic() + 5
    while drafts(fake)[-1] != "Which" and time.monotonic() < deadline:
        time.sleep(0.005)
    conv.prefill("Which ani")  # queued behind the running one
    fake.enqueue(["Lions."])
    reply = conv.send("Which animals?").result(timeout=5)  # cancels both: the reply waits for neither
    assert reply.content == "Lions."
    assert [t for t in fake.cancelled if t] == ["Which"]  # the running one stopped; the queued one never started
    assert drafts(fake)[-1] == "Which"
    conv.close()  # also ends the next turn's prefill, held by the fake since the reply


def test_no_prefill_while_a_reply_streams_or_for_backends_that_cannot() -> None:
    fake = PrefillingFake(delay=0.02)
    conv = nbchat.Conversation(fake, prepare="now")
    fake.enqueue(["a "] * 20)
    future = conv.send("long answer please")
    conv.prefill("next question")
    future.result(timeout=5)
    settle(conv)
    assert drafts(fake) == []
    assert fake.prefilled[-1] == ""  # once the reply was done: the next turn's start
    plain = FakeBackend()
    assert not plain.can_prefill
    assert plain.prefill([{"role": "user", "content": "x"}], threading.Event()) is None


def test_the_widget_asks_for_drafts_only_when_the_model_can_use_them(comms: list[RecordingComm]) -> None:
    fake = PrefillingFake()
    chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now"))
    assert chat.prefill_drafts is True
    chat._on_custom_message(chat, {"kind": "draft", "text": "Which animals"}, [])
    settle(chat.conversation)
    assert drafts(fake) == ["Which animals"]
    assert chat._messages == []
    plain = nbchat.Chat(conversation=nbchat.Conversation(FakeBackend(), prepare="now"))
    assert plain.prefill_drafts is False


class RecordingFake(PrefillingFake):
    """Keeps the whole message list of each prefill."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: list[list[dict[str, str]]] = []

    def prefill(self, messages: list[dict[str, str]], cancel: threading.Event) -> int | None:
        self.requests.append(messages)
        return super().prefill(messages, cancel)


def test_the_next_turn_is_prefilled_whenever_the_conversation_becomes_idle() -> None:
    fake = RecordingFake()
    conv = nbchat.Conversation(fake, prepare="now", system_prompt="Be brief.")
    settle(conv)
    assert fake.requests[-1] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ""}]
    fake.enqueue(["Lions."])
    conv.ask("Which animals live there?")
    settle(conv)
    assert fake.requests[-1][1:] == [
        {"role": "user", "content": "Which animals live there?"},
        {"role": "assistant", "content": "Lions."},
        {"role": "user", "content": ""},  # the history so far, then an empty question: the next turn's start
    ]
    conv.delete(conv.history[-1].id)  # an edit while idle: the start of the turn that now comes next
    settle(conv)
    assert fake.requests[-1][-2:] == [
        {"role": "user", "content": "Which animals live there?"},
        {"role": "user", "content": ""},
    ]
    assert conv.history[-1].content == "Which animals live there?"  # nothing entered the history
    fake.hold.clear()  # a prefill is running; a draft typed meanwhile is not replaced by the next turn's start
    conv.prefill("And")
    deadline = time.monotonic() + 5
    while drafts(fake) != ["And"] and time.monotonic() < deadline:
        time.sleep(0.005)
    conv.prefill("And the fastest?")
    conv._prefiller.next_turn()
    fake.hold.set()
    settle(conv)
    assert drafts(fake) == ["And", "And the fastest?"]


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
@pytest.mark.parametrize("engine", ["llama.cpp", "llama-cpp-python"])
def test_llama_cpp_prefill_changes_no_answer_and_leaves_little_to_evaluate(engine: str) -> None:
    """Greedy answers are the same with and without typing ahead; after it, only a few prompt tokens are new."""
    if engine == "llama-cpp-python":
        pytest.importorskip("llama_cpp", reason="llama-cpp-python is optional")
    options = {"backend": engine, "prepare": "now", "temperature": 0, "max_new_tokens": 16}
    typed = nbchat.Conversation(n_ctx=2048, **options)
    plain = nbchat.Conversation(n_ctx=1024, **options)
    for question in ["Which animals live in the savanna?", "Which of these is the strongest?"]:
        for n in range(4, len(question) + 1, 6):  # typed a few characters at a time, last draft a word short
            typed.prefill(question[:n])
        settle(typed)
        assert typed.ask(question) == plain.ask(question)
        stats = typed.history[-1].stats
        assert stats["prompt_tokens"] - stats["cached_tokens"] <= 12, stats  # the tail: a word and the template
    # a draft that becomes a different question: still the same answer as without typing ahead
    typed.prefill("Tell me about zebras and")
    settle(typed)
    assert typed.ask("What do lions eat?") == plain.ask("What do lions eat?")


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
def test_after_a_reply_a_question_sent_at_once_evaluates_only_its_own_tokens() -> None:
    """No typing ahead: the next turn's start was evaluated when the reply ended, so only the question's words and the
    template's closing tokens are new; the answer is the same as when the whole turn is evaluated after the send."""
    options = {"backend": "llama.cpp", "prepare": "now", "temperature": 0, "max_new_tokens": 16}
    ready = nbchat.Conversation(**options)
    after_send = nbchat.Conversation(n_ctx=1024, **options)
    after_send._prefiller.next_turn = lambda: None  # type: ignore[method-assign]  # nbchat before this prefill
    question = "Which of these is the strongest?"
    for conv in (ready, after_send):
        conv.ask("Which animals live in the savanna?")
        settle(conv)
    assert ready.ask(question) == after_send.ask(question)
    new = {c: c.history[-1].stats["prompt_tokens"] - c.history[-1].stats["cached_tokens"] for c in (ready, after_send)}
    closing = ready.backend.count_tokens([{"role": "user", "content": ""}]) - ready.backend.count_tokens([])
    assert new[ready] <= ready.backend.count_text_tokens(question) + closing
    assert new[ready] < new[after_send]
    print(f"new prompt tokens for the question: {new[ready]} (evaluated after the send: {new[after_send]})")
    ready.close()
    after_send.close()
