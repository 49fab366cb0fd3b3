"""The OpenAI-compatible backend against a real server: `transformers serve` with the embedded SmolLM2 on 127.0.0.1.

One server runs for the session (tests/conftest.py::transformers_serve); the kill test starts its own.
"""

from __future__ import annotations

import time

import pytest

import nbchat
from nbchat.backends.openai import OpenAIBackend
from tests.servers._runner import start_script
from tests.servers.transformers_serve import ServedModel, embedded_model_dir, start_transformers_serve, stop_process

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("embedded_ready")]

QUESTION = "Which animals live in the savanna?"


def served_chat(served: ServedModel, **settings: object) -> nbchat.Conversation:
    backend = OpenAIBackend(served.model, base_url=served.base_url, timeout=120)
    return nbchat.Conversation(backend, prepare="now", **settings)  # type: ignore[arg-type]


def wait_for_text(conv: nbchat.Conversation, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (conv.partial_reply() or ("", ""))[1]:
        assert time.monotonic() < deadline, "no text arrived"
        time.sleep(0.01)


def test_streams_deltas_with_usage(transformers_serve: ServedModel) -> None:
    conv = served_chat(transformers_serve, max_new_tokens=12, temperature=0)
    deltas: list[str] = []
    conv.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    reply = conv.ask(QUESTION)
    assert len(deltas) > 1, transformers_serve.log_tail()
    assert reply == "".join(deltas)
    stats = conv.history[-1].stats
    assert stats["finish_reason"] in ("stop", "length")
    assert 1 <= stats["tokens"] <= 12
    assert stats["prompt_tokens"] > 10
    assert stats["backend"] == "openai"


def test_max_new_tokens_gives_length(transformers_serve: ServedModel) -> None:
    conv = served_chat(transformers_serve, max_new_tokens=5, temperature=0)
    conv.ask("Write a long story about a dragon.")
    stats = conv.history[-1].stats
    assert stats["tokens"] <= 5
    assert stats["finish_reason"] == "length"


def test_temperature_zero_is_deterministic(transformers_serve: ServedModel) -> None:
    first = served_chat(transformers_serve, max_new_tokens=10, temperature=0).ask(QUESTION)
    second = served_chat(transformers_serve, max_new_tokens=10, temperature=0).ask(QUESTION)
    assert first == second
    assert first.strip()


def test_system_message_reaches_the_chat_template(transformers_serve: ServedModel) -> None:
    short = served_chat(transformers_serve, max_new_tokens=1, system_prompt="Be brief.")
    long = served_chat(transformers_serve, max_new_tokens=1, system_prompt="You are a zoologist. " * 10)
    short.ask(QUESTION)
    long.ask(QUESTION)
    assert long.history[-1].stats["prompt_tokens"] - short.history[-1].stats["prompt_tokens"] >= 30


def test_stop_mid_stream_keeps_partial_text(transformers_serve: ServedModel) -> None:
    conv = served_chat(transformers_serve, max_new_tokens=200, temperature=0)
    future = conv.send("Write a long story about a dragon.")
    wait_for_text(conv)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=10)
    assert time.perf_counter() - started < 1.0
    assert reply.status == "stopped"
    assert reply.content
    conv.settings = conv.settings.replace(max_new_tokens=3)
    assert conv.ask("Hi").strip()  # the server let go of the stopped request


def test_without_model_name_nbchat_takes_the_model_the_server_lists(transformers_serve: ServedModel) -> None:
    """No ``model=``: nbchat asks ``GET /v1/models`` and chats with the model the server lists.

    (A server that cannot list its models gets an error asking for ``model=``: tests/test_openai_backend.py, against
    the stub's ``/nomodels/v1``. Whether a given ``transformers serve`` release can list them is upstream's business.)
    """
    backend = OpenAIBackend(base_url=transformers_serve.base_url, timeout=120)
    listed = backend.list_models()
    assert listed, transformers_serve.log_tail()
    conv = nbchat.Conversation(backend, prepare="now", max_new_tokens=3, temperature=0)
    assert conv.status == "ready", conv.status_text
    assert backend.model == listed[0]
    assert conv.ask(QUESTION).strip()
    assert conv.history[-1].stats["model"] == listed[0]


def test_server_killed_mid_stream_then_another_server(embedded_ready: None) -> None:
    served = start_transformers_serve(embedded_model_dir())
    stub = None
    try:
        conv = served_chat(served, max_new_tokens=200, temperature=0)
        future = conv.send("Write a long story about a dragon.")
        wait_for_text(conv)
        served.stop(kill=True)
        reply = future.result(timeout=30)
        assert reply.status in ("error", "incomplete")
        assert reply.content  # the partial reply is kept
        assert "connection" in (reply.error or "").lower() or reply.status == "incomplete"
        stub = start_script("openai_stub.py", served.port)  # another server on the same address
        assert conv.ask("Hi again") == "You said: Hi again"
    finally:
        served.stop(kill=True)
        if stub is not None:
            stop_process(stub)
