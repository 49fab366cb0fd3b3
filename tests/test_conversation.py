"""The controller with a scripted backend: history, settings, stop, errors."""

from __future__ import annotations

import threading
import time

import pytest

import nbchat
from nbchat.backends.fake import FakeBackend


def make(**kwargs: object) -> tuple[nbchat.Conversation, FakeBackend]:
    fake = FakeBackend(delay=kwargs.pop("delay", 0.0))  # type: ignore[arg-type]
    return nbchat.Conversation(fake, prepare="now", **kwargs), fake  # type: ignore[arg-type]


def test_reply_streams_into_history_with_stats() -> None:
    conv, fake = make()
    fake.enqueue(["Lions", ", zebras", " and elephants."])
    deltas: list[str] = []
    conv.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)

    assert conv.ask("Which animals live in the savanna?") == "Lions, zebras and elephants."
    assert deltas == ["Lions", ", zebras", " and elephants."]
    assert conv.messages == [
        {"role": "user", "content": "Which animals live in the savanna?"},
        {"role": "assistant", "content": "Lions, zebras and elephants."},
    ]
    reply = conv.history[-1]
    assert reply.status == "done"
    assert reply.stats["tokens"] == 3
    assert reply.stats["finish_reason"] == "stop"
    assert reply.stats["ttft_s"] is not None
    assert reply.stats["backend"] == "fake"


def test_history_and_system_prompt_are_sent() -> None:
    conv, fake = make(system_prompt="You are a zoologist.")
    fake.enqueue(["Lions."])
    fake.enqueue(["The lion."])
    conv.ask("Which animals live in the savanna?")
    conv.ask("Which of these is the strongest?")
    sent, _ = fake.requests[-1]
    assert sent == [
        {"role": "system", "content": "You are a zoologist."},
        {"role": "user", "content": "Which animals live in the savanna?"},
        {"role": "assistant", "content": "Lions."},
        {"role": "user", "content": "Which of these is the strongest?"},
    ]


def test_history_off_sends_each_question_alone_but_keeps_showing_it() -> None:
    conv, fake = make(use_history=False)
    conv.ask("first")
    conv.ask("second")
    assert fake.requests[-1][0] == [{"role": "user", "content": "second"}]
    assert [m["content"] for m in conv.messages] == ["first", "You said: first", "second", "You said: second"]


def test_history_is_the_old_name_of_use_history() -> None:
    with pytest.warns(DeprecationWarning, match="use use_history="):
        conv, fake = make(history=False)
    assert conv.use_history is False
    conv.ask("first")
    conv.ask("second")
    assert fake.requests[-1][0] == [{"role": "user", "content": "second"}]


def test_settings_are_passed_through() -> None:
    conv, fake = make(max_new_tokens=7, temperature=0.0, top_p=0.9, stop=["\nUser:"])
    conv.ask("hi")
    settings = fake.requests[-1][1]
    assert (settings.max_new_tokens, settings.temperature, settings.top_p, settings.stop) == (7, 0.0, 0.9, ("\nUser:",))
    assert settings.greedy


def test_max_new_tokens_ends_with_length() -> None:
    conv, fake = make(max_new_tokens=2)
    fake.enqueue(["a", "b", "c", "d"])
    assert conv.ask("count") == "ab"
    assert conv.history[-1].stats["finish_reason"] == "length"


def test_stop_keeps_partial_reply_marked_stopped() -> None:
    conv, fake = make(delay=0.05)
    fake.enqueue([f"w{i} " for i in range(100)])
    future = conv.send("long story")
    while not conv.partial_reply() or not conv.partial_reply()[1]:  # type: ignore[index]
        time.sleep(0.01)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    assert time.perf_counter() - started < 0.5
    assert reply.status == "stopped"
    assert reply.stats["finish_reason"] == "stopped"
    assert reply.content.startswith("w0 ")
    assert 0 < len(reply.content.split()) < 100
    assert not conv.busy
    assert conv.messages[-2] == {"role": "user", "content": "long story"}


def test_ask_timeout_stops_the_reply_it_gave_up_on() -> None:
    conv, fake = make(delay=0.05)
    fake.enqueue([f"{i} " for i in range(200)])  # 10 s of text
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="stopped"):
        conv.ask("count slowly", timeout=0.3)
    assert time.monotonic() - started < 5
    assert not conv.busy  # the next question is not refused as "still being generated"
    reply = conv.history[-1]
    assert reply.status == "stopped"
    assert reply.content.startswith("0 ")  # the partial text is kept
    assert len(reply.content.split()) < 200
    fake.enqueue(["next"])
    assert conv.ask("again") == "next"


def test_error_keeps_user_message_and_partial_text() -> None:
    conv, fake = make()
    fake.enqueue(["par", "tial"], error=RuntimeError("server went away"))
    with pytest.raises(nbchat.GenerationError) as info:
        conv.ask("hello")
    assert info.value.partial == "partial"
    user, reply = conv.history
    assert user.content == "hello"
    assert reply.status == "error"
    assert "server went away" in (reply.error or "")
    assert reply.content == "partial"
    # the conversation stays usable, and the failed exchange is still context
    fake.enqueue(["fine"])
    assert conv.ask("again") == "fine"
    assert [m["content"] for m in fake.requests[-1][0]] == ["hello", "partial", "again"]


def test_stream_without_finish_reason_is_incomplete() -> None:
    conv, fake = make()
    fake.enqueue(["cut off mid"], finish_reason=None)
    with pytest.raises(nbchat.GenerationError):
        conv.ask("hello")
    reply = conv.history[-1]
    assert reply.status == "incomplete"
    assert reply.content == "cut off mid"


def test_empty_message_is_refused_and_busy_is_refused() -> None:
    conv, fake = make(delay=0.05)
    with pytest.raises(ValueError, match="empty"):
        conv.send("   \n")
    fake.enqueue(["a"] * 20)
    future = conv.send("one")
    with pytest.raises(nbchat.ConversationBusyError):
        conv.send("two")
    conv.stop()
    future.result(timeout=5)
    assert [m["content"] for m in conv.messages if m["role"] == "user"] == ["one"]
    assert conv.history == conv.history  # snapshot copies compare equal
    assert len(conv.history) == 2


def test_clear_while_streaming_stops_and_empties() -> None:
    conv, fake = make(delay=0.05)
    fake.enqueue(["a"] * 50)
    future = conv.send("one")
    time.sleep(0.1)
    conv.clear()
    future.result(timeout=5)
    assert conv.messages == []
    assert not conv.busy
    assert conv.ask("two") == "You said: two"


def test_context_window_drops_whole_old_turns_keeping_system() -> None:
    fake = FakeBackend(context_window=60)
    conv = nbchat.Conversation(fake, prepare="now", system_prompt="Be brief.", max_new_tokens=20)
    for i in range(6):
        fake.enqueue([f"answer number {i} " * 2])
        conv.ask(f"question number {i}")
    sent, _ = fake.requests[-1]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[-1] == {"role": "user", "content": "question number 5"}
    assert fake.count_tokens(sent) <= 60 - 20
    assert sent[1]["role"] == "user"  # whole turns dropped: never starts with a dangling answer
    assert conv.history[-1].stats["left_out"] > 0
    assert len(conv.messages) == 12  # nothing is lost from the history itself


def test_load_error_is_reported_in_the_chat() -> None:
    class Broken(FakeBackend):
        def prepare(self, progress=None) -> None:
            msg = "weights are corrupt; re-download them"
            raise OSError(msg)

    conv = nbchat.Conversation(Broken(), prepare="background")
    with pytest.raises(nbchat.NbchatError, match="corrupt"):
        conv.wait_until_ready(timeout=5)
    assert conv.status == "error"
    with pytest.raises(nbchat.GenerationError, match="corrupt"):
        conv.ask("hello")
    assert conv.history[0].content == "hello"
    assert conv.history[1].status == "error"


def test_callable_backend_message_history_and_settings() -> None:
    seen: dict[str, object] = {}

    def bot(message: str, history: list[dict[str, str]], temperature: float = 1.0):
        seen.update(message=message, history=history, temperature=temperature)
        yield "Echo: "
        yield message

    conv = nbchat.Conversation(bot, prepare="now", temperature=0.3, system_prompt="sys")
    assert conv.ask("hi") == "Echo: hi"
    assert seen == {"message": "hi", "history": [{"role": "system", "content": "sys"}], "temperature": 0.3}
    assert conv.backend.model == "bot"


def test_callable_backend_messages_form_and_plain_string() -> None:
    conv = nbchat.Conversation(lambda messages: f"{len(messages)} messages", prepare="now")
    assert conv.ask("hi") == "1 messages"
    assert conv.ask("again") == "3 messages"


def test_callable_exception_becomes_chat_error() -> None:
    def bot(message: str, history: list[dict[str, str]]) -> str:
        msg = "quota exceeded"
        raise RuntimeError(msg)

    conv = nbchat.Conversation(bot, prepare="now")
    with pytest.raises(nbchat.GenerationError, match="quota exceeded"):
        conv.ask("hi")
    assert conv.history[-1].status == "error"


def test_stop_reaches_a_callable_that_blocks() -> None:
    release = threading.Event()

    def slow(message: str, history: list[dict[str, str]]):
        yield "first "
        release.wait(5)
        yield "never shown"

    conv = nbchat.Conversation(slow, prepare="now")
    future = conv.send("go")
    time.sleep(0.2)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    release.set()
    assert time.perf_counter() - started < 1.5
    assert reply.status == "stopped"
    assert reply.content == "first "


def test_the_old_load_names_still_work_with_a_warning() -> None:
    # `load` means reading a file now (Conversation.load(path)); preparing the model has its own word
    with pytest.warns(FutureWarning, match=r"prepare\(\)"):

        class OldStyle(FakeBackend):
            def load(self, progress=None) -> None:
                self.prepared = True

    backend = OldStyle()
    with pytest.warns(FutureWarning, match="prepare='now'"):
        conv = nbchat.Conversation(backend, load="now")
    assert backend.prepared
    assert conv.status == "ready"
    with pytest.warns(FutureWarning, match="wait_until_ready"):
        conv.wait_until_loaded(timeout=5)
