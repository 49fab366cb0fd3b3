"""The embedded SmolLM2-135M-Instruct run by llama.cpp: the same behaviour as the transformers path, faster.

These tests fail (they do not skip) when llama-cpp-python is missing: CI installs ``nbchat[llamacpp]``, and a
failed build of it must fail CI.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import Any

import pytest

import nbchat
from nbchat._errors import MissingDependencyError
from nbchat._settings import GenerationSettings
from nbchat.backends import GenerationInfo
from nbchat.backends.llamacpp import INSTALL_COMMAND, LlamaCppBackend, gguf_backend_kind, physical_cores

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready", "llama_cpp_ready")]

STORY = "Write a long story about elephants."


@pytest.fixture(scope="session")
def llama_cpp_ready() -> None:
    """Import llama_cpp: its absence is an error with the install command, not a skip."""
    from nbchat.backends.llamacpp import _import_llama_cpp

    _import_llama_cpp()


def make(**options: Any) -> nbchat.Conversation:
    backend_options = {k: options.pop(k) for k in ("n_ctx", "n_threads", "seed", "prefix_cache") if k in options}
    settings: dict[str, Any] = {"temperature": 0, "max_new_tokens": 24, **options}
    return nbchat.Conversation(LlamaCppBackend.embedded(**backend_options), load="now", **settings)


@pytest.fixture(scope="module")
def conversation() -> nbchat.Conversation:
    return make()


def test_answers_through_conversation_streaming_several_deltas(conversation: nbchat.Conversation) -> None:
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
    assert stats["backend"] == "llama.cpp"
    assert stats["model"] == "SmolLM2-135M-Instruct"
    assert 0 < stats["tokens"] <= 24
    assert stats["prompt_tokens"] > 5
    assert stats["ttft_s"] > 0
    assert stats["tokens_per_s"] > 0
    assert stats["finish_reason"] in ("stop", "length")


def test_prompt_is_the_gguf_chat_template_as_transformers_renders_it(conversation: nbchat.Conversation) -> None:
    """Same template, same tokens: the two local paths see the very same prompt."""
    from nbchat.backends.transformers import TransformersBackend

    messages = [
        {"role": "system", "content": "You are a zoologist."},
        {"role": "user", "content": "Which animals live in the savanna? Ünïcödé, 象, 🦁"},
        {"role": "assistant", "content": "Lions, zebras and elephants."},
        {"role": "user", "content": "Which is the strongest?"},
    ]
    ours = conversation.backend
    theirs = TransformersBackend.embedded()
    theirs.load()
    assert ours.render_prompt(messages) == theirs.render_prompt(messages)
    assert ours.render_prompt(messages).endswith("<|im_start|>assistant\n")  # type: ignore[union-attr]
    assert LlamaCppBackend.embedded(n_ctx=768).render_prompt(messages) is None  # not loaded yet
    assert ours.count_tokens(messages) == theirs.count_tokens(messages)
    assert ours.context_window == 4096  # min(trained context 8192, the 4096 default cap)


def test_greedy_is_deterministic(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    first = conversation.ask("Name a colour.")
    conversation.clear()
    second = conversation.ask("Name a colour.")  # the whole prompt is in the cache now: still the same answer
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


def test_multi_turn_history_and_system_prompt_reach_the_template(conversation: nbchat.Conversation) -> None:
    conversation.clear()
    conversation.system_prompt = "You are a zoologist."
    try:
        conversation.ask("Which animals live in the savanna?")
        conversation.ask("Which of these is the strongest?")
        prompt = conversation.backend.render_prompt(conversation.build_messages()) or ""
    finally:
        conversation.system_prompt = ""
    assert prompt.startswith("<|im_start|>system\nYou are a zoologist.<|im_end|>")
    assert "Which animals live in the savanna?" in prompt
    assert conversation.history[1].content in prompt
    assert conversation.history[-1].stats["prompt_tokens"] > conversation.history[1].stats["prompt_tokens"]


def test_stop_ends_the_worker_within_a_token_and_the_model_stays_usable(conversation: nbchat.Conversation) -> None:
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
    token_s = 1 / reply.stats["tokens_per_s"]
    assert reply.status == "stopped"
    assert reply.stats["finish_reason"] == "stopped"
    assert reply.content
    assert reply.stats["tokens"] < 400
    assert stop_s < max(0.25, 3 * token_s)  # the poll interval of the worker plus a token or two
    # the backend's stream has ended and released the model: the next question is answered at once
    assert not conversation.backend._shared.lock.locked()  # type: ignore[attr-defined]
    assert conversation.ask("Name a colour.")


def test_closing_the_stream_early_keeps_the_model_usable(conversation: nbchat.Conversation) -> None:
    backend = conversation.backend
    messages = [{"role": "user", "content": STORY}]
    settings = GenerationSettings(temperature=0, max_new_tokens=50)
    full_info = GenerationInfo()
    full = "".join(backend.stream(messages, settings, full_info, threading.Event()))
    stream = backend.stream(messages, settings, GenerationInfo(), threading.Event())
    first = [next(stream), next(stream)]
    stream.close()  # a consumer that stops reading: generator closed between tokens
    assert full.startswith("".join(first))
    info = GenerationInfo()
    again = "".join(backend.stream(messages, settings, info, threading.Event()))
    assert again == full
    assert info.cached_tokens == info.prompt_tokens - 1  # the prompt was still in the cache
    assert info.completion_tokens == full_info.completion_tokens == 50
    assert info.finish_reason == "length"


def test_prefix_reuse_changes_nothing_and_is_reported() -> None:
    """Greedy answers are identical with and without llama.cpp's prefix reuse, across turns and an edit."""
    turns = ["Which animals live in the savanna?", "Which of these is the strongest?", "And the fastest?"]
    # two llama.cpp contexts (n_ctx tells them apart), so that one's resets do not evict the other's cache
    with_cache, without = make(max_new_tokens=20, n_ctx=2048), make(max_new_tokens=20, n_ctx=1024, prefix_cache=False)
    assert with_cache.backend._shared is not without.backend._shared  # type: ignore[attr-defined]
    for text in turns:
        assert with_cache.ask(text) == without.ask(text)
    cached = [m.stats["cached_tokens"] for m in with_cache.history if m.role == "assistant"]
    prompts = [m.stats["prompt_tokens"] for m in with_cache.history if m.role == "assistant"]
    assert all(c and c > p * 0.6 for c, p in zip(cached[1:], prompts[1:], strict=True)), (cached, prompts)
    assert all(m.stats["cached_tokens"] is None for m in without.history if m.role == "assistant")
    # a changed system message invalidates the cache after "<|im_start|>system\nYou are a": still the same answers
    for conv in (with_cache, without):
        conv.system_prompt = "You are a poet."
    assert with_cache.ask("Describe a lion.") == without.ask("Describe a lion.")
    assert with_cache.history[-1].stats["cached_tokens"] == 6


def test_instances_are_shared_per_file_context_and_threads() -> None:
    a, b = LlamaCppBackend.embedded(), LlamaCppBackend.embedded(name="another label")
    c = LlamaCppBackend.embedded(n_ctx=512)
    for backend in (a, b, c):
        backend.load()
    assert a._shared is b._shared  # type: ignore[attr-defined]
    assert a._shared.llm is b._shared.llm  # type: ignore[attr-defined]
    assert c._shared is not a._shared  # type: ignore[attr-defined]
    assert c.context_window == 512


def test_two_chats_on_one_model_take_turns() -> None:
    """Two conversations on the same Llama generate at the same time: the lock serialises them, both finish."""
    one, two = make(max_new_tokens=16), make(max_new_tokens=16)
    expected = one.ask("Name a bird.")
    one.clear()
    futures = [one.send("Name a bird."), two.send("Name a bird.")]
    replies = [f.result(timeout=60) for f in futures]
    assert [r.status for r in replies] == ["done", "done"]
    assert [r.content for r in replies] == [expected, expected]


def test_a_prompt_beyond_the_context_window_is_an_error_in_the_chat() -> None:
    conv = make(n_ctx=256, max_new_tokens=16)
    reply = conv.send("lion " * 400).result(timeout=60)
    assert reply.status == "error"
    assert "context window of 256" in (reply.error or "")
    assert "n_ctx=" in (reply.error or "")


def test_old_turns_are_dropped_to_fit_the_context_window() -> None:
    conv = make(n_ctx=256, max_new_tokens=16)
    note = "The savanna is a grassland with scattered trees where lions hunt zebras and antelopes. " * 3
    for n in range(4):
        conv.ask(f"Note {n}: {note}")
    stats = conv.history[-1].stats
    assert conv.history[-1].status == "done"
    assert stats["left_out"] > 0
    assert stats["prompt_tokens"] + 16 <= 256


def test_sampling_with_a_seed_is_reproducible() -> None:
    conv = make(temperature=1.0, top_p=0.9, max_new_tokens=20, seed=1234)
    first = conv.ask("Invent a name for a cat.")
    conv.clear()
    assert conv.ask("Invent a name for a cat.") == first


def test_widget_shows_the_backend_and_streams(comms: list) -> None:  # type: ignore[type-arg]
    chat = nbchat.Chat(conversation=make(max_new_tokens=16))
    reply = chat.ask("Hello!")
    deltas = comms[-1].custom("delta")
    assert reply
    assert deltas
    assert "".join(d["text"] for d in deltas) == reply
    assert chat.model_label == "SmolLM2-135M-Instruct · llama.cpp"
    assert chat.max_new_tokens_limit == 4096
    assert chat.status_text == "ready · cpu"


def test_describe_names_the_backend_without_paths(conversation: nbchat.Conversation) -> None:
    info = conversation.backend.describe()
    assert info == {
        "backend": "llama.cpp",
        "model": "SmolLM2-135M-Instruct",
        "context_window": 4096,
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "n_ctx": 4096,
        "n_threads": physical_cores(),
        "device": "cpu",
    }
    assert "/" not in repr(info)


def test_choosing_the_backend_for_a_gguf_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gguf_backend_kind() == "llama.cpp"  # installed: chosen automatically
    assert gguf_backend_kind("transformers") == "transformers"
    assert gguf_backend_kind(None, {"dtype": "bfloat16"}) == "transformers"  # an option only transformers has
    with pytest.raises(ValueError, match="backend must be one of"):
        gguf_backend_kind("llamacpp")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a)
    )
    assert gguf_backend_kind() == "transformers"  # not installed: transformers runs GGUF files too
    with pytest.raises(MissingDependencyError) as caught:
        gguf_backend_kind("llama.cpp")
    assert INSTALL_COMMAND in str(caught.value)
    assert "-DGGML_NATIVE=OFF" in str(caught.value)
    with pytest.raises(MissingDependencyError):
        LlamaCppBackend.embedded()


def test_backend_option_chooses_the_engine_for_gguf() -> None:
    assert nbchat.Conversation(backend="llama.cpp", load="lazy").backend.kind == "llama.cpp"
    assert nbchat.Conversation(backend="transformers", load="lazy").backend.kind == "transformers"
    assert nbchat.Conversation(load="lazy").backend.kind == "transformers"  # the default stays transformers
    with pytest.raises(ValueError, match="backend must be"):
        nbchat.Conversation(backend="vllm", load="lazy")
    with pytest.raises(ValueError, match=r"runs \.gguf files"):
        nbchat.Conversation(lambda m, h: "x", backend="llama.cpp", load="lazy")
