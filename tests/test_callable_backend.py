"""Any Python callable as a model (complements the callable tests in test_conversation.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

import nbchat
from nbchat.backends.callable import CallableBackend


def test_settings_reach_kwargs_and_stop_sequences_are_cut() -> None:
    seen: dict[str, object] = {}

    def bot(message: str, history: list[dict[str, str]], **settings: object):
        seen.update(settings)
        yield "Lions and "
        yield "zebras.\nUser: more?"

    conv = nbchat.Conversation(bot, prepare="now", max_new_tokens=9, temperature=0.2, top_p=0.5, stop=["\nUser:"])
    assert conv.ask("savanna?") == "Lions and zebras."
    assert seen == {"max_new_tokens": 9, "temperature": 0.2, "top_p": 0.5, "stop": ["\nUser:"]}
    assert conv.history[-1].stats["finish_reason"] == "stop"


def test_async_generator_streams_and_coroutine_returns() -> None:
    async def streamer(message: str, history: list[dict[str, str]]):
        for word in ("a", "b", "c"):
            await asyncio.sleep(0.01)
            yield word

    async def whole(messages: list[dict[str, str]]) -> str:
        await asyncio.sleep(0.01)
        return f"{len(messages)} messages"

    deltas: list[str] = []
    conv = nbchat.Conversation(streamer, prepare="now")
    conv.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    assert conv.ask("go") == "abc"
    assert deltas == ["a", "b", "c"]
    assert nbchat.Conversation(whole, prepare="now").ask("hi") == "1 messages"


def test_stop_cancels_an_awaiting_async_generator() -> None:
    async def slow(message: str, history: list[dict[str, str]]):
        yield "first "
        await asyncio.sleep(30)
        yield "never"

    conv = nbchat.Conversation(slow, prepare="now")
    future = conv.send("go")
    time.sleep(0.2)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    assert time.perf_counter() - started < 0.5
    assert (reply.status, reply.content) == ("stopped", "first ")


def test_non_text_chunks_and_async_exceptions_become_chat_errors() -> None:
    conv = nbchat.Conversation(lambda message, history: iter(["ok", 42]), prepare="now")
    with pytest.raises(nbchat.GenerationError, match="yielded int"):
        conv.ask("hi")
    assert conv.history[-1].content == "ok"

    async def broken(message: str, history: list[dict[str, str]]):
        yield "par"
        msg = "quota exceeded"
        raise RuntimeError(msg)

    conv = nbchat.Conversation(broken, prepare="now")
    with pytest.raises(nbchat.GenerationError, match="quota exceeded"):
        conv.ask("hi")
    assert (conv.history[-1].status, conv.history[-1].content) == ("error", "par")


def test_name_shown_for_the_callable() -> None:
    assert CallableBackend(lambda m, h: "x", name="echo bot").model == "echo bot"
    assert nbchat.Conversation(CallableBackend(len), prepare="lazy").backend.model == "len"
