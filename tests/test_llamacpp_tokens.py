"""The llama.cpp backend's prompt tokens: rendered once per send, and tokenized from a cached prompt's tokens.

A new prompt that starts like one already tokenized (the next turn's start, prefilled while the user reads) is
tokenized by sending llama.cpp only its end, after the last special token both share; these tests check, for any
conversation and any text hypothesis can think of, that the tokens are those llama.cpp gives for the whole prompt,
on the embedded model (a BPE vocabulary) and on a tiny SentencePiece (SPM) model made here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbchat
from nbchat._errors import BackendError
from nbchat.backends._gguf_tokens import gguf_metadata
from nbchat.backends.llamacpp import LlamaCppBackend
from tests.tiny_models import save_tiny_spm_gguf

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]

# ChatML with Qwen3's thinking switch (as in tests/test_thinking_local.py): the SPM model's template reads it
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)


class Recorder:
    """Records the backend's requests to the engine (path, body) and passes them on."""

    def __init__(self, backend: LlamaCppBackend, monkeypatch: pytest.MonkeyPatch) -> None:
        shared = backend._engine
        self.calls: list[tuple[str, dict[str, Any]]] = []
        post = shared.post

        def record(path: str, body: dict[str, Any]) -> Any:
            self.calls.append((path, body))
            return post(path, body)

        monkeypatch.setattr(shared, "post", record)

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]

    def tokenized(self) -> list[dict[str, Any]]:
        return [body for path, body in self.calls if path == "/tokenize"]


@pytest.fixture(scope="module")
def embedded() -> LlamaCppBackend:
    backend = LlamaCppBackend.embedded()
    backend.prepare()
    return backend


@pytest.fixture(scope="module")
def spm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppBackend]:
    path = save_tiny_spm_gguf(tmp_path_factory.mktemp("spm") / "tiny-spm.gguf", THINKING_TEMPLATE)
    backend = LlamaCppBackend(path, n_ctx=2048)
    backend.prepare()
    yield backend
    backend.close()


def full_tokens(backend: LlamaCppBackend, prompt: str) -> list[int]:
    """llama.cpp's tokens of the whole prompt, as its server tokenizes a prompt (nothing cached)."""
    body = {"content": prompt, "add_special": True, "parse_special": True}
    return [int(t) for t in backend._engine.post("/tokenize", body)["tokens"]]


def forget(backend: LlamaCppBackend) -> None:
    backend._token_cache.clear()
    backend._render_cache.clear()


# ------------------------------------------------------------------------------------------------ for any text
# pieces that meet at the cut: special tokens' texts (whole, halves), the templates' own words, white space runs,
# newlines, Chinese, emoji, bytes no SPM piece has
PIECES = [
    "<|im_start|>", "<|im_end|>", "<|im_", "end|>", "<think>", "</think>", "<s>", "</s>", "<unk>", "<|endoftext|>",
    "user", "assistant", "system", "\n", "\n\n", " ", "   ", "\t", " \n ", "lion", " lions", "the savanna", "猫",
    "狮子大", "🦁", "👩‍👩‍👧", "é", "Hello, world!", "x" * 40,
]  # fmt: skip
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=8).map("".join)
MESSAGES = st.lists(st.tuples(st.sampled_from(["user", "assistant"]), TEXT), min_size=1, max_size=6)
CONVERSATION = st.tuples(
    st.one_of(st.none(), TEXT),  # system prompt
    MESSAGES,
    TEXT,  # the next question
    st.sampled_from([None, True, False]),  # thinking
)


def check_conversations(backend: LlamaCppBackend, data: st.DataObject) -> bool:
    """Tokenize a conversation's next-turn start (the prefill, empty question), then the prompt with the question,
    then a prompt cut anywhere and continued with any text: the tokens are llama.cpp's for each whole prompt.
    True if a prompt was tokenized from a cached one (only its end sent)."""
    system, history, question, thinking = data.draw(CONVERSATION)
    head = [{"role": "system", "content": system}] if system is not None else []
    messages = head + [{"role": role, "content": text} for role, text in history]
    forget(backend)
    cut_used = False
    prompts = [
        backend._render([*messages, {"role": "user", "content": ""}], thinking),
        backend._render([*messages, {"role": "user", "content": question}], thinking),
    ]
    at = data.draw(st.integers(0, len(prompts[1])))
    prompts.append(prompts[1][:at] + data.draw(TEXT))
    for prompt in prompts:
        calls: list[bool] = []
        post = backend._post_tokenize

        def record(text: str, *, add_special: bool, calls: list[bool] = calls, post: Any = post) -> list[int]:
            calls.append(add_special)
            return post(text, add_special=add_special)

        backend._post_tokenize = record  # type: ignore[method-assign]
        try:
            tokens = backend._tokenize(prompt)
        finally:
            del backend._post_tokenize
        assert tokens == full_tokens(backend, prompt), (prompt, calls)
        cut_used = cut_used or calls[:1] == [False]
    return cut_used


@pytest.mark.parametrize("model", ["embedded", "spm"])
def test_tokens_from_a_cached_prompt_are_llama_cpps_tokens_of_the_whole_prompt(
    model: str, request: pytest.FixtureRequest
) -> None:
    backend: LlamaCppBackend = request.getfixturevalue(model)
    used: list[bool] = []

    @settings(max_examples=120, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        used.append(check_conversations(backend, data))

    check()
    assert sum(used) > len(used) / 2  # the cut is the common case, not a fallback that hides it


def test_the_spm_model_adds_bos_and_a_space_after_special_tokens(spm: LlamaCppBackend) -> None:
    """What the property above runs against on the SPM model: a BOS token and SentencePiece's space prefix."""
    prompt = spm._render([{"role": "user", "content": "hello"}], thinking=False)
    assert prompt == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    tokens = full_tokens(spm, prompt)
    assert tokens[:2] == [1, 3]  # <s> <|im_start|>
    pieces = spm._engine.post("/detokenize", {"tokens": tokens[2:3]})["content"]
    assert pieces == " "  # "▁" before "user": the space SentencePiece puts after a special token
    assert spm._head == 1


# ------------------------------------------------------------------------------------------------ a send
def settle(conv: nbchat.Conversation) -> None:
    """Until the worker has run everything queued (the reply's end queues the next turn's prefill)."""
    for _ in range(3):
        conv._executor.submit(lambda: None).result(timeout=60)


def test_after_the_next_turn_is_prefilled_a_send_renders_once_and_tokenizes_only_its_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conv = nbchat.Conversation(LlamaCppBackend.embedded(), prepare="now", max_new_tokens=8, temperature=0)
    backend = conv.backend
    assert isinstance(backend, LlamaCppBackend)
    settle(conv)  # the first turn's start, prefilled once loaded
    recorder = Recorder(backend, monkeypatch)
    conv.ask("Name a big cat.")
    first = conv.history[-1].content
    settle(conv)  # the next turn's start: tokenized from the first question's prompt, the reply on
    assert [body["add_special"] for body in recorder.tokenized()] == [False, False]
    assert recorder.tokenized()[0]["content"].startswith("<|im_start|>user\nName a big cat.<|im_end|>")
    assert recorder.tokenized()[1]["content"] == (
        f"<|im_start|>assistant\n{first}<|im_end|>\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"
    )
    recorder.calls.clear()
    monkeypatch.setattr(conv._prefiller, "next_turn", lambda: None)  # only the send's requests are recorded
    conv.ask("And a small one?")
    reply = conv.history[-1]
    assert recorder.paths() == ["/apply-template", "/tokenize"]  # rendered and tokenized once: then from the caches
    assert recorder.tokenized()[0] == {
        "content": "<|im_start|>user\nAnd a small one?<|im_end|>\n<|im_start|>assistant\n",
        "add_special": False,
        "parse_special": True,
    }
    prompt = conv.request_of(reply.id)["prompt"]
    assert reply.stats["prompt_tokens"] == len(full_tokens(backend, prompt))
    assert reply.stats["cached_tokens"] > 0
    conv.close()


def test_a_prompt_with_nothing_to_reuse_is_tokenized_whole(embedded: LlamaCppBackend) -> None:
    forget(embedded)
    messages = [{"role": "user", "content": "Which animals live in the savanna?"}]
    assert embedded.count_tokens(messages) == len(full_tokens(embedded, embedded.render_prompt(messages) or ""))
    other = "no special token in common"
    assert embedded._tokens_after(list(embedded._token_cache.items()), other) is None
    assert embedded._tokenize(other) == full_tokens(embedded, other)


def test_renderings_are_cached_per_messages_and_thinking(spm: LlamaCppBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    forget(spm)
    recorder = Recorder(spm, monkeypatch)
    messages = [{"role": "user", "content": "hello"}]
    on, again = spm._render(messages, thinking=True), spm._render(list(messages), thinking=True)
    off = spm._render(messages, thinking=False)
    assert on == again
    assert on.endswith("<think>\n")
    assert off.endswith("</think>\n\n")
    assert recorder.paths() == ["/apply-template", "/apply-template"]  # on, off: the second 'on' from the cache
    for n in range(10):  # the least recently used renderings make room
        spm._render([{"role": "user", "content": f"question {n}"}])
    assert len(spm._render_cache) == 8


def test_two_threads_tokenize_at_once(embedded: LlamaCppBackend) -> None:
    """The caches are shared by the worker thread (prefill, send) and the kernel's (the context gauge)."""
    forget(embedded)
    prompts = [embedded._render([{"role": "user", "content": f"Question {n}?" * n}]) for n in range(12)]
    results: dict[str, list[int]] = {}

    def work(part: list[str]) -> None:
        for prompt in part:
            results[prompt] = embedded._tokenize(prompt)

    threads = [threading.Thread(target=work, args=(prompts[n::2],)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(results[prompt] == full_tokens(embedded, prompt) for prompt in prompts)


# ------------------------------------------------------------------------------------------------ the GGUF header
def test_the_header_names_the_special_tokens_as_the_gguf_package_reads_them(tmp_path: Path) -> None:
    import gguf

    from nbchat._embedded import embedded_gguf_path

    reader = gguf.GGUFReader(embedded_gguf_path())
    tokens = reader.get_field("tokenizer.ggml.tokens").contents()
    types = reader.get_field("tokenizer.ggml.token_type").contents()
    expected = {i: tokens[i] for i, kind in enumerate(types) if kind in (2, 3, 4)}
    assert gguf_metadata(embedded_gguf_path())["special_tokens"] == expected
    assert expected[1] == "<|im_start|>"
    spm = save_tiny_spm_gguf(tmp_path / "spm.gguf", THINKING_TEMPLATE)
    assert list(gguf_metadata(spm)["special_tokens"].values()) == [
        "<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<think>", "</think>",
    ]  # fmt: skip
    # a header cut short (an interrupted download): an error that says so, wherever the cut falls
    data = spm.read_bytes()
    for size in (20, 100, 1000, 5000):
        (tmp_path / "cut.gguf").write_bytes(data[:size])
        with pytest.raises(BackendError, match="incomplete"):
            gguf_metadata(tmp_path / "cut.gguf")


SPECIAL_TEXT = st.text(alphabet="<|>ab \n猫", min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.lists(SPECIAL_TEXT, min_size=1, max_size=12), st.text(alphabet="<|>ab \n猫x", max_size=40))
def test_the_special_tokens_pattern_finds_the_longest_text_at_each_position(texts: list[str], text: str) -> None:
    """The trie the special tokens' texts are found with matches what their alternation, longest first, matches."""
    import re

    from nbchat.backends._gguf_tokens import trie_pattern

    plain = re.compile("|".join(re.escape(t) for t in sorted(set(texts), key=len, reverse=True)))
    trie = re.compile(trie_pattern(texts))
    assert [m.span() for m in trie.finditer(text)] == [m.span() for m in plain.finditer(text)]
