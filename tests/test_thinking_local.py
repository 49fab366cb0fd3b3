"""Thinking on local engines: a chat template that takes ``enable_thinking``, rendered both ways, and ``<think>``
blocks from the model's text (or opened by the template) streaming as reasoning; callables too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nbchat
from nbchat.backends.thinking import template_with_thinking
from tests.tiny_models import save_tiny_chat_model

# Qwen3's switch, reduced to what matters: thinking on opens the block in the prompt (as DeepSeek-R1's and QwQ's
# templates do), thinking off writes an empty block so the model answers at once (Qwen3's own off form).
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)


@pytest.fixture(scope="module")
def thinking_model(tmp_path_factory: pytest.TempPathFactory, embedded_ready: None) -> Path:
    """A 1-layer random Llama with SmolLM2's tokenizer and the template above (~1 MB of weights)."""
    return save_tiny_chat_model(tmp_path_factory.mktemp("thinking") / "tiny-thinker", THINKING_TEMPLATE)


@pytest.mark.model
def test_enable_thinking_through_the_transformers_path(thinking_model: Path) -> None:
    conv = nbchat.Conversation(str(thinking_model), prepare="now", max_new_tokens=6, temperature=0, thinking=True)
    conv.ask("What is 2+2?")
    on = conv.history[-1]
    prompt_on = conv.request_of(on.id)["prompt"]
    conv.thinking = False
    conv.ask("What is 2+2?")
    off = conv.history[-1]
    assert on.stats["backend"] == "transformers"
    # the template opened the block: everything the model wrote is reasoning, none of it answer
    assert conv.backend.render_prompt([{"role": "user", "content": "hi"}]).endswith("<think>\n")
    assert prompt_on.endswith("<|im_start|>assistant\n<think>\n")
    assert on.reasoning
    assert not on.content
    assert on.stats["thinking_tokens"] > 0
    assert "notice" not in on.stats
    # thinking off: the template wrote an empty block; the model's text is the answer
    assert off.content
    assert not off.reasoning
    conv.close()


@pytest.mark.model
def test_a_template_without_switch_gets_a_notice(embedded_ready: None) -> None:
    conv = nbchat.Conversation(backend="transformers", prepare="now", max_new_tokens=3, temperature=0, thinking=True)
    conv.ask("hi")
    assert "has no enable_thinking switch" in conv.history[-1].stats["notice"]
    conv.close()


def test_enable_thinking_through_the_llama_cpp_formatter() -> None:
    """llama.cpp's Jinja formatter renders with fixed variables: the switch goes in front of the template."""
    llama_chat_format = pytest.importorskip("llama_cpp.llama_chat_format")
    messages = [{"role": "user", "content": "What is 2+2?"}]
    rendered = {
        on: llama_chat_format.Jinja2ChatFormatter(template_with_thinking(THINKING_TEMPLATE, on), "", "")(
            messages=messages
        ).prompt
        for on in (True, False)
    }
    assert rendered[True].endswith("<|im_start|>assistant\n<think>\n")
    assert rendered[False].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_enable_thinking_with_plain_jinja_like_every_gguf_renderer() -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment()
    messages = [{"role": "user", "content": "hi"}]
    on = env.from_string(template_with_thinking(THINKING_TEMPLATE, True)).render(
        messages=messages, add_generation_prompt=True
    )
    off = env.from_string(template_with_thinking(THINKING_TEMPLATE, False)).render(
        messages=messages, add_generation_prompt=True
    )
    assert on.endswith("assistant\n<think>\n")
    assert off.endswith("assistant\n<think>\n\n</think>\n\n")


def test_a_callable_writing_think_tags_streams_reasoning() -> None:
    def thinker(message: str, history: list) -> object:
        yield "<thi"
        yield "nk>\nThe user says "
        yield f"{message!r}.\n</think"
        yield ">\n\nHello! Here is `<think>` in code."

    seen: list[tuple[str, str]] = []
    conv = nbchat.Conversation(thinker, prepare="now")
    conv.subscribe(lambda e: seen.append((e.kind, e.text)) if e.kind in ("delta", "reasoning") else None)
    assert conv.ask("hi") == "Hello! Here is `<think>` in code."
    reply = conv.history[-1]
    assert reply.reasoning == "The user says 'hi'."
    kinds = [k for k, _ in seen]
    assert kinds.index("delta") > kinds.index("reasoning")  # thinking streamed first, live
    assert conv.build_messages("next")[-2] == {"role": "assistant", "content": "Hello! Here is `<think>` in code."}
    assert "<details>" in conv.to_markdown()


def test_reasoning_is_saved_and_old_files_load_without_it(tmp_path: Path) -> None:
    import json

    def thinker(message: str, history: list) -> str:
        return "<think>Because.</think>Yes."

    conv = nbchat.Conversation(thinker, prepare="now", thinking=True)
    conv.ask("Why?")
    path = conv.save(tmp_path / "chat.json")
    loaded = nbchat.Conversation.load(path, thinker)
    assert loaded.history[-1].reasoning == "Because."
    assert loaded.thinking is True
    data = json.loads(path.read_text())
    for m in data["messages"]:  # a file written before reasoning was kept
        m.pop("reasoning")
    data["settings"].pop("thinking")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert nbchat.Conversation.load(old, thinker).history[-1].reasoning == ""
    assert "thinking=True" in conv.request_code(conv.history[-1].id)


def test_a_callable_without_thinking_parameter_gets_a_notice_and_one_with_it_the_setting() -> None:
    seen: list[object] = []

    def plain(message: str, history: list) -> str:
        return "ok"

    def switchable(message: str, history: list, thinking: bool | None = None) -> str:
        seen.append(thinking)
        return "ok"

    conv = nbchat.Conversation(plain, prepare="now", thinking=False)
    conv.ask("hi")
    assert "takes no 'thinking' parameter" in conv.history[-1].stats["notice"]
    conv = nbchat.Conversation(switchable, prepare="now", thinking=False)
    conv.ask("hi")
    assert seen == [False]
    assert "notice" not in conv.history[-1].stats


def test_the_context_gauge_counts_what_is_sent() -> None:
    from nbchat.backends import Reasoning
    from nbchat.testing import FakeBackend

    counted: list[list[dict]] = []

    class Counting(FakeBackend):
        def count_tokens(self, messages: list) -> int:
            counted.append(messages)
            return sum(len(str(m)) for m in messages)

    fake = Counting(context_window=100_000)
    fake.enqueue([Reasoning("a very long thought " * 50), "short answer"])
    conv = nbchat.Conversation(fake, prepare="now")
    conv.ask("q")
    usage = conv.context_usage()
    assert all("reasoning_content" not in m for m in counted[-1])
    assert usage["used"] < len("a very long thought " * 50)


def test_the_static_transcript_quotes_the_thoughts_as_text(comms: list) -> None:  # type: ignore[type-arg]
    def thinker(message: str, history: list) -> str:
        return "<think>Hmm </details><script>alert(1)</script></think>Yes."

    chat = nbchat.Chat(thinker, prepare="now")
    chat.ask("Why?")
    data, _ = chat._repr_mimebundle_()
    html = data["text/html"]
    assert "<script" not in html
    assert "&lt;/details&gt;&lt;script&gt;" in html  # the thoughts, as text
    assert html.index("Thoughts") < html.index("Yes.")
    assert "<details>" in chat.to_markdown()  # a Markdown file keeps the folded section
