"""Parity of the local engines: the embedded SmolLM2-135M-Instruct on transformers, on llama.cpp (xllamacpp, the
default) and on llama-cpp-python (optional: these tests skip it when it is not installed).

Every test here runs once per engine and asks the same of each: streaming, stats, greedy determinism,
max new tokens, end of turn, stop strings, history and system prompt through the GGUF's chat template, Stop, the
model staying usable after it, prefix reuse that changes no answer, and the widget naming the engine.
What only one engine has is tested in tests/test_embedded_model.py (transformers) and
tests/test_llamacpp_backend.py (llama.cpp). xllamacpp's absence fails these tests (nbchat depends on it).
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import pytest

import nbchat

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]

ENGINES = [
    "transformers",
    "llama.cpp",
    pytest.param(
        "llama-cpp-python",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python (optional) is not installed"
        ),
    ),
]
LLAMA_CPP = ("llama.cpp", "llama-cpp-python")
STORY = "Write a long story about elephants."


def make(engine: str, **settings: Any) -> nbchat.Conversation:
    options = {k: settings.pop(k) for k in ("prefix_cache", "n_ctx") if k in settings}
    return nbchat.Conversation(backend=engine, prepare="now", **{"temperature": 0, "max_new_tokens": 24, **settings},
                               **options)  # fmt: skip


@pytest.fixture(scope="module", params=ENGINES)
def conversation(request: pytest.FixtureRequest) -> nbchat.Conversation:
    conv = make(request.param)
    assert conv.backend.kind == request.param
    return conv


def test_streams_several_deltas_with_stats(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    deltas: list[str] = []
    unsubscribe = conversation.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    try:
        reply = conversation.ask("Which animals live in the savanna?")
    finally:
        unsubscribe()
    assert reply.strip()
    assert len(deltas) > 1
    assert "".join(deltas) == reply
    stats = conversation.history[-1].stats
    assert stats["backend"] == conversation.backend.kind
    assert stats["model"] == "SmolLM2-135M-Instruct"
    assert 0 < stats["tokens"] <= 24
    assert stats["prompt_tokens"] > 5
    assert stats["ttft_s"] > 0
    assert stats["tokens_per_s"] > 0
    assert stats["finish_reason"] in ("stop", "length")


def test_greedy_is_deterministic(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    first = conversation.ask("Name a colour.")
    conversation.clear()
    second = conversation.ask("Name a colour.")  # the prompt is in the cache now: still the same answer
    assert first == second


def test_max_new_tokens_is_obeyed(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=5)
    try:
        conversation.ask("Tell me a long story about a lion.")
    finally:
        conversation.settings = conversation.settings.replace(max_new_tokens=24)
    stats = conversation.history[-1].stats
    assert stats["tokens"] == 5
    assert stats["finish_reason"] == "length"


def test_end_of_turn_token_finishes_with_stop(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=200)
    try:
        reply = conversation.ask("Say yes.")
    finally:
        conversation.settings = conversation.settings.replace(max_new_tokens=24)
    stats = conversation.history[-1].stats
    assert stats["finish_reason"] == "stop"
    assert stats["tokens"] < 200
    assert "<|im_end|>" not in reply


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
    assert conversation.history[-1].stats["finish_reason"] == "stop"


def test_history_and_system_prompt_go_through_the_gguf_chat_template(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.system_prompt = "You are a zoologist."
    try:
        conversation.ask("Which animals live in the savanna?")
        conversation.ask("Which of these is the strongest?")
        messages = conversation.build_messages()
        prompt = conversation.backend.render_prompt(messages) or ""
    finally:
        conversation.system_prompt = ""
    assert prompt.startswith("<|im_start|>system\nYou are a zoologist.<|im_end|>")
    assert "Which animals live in the savanna?" in prompt
    assert conversation.history[1].content in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert conversation.history[-1].stats["prompt_tokens"] > conversation.history[1].stats["prompt_tokens"]
    # the last request was these messages without the reply it got
    assert conversation.backend.count_tokens(messages[:-1]) == conversation.history[-1].stats["prompt_tokens"]


def test_stop_ends_the_reply_within_a_token_and_the_model_stays_usable(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=400)
    try:
        future = conversation.send(STORY)
        while len((conversation.partial_reply() or ("", ""))[1]) < 10:
            time.sleep(0.002)
        started = time.perf_counter()
        conversation.stop()
        reply = future.result(timeout=10)
        stop_s = time.perf_counter() - started
    finally:
        conversation.settings = conversation.settings.replace(max_new_tokens=24)
    # token counts come from the backend once its stream has ended: on a loaded machine that can take longer
    # than the worker waits for it after Stop (nbchat._generation.STATS_GRACE_S), and they are then unknown
    rate, tokens = reply.stats["tokens_per_s"], reply.stats["tokens"]
    token_s = 1 / rate if rate else 0.1
    assert reply.status == "stopped"
    assert reply.stats["finish_reason"] == "stopped"
    assert reply.content
    assert tokens is None or tokens < 400
    assert len(reply.content) < 1000  # far from the 400 tokens it was allowed
    assert stop_s < max(0.5, 3 * token_s)
    if conversation.backend.kind in LLAMA_CPP:  # the stream ended and released the shared model
        for _ in range(2):  # after the worker's own next task (the next turn's start, prefilled once a reply ends)
            conversation._executor.submit(lambda: None).result(timeout=10)
        assert not conversation.backend._shared.lock.locked()  # type: ignore[attr-defined]
    conversation.clear()
    assert conversation.ask("Name a colour.")


@pytest.mark.parametrize("engine", ENGINES)
def test_prefix_reuse_changes_no_answer(engine: str) -> None:
    """Greedy answers are the same with and without reusing the previous turn's key/value cache."""
    turns = ["Which animals live in the savanna?", "Which of these is the strongest?", "And the fastest?"]
    # llama.cpp: two contexts (n_ctx tells them apart), so that one's resets do not evict the other's cache
    with_cache = make(engine, max_new_tokens=20, **({"n_ctx": 2048} if engine in LLAMA_CPP else {}))
    without = make(engine, max_new_tokens=20, prefix_cache=False, **({"n_ctx": 1024} if engine in LLAMA_CPP else {}))
    for text in turns:
        assert with_cache.ask(text) == without.ask(text)
    cached = [m.stats["cached_tokens"] for m in with_cache.history if m.role == "assistant"]
    prompts = [m.stats["prompt_tokens"] for m in with_cache.history if m.role == "assistant"]
    assert all(c and c > p * 0.6 for c, p in zip(cached[1:], prompts[1:], strict=True)), (cached, prompts)
    assert all(m.stats["cached_tokens"] is None for m in without.history if m.role == "assistant")
    # a changed system message invalidates most of the cached prefix: still the same answers
    for conv in (with_cache, without):
        conv.system_prompt = "You are a poet."
    assert with_cache.ask("Describe a lion.") == without.ask("Describe a lion.")
    assert with_cache.history[-1].stats["cached_tokens"] < 10


@pytest.mark.parametrize("engine", ENGINES)
def test_the_widget_names_the_engine_and_streams(engine: str, comms: list) -> None:  # type: ignore[type-arg]
    chat = nbchat.Chat(backend=engine, temperature=0, max_new_tokens=16, prepare="now")
    reply = chat.ask("Hello!")
    deltas = comms[-1].custom("delta")
    assert reply
    assert deltas
    assert "".join(d["text"] for d in deltas) == reply
    assert chat.model_label == f"SmolLM2-135M-Instruct · {engine}"
    assert chat._messages[-1]["content"] == reply
    assert chat._messages[-1]["stats"]["backend"] == engine


@pytest.mark.parametrize("engine", ENGINES[1:])
def test_both_engines_see_the_same_prompt_tokens(engine: str) -> None:
    """One chat template (from the GGUF metadata), one tokenizer: the same prompt, token for token."""
    messages = [
        {"role": "system", "content": "You are a zoologist."},
        {"role": "user", "content": "Which animals live in the savanna? Ünïcödé, 象, 🦁"},
        {"role": "assistant", "content": "Lions, zebras and elephants."},
        {"role": "user", "content": "Which is the strongest?"},
    ]
    llama, torch = make(engine).backend, make("transformers").backend
    assert llama.render_prompt(messages) == torch.render_prompt(messages)
    assert llama.count_tokens(messages) == torch.count_tokens(messages)
