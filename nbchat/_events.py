"""What a conversation tells the code that watches it: events for views, and lists of callbacks that cannot break it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

from ._messages import ChatMessage
from ._redact import redacting_logger
from .tools import ToolCall

__all__ = ["Callbacks", "ConversationEvent", "Status"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record

T = TypeVar("T")

Status = Literal["loading", "ready", "generating", "error"]
"""A conversation's status (:attr:`nbchat.Conversation.status`), sent to views with a ``"status"`` event:
preparing the model, ready for a question, a reply streaming, or the model could not be prepared."""


@dataclasses.dataclass(frozen=True)
class ConversationEvent:
    """What listeners receive, from the thread that caused it.

    Attributes
    ----------
    kind : {"status", "message", "delta", "reasoning", "tree", "clear", "tool"}
        ``status``: ``status``/``text``/``progress`` changed. ``message``: ``message`` was added or committed
        (its final text, reasoning, status and stats). ``delta``: ``text`` was appended to the streaming
        ``message``'s answer. ``reasoning``: ``text`` was appended to its reasoning (thinking).
        ``tree``: the visible branch or a message's flags changed (edit, branch switch, delete, pin, exclude,
        history replaced). ``clear``: the history was emptied. ``tool``: the streaming ``message`` gained a round of
        tool calls (``message.tool_rounds[-1]``; its text left the streaming text), or ``call`` changed status.
    call : ToolCall or None
        For ``kind == "tool"``: the call whose status changed; ``None`` when a whole round was appended.
    """

    kind: Literal["status", "message", "delta", "reasoning", "tree", "clear", "tool"]
    message: ChatMessage | None = None
    text: str = ""
    progress: float | None = None
    call: ToolCall | None = None


class Callbacks(Generic[T]):
    """Callbacks of one kind (a conversation's listeners, reply or feedback callbacks), called in the order added.

    A callback that raises is logged and skipped: a broken view or log must not break generation or the chat.

    Parameters
    ----------
    what : str
        Names the callbacks in the log record of one that failed (``"listener"``, ``"on_reply callback"``, ...).
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._callbacks: list[Callable[[T], None]] = []

    def add(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Add ``callback``; returns a function that removes it (calling that again does nothing)."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def __call__(self, value: T) -> None:
        """Call each callback with ``value``, in the caller's thread."""
        for callback in list(self._callbacks):
            try:
                callback(value)
            except Exception:
                logger.exception("nbchat %s failed", self._what)
