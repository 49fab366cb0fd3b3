"""Feedback on answers: thumbs up/down and a comment per assistant message, as records a course author collects.

A rating lives on its message (:attr:`nbchat.ChatMessage.feedback`), so it is saved with the conversation; this module
turns ratings into flat records (:meth:`nbchat.Conversation.feedback_records`, ``Chat.feedback``) and appends them to a
JSON Lines file (``nbchat web --feedback FILE.jsonl``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._messages import ChatMessage
    from ._tree import MessageTree

__all__ = ["FEEDBACK_COLUMNS", "RATINGS", "FeedbackLog", "check_feedback", "feedback_record"]

RATINGS = ("up", "down")
FEEDBACK_COLUMNS = ("message_id", "rating", "comment", "time", "question", "answer", "model", "backend")
"""The fields of a feedback record, in order (the columns of ``Chat.feedback``)."""


def check_feedback(rating: Any, comment: Any) -> tuple[str | None, str]:
    """Validate a rating and comment.

    Raises
    ------
    ValueError
        For a rating other than ``"up"``, ``"down"`` or ``None``, or a comment that is not a string.
    """
    if rating not in (*RATINGS, None):
        msg = f"rating must be 'up', 'down' or None (no rating), got {rating!r}."
        raise ValueError(msg)
    if not isinstance(comment, str):
        msg = f"comment must be a string, got {type(comment).__name__}."
        raise ValueError(msg)
    return rating, comment


def feedback_record(tree: MessageTree, message: ChatMessage) -> dict[str, Any]:
    """One record: the rated answer, the question it answers, the rating and comment, the model.

    ``time`` is Unix seconds of the last change of the rating; ``question`` is the user message the answer follows
    (``""`` if none).
    """
    fb = message.feedback or {}
    parent = tree.nodes.get(message.parent) if message.parent else None
    return {
        "message_id": message.id,
        "rating": fb.get("rating"),
        "comment": fb.get("comment", ""),
        "time": fb.get("time"),
        "question": parent.content if parent is not None and parent.role == "user" else "",
        "answer": message.content,
        "model": message.stats.get("model"),
        "backend": message.stats.get("backend"),
    }


class FeedbackLog:
    """A callback for :meth:`nbchat.Conversation.on_feedback` that appends each record as one JSON line to ``path``.

    Each change of a rating or comment is one line (the latest line for a ``message_id`` is its current state), so
    the file can be shared by several chats and read with ``pandas.read_json(path, lines=True)``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)


FeedbackCallback = Callable[[dict[str, Any]], None]
