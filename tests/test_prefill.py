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
    conv._executor.submit(lambda: None).result(timeout=5)  # the worker has run everything queued before


def test_drafts_are_prefilled_with_the_messages_a_send_would_use() -> None:
    fake = PrefillingFake()
    conv = nbchat.Conversation(fake, prepare="now", system_prompt="Be brief.")
    conv.prefill("Which ani")
    settle(conv)
    assert fake.prefilled == ["Which ani"]
    conv.prefill("   ")  # blank: nothing to do
    settle(conv)
    assert fake.prefilled == ["Which ani"]
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
    fake.hold.clear()  # the first prefill keeps running
    conv.prefill("W")
    deadline = time.monotonic() + 5
    while not fake.prefilled and time.monotonic() < deadline:
        time.sleep(0.005)
    for text in ("Wh", "Whi", "Whic"):  # queued behind it: only the latest is kept
        conv.prefill(text)
    fake.hold.set()
    settle(conv)
    assert fake.prefilled == ["W", "Whic"]
    fake.hold.clear()
    conv.prefill("Which")
    while fake.prefilled[-1] != "Which":
        time.sleep(0.005)
    conv.prefill("Which ani")  # queued behind the running one
    fake.enqueue(["Lions."])
    reply = conv.send("Which animals?").result(timeout=5)  # cancels both: the reply waits for neither
    assert reply.content == "Lions."
    assert fake.cancelled == ["Which"]  # the running one stopped; the queued one never started
    assert fake.prefilled[-1] == "Which"


def test_no_prefill_while_a_reply_streams_or_for_backends_that_cannot() -> None:
    fake = PrefillingFake(delay=0.02)
    conv = nbchat.Conversation(fake, prepare="now")
    fake.enqueue(["a "] * 20)
    future = conv.send("long answer please")
    conv.prefill("next question")
    future.result(timeout=5)
    settle(conv)
    assert fake.prefilled == []
    plain = FakeBackend()
    assert not plain.can_prefill
    assert plain.prefill([{"role": "user", "content": "x"}], threading.Event()) is None


def test_the_widget_asks_for_drafts_only_when_the_model_can_use_them(comms: list[RecordingComm]) -> None:
    fake = PrefillingFake()
    chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now"))
    assert chat.prefill_drafts is True
    chat._on_custom_message(chat, {"kind": "draft", "text": "Which animals"}, [])
    settle(chat.conversation)
    assert fake.prefilled == ["Which animals"]
    assert chat._messages == []
    plain = nbchat.Chat(conversation=nbchat.Conversation(FakeBackend(), prepare="now"))
    assert plain.prefill_drafts is False


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
def test_llama_cpp_prefill_changes_no_answer_and_leaves_little_to_evaluate() -> None:
    """Greedy answers are the same with and without typing ahead; after it, only a few prompt tokens are new."""
    from nbchat.backends.llamacpp import LlamaCppBackend

    typed = nbchat.Conversation(LlamaCppBackend.embedded(n_ctx=2048), prepare="now", temperature=0, max_new_tokens=16)
    plain = nbchat.Conversation(LlamaCppBackend.embedded(n_ctx=1024), prepare="now", temperature=0, max_new_tokens=16)
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
