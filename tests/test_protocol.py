"""The widget protocol: the Python TypedDicts (nbchat/_view.py) match the one schema, js/protocol.json, exactly;
the widgets route exactly the kinds it lists, and what the kernel really sends fits it. (The TypeScript side is
checked against the same file by js/__tests__/protocol.test.ts.)"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Union

import pytest

import nbchat
from nbchat import _view
from nbchat._errors import BackendError
from nbchat.backends import Reasoning
from nbchat.testing import FakeBackend, RecordingComm

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "js" / "protocol.json").read_text(encoding="utf-8"))
TABLES = [(widget, direction) for widget in ("chat", "compare") for direction in ("sends", "accepts")]


def type_names(annotation: Any) -> set[str]:
    """The schema's names for a TypedDict field's annotation (``str | None`` → ``{"string", "null"}``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return {json.dumps(a) for a in args}
    if origin is Union or type(annotation).__name__ == "UnionType":
        return set().union(*(type_names(a) for a in args))
    simple = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", Any: "any"}
    if annotation in simple:
        return {simple[annotation]}
    if origin is list:
        return {"array"}
    if origin is dict or hasattr(annotation, "__required_keys__"):  # a dict or a nested TypedDict
        return {"object"}
    raise AssertionError(f"no schema name for {annotation!r}")


def fields(typed_dict: type[Mapping[str, Any]]) -> dict[str, str]:
    """``{"name" or "name?": "type | type"}`` of a TypedDict, ``kind`` left out (the schema's keys say it)."""
    required: frozenset[str] = typed_dict.__required_keys__  # type: ignore[attr-defined]
    return {
        name + ("" if name in required else "?"): " | ".join(sorted(type_names(annotation)))
        for name, annotation in typing.get_type_hints(typed_dict).items()
        if name != "kind"
    }


@pytest.mark.parametrize(("widget", "direction"), TABLES)
def test_typed_dicts_match_the_schema(widget: str, direction: str) -> None:
    section = SCHEMA[widget][direction]
    table: dict[str, type[Mapping[str, Any]]] = getattr(_view, section["python"])
    assert sorted(table) == sorted(section["kinds"])
    for kind, typed_dict in table.items():
        assert fields(typed_dict) == section["kinds"][kind], f"{widget} {direction} {kind!r}"
        kinds = typing.get_type_hints(typed_dict)["kind"]
        assert kind in typing.get_args(kinds), f"{typed_dict.__name__} does not declare kind {kind!r}"


@pytest.mark.parametrize("name", sorted(SCHEMA["records"]))
def test_records_match_the_schema(name: str) -> None:
    assert fields(_view.RECORDS[name]) == SCHEMA["records"][name]["fields"]


def test_message_state_has_every_field_of_a_message() -> None:
    # a field added to ChatMessage must be added to the protocol (schema, MessageState, TypeScript ChatMessage)
    message = nbchat.ChatMessage("user", "hi")
    state = _view.message_state(message)
    assert sorted(state) == sorted(k.rstrip("?") for k in SCHEMA["records"]["MessageState"]["fields"])
    _view.check_request(_view.MessageState, state)


class BusyOnce(FakeBackend):
    """Refuses the first request as a busy server does (retryable), then answers."""

    refused = False

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        if not self.refused:
            self.refused = True
            raise BackendError("server busy", retryable=True, retry_after=0.01)
        yield from super().stream(*args, **kwargs)


def test_stats_of_real_replies_fit_the_schema() -> None:
    fake = BusyOnce()
    conv = nbchat.Conversation(fake, prepare="now", retries=1)
    fake.enqueue(["fine"])  # after one retry: "retries" in the stats
    conv.ask("hi")
    fake.enqueue([Reasoning("first "), Reasoning("this"), "then that"])  # the thinking stats
    conv.ask("think")
    fake.enqueue(["cut"], finish_reason=None)
    with pytest.raises(nbchat.GenerationError):
        conv.ask("again")
    declared = {k.rstrip("?") for k in SCHEMA["records"]["ReplyStats"]["fields"]}
    replies = [m for m in conv.history if m.role == "assistant"]
    assert "retries" in replies[0].stats
    assert "thinking_s" in replies[1].stats
    for reply in replies:
        assert set(reply.stats) <= declared, f"undeclared stats: {set(reply.stats) - declared}"
        _view.check_request(_view.ReplyStats, reply.stats)


def test_widgets_route_exactly_the_schema_kinds(comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(FakeBackend(), prepare="now")
    compare = nbchat.Compare([FakeBackend()], prepare="now")
    try:
        for widget, table in ((chat, _view.CHAT_ACCEPTS), (compare, _view.COMPARE_ACCEPTS)):
            routes = widget._routes  # type: ignore[attr-defined]
            assert {kind: route.request for kind, route in routes.items()} == table
    finally:
        compare.close()
        chat.close()


def test_what_the_chat_sends_fits_the_schema(comms: list[RecordingComm]) -> None:
    fake = FakeBackend()
    chat = nbchat.Chat(fake, prepare="now")
    comm = comms[-1]
    fake.enqueue(["a", "b"])
    chat.ask("hello")
    reply = chat._messages[-1]["id"]
    chat._handle_custom_msg({"kind": "provenance", "id": reply}, [])
    chat._handle_custom_msg({"kind": "code", "id": reply}, [])
    chat._handle_custom_msg({"kind": "branch", "id": "nope", "step": 1}, [])  # a notice
    sent = comm.custom()
    assert {m["kind"] for m in sent} == {"delta", "provenance", "code", "notice"}
    for message in sent:
        _view.check_request(_view.CHAT_SENDS[message["kind"]], message)
        assert set(message) - {"kind"} <= {k.rstrip("?") for k in SCHEMA["chat"]["sends"]["kinds"][message["kind"]]}
    for state in chat._messages:
        _view.check_request(_view.MessageState, state)
