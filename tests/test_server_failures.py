"""Servers that fail, end to end through the widget: every failure mode of the OpenAI stub (tests/servers/).

For each mode, a question typed in the browser (a ``submit`` message to :class:`nbchat.Chat`) must end with: an
error in the chat that says what happened and what to do, the question kept, any partial reply kept and marked,
the status back to ready, and the next question answered. Temporary failures before the first token are retried
by the controller, with the wait shown in the status line; Stop works while a server hangs or during a wait.
"""

from __future__ import annotations

import email.utils
import threading
import time
from typing import Any

import pytest

import nbchat
from nbchat._errors import BackendError
from nbchat._generation import RETRY_CAP_S, retry_wait
from nbchat.backends._http import retry_after_seconds
from nbchat.backends.openai import OpenAIBackend
from nbchat.testing import RecordingComm, wait_for_view
from tests.servers._runner import free_port

DNS_FAILS = "http://nbchat-stub.invalid/v1"  # .invalid never resolves (RFC 6761): fails locally, no traffic

# id, model, base URL (None: the stub's /v1), timeout, words the error must contain, reply status, partial text
MODES: list[tuple[str, str, str | None, float, list[str], str, str]] = [
    ("connection refused", "echo", "refused", 5, ["Could not connect", "server is running", "/v1"], "error", ""),
    ("DNS failure", "echo", DNS_FAILS, 5, ["Could not find the host", "nbchat-stub.invalid", "spelling"], "error", ""),
    ("no answer (timeout)", "no-headers", None, 0.5, ["did not answer within 0.5 s", "timeout="], "error", ""),
    ("headers, then nothing", "silent", None, 0.5, ["sent nothing for 0.5 s", "before the first token"], "error", ""),
    ("401 (echoing the key)", "unauthorized", None, 5, ["rejected the API key (401", "api_key="], "error", ""),
    ("403", "forbidden", None, 5, ["403", "Check api_key="], "error", ""),
    ("404", "missing-model", None, 5, ["'missing-model' was not found", "list_models()"], "error", ""),
    ("429 quota", "rate-limited", None, 5, ["429", "quota", "then send again"], "error", ""),
    ("429 long wait", "rate-limited-long", None, 5, ["429", "asks to wait 30 s"], "error", ""),
    ("500", "server-error", None, 5, ["HTTP 500", "check the server's log"], "error", ""),
    ("502", "bad-gateway", None, 5, ["HTTP 502", "Tried 3 times"], "error", ""),
    ("503", "unavailable", None, 5, ["HTTP 503", "Tried 3 times"], "error", ""),
    ("504", "gateway-timeout", None, 5, ["HTTP 504", "Tried 3 times"], "error", ""),
    ("stream ends early", "cut-off", None, 5, ["without a finish reason", "cut off"], "incomplete", "You said:"),
    ("connection dropped mid-stream", "drop", None, 5, ["broke in the middle", "partial reply is kept"], "error",
     "You said"),
    ("malformed chunk", "malformed", None, 5, ["malformed chunk", "partial reply is kept"], "error", "You said:"),
    ("error event mid-stream", "error-event", None, 5, ["crashed mid-reply", "partial reply is kept"], "error",
     "You said:"),
    ("HTML instead of a stream", "html", None, 5, ["text/html instead of an event stream", "base_url"], "error", ""),
]  # fmt: skip


def wait_idle(conv: nbchat.Conversation, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while conv.busy:
        assert time.monotonic() < deadline, "the reply never ended: stuck generating"
        time.sleep(0.01)


def submit(chat: nbchat.Chat, text: str) -> None:
    """What the Send button does: a custom message from the browser."""
    chat._handle_custom_msg({"kind": "submit", "text": text}, [])
    wait_idle(chat.conversation)
    wait_for_view(chat)  # the view's own thread shows the finished reply a moment later


def browser_messages(comm: RecordingComm) -> list[dict[str, Any]]:
    return comm.state_updates("_messages")[-1]


@pytest.mark.parametrize(
    ("name", "model", "base", "timeout", "words", "status", "partial"), MODES, ids=[m[0] for m in MODES]
)
def test_every_failure_shows_in_the_chat_and_the_next_message_works(
    openai_stub, comms: list[RecordingComm], name: str, model: str, base: str | None, timeout: float,
    words: list[str], status: str, partial: str,
) -> None:  # fmt: skip
    url = f"http://127.0.0.1:{free_port()}/v1" if base == "refused" else base or f"{openai_stub.url}/v1"
    retries = 0 if base == "refused" else 2  # refused connections back off 1 s, 2 s: tested once below
    backend = OpenAIBackend(model, base_url=url, timeout=timeout, api_key="sk-test-0123456789abcdef")
    chat = nbchat.Chat(conversation=nbchat.Conversation(backend, prepare="now", retries=retries))
    comm = comms[-1]
    submit(chat, "question one")

    conv = chat.conversation
    question, reply = conv.history
    assert (question.role, question.content, question.status) == ("user", "question one", "done")
    assert reply.status == status
    assert reply.content == partial
    for word in words:
        assert word in (reply.error or ""), f"{name}: {word!r} not in {reply.error!r}"
    assert "sk-test-0123456789abcdef" not in (reply.error or "")
    assert conv.status == "ready"
    # what the browser got: both messages, the error text, and a status that is no longer "generating"
    shown = browser_messages(comm)
    assert [m["content"] for m in shown] == ["question one", partial]
    assert shown[1]["status"] == status
    assert shown[1]["error"] == reply.error
    assert chat.status == "ready"

    conv.backend = OpenAIBackend("echo", base_url=f"{openai_stub.url}/v1")
    submit(chat, "question two")
    assert conv.history[-1].content == "You said: question two"
    assert conv.history[-1].status == "done"
    assert [m["content"] for m in browser_messages(comm)][:3] == ["question one", partial, "question two"]
    print(f"{name}: {reply.status} · {reply.error}")


# ---------------------------------------------------------------------------------------------------- retries
def test_429_with_retry_after_is_retried_and_the_wait_is_shown(openai_stub, comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(
        conversation=nbchat.Conversation(OpenAIBackend("busy-once", base_url=f"{openai_stub.url}/v1"), prepare="now")
    )
    started = time.perf_counter()
    submit(chat, "are you there?")
    elapsed = time.perf_counter() - started
    reply = chat.conversation.history[-1]
    assert (reply.status, reply.content) == ("done", "You said: are you there?")
    assert reply.stats["retries"] == 1
    assert len(openai_stub.requests) == 2  # one refusal, one answer: the client's own retries are off
    assert 1.0 <= elapsed < 3.0  # Retry-After: 1 was honoured
    assert "server busy (429): retrying in 1 s… (1/2)" in comms[-1].state_updates("status_text")
    assert chat.status_text.startswith("ready")


def test_503_without_retry_after_backs_off(openai_stub) -> None:
    conv = nbchat.Conversation(OpenAIBackend("flaky-once", base_url=f"{openai_stub.url}/v1"), prepare="now")
    seen: list[str] = []
    conv.subscribe(lambda e: seen.append(e.text) if e.kind == "status" else None)
    assert conv.ask("hello") == "You said: hello"
    assert "server unavailable (503): retrying in 1 s… (1/2)" in seen
    assert len(openai_stub.requests) == 2


def test_retries_are_bounded_and_configurable(openai_stub) -> None:
    conv = nbchat.Conversation(OpenAIBackend("unavailable", base_url=f"{openai_stub.url}/v1"), prepare="now", retries=1)
    with pytest.raises(nbchat.GenerationError, match="Tried 2 times"):
        conv.ask("hello")
    assert len(openai_stub.requests) == 2
    conv.retries = 0
    with pytest.raises(nbchat.GenerationError) as info:
        conv.ask("again")
    assert "Tried" not in str(info.value)
    assert len(openai_stub.requests) == 3
    with pytest.raises(ValueError, match="retries"):
        nbchat.Conversation(OpenAIBackend("echo", base_url=f"{openai_stub.url}/v1"), retries=-1)


@pytest.mark.parametrize(
    "model", ["rate-limited", "rate-limited-long", "server-error", "missing-model", "silent", "drop"]
)
def test_never_retried(openai_stub, model: str) -> None:
    """Quota used up, a wait longer than the cap, a plain 500, a 404, a timeout, or text already shown: one request."""
    conv = nbchat.Conversation(OpenAIBackend(model, base_url=f"{openai_stub.url}/v1", timeout=0.5), prepare="now")
    with pytest.raises(nbchat.GenerationError):
        conv.ask("hello")
    assert len(openai_stub.requests) == 1
    assert "retries" not in conv.history[-1].stats


def test_connection_refused_is_retried_with_back_off() -> None:
    conv = nbchat.Conversation(
        OpenAIBackend("echo", base_url=f"http://127.0.0.1:{free_port()}/v1"), prepare="now", retries=1
    )
    seen: list[str] = []
    conv.subscribe(lambda e: seen.append(e.text) if e.kind == "status" else None)
    started = time.perf_counter()
    with pytest.raises(nbchat.GenerationError, match="Tried 2 times"):
        conv.ask("hello")
    assert 1.0 <= time.perf_counter() - started < 3.0
    assert "connection refused: retrying in 1 s… (1/1)" in seen


def test_stop_during_a_retry_wait_stops_at_once(openai_stub) -> None:
    conv = nbchat.Conversation(OpenAIBackend("busy-once", base_url=f"{openai_stub.url}/v1"), prepare="now")
    waiting = threading.Event()
    conv.subscribe(lambda e: waiting.set() if e.kind == "status" and "retrying" in e.text else None)
    future = conv.send("stop me")
    assert waiting.wait(5)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    latency = time.perf_counter() - started
    assert reply.status == "stopped"
    assert latency < 0.9  # the retry wait is 1 s: Stop ended it rather than waiting it out
    assert len(openai_stub.requests) == 1
    assert conv.status == "ready"
    print(f"Stop during a retry wait: {latency * 1000:.0f} ms")


def test_retry_wait_rules() -> None:
    assert retry_wait(BackendError("x", retryable=True), 0, 2) == 1.0
    assert retry_wait(BackendError("x", retryable=True), 1, 2) == 2.0
    assert retry_wait(BackendError("x", retryable=True), 2, 2) is None  # bounded
    assert retry_wait(BackendError("x", retryable=True, retry_after=3.5), 0, 2) == 3.5
    assert retry_wait(BackendError("x", retryable=True, retry_after=RETRY_CAP_S + 1), 0, 2) is None
    assert retry_wait(BackendError("x"), 0, 2) is None
    assert retry_wait(RuntimeError("x"), 0, 2) is None
    assert retry_wait(BackendError("x", retryable=True), 10, 20) == RETRY_CAP_S


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 15 < (retry_after_seconds({"retry-after": later}) or 0) <= 20


# ---------------------------------------------------------------------------------------------------- hung servers
@pytest.mark.parametrize("model", ["no-headers", "silent"])
def test_stop_latency_on_a_hung_server(openai_stub, model: str) -> None:
    """Waiting for the first token from a server that hangs (before or after its headers): Stop returns at once."""
    conv = nbchat.Conversation(OpenAIBackend(model, base_url=f"{openai_stub.url}/v1"), prepare="now")
    future = conv.send("anyone?")
    time.sleep(0.5)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    latency = time.perf_counter() - started
    assert reply.status == "stopped"
    assert reply.content == ""
    assert latency < 1.0
    assert conv.status == "ready"
    conv.backend = OpenAIBackend("echo", base_url=f"{openai_stub.url}/v1")
    assert conv.ask("next") == "You said: next"  # the next message works
    print(f"Stop latency, hung server ({model}): {latency * 1000:.0f} ms")
