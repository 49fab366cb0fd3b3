"""The conversation file: versioned JSON that round-trips exactly, autosave, and clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbchat
from nbchat._persist import VERSION, tree_from_dict
from nbchat.testing import FakeBackend

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), texts.filter(str.strip)),
        st.tuples(st.just("regenerate"), st.none()),
        st.tuples(st.just("edit"), texts.filter(str.strip)),
        st.tuples(st.just("switch"), st.sampled_from([-1, 1])),
        st.tuples(st.just("pin"), st.booleans()),
        st.tuples(st.just("delete"), st.none()),
    ),
    max_size=12,
)


def play(conv: nbchat.Conversation, steps: list[tuple[str, object]]) -> None:
    for action, arg in steps:
        branch = conv.history
        if action == "ask":
            conv.ask(str(arg))
        elif action == "regenerate" and any(m.role == "assistant" for m in branch):
            conv.regenerate().result()
        elif action == "edit" and branch:
            users = [m for m in branch if m.role == "user"]
            if users:
                conv.edit(users[0].id, str(arg)).result()
        elif action == "switch" and branch:
            conv.switch_branch(branch[-1].id, int(arg))  # type: ignore[call-overload]
        elif action == "pin" and branch:
            conv.set_flags(branch[0].id, pinned=bool(arg), excluded=not arg)
        elif action == "delete" and branch:
            conv.delete(branch[-1].id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions, system=texts, temperature=st.floats(0, 2))
def test_save_and_load_round_trip_exactly(
    tmp_path: Path, steps: list[tuple[str, object]], system: str, temperature: float
) -> None:
    conv = nbchat.Conversation(FakeBackend(), prepare="now", system_prompt=system, temperature=temperature)
    play(conv, steps)
    path = conv.save(tmp_path / "chat.json")
    again = nbchat.Conversation.load(path, FakeBackend(), prepare="now")
    saved_again = again.save(tmp_path / "again.json")
    assert json.loads(saved_again.read_text())["messages"] == json.loads(path.read_text())["messages"]
    assert again.tree.selected == conv.tree.selected
    assert again.messages == conv.messages
    assert (again.system_prompt, again.settings) == (conv.system_prompt, conv.settings)
    assert json.loads(path.read_text())["version"] == VERSION == 2


def test_history_switch_is_saved_as_use_history_and_old_files_still_load(tmp_path: Path) -> None:
    conv = nbchat.Conversation(FakeBackend(), prepare="now", use_history=False)
    path = conv.save(tmp_path / "chat.json")
    saved = json.loads(path.read_text())
    assert saved["settings"]["use_history"] is False
    assert "history" not in saved["settings"]
    saved["settings"]["history"] = saved["settings"].pop("use_history")  # as a file of the previous release
    path.write_text(json.dumps(saved))
    assert nbchat.Conversation.load(path, FakeBackend(), prepare="now").use_history is False  # and no warning


def test_file_never_contains_keys(tmp_path: Path) -> None:
    conv = nbchat.Conversation(lambda m, h: "ok", prepare="now", model="bot")
    conv.spec["options"]["api_key"] = "sk-should-not-be-here"  # even if something put it there
    conv.ask("hi")
    conv.spec["options"].pop("api_key")
    text = conv.save(tmp_path / "c.json").read_text()
    assert "sk-should" not in text
    saved = json.loads(text)
    assert saved["model"]["object"] is True
    with pytest.raises(nbchat.NbchatError, match="pass it again"):
        nbchat.Conversation.load(tmp_path / "c.json")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "Could not read"),
        ('{"format": "something else"}', "Not an nbchat conversation"),
        ('{"format": "nbchat.conversation", "version": 99, "messages": []}', "Unsupported"),
        ('{"format": "nbchat.conversation", "version": 1, "messages": [{"id": "a"}]}', "missing or invalid 'parent'"),
        (
            '{"format": "nbchat.conversation", "version": 1, "messages": [{"id": "a", "parent": "ghost",'
            ' "role": "user", "content": "x", "status": "done", "error": null, "stats": {}, "pinned": false,'
            ' "excluded": false, "created": 1}]}',
            "invalid 'parent'",
        ),
        (
            '{"format": "nbchat.conversation", "version": 1, "messages": [{"id": "a", "parent": null, "role": "system",'
            ' "content": "x", "status": "done", "error": null, "stats": {}, "pinned": false, "excluded": false,'
            ' "created": 1}]}',
            "invalid 'role'",
        ),
        ('{"format": "nbchat.conversation", "version": 1, "messages": [], "selected": {"": "zzz"}}', "selected"),
    ],
)
def test_hostile_or_broken_files_give_clear_errors_and_change_nothing(tmp_path: Path, content: str, match: str) -> None:
    chat_file = tmp_path / "bad.json"
    chat_file.write_text(content)
    conv = nbchat.Conversation(FakeBackend(), prepare="now")
    conv.ask("keep me")
    before = conv.messages
    with pytest.raises(nbchat.NbchatError, match=match):
        nbchat.Conversation.load(chat_file, FakeBackend())
    assert conv.messages == before


def test_autosave_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "auto.json"
    first = nbchat.Conversation(FakeBackend(), prepare="now", save_to=path)
    first.ask("remember this")
    assert path.exists()
    second = nbchat.Conversation(FakeBackend(), prepare="now", save_to=path)  # "the next run"
    assert second.messages == first.messages
    second.ask("and this")
    assert len(json.loads(path.read_text())["messages"]) == 4


def test_tree_from_dict_rejects_duplicate_ids() -> None:
    message = {"id": "a", "parent": None, "role": "user", "content": "x", "status": "done", "error": None,
               "stats": {}, "pinned": False, "excluded": False, "created": 1.0}  # fmt: skip
    with pytest.raises(nbchat.NbchatError, match="'id'"):
        tree_from_dict({"format": "nbchat.conversation", "version": 1, "messages": [message, message]})


def test_chat_widget_save_load_and_markdown(tmp_path: Path, comms: list) -> None:  # type: ignore[type-arg]
    chat = nbchat.Chat(FakeBackend(), prepare="now")
    chat.ask("hello")
    chat.save(tmp_path / "w.json")
    again = nbchat.Chat.load(tmp_path / "w.json", FakeBackend(), prepare="now")
    assert again.messages == chat.messages
    assert [m["content"] for m in again._messages] == ["hello", "You said: hello"]
    assert "You said: hello" in again.to_markdown()
