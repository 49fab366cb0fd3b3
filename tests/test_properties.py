"""Properties, for any input hypothesis can think of: prompt formats and the choice of history to send.

(The conversation file format's round trip is in test_persist.py.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbchat._context import select_context
from nbchat._messages import ChatMessage
from nbchat.backends.fake import FakeBackend
from nbchat.backends.prompt_formats import PROMPT_FORMATS, chatml, falcon, resolve_prompt_format

text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=30)
words = st.lists(st.sampled_from(["lion", "zebra", "the", "savanna", "🦁", "你好", "a\nb"]), max_size=12).map(" ".join)
roles = st.sampled_from(["user", "assistant"])


@st.composite
def conversations(draw: st.DrawFn, content: st.SearchStrategy[str] = text) -> list[dict[str, str]]:
    """OpenAI-style messages: an optional system message, then turns, ending with a user message."""
    body = draw(st.lists(st.tuples(roles, content), max_size=8))
    messages = [{"role": role, "content": c} for role, c in body]
    if draw(st.booleans()):
        messages.insert(0, {"role": "system", "content": draw(content)})
    return [*messages, {"role": "user", "content": draw(content)}]


# ---------------------------------------------------------------------------------------------------- prompt formats
@given(conversations())
def test_prompts_end_where_the_reply_begins(messages: list[dict[str, str]]) -> None:
    assert falcon(messages).endswith("\nAssistant:")
    assert chatml(messages).endswith("<|im_start|>assistant\n")


@given(conversations())
def test_prompts_hold_every_message_in_order(messages: list[dict[str, str]]) -> None:
    for render, marker in ((falcon, None), (chatml, "<|im_start|>")):
        prompt = render(messages)
        at = 0
        for m in messages:
            found = prompt.find(m["content"], at)
            assert found >= 0, (m, prompt)
            at = found + len(m["content"])
        if marker:
            assert prompt.count(marker) >= len(messages) + 1


@given(conversations(), st.integers(min_value=1, max_value=9))
def test_earlier_turns_render_the_same_whatever_follows(messages: list[dict[str, str]], cut: int) -> None:
    """Adding messages never changes the prompt text of the earlier ones (what a KV cache reuses)."""
    head = messages[: min(cut, len(messages))]
    for fmt in PROMPT_FORMATS.values():
        generation = "\nAssistant:" if fmt.name == "falcon" else "<|im_start|>assistant\n"
        before = fmt.render(head)
        assert before.endswith(generation)
        assert fmt.render(messages).startswith(before[: -len(generation)])


@settings(max_examples=30, deadline=None)
@given(conversations(words))
def test_a_chatml_jinja_template_renders_like_the_built_in_chatml(messages: list[dict[str, str]]) -> None:
    template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    assert resolve_prompt_format(template).render(messages) == chatml(messages)


@given(st.text(max_size=20).filter(lambda s: s not in PROMPT_FORMATS and "{%" not in s and "{{" not in s))
def test_unknown_prompt_format_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="Unknown prompt format"):
        resolve_prompt_format(name)


# ---------------------------------------------------------------------------------------------------- history
@st.composite
def branches(draw: st.DrawFn) -> list[ChatMessage]:
    """A visible branch: turns of user/assistant messages, some pinned or excluded, some replies failed (empty)."""
    out: list[ChatMessage] = []
    for _ in range(draw(st.integers(0, 12))):
        for role in ("user", "assistant"):
            content = draw(words) or ("" if role == "assistant" and draw(st.booleans()) else "hi")
            out.append(
                ChatMessage(
                    role,
                    content,
                    status="error" if role == "assistant" and not content else "done",
                    pinned=draw(st.integers(0, 5)) == 0,
                    excluded=draw(st.integers(0, 7)) == 0,
                )
            )
    if draw(st.booleans()):  # a question already in the history, being answered
        out.append(ChatMessage("user", draw(words) or "question"))
    return out


def tokens(backend: FakeBackend, messages: list[dict[str, str]]) -> int:
    return backend.count_tokens(messages) or 0


@settings(max_examples=300, deadline=None)
@given(
    branch=branches(),
    system=st.sampled_from(["", "You are a zoologist.", "Be brief. " * 5]),
    question=st.one_of(st.none(), words.map(lambda w: w or "why?")),
    window=st.integers(20, 400),
    reply=st.integers(1, 60),
    history=st.booleans(),
)
def test_history_selection(
    branch: list[ChatMessage], system: str, question: str | None, window: int, reply: int, history: bool
) -> None:
    backend = FakeBackend(context_window=window)
    chosen = select_context(
        branch, system_prompt=system, use_history=history, backend=backend, max_new_tokens=reply, text=question
    )
    sent = chosen.messages
    budget = window - reply

    # the system message first, the question last — always
    if system.strip():
        assert sent[0] == {"role": "system", "content": system}
    asked = question if question is not None else (branch[-1].content if branch and branch[-1].role == "user" else None)
    if asked is not None:
        assert sent[-1] == {"role": "user", "content": asked}

    questioned = question is None and bool(branch) and branch[-1].role == "user"
    earlier = branch[:-1] if questioned else branch
    candidates = [m for m in earlier if not m.excluded and (m.content or m.role == "user") and (history or m.pinned)]
    kept = [m for m in chosen.sent if not (questioned and m is branch[-1])]
    kept_ids = {m.id for m in kept}

    # never reordered, never anything excluded, failed-empty or (history off) unpinned
    positions = [earlier.index(m) for m in kept]
    assert positions == sorted(positions)
    assert all(m in candidates for m in kept)
    # pinned messages always go
    assert all(m.id in kept_ids for m in candidates if m.pinned)
    # the window: within budget whenever the system message, pinned messages and the question fit on their own
    floor = [*sent[: 1 if system.strip() else 0], *[m.to_openai() for m in candidates if m.pinned]]
    floor += [sent[-1]] if asked is not None else []
    if tokens(backend, floor) <= budget:
        assert tokens(backend, sent) <= budget
    # oldest first, whole turns: an unpinned message kept means every later unpinned candidate is kept too
    unpinned = [m for m in candidates if not m.pinned]
    flags = [m.id in kept_ids for m in unpinned]
    assert flags == sorted(flags), "a newer message was dropped while an older one was kept"
    # a question dropped takes its (unpinned) answer with it
    for i, m in enumerate(candidates[:-1]):
        following = candidates[i + 1]
        if m.role == "user" and not m.pinned and m.id not in kept_ids and following.role == "assistant":
            assert following.pinned or following.id not in kept_ids
    # and nothing is dropped that did not have to be: with room to spare, every candidate goes
    if (
        tokens(backend, [*sent[: 1 if system.strip() else 0], *[m.to_openai() for m in candidates], *sent[-1:]])
        <= budget
    ):
        assert len(kept) == len(candidates)
