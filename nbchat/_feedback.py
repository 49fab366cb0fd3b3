"""Feedback on answers: thumbs up/down and a comment per assistant message, as records a course author collects.

A rating lives on its message (:attr:`nbchat.ChatMessage.feedback`), so it is saved with the conversation; this module
turns ratings into flat records (:meth:`nbchat.Conversation.feedback_records`, ``Chat.feedback``) and appends them to a
JSON Lines file (``nbchat web --feedback FILE.jsonl``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._messages import ChatMessage
    from ._tree import MessageTree

__all__ = [
    "FEEDBACK_COLUMNS",
    "RATINGS",
    "FeedbackLog",
    "check_feedback",
    "feedback_record",
    "feedback_records",
    "rate",
]

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


def rate(tree: MessageTree, message_id: str, rating: Any, comment: Any = "") -> dict[str, Any]:
    """Set the feedback of an assistant message in ``tree`` (no rating and no comment: remove it); returns its record.

    Parameters
    ----------
    tree : MessageTree
        The conversation's messages; the caller holds the conversation's lock.
    message_id : str
        The rated answer.
    rating : {"up", "down", None}
        The rating; ``None`` for none.
    comment : str, default ""
        What the person wrote about the answer.

    Returns
    -------
    dict
        The new state as a record (see :func:`feedback_record`); ``time`` is now, in Unix seconds.

    Raises
    ------
    KeyError, ValueError
        As :meth:`nbchat.Conversation.set_feedback` (no such message; a user message, a rating or comment of the
        wrong kind).
    """
    rating, comment = check_feedback(rating, comment)
    node = tree.get(message_id)
    if node.role != "assistant":
        msg = "Only answers (assistant messages) can be rated."
        raise ValueError(msg)
    rated = rating is not None or comment != ""
    node.feedback = {"rating": rating, "comment": comment, "time": time.time()} if rated else None
    return feedback_record(tree, node)


def feedback_records(tree: MessageTree) -> list[dict[str, Any]]:
    """Every rated answer in ``tree``, in every branch, as records (see :func:`feedback_record`), oldest first."""
    rated = sorted((m for m in tree.nodes.values() if m.feedback is not None), key=lambda m: m.created)
    return [feedback_record(tree, m) for m in rated]


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
