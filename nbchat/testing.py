"""Helpers for testing code built on nbchat (and nbchat itself): a scripted backend and a recording comm."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from ._view import message_state
from .backends.fake import FakeBackend

__all__ = ["FakeBackend", "RecordingComm", "recording_comms", "wait_for_view"]


class RecordingComm:
    """Stands in for a kernel comm and records every message a widget sends to the browser.

    Attributes
    ----------
    sent : list of dict
        The ``data`` of each message, in order: ``{"method": "update", "state": {...}}`` for trait changes,
        ``{"method": "custom", "content": {...}}`` for custom messages (token deltas, notices, ...).
    """

    comm_id = "recording-comm"
    kernel = "recording"  # ipywidgets only sends when its comm has a kernel

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to open."""

    def on_msg(self, callback: Any) -> None:
        """Keep the widget's handler (messages from the browser are injected with ``widget._handle_custom_msg``)."""
        self.callback = callback

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        """Record ``data``."""
        self.sent.append(data)

    def close(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to close."""

    def custom(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Custom messages sent, optionally only those with ``{"kind": kind}``."""
        out = [m["content"] for m in self.sent if m.get("method") == "custom"]
        return [m for m in out if kind is None or m.get("kind") == kind]

    def state_updates(self, name: str) -> list[Any]:
        """Every value of trait ``name`` sent to the browser, in order."""
        return [m["state"][name] for m in self.sent if m.get("method") == "update" and name in m.get("state", {})]


@contextlib.contextmanager
def recording_comms() -> Iterator[list[RecordingComm]]:
    """Within the block, every new widget gets a :class:`RecordingComm`; yields the list of them, in creation order."""
    import comm

    created: list[RecordingComm] = []

    def create_comm(**kwargs: Any) -> RecordingComm:
        created.append(RecordingComm(**kwargs))
        return created[-1]

    original = comm.create_comm
    comm.create_comm = create_comm  # type: ignore[assignment]  # a stand-in: it has the methods widgets call
    try:
        yield created
    finally:
        comm.create_comm = original


def wait_for_view(chat: Any, timeout: float = 5.0) -> None:
    """Block until a :class:`~nbchat.Chat`'s synced state shows its conversation as it is now.

    A widget rebuilds its synced state (``_messages``, ``status``, the context gauge) in a thread of its own, a
    moment after the conversation changed (see :mod:`nbchat._view`), as a browser sees it; call this after the
    conversation is idle and before reading what was sent to the browser. Every field the browser gets of each
    message is compared (text, status, reasoning, feedback, …).

    Raises
    ------
    AssertionError
        If the view has not caught up within ``timeout`` seconds (the message says what differs).
    """
    conv = chat.conversation
    deadline = time.monotonic() + timeout
    while True:
        wanted = [dict(message_state(m)) for m in conv.history]  # every field the browser gets (feedback, …)
        shown = [{key: m.get(key) for key in w} for m, w in zip(chat._messages, wanted, strict=False)]
        if len(chat._messages) == len(wanted) and shown == wanted and chat.status == conv.status:
            return
        if time.monotonic() > deadline:
            msg = f"the view shows {shown} ({chat.status}), the conversation has {wanted} ({conv.status})"
            raise AssertionError(msg)
        time.sleep(0.01)
