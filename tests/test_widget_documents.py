"""Documents through the Chat widget: conversion off the main thread with ``attach-progress``, the whole/relevant
switch and the course reader's switch as synced settings, citations in the synced state, and exports that keep
citations as text."""

from __future__ import annotations

import threading
import time
import typing
from pathlib import Path

import pytest

pytest.importorskip("pypdfium2")
pytest.importorskip("bm25s")
pytest.importorskip("fpdf")

import nbchat
from nbchat import _view
from nbchat._static_html import markdown_html
from nbchat.backends.callable import CallableBackend
from nbchat.testing import RecordingComm, wait_for_view
from tests import document_files as files

QUESTION, CODE, SENTENCE = files.fact(3)
OTHER = files.fact(7)[2]  # a sentence of page 7: sent whole, not sent as the passages relevant to QUESTION


def make_chat(seen: list[list[dict]], reply: str) -> nbchat.Chat:
    def answer(messages: list[dict]) -> str:
        seen.append(messages)
        return reply

    return nbchat.Chat(conversation=nbchat.Conversation(CallableBackend(answer), prepare="now"))


def browser(chat: nbchat.Chat, content: dict, buffers: list | None = None) -> None:
    chat._handle_custom_msg(content, buffers or [])


def wait_until(check: typing.Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def attach(chat: nbchat.Chat, comm: RecordingComm, token: str, name: str, data: bytes) -> dict:
    """Upload ``data`` as the browser does and wait for the kernel's ``attached`` answer."""
    browser(chat, {"kind": "attach", "token": token, "name": name, "media_type": "application/pdf"}, [data])
    wait_until(lambda: any(m["token"] == token for m in comm.custom("attached")), f"{name} to be converted")
    return next(m for m in comm.custom("attached") if m["token"] == token)


def ask(chat: nbchat.Chat, text: str, tokens: list[str]) -> None:
    before = len(chat.conversation.history)
    browser(chat, {"kind": "submit", "text": text, "attachments": tokens})
    wait_until(lambda: len(chat.conversation.history) == before + 2 and not chat.conversation.busy, "the reply")
    wait_for_view(chat)


def text_of(messages: list[dict]) -> str:
    return " ".join(m["content"] if isinstance(m["content"], str) else str(m["content"]) for m in messages)


def test_a_document_is_converted_off_the_main_thread_with_progress_then_attached(
    comms: list[RecordingComm],
) -> None:
    chat = make_chat([], "ok")
    comm = comms[-1]
    threads: set[str] = set()
    send = chat.send
    chat.send = lambda msg, buffers=None: (threads.add(threading.current_thread().name), send(msg, buffers))[1]  # type: ignore[method-assign]
    answer = attach(chat, comm, "t1", "report.pdf", files.report_pdf(12))
    progress = comm.custom("attach-progress")
    # the handler's own answer (nothing known yet) may reach the wire after the worker's first pages: the chip
    # keeps the furthest progress it has seen (js/attachments.ts)
    assert {"kind": "attach-progress", "token": "t1", "name": "report.pdf", "done": 0, "total": None} in progress
    counted = [m["done"] for m in progress if m["total"] == 12]
    assert counted == sorted(counted)
    assert counted[-1] == 12
    fields = set(typing.get_type_hints(_view.AttachProgressMessage))
    assert all(set(m) == fields for m in progress)  # exactly the protocol's fields
    kinds = [m["kind"] for m in comm.custom() if m.get("token") == "t1"]
    assert kinds[-1] == "attached"
    assert "nbchat-document" in threads  # the conversion's messages came from its worker thread
    assert answer["attachment"]["kind"] == "document"
    assert answer["attachment"]["document"]["pages"] == 12


def test_a_file_that_does_not_convert_gets_an_error_and_nothing_else_is_lost(comms: list[RecordingComm]) -> None:
    seen: list[list[dict]] = []
    chat = make_chat(seen, "ok")
    comm = comms[-1]
    answer = attach(chat, comm, "bad", "broken.pdf", b"%PDF-1.4 broken")
    assert "attachment" not in answer
    assert "broken.pdf" in answer["error"]
    assert chat._attachments.uploads == {}
    ask(chat, "Still there?", ["bad"])  # the message goes without it
    assert chat.conversation.history[-2].content == "Still there?"
    assert seen[-1][-1]["content"] == "Still there?"


def test_the_switch_changes_what_the_next_message_sends(comms: list[RecordingComm]) -> None:
    seen: list[list[dict]] = []
    chat = make_chat(seen, f"The code is {CODE} [report.pdf p. 3].")
    comm = comms[-1]
    chat.conversation.documents.top_k = 1
    pdf = files.report_pdf(12)

    chat.set_state({"documents_mode": "relevant"})  # the browser's choice (chip or Advanced options)
    assert chat.conversation.documents.mode == "relevant"
    attach(chat, comm, "t1", "report.pdf", pdf)
    ask(chat, QUESTION, ["t1"])
    sent = chat.conversation.history[-2].attachments[0]
    assert (sent.mode, sent.passages) == ("relevant", ("p3",))
    assert SENTENCE in text_of(seen[-1])
    assert OTHER not in text_of(seen[-1])

    chat.set_state({"documents_mode": "whole"})
    attach(chat, comm, "t2", "report.pdf", pdf)
    ask(chat, QUESTION, ["t2"])
    sent = chat.conversation.history[-2].attachments[0]
    assert sent.mode == "whole"
    assert len(sent.passages) == 12
    assert OTHER in text_of(seen[-1])
    state = chat._messages[-2]["attachments"][0]
    assert state["mode"] == "whole"
    assert "budget" in state["note"]  # the chip's title says the budget that decided

    chat.conversation.documents.mode = "auto"  # changed from code: the view follows at the next rebuild
    chat._state.now()
    assert chat.documents_mode == "auto"
    chat.set_state({"documents_mode": "everything"})  # not a mode: refused, the browser told
    assert chat.conversation.documents.mode == "auto"
    assert comm.custom("notice")[-1]["key"] == "py.refused"


def test_citations_reach_the_view_and_exports_keep_them_as_text(comms: list[RecordingComm]) -> None:
    chat = make_chat([], f"It is {CODE} [report.pdf p. 3], not what [report.pdf p. 11] says.")
    comm = comms[-1]
    chat.conversation.documents.top_k = 1
    chat.set_state({"documents_mode": "relevant"})
    attach(chat, comm, "t1", "report.pdf", files.report_pdf(12))
    ask(chat, QUESTION, ["t1"])
    citations = chat._messages[-1]["stats"]["citations"]
    by_marker = {c["marker"]: c for c in citations}
    assert by_marker["[report.pdf p. 3]"]["verified"] is True
    assert SENTENCE in by_marker["[report.pdf p. 3]"]["text"]  # the exact passage sent
    assert by_marker["[report.pdf p. 11]"]["verified"] is False
    assert by_marker["[report.pdf p. 11]"]["reason"] == "not sent"
    synced = comm.state_updates("_messages")[-1]  # what went to the browser
    assert synced[-1]["stats"]["citations"] == citations
    markdown = chat.to_markdown()
    assert "[report.pdf p. 3]" in markdown
    assert "[report.pdf p. 11]" in markdown
    html = markdown_html(chat._transcript())
    assert "[report.pdf p. 3]" in html  # the saved notebook's transcript: the marker as text


def test_course_reader_is_named_and_switched_off_per_chat(
    comms: list[RecordingComm], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "reader"
    folder.mkdir()
    for name in ("week1.pdf", "week2.pdf", "week3.pdf"):
        (folder / name).write_bytes(files.report_pdf(3))
    monkeypatch.setenv("NBCHAT_COURSE_READER", str(folder))
    seen: list[list[dict]] = []
    chat = make_chat(seen, "ok")  # the reader converts in a thread of its own: the label shows when it is done
    wait_until(lambda: chat.documents_info.get("reader"), "the course reader's label")
    assert chat.documents_info["reader"] == ["week1.pdf", "week2.pdf", "week3.pdf"]
    assert chat.course_reader is True
    ask(chat, files.fact(2)[0], [])
    assert chat.conversation.history[-2].attachments  # the reader was searched
    chat.set_state({"course_reader": False})  # the label's switch
    assert chat.conversation.documents.course_reader is False
    ask(chat, files.fact(2)[0], [])
    assert chat.conversation.history[-2].attachments == []
    assert seen[-1][-1]["content"] == files.fact(2)[0]
