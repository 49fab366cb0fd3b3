"""Tool calls in the widgets, kernel side: Chat and Compare are who ``tool_approval="ask"`` asks; a card's click
comes back as ``{"kind": "approve"}``, which answers only a call that is waiting and can never change the approval
mode; "Allow for this chat" is not in synced state; a view opened mid-turn gets the rounds' text with the partial
reply; an image a tool returned gets a preview for its card. The browser side is js/__tests__/tools.test.ts and
tests/browser/test_tools.py.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

import nbchat
from benchmarks.tools import area
from nbchat.backends import ToolCallDelta
from nbchat.testing import RecordingComm, wait_for_view


def wait_until(predicate: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def scripted(calls_per_turn: int = 1, text_before: str = "Let me compute. ") -> Any:
    """A model (a callable with a ``tools`` parameter) that asks for ``calls_per_turn`` calls of ``area``, then answers
    with the tool messages' contents."""

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if messages[-1]["role"] == "tool":
            results = [m["content"] for m in messages if m["role"] == "tool"]
            yield "Results: " + ", ".join(results)
            return
        yield text_before
        for i in range(calls_per_turn):
            yield ToolCallDelta(i, f"call_{len(messages)}_{i}", "area", json.dumps({"width": 2, "height": i + 3}))

    return model


def pending_ids(chat: Any) -> list[str]:
    return [c["id"] for m in chat._messages for r in m["tool_rounds"] for c in r["calls"] if c["status"] == "pending"]


def test_chat_asks_by_default_and_a_click_runs_the_call(comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(scripted(), tools=[area], prepare="now")  # no tool_approval: "ask", answered in the view
    keys = set(chat.get_state())
    future = chat.send_message("2 by 3?")
    wait_until(lambda: pending_ids(chat))
    (call_id,) = pending_ids(chat)
    message = next(m for m in chat._messages if m["tool_rounds"])
    assert message["status"] == "streaming"
    assert message["tool_rounds"][0]["content"] == "Let me compute. "
    chat._handle_custom_msg({"kind": "approve", "id": call_id, "decision": "once", "reason": ""}, [])
    reply = future.result(15)
    assert reply.content == "Results: 6.0"
    assert reply.tool_rounds[0].calls[0].status == "done"
    wait_for_view(chat)
    assert set(chat.get_state()) == keys  # no trait of approval appeared


def test_decline_with_reason_reaches_the_model(comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(scripted(), tools=[area], prepare="now")
    future = chat.send_message("2 by 3?")
    wait_until(lambda: pending_ids(chat))
    chat._handle_custom_msg({"kind": "approve", "id": pending_ids(chat)[0], "decision": "decline", "reason": "no"}, [])
    reply = future.result(15)
    assert reply.content == "Results: The user declined this call. Reason: no"
    assert reply.tool_rounds[0].calls[0].status == "declined"


def test_allow_for_this_chat_runs_later_calls_without_asking(comms: list[RecordingComm], tmp_path: Any) -> None:
    chat = nbchat.Chat(scripted(), tools=[area], prepare="now")
    keys = set(chat.get_state())
    future = chat.send_message("first")
    wait_until(lambda: pending_ids(chat))
    chat._handle_custom_msg({"kind": "approve", "id": pending_ids(chat)[0], "decision": "chat", "reason": ""}, [])
    future.result(15)
    second = chat.send_message("second").result(15)  # nobody clicks: it must not wait
    assert second.tool_rounds[0].calls[0].status == "done"
    wait_for_view(chat)
    assert set(chat.get_state()) == keys  # the permission is not synced
    # nor saved: the same conversation loaded again asks again
    loaded = nbchat.Chat.load(chat.save(tmp_path / "chat.json"), scripted(), tools=[area])
    again = loaded.send_message("third")
    wait_until(lambda: pending_ids(loaded))
    loaded.stop()
    assert again.result(15).tool_rounds[0].calls[0].status == "stopped"


def test_an_approve_message_answers_only_a_waiting_call(comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(scripted(), tools=[area], prepare="now")
    future = chat.send_message("2 by 3?")
    wait_until(lambda: pending_ids(chat))
    comm = chat.comm
    for bad in (
        {"kind": "approve", "id": "call_never_asked", "decision": "once", "reason": ""},
        {"kind": "approve", "id": pending_ids(chat)[0], "decision": "auto", "reason": ""},  # not a decision
        {"kind": "approve", "id": pending_ids(chat)[0], "decision": "once"},  # reason missing
        {"kind": "approve", "id": 7, "decision": "once", "reason": ""},
    ):
        chat._handle_custom_msg(bad, [])
    notices = comm.custom("notice")
    assert len(notices) == 4
    assert notices[0].get("key") == "tool.notWaiting"
    assert chat.conversation.tool_loop.approvals.mode == "ask"
    assert pending_ids(chat)  # still waiting: none of those answered it
    chat._handle_custom_msg({"kind": "stop"}, [])  # Stop while the call waits: the card turns "stopped"
    reply = future.result(15)
    assert reply.status == "stopped"
    assert reply.tool_rounds[0].calls[0].status == "stopped"
    stale = {"kind": "approve", "id": reply.tool_rounds[0].calls[0].id, "decision": "once", "reason": ""}
    chat._handle_custom_msg(stale, [])  # a click that comes after Stop changes nothing
    assert reply.tool_rounds[0].calls[0].status == "stopped"
    assert comm.custom("notice")[-1].get("key") == "tool.notWaiting"


def test_without_a_view_ask_is_refused_and_a_closed_view_stops_asking(comms: list[RecordingComm]) -> None:
    conv = nbchat.Conversation(scripted(), tools=[area], prepare="now")
    with pytest.raises(nbchat.tools.ToolError, match="auto"):
        conv.send("x")
    chat = nbchat.Chat(conversation=conv)
    assert conv.tool_loop.approvals.can_ask
    chat.close()
    assert not conv.tool_loop.approvals.can_ask


def test_compare_columns_ask_in_the_view(comms: list[RecordingComm]) -> None:
    cmp = nbchat.Compare({"one": scripted(), "two": scripted()}, tools=[area], prepare="now")
    futures = cmp.send_message("2 by 3?")

    def waiting() -> list[tuple[str, str]]:
        return [(c.id, i) for c in cmp.columns for i in c.conversation.tool_loop.approvals.waiting()]

    wait_until(lambda: len(waiting()) == 2)
    (one, first), (two, second) = waiting()
    assert first == second  # two models may well use the same call id: the card names its column
    cmp._handle_custom_msg({"kind": "approve", "id": first, "decision": "once", "reason": "", "column": one}, [])
    cmp._handle_custom_msg({"kind": "approve", "id": second, "decision": "decline", "reason": "no", "column": two}, [])
    replies = {name: f.result(15) for name, f in futures.items()}
    statuses = sorted(r.tool_rounds[0].calls[0].status for r in replies.values())
    assert statuses == ["declined", "done"]
    cmp.close()


def test_a_view_opened_mid_turn_gets_the_rounds_text_and_the_partial_reply(comms: list[RecordingComm]) -> None:
    release = threading.Event()

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if messages[-1]["role"] == "tool":
            yield "Final "
            release.wait(10)
            yield "answer."
            return
        yield "Round one. "
        yield ToolCallDelta(0, "c1", "area", '{"width": 1, "height": 2}')

    chat = nbchat.Chat(model, tools=[area], tool_approval="auto", prepare="now")
    future = chat.send_message("go")
    wait_until(lambda: (chat.conversation.partial_reply() or ("", ""))[1] == "Final ")
    chat._handle_custom_msg({"kind": "sync"}, [])
    sync = chat.comm.custom("sync")[-1]
    assert sync["text"] == "Round one. Final "  # the rounds' text first, as the deltas brought it
    release.set()
    assert future.result(15).content == "Final answer."


def test_an_image_result_gets_a_preview_for_its_card(comms: list[RecordingComm]) -> None:
    from PIL import Image

    def picture(side: int) -> Any:
        """A square picture.

        Parameters
        ----------
        side : int
            Its side in pixels.
        """
        return Image.new("RGB", (side, side), "red")

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if messages[-1]["role"] != "tool":
            yield ToolCallDelta(0, "p1", "picture", '{"side": 900}')
        else:
            yield "Here it is."

    chat = nbchat.Chat(model, tools=[picture], tool_approval="auto", prepare="now")
    chat.ask("draw", timeout=30)
    wait_for_view(chat)
    (part,) = chat._messages[-1]["tool_rounds"][0]["calls"][0]["result_attachments"]
    assert part["preview"].startswith("data:image/jpeg;base64,")
    assert len(part["preview"]) > len(part["thumbnail"])  # larger than the 96-pixel thumbnail


def test_the_static_transcript_shows_calls_and_a_hostile_result_as_text(comms: list[RecordingComm]) -> None:
    def page(url: str) -> str:
        """Read a page.

        Parameters
        ----------
        url : str
            Its address.
        """
        return '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if messages[-1]["role"] != "tool":
            yield ToolCallDelta(0, "w1", "page", '{"url": "https://example.com"}')
        else:
            yield "Read it."

    chat = nbchat.Chat(model, tools=[page], tool_approval="auto", prepare="now")
    chat.ask("read", timeout=30)
    bundle = chat._repr_mimebundle_()
    assert bundle is not None
    html = bundle[0]["text/html"]
    assert "Tool call" in html
    assert "page" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "<img" not in html


def test_ask_in_a_kernel_refuses_a_call_that_would_wait_for_a_click(
    comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a kernel, chat.ask() keeps the cell running, so the card's click cannot arrive: refuse before sending.
    import nbchat._widget

    monkeypatch.setattr(nbchat._widget, "_in_kernel", lambda: True)
    chat = nbchat.Chat(scripted(), tools=[area])
    with pytest.raises(nbchat.ToolError, match="send_message"):
        chat.ask("area of 2 by 3?", timeout=30)
    assert chat.conversation.history == []  # nothing was sent, nothing is waiting
    auto = nbchat.Chat(scripted(), tools=[area], tool_approval="auto")
    auto.ask("area of 2 by 3?", timeout=30)  # code said "auto": it runs
    assert auto.conversation.history[-1].tool_rounds[0].calls[0].status == "done"
