"""Branches, edits, regeneration, delete, pin/exclude, the context budget, provenance and copy-as-code."""

from __future__ import annotations

import pytest

import nbchat
from nbchat.testing import FakeBackend


def make(**kwargs: object) -> tuple[nbchat.Conversation, FakeBackend]:
    fake = FakeBackend(context_window=kwargs.pop("context_window", None))  # type: ignore[arg-type]
    return nbchat.Conversation(fake, prepare="now", **kwargs), fake  # type: ignore[arg-type]


def contents(conv: nbchat.Conversation) -> list[str]:
    return [m["content"] for m in conv.messages]


def test_regenerate_keeps_the_old_answer_as_a_branch() -> None:
    conv, fake = make()
    fake.enqueue(["first answer"])
    conv.ask("question")
    fake.enqueue(["second answer"])
    conv.regenerate().result(timeout=5)
    assert contents(conv) == ["question", "second answer"]
    reply = conv.history[-1]
    assert conv.tree.position(reply.id) == (2, 2)
    assert fake.requests[-1][0] == [{"role": "user", "content": "question"}]  # same request again
    conv.switch_branch(reply.id, -1)
    assert contents(conv) == ["question", "first answer"]


def test_edit_answers_the_new_text_and_keeps_later_turns_aside() -> None:
    conv, fake = make()
    for n in range(3):
        fake.enqueue([f"answer {n}"])
        conv.ask(f"question {n}")
    second_question = conv.history[2]
    fake.enqueue(["edited answer"])
    conv.edit(second_question.id, "question 1, rephrased").result(timeout=5)
    assert contents(conv) == ["question 0", "answer 0", "question 1, rephrased", "edited answer"]
    assert fake.requests[-1][0][-1] == {"role": "user", "content": "question 1, rephrased"}
    assert len(fake.requests[-1][0]) == 3  # earlier turns only, not the later ones
    edited = conv.history[2]
    assert conv.tree.position(edited.id) == (2, 2)
    conv.switch_branch(edited.id, -1)  # the original branch, with its later turns, is intact
    assert contents(conv) == ["question 0", "answer 0", "question 1", "answer 1", "question 2", "answer 2"]


def test_edit_refuses_assistant_messages_and_empty_text() -> None:
    conv, _ = make()
    conv.ask("hi")
    with pytest.raises(ValueError, match="Only your own messages"):
        conv.edit(conv.history[1].id, "x")
    with pytest.raises(ValueError, match="empty"):
        conv.edit(conv.history[0].id, "  ")
    with pytest.raises(KeyError, match="No message"):
        conv.edit("nope", "x")


def test_delete_one_message_keeps_the_rest() -> None:
    conv, _ = make()
    conv.ask("a")
    conv.ask("b")
    conv.delete(conv.history[1].id)  # the first answer
    assert contents(conv) == ["a", "b", "You said: b"]
    conv.delete(conv.history[0].id)
    assert contents(conv) == ["b", "You said: b"]


def test_pinned_survive_the_window_and_excluded_are_never_sent() -> None:
    conv, fake = make(context_window=80, max_new_tokens=20)
    fake.enqueue(["The secret word is PINE."])
    conv.ask("Remember the secret word.")
    conv.set_flags(conv.history[1].id, pinned=True)
    for n in range(6):
        fake.enqueue([f"filler answer number {n} " * 2])
        conv.ask(f"filler question number {n}")
    sent = [m["content"] for m in fake.requests[-1][0]]
    assert "The secret word is PINE." in sent
    assert "Remember the secret word." not in sent  # its question was dropped, the pinned answer kept
    conv.set_flags(conv.history[-1].id, excluded=True)
    conv.ask("last")
    assert conv.history[-3].content not in [m["content"] for m in fake.requests[-1][0]]


def test_context_usage_arithmetic() -> None:
    conv, fake = make(context_window=100, max_new_tokens=30, system_prompt="Be brief.")
    conv.ask("one two three")
    usage = conv.context_usage()
    expected = fake.count_tokens(conv.build_messages())
    assert usage == {"used": expected, "window": 100, "reserved": 30, "left_out": []}
    for _ in range(8):
        conv.ask("a b c d e f g h")
    usage = conv.context_usage()
    assert usage["used"] <= 100 - 30
    assert usage["left_out"]  # old turns will not be sent
    assert usage["left_out"][0] == conv.history[0].id


def test_history_off_leaves_everything_but_pinned_out() -> None:
    conv, fake = make(use_history=False)
    conv.ask("keep me")
    conv.set_flags(conv.history[0].id, pinned=True)
    conv.ask("next")
    assert [m["content"] for m in fake.requests[-1][0]] == ["keep me", "next"]


def test_provenance_records_the_exact_request() -> None:
    conv, _ = make(system_prompt="sys", temperature=0.2, stop=["END"])
    conv.ask("hello")
    reply = conv.history[-1]
    record = conv.request_of(reply.id)
    assert record["backend"] == "fake"
    assert record["messages"] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}]
    assert record["settings"] == {
        "max_new_tokens": 256,
        "temperature": 0.2,
        "top_p": 1.0,
        "stop": ("END",),
        "thinking": None,
        "tools": (),  # no tools= in this conversation
        "tool_choice": None,
        "parallel_tool_calls": None,
        "response_format": None,  # no schema= for this reply
    }
    assert record["stats"]["finish_reason"] == "stop"
    assert record["prompt"] is None  # the fake sends structured messages


def test_copy_as_code_reruns_the_same_request() -> None:
    conv, fake = make(system_prompt="sys", max_new_tokens=50)
    conv.ask("first")
    conv.ask("second")
    code = conv.request_code(conv.history[-1].id)
    assert "MODEL," in code  # the model was a Python object: the snippet asks for it
    rerun = FakeBackend()
    namespace = {"MODEL": rerun}
    exec(compile(code, "<copy-as-code>", "exec"), namespace)
    assert rerun.requests[-1][0] == fake.requests[-1][0]
    assert rerun.requests[-1][1] == fake.requests[-1][1]


def test_on_reply_is_called_with_each_finished_answer() -> None:
    conv, fake = make()
    seen: list[str] = []
    conv.on_reply(lambda m: seen.append(f"{m.status}:{m.content}"))
    fake.enqueue(["ok"])
    conv.ask("a")
    fake.enqueue(["par"], error=RuntimeError("boom"))
    with pytest.raises(nbchat.GenerationError):
        conv.ask("b")
    assert seen == ["done:ok", "error:par"]


def test_setting_messages_validates_and_replaces() -> None:
    conv, fake = make()
    conv.messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    assert conv.system_prompt == "You are terse."
    assert contents(conv) == ["hi", "hello"]
    conv.ask("again")
    assert fake.requests[-1][0][0] == {"role": "system", "content": "You are terse."}
    before = conv.messages
    for bad in ([{"role": "wizard", "content": "x"}], [{"role": "user"}], "hello", [{"role": "user", "content": 5}]):
        with pytest.raises(ValueError, match="messages"):
            conv.messages = bad  # type: ignore[assignment]
        assert conv.messages == before


def test_to_markdown_transcript() -> None:
    conv, fake = make(system_prompt="Be kind.")
    conv.ask("Which animals live in the savanna?")
    fake.enqueue(["Lions"], finish_reason="stop")
    conv.ask("Strongest?")
    md = conv.to_markdown()
    assert "> **System:** Be kind." in md
    assert "**User:**\n\nWhich animals live in the savanna?" in md
    assert "**Assistant:**\n\nLions" in md


def test_edits_are_refused_while_generating() -> None:
    fake = FakeBackend(delay=0.05)
    conv = nbchat.Conversation(fake, prepare="now")
    conv.ask("a")
    fake.enqueue(["x "] * 40)
    future = conv.send("b")
    with pytest.raises(nbchat.ConversationBusyError):
        conv.delete(conv.history[0].id)
    with pytest.raises(nbchat.ConversationBusyError):
        conv.regenerate()
    conv.stop()
    future.result(timeout=5)
    assert len(conv.history) == 4
