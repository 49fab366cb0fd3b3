"""Which messages a request sends: system message, history (if on), pinned and excluded messages, the window."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._messages import ChatMessage
from .backends import Backend

__all__ = ["Selection", "select_context"]


@dataclasses.dataclass
class Selection:
    """The request that would be sent.

    Attributes
    ----------
    messages : list of dict
        OpenAI-style messages, system message first.
    sent : list of ChatMessage
        The history messages in ``messages`` (the question included when it is already in the history).
    left_out : list of ChatMessage
        Earlier messages not sent: excluded, history off, empty failed replies, or dropped to fit the window.
    """

    messages: list[dict[str, Any]]
    sent: list[ChatMessage]
    left_out: list[ChatMessage]


def select_context(
    branch: list[ChatMessage],
    *,
    system_prompt: str,
    use_history: bool,
    backend: Backend,
    max_new_tokens: int,
    text: str | None = None,
    images: bool = True,
) -> Selection:
    """Choose what to send for the next reply.

    Parameters
    ----------
    branch : list of ChatMessage
        The visible conversation. If it ends with a user message and ``text`` is None, that message is the
        question being answered.
    text : str, optional
        A new question that is not in the history yet.
    images : bool, default True
        Send image attachments as image parts; ``False`` (a model without image input) names them in the text.

    Notes
    -----
    Reasoning of earlier replies is not sent (nor counted) unless ``backend.send_reasoning``. An answer with tool
    calls is sent as its rounds (assistant ``tool_calls``, ``tool`` results) and its final text
    (:meth:`~nbchat.ChatMessage.to_openai_list`).
    When the prompt plus ``max_new_tokens`` would exceed ``backend.context_window``, the oldest unpinned messages
    are dropped, a question together with its answer, until it fits (tokens counted by ``backend.count_tokens``;
    nothing is dropped when the backend cannot count).
    """
    head = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    body = [m for m in branch if m.status != "streaming"]
    question = body.pop() if text is None and body and body[-1].role == "user" else None
    candidates = [
        m
        for m in body
        if not m.excluded and (m.content or m.tool_rounds or m.role == "user") and (use_history or m.pinned)
    ]
    if question is not None:
        tail = [question.to_openai(images)]
    else:
        tail = [{"role": "user", "content": text}] if text is not None else []
    kept = _fit(head, candidates, tail, backend, max_new_tokens, images)
    kept_ids = {m.id for m in kept}
    left_out = [m for m in body if m.id not in kept_ids]
    sent = [d for m in kept for d in m.to_openai_list(images, reasoning=backend.send_reasoning)]
    return Selection(head + sent + tail, kept + ([question] if question else []), left_out)


def _fit(
    head: list[dict[str, Any]],
    body: list[ChatMessage],
    tail: list[dict[str, Any]],
    backend: Backend,
    max_new_tokens: int,
    images: bool = True,
) -> list[ChatMessage]:
    window = backend.context_window
    if not window:
        return body
    budget = window - max_new_tokens
    body = list(body)
    while body:
        count = backend.count_tokens(
            head + [d for m in body for d in m.to_openai_list(images, reasoning=backend.send_reasoning)] + tail
        )
        if count is None or count <= budget:
            break
        victim = next((i for i, m in enumerate(body) if not m.pinned), None)
        if victim is None:
            break
        pair = victim + 1 < len(body) and body[victim + 1].role == "assistant" and not body[victim + 1].pinned
        del body[victim : victim + (2 if body[victim].role == "user" and pair else 1)]
    return body
