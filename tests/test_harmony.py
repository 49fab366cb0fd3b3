"""gpt-oss's harmony channels: the same split for a whole text and for any way of cutting it into streamed deltas.

Texts follow OpenAI's harmony response format (https://cookbook.openai.com/articles/openai-harmony) as the engines
give them: with ``<|end|>``/``<|return|>`` (transformers, special tokens kept) and without (llama.cpp's server).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbchat.backends import Reasoning
from nbchat.backends.harmony import MARKERS, HarmonySplitter, split_harmony_text, template_is_harmony
from tests.test_thinking_splitter import collect, cut

pieces = st.sampled_from(
    ["<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>", "<|call|>", "<|constrain|>", "<|", "<",
     "|>", "<|chan", "nel|>", "analysis", "final", "commentary to=functions.f ", "assistant", "json", " ", "\n",
     "x", "$5", "é"]
)  # fmt: skip
raw_texts = st.one_of(st.lists(pieces, max_size=30).map("".join), st.text(max_size=40))


def stream(chunks: list[str]) -> list[str | Reasoning]:
    splitter = HarmonySplitter()
    parts: list[str | Reasoning] = []
    for chunk in chunks:
        parts += splitter.feed(chunk)
    return parts + splitter.flush()


@given(raw_texts, st.lists(st.integers(min_value=0), max_size=12))
def test_any_chunking_gives_the_split_of_the_whole_text(text: str, points: list[int]) -> None:
    parts = stream(cut(text, points))
    assert collect(parts) == split_harmony_text(text)
    assert all(p.text if isinstance(p, Reasoning) else p for p in parts)  # no empty deltas reach the controller


@given(st.text(max_size=40).filter(lambda t: "<|" not in t), st.lists(st.integers(min_value=0), max_size=8))
def test_text_without_markers_passes_unchanged(text: str, points: list[int]) -> None:
    assert collect(stream(cut(text, points))) == ("", text)


TRANSFORMERS = (
    "<|channel|>analysis<|message|>User asks 2+2. Answer 4.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>2 + 2 = **4**.<|return|>"
)
LLAMA_SERVER = (  # llama.cpp leaves <|end|> and <|return|> out
    "<|channel|>analysis<|message|>User asks 2+2. Answer 4.<|start|>assistant<|channel|>final<|message|>2 + 2 = **4**."
)
TOOL_PREAMBLE = (
    "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather"
    ' <|constrain|>json<|message|>{"city": "Lima"}<|call|>'
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TRANSFORMERS, ("User asks 2+2. Answer 4.", "2 + 2 = **4**.")),
        (LLAMA_SERVER, ("User asks 2+2. Answer 4.", "2 + 2 = **4**.")),
        ("<|channel|>final<|message|>Hi!<|return|>", ("", "Hi!")),  # no reasoning at all
        ("<|channel|>final<|constrain|>json<|message|>{}<|return|>", ("", "{}")),  # structured output on final
        ("<|channel|>analysis<|message|>Long thought, stopped", ("Long thought, stopped", "")),  # Stop, max tokens
        (TOOL_PREAMBLE, ("Need weather.{\"city\": \"Lima\"}", "")),  # a tool call is not an answer
        ("A model that ignores the format <|x|>", ("", "A model that ignores the format <|x|>")),
        ("<|channel|>analys", ("", "")),  # cut inside the first header: nothing written yet
    ],
)  # fmt: skip
def test_examples(text: str, expected: tuple[str, str]) -> None:
    assert split_harmony_text(text) == expected
    assert collect(stream([text])) == expected
    assert collect(stream(list(text))) == expected  # one character at a time


def test_reasoning_streams_before_the_answer_starts() -> None:
    splitter = HarmonySplitter()
    assert splitter.feed("<|channel|>analysis<|mess") == []
    assert splitter.feed("age|>Let me") == [Reasoning("Let me")]
    assert splitter.thinking
    assert splitter.feed(" think<|") == [Reasoning(" think")]  # "<|" waits: it may start a marker
    assert splitter.feed("start|>assistant<|channel|>final<|message|>Four") == ["Four"]
    assert not splitter.thinking
    assert splitter.feed("<|return|>") == []
    assert splitter.flush() == []


def test_template_is_harmony() -> None:
    gpt_oss = "{{- '<|start|>assistant<|channel|>final<|message|>' + m.content + '<|end|>' }}"
    assert template_is_harmony(gpt_oss)
    assert not template_is_harmony("{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}")
    assert not template_is_harmony(None)


# A harmony chat template reduced to what matters: the prompt ends with <|start|>assistant, as gpt-oss's does.
HARMONY_TEMPLATE = (
    "{% for m in messages %}<|start|>{{ m['role'] }}{% if m['role'] == 'assistant' %}<|channel|>final{% endif %}"
    "<|message|>{{ m['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}<|start|>assistant{% endif %}"
)


@pytest.mark.model
@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("<|channel|>final<|message|>Hi there<|return|>", ("", "Hi there")),
        ("<|channel|>analysis<|message|>Let me think<|end|>", ("Let me think", "")),
    ],
)
def test_a_gpt_oss_style_model_on_the_transformers_path(
    tmp_path: Path, embedded_ready: None, script: str, expected: tuple[str, str]
) -> None:
    """A tiny model that writes ``script`` token by token: its special tokens reach the splitter, never the chat."""
    import nbchat
    from tests.tiny_models import save_scripted_chat_model

    save_scripted_chat_model(tmp_path / "tiny-harmony", HARMONY_TEMPLATE, script, list(MARKERS))
    conv = nbchat.Conversation(str(tmp_path / "tiny-harmony"), prepare="now", max_new_tokens=20, temperature=0)
    conv.ask("What is 2+2?")
    reply = conv.history[-1]
    assert (reply.reasoning, reply.content) == expected
    assert reply.stats["backend"] == "transformers"
    assert conv.request_of(reply.id)["prompt"].endswith("<|start|>assistant")
    conv.close()
