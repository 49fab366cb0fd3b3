"""The embedded SmolLM2-135M-Instruct, really loaded and really generating (CPU, a few seconds per test)."""

from __future__ import annotations

import threading
import time

import pytest

import nbchat
from nbchat.backends.transformers import TransformersBackend

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]


@pytest.fixture(scope="module")
def conversation() -> nbchat.Conversation:
    # explicit: with llama-cpp-python installed, the default for the embedded GGUF is llama.cpp
    return nbchat.Conversation(TransformersBackend.embedded(), load="now", temperature=0, max_new_tokens=24)


def test_answers_through_conversation_streaming_several_deltas(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    deltas: list[str] = []
    conversation.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    reply = conversation.ask("Which animals live in the savanna?")
    assert reply.strip()
    assert len(deltas) > 1
    assert "".join(deltas) == reply
    stats = conversation.history[-1].stats
    assert stats["backend"] == "transformers"
    assert stats["model"] == "SmolLM2-135M-Instruct"
    assert 0 < stats["tokens"] <= 24
    assert stats["prompt_tokens"] > 5
    assert stats["ttft_s"] > 0
    assert stats["tokens_per_s"] > 0


def test_greedy_is_deterministic(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    first = conversation.ask("Name a colour.")
    conversation.clear()
    second = conversation.ask("Name a colour.")
    assert first == second


def test_max_new_tokens_is_obeyed(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=5)
    try:
        conversation.ask("Tell me a long story about a lion.")
    finally:
        conversation.settings = conversation.settings.replace(max_new_tokens=24)
    stats = conversation.history[-1].stats
    assert stats["tokens"] <= 5
    assert stats["finish_reason"] == "length"


def test_multi_turn_history_reaches_the_chat_template(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.system_prompt = "You are a zoologist."
    try:
        conversation.ask("Which animals live in the savanna?")
        conversation.ask("Which of these is the strongest?")
        info_prompt = conversation.backend._render(conversation.build_messages())  # type: ignore[attr-defined]
    finally:
        conversation.system_prompt = ""
    assert "You are a zoologist." in info_prompt
    assert "Which animals live in the savanna?" in info_prompt
    assert conversation.history[-1].stats["prompt_tokens"] > conversation.history[1].stats["prompt_tokens"]


def test_stop_ends_the_worker_within_a_token(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=200)
    try:
        future = conversation.send("Write a long story about elephants.")
        while len((conversation.partial_reply() or ("", ""))[1]) < 10:
            time.sleep(0.01)
        started = time.perf_counter()
        conversation.stop()
        reply = future.result(timeout=10)
        stop_s = time.perf_counter() - started
    finally:
        conversation.settings = conversation.settings.replace(max_new_tokens=24)
    token_s = 1 / reply.stats["tokens_per_s"]
    assert reply.status == "stopped"
    assert reply.content
    assert reply.stats["tokens"] < 200
    # the worker is done and the generate thread has ended (it honours the cancel event)
    assert not any(t.name == "nbchat-generate" for t in threading.enumerate())
    assert stop_s < max(1.0, 3 * token_s)


def test_stop_sequences_never_show(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=40)
    reply = conversation.ask("Count from 1 to 10, separated by commas.")
    assert "5" in reply  # the model counts
    conversation.clear()
    conversation.settings = conversation.settings.replace(stop=("5",))
    try:
        stopped = conversation.ask("Count from 1 to 10, separated by commas.")
    finally:
        conversation.settings = conversation.settings.replace(stop=(), max_new_tokens=24)
    assert "5" not in stopped
    assert stopped == reply[: reply.index("5")]


def test_chat_ask_streams_to_the_widget(comms: list) -> None:  # type: ignore[type-arg]
    chat = nbchat.Chat(TransformersBackend.embedded(), temperature=0, max_new_tokens=16, load="now")
    reply = chat.ask("Hello!")
    deltas = comms[-1].custom("delta")
    assert reply
    assert len(deltas) >= 1
    assert "".join(d["text"] for d in deltas) == reply
    assert chat._messages[-1]["content"] == reply
    assert chat.model_label == "SmolLM2-135M-Instruct · transformers"
    assert chat.max_new_tokens_limit == chat.conversation.backend.context_window


def test_prefix_cache_reuses_history_and_changes_nothing() -> None:
    """Greedy answers are identical with and without KV-cache reuse, across turns, an edit and a stop."""

    def conversation(prefix_cache: bool) -> nbchat.Conversation:
        backend = TransformersBackend.embedded(prefix_cache=prefix_cache)
        return nbchat.Conversation(backend, load="now", temperature=0, max_new_tokens=20)

    turns = ["Which animals live in the savanna?", "Which of these is the strongest?", "And the fastest?"]
    with_cache, without = conversation(True), conversation(False)
    for text in turns:
        assert with_cache.ask(text) == without.ask(text)
    cached = [m.stats["cached_tokens"] for m in with_cache.history if m.role == "assistant"]
    assert cached[0] is None
    assert all(c and c > 20 for c in cached[1:]), cached  # later turns reuse the earlier prompt
    assert all(m.stats["cached_tokens"] is None for m in without.history if m.role == "assistant")
    # a changed system message invalidates most of the prefix: still the same answers
    for conv in (with_cache, without):
        conv.system_prompt = "You are a poet."
    assert with_cache.ask("Describe a lion.") == without.ask("Describe a lion.")
    assert with_cache.history[-1].stats["cached_tokens"] < with_cache.history[-3].stats["prompt_tokens"]
