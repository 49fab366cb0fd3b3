"""Reasoning from OpenAI-compatible servers: three recorded dialects replayed by tests/servers/reasoning_stub.py.

Each reply's reasoning lands in ``ChatMessage.reasoning``, its answer in ``content``; the next request carries no
reasoning (DeepSeek's API would answer 400); the TTFT figures split into thinking and answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

import nbchat
from nbchat.backends.openai import OpenAIBackend
from tests.servers import reasoning_stub
from tests.servers._runner import run_in_thread

REASONING = "".join(reasoning_stub.REASONING).lstrip()
ANSWER = "".join(reasoning_stub.ANSWER)


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with run_in_thread(reasoning_stub.app) as url:
        yield url


@pytest.fixture
def requests(stub_url: str) -> list[dict]:
    reasoning_stub.app.state.requests.clear()
    return reasoning_stub.app.state.requests


def chat(url: str, dialect: str, model: str = "replay", **kwargs: object) -> nbchat.Conversation:
    return nbchat.Conversation(f"{url}/{dialect}/v1", model=model, prepare="now", retries=0, **kwargs)


@pytest.mark.parametrize("dialect", ["deepseek", "vllm", "llamacpp"])
def test_reasoning_is_its_own_part_and_never_goes_back(stub_url: str, requests: list[dict], dialect: str) -> None:
    conv = chat(stub_url, dialect)
    assert conv.ask("Which is greater, 9.11 or 9.8?") == ANSWER
    reply = conv.history[-1]
    assert reply.reasoning == "".join(reasoning_stub.REASONING)
    assert reply.status == "done"
    stats = reply.stats
    assert stats["ttft_s"] <= stats["first_answer_s"]
    assert stats["thinking_s"] >= 0
    # DeepSeek reports reasoning_tokens; vLLM reports usage without them; llama.cpp's server neither
    expected_tokens = len(reasoning_stub.REASONING)
    assert stats["thinking_tokens"] == expected_tokens
    assert stats.get("thinking_tokens_estimated", False) == (dialect != "deepseek")
    assert stats["tokens"] == len(reasoning_stub.REASONING) + len(reasoning_stub.ANSWER)

    conv.ask("And 9.9?")  # DeepSeek's stub answers 400 if the history carried reasoning_content
    assert conv.history[-1].status == "done"
    second = requests[-1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1] == {"role": "assistant", "content": ANSWER}
    conv.close()


def test_send_reasoning_escape_hatch(stub_url: str, requests: list[dict]) -> None:
    backend = OpenAIBackend("replay", base_url=f"{stub_url}/vllm/v1", send_reasoning=True)
    conv = nbchat.Conversation(backend, prepare="now", retries=0)
    conv.ask("first")
    conv.ask("second")
    assert requests[-1]["messages"][1]["reasoning_content"] == "".join(reasoning_stub.REASONING)
    assert conv.request_of(conv.history[-1].id)["messages"][1]["reasoning_content"]
    conv.close()


def test_deepseek_rejects_reasoning_sent_back(stub_url: str, requests: list[dict]) -> None:
    """The stub is faithful: with send_reasoning=True the DeepSeek dialect answers 400, and nbchat says so."""
    backend = OpenAIBackend("replay", base_url=f"{stub_url}/deepseek/v1", send_reasoning=True)
    conv = nbchat.Conversation(backend, prepare="now", retries=0)
    conv.ask("first")
    with pytest.raises(nbchat.GenerationError, match="400: The reasoning_content is an intermediate result"):
        conv.ask("second")
    conv.close()


def test_ttft_splits_into_thinking_and_answer(stub_url: str, requests: list[dict]) -> None:
    conv = chat(stub_url, "vllm", model="slow")
    conv.ask("think slowly")
    stats = conv.history[-1].stats
    # 40 reasoning chunks 50 ms apart come before the first answer token
    assert stats["first_answer_s"] - stats["ttft_s"] >= 1.5
    assert stats["thinking_s"] >= 1.5
    conv.close()


def test_stop_while_thinking_keeps_the_thoughts(stub_url: str, requests: list[dict]) -> None:
    conv = chat(stub_url, "deepseek", model="slow")
    seen = threading.Event()
    conv.subscribe(lambda e: seen.set() if e.kind == "reasoning" else None)
    future = conv.send("think slowly")
    assert seen.wait(10)
    time.sleep(0.3)
    partial = conv.partial_reasoning()
    assert partial.startswith(" step 0,")
    conv.stop()
    reply = future.result(10)
    assert reply.status == "stopped"
    assert reply.content == ""
    assert reply.reasoning.startswith(partial)
    assert len(reply.reasoning) < len("".join(reasoning_stub.SLOW_REASONING))
    assert reply.stats["first_answer_s"] is None
    conv.close()


def test_fastchat_without_usage_is_counted_as_estimated(stub_url: str, requests: list[dict]) -> None:
    conv = chat(stub_url, "fastchat")
    assert conv.ask("hi") == ANSWER
    stats = conv.history[-1].stats
    assert stats["tokens"] == len(reasoning_stub.ANSWER)
    assert stats["tokens_estimated"] is True
    conv.close()


def test_fastchat_counts_with_a_tokenizer_when_given(stub_url: str, requests: list[dict]) -> None:
    backend = OpenAIBackend("replay", base_url=f"{stub_url}/fastchat/v1", tokenizer=lambda text: len(text))
    conv = nbchat.Conversation(backend, prepare="now", retries=0)
    conv.ask("hi")
    stats = conv.history[-1].stats
    assert stats["tokens"] == len(ANSWER)
    assert "tokens_estimated" not in stats
    conv.close()


def test_a_400_that_is_not_about_stream_options_keeps_asking_for_usage(stub_url: str, requests: list[dict]) -> None:
    backend = OpenAIBackend("no-such-model", base_url=f"{stub_url}/fastchat/v1")
    conv = nbchat.Conversation(backend, prepare="now", retries=0)
    with pytest.raises(nbchat.GenerationError, match="400: Only replay&&slow allowed now"):
        conv.ask("hi")
    assert len(requests) == 1  # not sent again without stream_options
    backend.model = "replay"
    conv.ask("hi again")
    assert requests[-1]["stream_options"] == {"include_usage": True}
    conv.close()


def test_thinking_switch_on_a_plain_server_goes_to_the_chat_template(stub_url: str, requests: list[dict]) -> None:
    conv = chat(stub_url, "vllm", thinking=False)
    conv.ask("hi")
    assert requests[-1]["chat_template_kwargs"] == {"enable_thinking": False}
    conv.thinking = None
    conv.ask("hi")
    assert "chat_template_kwargs" not in requests[-1]
    conv.close()


@pytest.mark.parametrize(
    ("source", "model", "thinking", "expected"),
    [
        ("deepseek", "deepseek-chat", True, {"model": "deepseek-reasoner"}),
        ("deepseek", "deepseek-reasoner", False, {"model": "deepseek-chat"}),
        ("qwen", "qwen-plus", False, {"enable_thinking": False}),
        ("glm", "glm-4.6", True, {"thinking": {"type": "enabled"}}),
        ("hf", "openai/gpt-oss-20b", False, {"reasoning_effort": "low"}),
    ],
)
def test_thinking_switch_per_online_source(
    stub_url: str, requests: list[dict], source: str, model: str, thinking: bool, expected: dict
) -> None:
    backend = OpenAIBackend(model, source=source, base_url=f"{stub_url}/vllm/v1", api_key="sk-test")
    conv = nbchat.Conversation(backend, prepare="now", retries=0, thinking=thinking)
    conv.ask("hi")
    for key, value in expected.items():
        assert requests[-1][key] == value
    assert "notice" not in conv.history[-1].stats
    conv.close()


def test_a_source_without_switch_says_so(stub_url: str, requests: list[dict]) -> None:
    backend = OpenAIBackend("SenseChat-5", source="sensenova", base_url=f"{stub_url}/vllm/v1", api_key="sk-test")
    conv = nbchat.Conversation(backend, prepare="now", retries=0, thinking=True)
    conv.ask("hi")
    assert "SenseNova has no switch for thinking" in conv.history[-1].stats["notice"]
    conv.close()


@pytest.mark.model
def test_fastchat_counts_with_the_served_models_tokenizer(stub_url: str, requests: list[dict], embedded_ready) -> None:
    from tests.servers.transformers_serve import embedded_model_dir

    directory = embedded_model_dir()
    backend = OpenAIBackend("replay", base_url=f"{stub_url}/fastchat/v1", tokenizer=directory)
    conv = nbchat.Conversation(backend, prepare="now", retries=0)
    conv.ask("hi")
    from transformers import AutoTokenizer

    expected = len(AutoTokenizer.from_pretrained(directory).encode(ANSWER))
    stats = conv.history[-1].stats
    assert stats["tokens"] == expected
    assert "tokens_estimated" not in stats
    conv.close()
