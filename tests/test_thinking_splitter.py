"""The ``<think>`` splitter: the same split for a whole text and for any way of cutting it into streamed deltas."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbchat.backends import Reasoning
from nbchat.backends.thinking import (
    ThinkSplitter,
    prompt_opens_think,
    split_think,
    split_think_text,
    template_with_thinking,
)

# pieces that make tags appear, split and repeat in every position
pieces = st.sampled_from(
    ["<think>", "</think>", "<", "</", "<th", "ink>", "think", ">", "\n", " ", "\n\n", "x", "Lion", "$x^2$", "```", "é"]
)
raw_texts = st.one_of(st.lists(pieces, max_size=25).map("".join), st.text(max_size=40))


def cut(text: str, points: list[int]) -> list[str]:
    """``text`` cut at ``points`` (positions, any order, repeats allowed: empty deltas happen too)."""
    edges = [0, *sorted(p % (len(text) + 1) for p in points), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


def collect(parts: list[str | Reasoning]) -> tuple[str, str]:
    reasoning = "".join(p.text for p in parts if isinstance(p, Reasoning))
    answer = "".join(p for p in parts if isinstance(p, str))
    return reasoning, answer


def stream(chunks: list[str], opened: bool) -> list[str | Reasoning]:
    return list(split_think(iter(chunks), opened=opened))


@given(raw_texts, st.lists(st.integers(min_value=0), max_size=12), st.booleans())
def test_any_chunking_gives_the_split_of_the_whole_text(text: str, points: list[int], opened: bool) -> None:
    parts = stream(cut(text, points), opened)
    assert collect(parts) == split_think_text(text, opened=opened)
    assert all(p.text if isinstance(p, Reasoning) else p for p in parts)  # no empty deltas reach the controller


@given(st.text(max_size=40).filter(lambda t: "<" not in t), st.lists(st.integers(min_value=0), max_size=8))
def test_text_without_tags_passes_unchanged(text: str, points: list[int]) -> None:
    assert collect(stream(cut(text, points), opened=False)) == ("", text)


@given(
    st.text(max_size=30).filter(lambda t: "</think>" not in t),
    st.text(max_size=30),
    st.lists(st.integers(min_value=0), max_size=10),
)
def test_a_block_at_the_start_is_reasoning_and_the_rest_is_answer(
    reasoning: str, answer: str, points: list[int]
) -> None:
    text = f"<think>\n{reasoning}\n</think>\n\n{answer}"
    got_reasoning, got_answer = collect(stream(cut(text, points), opened=False))
    assert got_reasoning == f"{reasoning}\n".lstrip()
    assert got_answer == answer.lstrip()


@pytest.mark.parametrize(
    ("chunks", "opened", "expected"),
    [
        # tags split across chunks
        (["<th", "ink>The user", " asks.</th", "ink>\n\nHello"], False, ("The user asks.", "Hello")),
        # unclosed: Stop or max_new_tokens inside the thinking; everything is kept, as reasoning
        (["<think>", "Let me think", " about </thi"], False, ("Let me think about </thi", "")),
        # a literal "<think>" inside a code block of the answer stays answer text
        (
            ["Use it like this:\n```html\n<think>", "x</think>\n```"],
            False,
            ("", "Use it like this:\n```html\n<think>x</think>\n```"),
        ),
        (["<think>r</think>```\n<think>\n```"], False, ("r", "```\n<think>\n```")),
        # the chat template opened the block (DeepSeek-R1's prompt ends in "<think>\n")
        (["Okay, so", " 2+2.\n</think>", "\n\n4"], True, ("Okay, so 2+2.\n", "4")),
        # ... and a model that writes the tag again anyway
        (["<think>\nhm</think>ok"], True, ("hm", "ok")),
        # nested-looking text inside the reasoning ends at the first close tag
        (["<think>a <think> b</think>c</think>"], False, ("a <think> b", "c</think>")),
        # an empty block (Qwen3 with thinking off writes one)
        (["<think>\n\n</think>\n\n", "Hi"], False, ("", "Hi")),
        # a half tag at the very end is text, not lost
        (["  <thi"], False, ("", "  <thi")),
    ],
)
def test_examples(chunks: list[str], opened: bool, expected: tuple[str, str]) -> None:
    assert collect(stream(chunks, opened)) == expected


def test_reasoning_streams_before_the_block_closes() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>") == []
    assert splitter.thinking
    assert splitter.feed("step one, ") == [Reasoning("step one, ")]
    assert splitter.feed("step two</") == [Reasoning("step two")]  # "</" waits: it may start the close tag
    assert splitter.feed("think>Answer") == ["Answer"]
    assert not splitter.thinking


def test_closing_the_stream_closes_the_engine_and_an_error_keeps_held_text() -> None:
    closed = []

    def engine():  # type: ignore[no-untyped-def]
        try:
            yield "<think>a"
            yield "b</"
            raise RuntimeError("engine failed")
        finally:
            closed.append(True)

    got: list[str | Reasoning] = []

    def consume() -> None:
        got.extend(split_think(engine()))

    with pytest.raises(RuntimeError, match="engine failed"):
        consume()
    assert collect(got) == ("ab</", "")
    assert closed == [True]

    closed.clear()
    stream_ = split_think(engine())
    next(stream_)
    stream_.close()
    assert closed == [True]


def test_prompt_opens_think() -> None:
    assert prompt_opens_think("<|im_start|>assistant\n<think>\n")
    assert not prompt_opens_think("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # Qwen3, thinking off
    assert not prompt_opens_think(None)


def test_template_with_thinking_sets_the_switch_for_plain_jinja() -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    template = "{% if enable_thinking is defined and not enable_thinking %}OFF{% else %}ON{% endif %}"
    env = ImmutableSandboxedEnvironment()
    assert env.from_string(template).render() == "ON"
    assert env.from_string(template_with_thinking(template, False)).render() == "OFF"
    assert env.from_string(template_with_thinking(template, True)).render() == "ON"
