"""The widget's traffic to the browser, recorded with a fake comm (no kernel, no browser)."""

from __future__ import annotations

import json
import threading
import time

import pytest

import nbchat
from nbchat.testing import FakeBackend, RecordingComm


def make_chat(comms: list[RecordingComm], **kwargs: object) -> tuple[nbchat.Chat, FakeBackend, RecordingComm]:
    fake = FakeBackend(delay=kwargs.pop("delay", 0.0), context_window=kwargs.pop("context_window", None))  # type: ignore[arg-type]
    conv = nbchat.Conversation(fake, prepare="now", **kwargs)  # type: ignore[arg-type]
    chat = nbchat.Chat(conversation=conv)
    return chat, fake, comms[-1]


def test_deltas_are_batched_and_committed_once(comms: list[RecordingComm]) -> None:
    chat, fake, comm = make_chat(comms, delay=0.002, max_new_tokens=1000)
    tokens = [f"tok{i} " for i in range(300)]
    fake.enqueue(tokens)
    started = time.perf_counter()
    reply = chat.ask("stream please")
    elapsed = time.perf_counter() - started
    assert reply == "".join(tokens)

    deltas = comm.custom("delta")
    assert "".join(d["text"] for d in deltas) == reply  # nothing lost, nothing repeated
    assert 1 < len(deltas) < len(tokens)  # several updates, far fewer than tokens
    assert len(deltas) <= elapsed * 30 + 2  # ≤ ~30 messages per second
    # the reply's text reaches synced state once (final commit), not per token
    committed = [m for state in comm.state_updates("_messages") for m in state if m["role"] == "assistant"]
    assert [m["content"] for m in committed if m["content"]] == [reply]


def test_bytes_sent_grow_linearly_with_the_reply(comms: list[RecordingComm]) -> None:
    chat, fake, comm = make_chat(comms, delay=0.001, max_new_tokens=1000)
    tokens = ["word "] * 400
    fake.enqueue(tokens)
    chat.ask("go")
    delta_bytes = sum(len(json.dumps(m)) for m in comm.sent if m.get("method") == "custom")
    text_bytes = len("".join(tokens).encode())
    assert delta_bytes <= 2 * text_bytes + 60 * len(comm.custom("delta"))


def test_committed_messages_carry_status_and_stats(comms: list[RecordingComm]) -> None:
    chat, fake, _ = make_chat(comms)
    fake.enqueue(["Lions."])
    chat.ask("Which animals live in the savanna?")
    user, reply = chat._messages
    assert (user["role"], user["content"], user["status"]) == ("user", "Which animals live in the savanna?", "done")
    assert (reply["role"], reply["content"], reply["status"]) == ("assistant", "Lions.", "done")
    assert reply["stats"]["tokens"] == 1
    assert chat.messages == [
        {"role": "user", "content": "Which animals live in the savanna?"},
        {"role": "assistant", "content": "Lions."},
    ]


def test_submit_from_the_browser_and_busy_notice(comms: list[RecordingComm]) -> None:
    chat, fake, comm = make_chat(comms, delay=0.05)
    fake.enqueue(["a "] * 40)
    chat._handle_custom_msg({"kind": "submit", "text": "first"}, [])
    chat._handle_custom_msg({"kind": "submit", "text": "second"}, [])  # refused while streaming
    notices = comm.custom("notice")
    assert notices
    assert "still being generated" in notices[-1]["text"]
    chat._handle_custom_msg({"kind": "stop"}, [])
    wait_idle(chat)
    assert [m["content"] for m in chat.messages if m["role"] == "user"] == ["first"]
    assert chat._messages[-1]["status"] == "stopped"
    chat._handle_custom_msg({"kind": "submit", "text": "   "}, [])
    assert "empty" in comm.custom("notice")[-1]["text"]


def test_view_opened_mid_stream_catches_up(comms: list[RecordingComm]) -> None:
    chat, fake, comm = make_chat(comms, delay=0.02)
    fake.enqueue([f"{i} " for i in range(30)])
    future = chat.send_message("count")
    while not chat.conversation.partial_reply() or not chat.conversation.partial_reply()[1]:  # type: ignore[index]
        time.sleep(0.005)
    chat._handle_custom_msg({"kind": "sync"}, [])
    sync = comm.custom("sync")[-1]
    assert sync["id"] == chat._messages[-1]["id"]
    assert sync["text"].startswith("0 ")
    future.result(timeout=5)


def test_settings_from_the_browser_reach_the_conversation(comms: list[RecordingComm]) -> None:
    chat, fake, _ = make_chat(comms)
    chat.set_state({"system_prompt": "Be terse.", "max_new_tokens": 12, "temperature": 0.0, "use_history": False})
    chat.ask("hi")
    messages, settings = fake.requests[-1]
    assert messages[0] == {"role": "system", "content": "Be terse."}
    assert (settings.max_new_tokens, settings.temperature) == (12, 0.0)
    chat.ask("again")
    assert fake.requests[-1][0] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "again"}]


def test_out_of_range_settings_are_refused(comms: list[RecordingComm]) -> None:
    chat, _, _ = make_chat(comms, context_window=1000)
    with pytest.raises(Exception, match="temperature"):
        chat.temperature = 50
    with pytest.raises(Exception, match="max_new_tokens"):
        chat.max_new_tokens = -5
    assert chat.max_new_tokens_limit == 1000
    chat.max_new_tokens = 10_000  # beyond the context window: clamped
    assert chat.max_new_tokens == 1000
    assert chat.conversation.settings.max_new_tokens == 1000


def test_clear_from_the_browser(comms: list[RecordingComm]) -> None:
    chat, _, _ = make_chat(comms)
    chat.ask("hi")
    chat._handle_custom_msg({"kind": "clear"}, [])
    assert chat._messages == []
    assert chat.messages == []


def test_two_views_of_one_conversation_stay_consistent(comms: list[RecordingComm]) -> None:
    chat, fake, _ = make_chat(comms)
    second = nbchat.Chat(conversation=chat.conversation)
    fake.enqueue(["shared"])
    chat.ask("hello")
    # the second view is rebuilt by its own sync thread (listeners never build widget state): it catches up
    deadline = time.time() + 5
    while second._messages != chat._messages and time.time() < deadline:
        time.sleep(0.01)
    assert second._messages == chat._messages
    assert second.messages[-1]["content"] == "shared"


def test_repr_is_short(comms: list[RecordingComm]) -> None:
    chat, _, _ = make_chat(comms)
    assert repr(chat) == "<nbchat.Chat fake · fake · 0 messages>"


def wait_idle(chat: nbchat.Chat) -> None:
    """Until the reply is done and the view's sync thread has shown it."""
    deadline = time.time() + 5
    while (chat.conversation.busy or chat._messages[-1]["status"] == "streaming") and time.time() < deadline:
        time.sleep(0.01)


def test_editing_from_the_browser(comms: list[RecordingComm]) -> None:
    chat, fake, _ = make_chat(comms, context_window=500)
    fake.enqueue(["first"])
    chat.ask("question")
    answer = chat._messages[-1]
    assert answer["branch"] == [1, 1]
    assert answer["in_context"] is True
    assert chat.context["window"] == 500
    assert chat.context["used"] == fake.count_tokens(chat.conversation.build_messages())

    fake.enqueue(["second"])
    chat._handle_custom_msg({"kind": "regenerate", "id": answer["id"]}, [])
    wait_idle(chat)
    assert chat._messages[-1]["content"] == "second"
    assert chat._messages[-1]["branch"] == [2, 2]
    chat._handle_custom_msg({"kind": "branch", "id": chat._messages[-1]["id"], "step": -1}, [])
    assert chat._messages[-1]["content"] == "first"

    question = chat._messages[0]["id"]
    chat._handle_custom_msg({"kind": "edit", "id": question, "text": "better question"}, [])
    wait_idle(chat)
    assert [m["content"] for m in chat._messages] == ["better question", "You said: better question"]

    chat._handle_custom_msg({"kind": "exclude", "id": chat._messages[0]["id"], "value": True}, [])
    assert chat._messages[0]["excluded"] is True
    assert chat._messages[0]["in_context"] is False
    chat._handle_custom_msg({"kind": "pin", "id": chat._messages[1]["id"], "value": True}, [])
    assert chat._messages[1]["pinned"] is True
    chat._handle_custom_msg({"kind": "delete", "id": chat._messages[0]["id"]}, [])
    assert [m["content"] for m in chat._messages] == ["You said: better question"]


def test_provenance_and_code_are_sent_on_request(comms: list[RecordingComm]) -> None:
    chat, _, comm = make_chat(comms, system_prompt="sys")
    chat.ask("hello")
    reply_id = chat._messages[-1]["id"]
    chat._handle_custom_msg({"kind": "provenance", "id": reply_id}, [])
    data = comm.custom("provenance")[-1]["data"]
    assert data["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}]
    assert data["settings"]["max_new_tokens"] == 256
    chat._handle_custom_msg({"kind": "code", "id": reply_id}, [])
    assert "conv.ask('hello')" in comm.custom("code")[-1]["code"]
    chat._handle_custom_msg({"kind": "provenance", "id": "nope"}, [])
    assert "No message" in comm.custom("notice")[-1]["text"]


def test_send_never_rebuilds_the_view_under_the_conversation_lock(comms: list[RecordingComm]) -> None:
    # Building the view counts the prompt's tokens (slow with a long history); send() announces the question
    # and the reply placeholder while holding the conversation's lock, so the view must not build there.
    chat, fake, _ = make_chat(comms, context_window=500)
    counted_in: list[str] = []
    count = fake.count_tokens

    def recording_count(messages: list[dict[str, str]]) -> int:
        counted_in.append(threading.current_thread().name)
        return count(messages)

    fake.count_tokens = recording_count  # type: ignore[method-assign]
    fake.enqueue(["ok"])
    future = chat.send_message("hello")
    sender = threading.current_thread().name
    assert sender not in counted_in  # not in the thread that sent, under the lock
    future.result(timeout=5)
    wait_idle(chat)
    assert chat._messages[-1]["content"] == "ok"
    assert counted_in  # the view was rebuilt, in its sync thread
    assert chat.context["used"] == count(chat.conversation.build_messages())


def test_malformed_browser_messages_get_a_notice(comms: list[RecordingComm]) -> None:
    chat, _, comm = make_chat(comms)
    chat._handle_custom_msg({"kind": "submit"}, [])  # no text
    assert "needs 'text'" in comm.custom("notice")[-1]["text"]
    chat._handle_custom_msg({"kind": "branch", "id": "x", "step": "far"}, [])
    assert "'step'" in comm.custom("notice")[-1]["text"]
    chat._handle_custom_msg({"kind": "launch"}, [])
    assert "Unknown widget message kind 'launch'" in comm.custom("notice")[-1]["text"]
    assert chat.messages == []


def test_reasoning_streams_beside_the_answer_and_is_committed(comms: list[RecordingComm]) -> None:
    from nbchat.backends import Reasoning

    chat, fake, comm = make_chat(comms, delay=0.002)
    fake.enqueue([Reasoning("Let me "), Reasoning("think."), "The ", "answer."])
    assert chat.ask("q") == "The answer."
    deltas = comm.custom("delta")
    assert "".join(d.get("reasoning", "") for d in deltas) == "Let me think."
    assert "".join(d["text"] for d in deltas) == "The answer."
    committed = chat._messages[-1]
    assert (committed["reasoning"], committed["content"]) == ("Let me think.", "The answer.")
    assert committed["stats"]["ttft_s"] <= committed["stats"]["first_answer_s"]


def test_a_late_view_gets_the_partial_reasoning(comms: list[RecordingComm]) -> None:
    from nbchat.backends import Reasoning

    chat, fake, comm = make_chat(comms, delay=0.2)
    fake.enqueue([Reasoning("step one, "), Reasoning("step two, "), Reasoning("step three"), "done"])
    future = chat.conversation.send("q")
    deadline = time.monotonic() + 5
    while "step two" not in chat.conversation.partial_reasoning() and time.monotonic() < deadline:
        time.sleep(0.02)
    chat._on_custom_message(chat, {"kind": "sync"}, [])
    sync = comm.custom("sync")[-1]
    assert sync["reasoning"].startswith("step one, step two")
    assert sync["text"] == ""
    future.result(5)


def test_thinking_choice_from_the_browser(comms: list[RecordingComm]) -> None:
    chat, fake, _ = make_chat(comms)
    chat.set_state({"thinking": "off"})
    chat.ask("q")
    assert fake.requests[-1][1].thinking is False
    chat.set_state({"thinking": "default"})
    assert chat.conversation.thinking is None
