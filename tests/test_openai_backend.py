"""The OpenAI-compatible backend against a local stub server that misbehaves on request (tests/servers/openai_stub.py).

The real server (`transformers serve`) is exercised in test_transformers_serve.py; here: request shape, errors,
secrets, Stop while the server is silent.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

import nbchat
from nbchat.backends import resolve_backend
from nbchat.backends.openai import OpenAIBackend

FAKE_KEY = "sk-test-DO-NOT-LEAK-0123456789"


def chat(url: str, model: str = "echo", **kwargs: object) -> nbchat.Conversation:
    options = {k: kwargs.pop(k) for k in ("api_key", "max_retries", "timeout") if k in kwargs}
    backend = OpenAIBackend(model, base_url=url, **options)  # type: ignore[arg-type]
    kwargs.setdefault("retries", 0)  # retries: test_server_failures.py
    return nbchat.Conversation(backend, prepare="now", **kwargs)  # type: ignore[arg-type]


def wait_for_text(conv: nbchat.Conversation, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not (conv.partial_reply() or ("", ""))[1]:
        assert time.monotonic() < deadline, "no text arrived"
        time.sleep(0.01)


def test_streams_deltas_with_usage_and_finish_reason(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1")
    deltas: list[str] = []
    conv.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    assert conv.ask("Which animals live in the savanna?") == "You said: Which animals live in the savanna?"
    assert len(deltas) > 1
    stats = conv.history[-1].stats
    assert stats["finish_reason"] == "stop"
    assert stats["tokens"] == len(deltas)
    assert stats["prompt_tokens"] > 0
    assert stats["backend"] == "openai"


def test_request_carries_messages_and_settings(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1", system_prompt="You are a zoologist.", max_new_tokens=64, temperature=0.3)
    conv.ask("hi")
    body = openai_stub.requests[-1]
    assert body["messages"] == [
        {"role": "system", "content": "You are a zoologist."},
        {"role": "user", "content": "hi"},
    ]
    assert body["model"] == "echo"
    assert body["max_tokens"] == 64
    assert body["temperature"] == 0.3
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "top_p" not in body  # 1.0 is the default: left out
    assert "stop" not in body  # empty: left out


def test_greedy_top_p_and_stop_sequences(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1", temperature=0, top_p=0.5, stop=["said:"])
    assert conv.ask("hello") == "You"
    body = openai_stub.requests[-1]
    assert body["temperature"] == 0
    assert "top_p" not in body  # greedy: sampling settings do not apply
    assert body["stop"] == ["said:"]
    conv.settings = conv.settings.replace(temperature=0.8)
    conv.ask("again")
    assert openai_stub.requests[-1]["top_p"] == 0.5


def test_max_new_tokens_gives_finish_reason_length(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1", max_new_tokens=2)
    assert conv.ask("one two three four") == "You said:"
    assert conv.history[-1].stats["finish_reason"] == "length"
    assert conv.history[-1].stats["tokens"] == 2


def test_server_rejecting_stream_options_gets_one_retry_without(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/strict/v1")
    assert conv.ask("hi") == "You said: hi"
    assert ["stream_options" in b for b in openai_stub.requests] == [True, False]
    conv.ask("again")  # remembered: no second rejection
    assert "stream_options" not in openai_stub.requests[-1]
    stats = conv.history[-1].stats  # no usage without stream_options: the streamed chunks are counted, marked so
    assert (stats["tokens"], stats["tokens_estimated"]) == (3, True)


def test_model_defaults_to_the_first_listed(openai_stub) -> None:
    backend = OpenAIBackend(base_url=f"{openai_stub.url}/v1")
    assert backend.list_models() == ["echo", "slow"]
    conv = nbchat.Conversation(backend, prepare="now")
    assert backend.model == "echo"
    assert conv.ask("hi") == "You said: hi"


def test_models_endpoint_failing_asks_for_model_name(openai_stub) -> None:
    conv = nbchat.Conversation(OpenAIBackend(base_url=f"{openai_stub.url}/nomodels/v1"), prepare="now")
    assert conv.status == "error"
    assert "HTTP 500" in conv.status_text
    assert "model='...'" in conv.status_text
    with pytest.raises(nbchat.GenerationError, match="model="):
        conv.ask("hi")


def test_existing_openai_client_object(openai_stub) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{openai_stub.url}/v1", api_key=FAKE_KEY)
    backend = resolve_backend(client, model="echo")
    assert isinstance(backend, OpenAIBackend)
    assert nbchat.Conversation(backend, prepare="now").ask("hi") == "You said: hi"
    assert FAKE_KEY not in repr(backend) + str(backend.describe())


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("missing-model", ["'missing-model'", "404", "list_models()", "/models"]),
        ("forbidden", ["403", "'forbidden'", "api_key="]),
        ("rate-limited", ["429", "Wait"]),
        ("server-error", ["HTTP 500", "Send again"]),
    ],
)
def test_http_errors_become_chat_errors_that_say_what_to_do(openai_stub, model: str, expected: list[str]) -> None:
    conv = chat(f"{openai_stub.url}/v1", model, max_retries=0)
    with pytest.raises(nbchat.GenerationError) as info:
        conv.ask("hi")
    for text in expected:
        assert text in str(info.value)
    assert conv.history[-1].status == "error"
    assert conv.history[-2].content == "hi"


def test_connection_refused() -> None:
    from tests.servers._runner import free_port

    conv = chat(f"http://127.0.0.1:{free_port()}/v1", max_retries=0)
    with pytest.raises(nbchat.GenerationError, match="connection refused") as info:
        conv.ask("hi")
    assert "server is running" in str(info.value)


def test_timeout_says_so(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1", "no-headers", max_retries=0, timeout=0.5)
    with pytest.raises(nbchat.GenerationError, match=r"did not answer within 0\.5 s") as info:
        conv.ask("hi")
    assert "timeout=" in str(info.value)


def test_stream_ending_without_finish_reason_is_incomplete(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1", "cut-off")
    with pytest.raises(nbchat.GenerationError):
        conv.ask("one two three")
    reply = conv.history[-1]
    assert reply.status == "incomplete"
    assert reply.content == "You said:"
    assert chat(f"{openai_stub.url}/v1").ask("next") == "You said: next"


def test_api_key_never_shows(openai_stub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = OpenAIBackend("echo", base_url=f"{openai_stub.url}/auth/v1", api_key=FAKE_KEY, max_retries=0)
    conv = nbchat.Conversation(backend, prepare="now")
    with pytest.raises(nbchat.GenerationError) as info:
        conv.ask("hi")
    reply = conv.history[-1]
    # the server echoed "Authorization: Bearer <key>" in its error body; none of it reaches the user
    assert "401" in str(info.value)
    assert "Bearer ***" in str(info.value)
    shown = [str(info.value), repr(info.value), reply.error, repr(backend), str(backend.describe()), repr(conv)]
    shown += [caplog.text, str(reply.to_dict())]
    for text in shown:
        assert FAKE_KEY not in str(text)
    assert (
        nbchat.Conversation(
            OpenAIBackend("echo", base_url=f"{openai_stub.url}/auth/v1", api_key="sk-right"), prepare="now"
        ).ask("hi")
        == "You said: hi"
    )


def test_stop_mid_stream_keeps_partial_text(openai_stub) -> None:
    conv = chat(f"{openai_stub.url}/v1", "slow")
    future = conv.send("go")
    wait_for_text(conv)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    assert time.perf_counter() - started < 1.0
    assert reply.status == "stopped"
    assert reply.content.startswith("w")
    assert 0 < len(reply.content.split()) < 100


@pytest.mark.parametrize("model", ["silent", "no-headers"])
def test_stop_while_the_server_sends_nothing(openai_stub, model: str) -> None:
    """Headers then silence, or no headers at all: Stop ends the turn and the backend thread lets go of the socket."""
    conv = chat(f"{openai_stub.url}/v1", model)
    future = conv.send("go")
    time.sleep(0.5)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    assert time.perf_counter() - started < 1.5
    assert reply.status == "stopped"
    deadline = time.monotonic() + 3
    while any(t.name == "nbchat-stream" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the stream thread is still blocked on the socket"
        time.sleep(0.05)
    assert chat(f"{openai_stub.url}/v1").ask("hi") == "You said: hi"
