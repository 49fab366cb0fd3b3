"""Working with a conversation's history: edit, regenerate, branch, delete, pin, exclude, save, export.

A mixin of :class:`nbchat.Conversation`, kept apart so the controller module stays about generation.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._messages import ChatMessage, check_text

if TYPE_CHECKING:
    from ._conversation import Conversation

__all__ = ["HistoryEditing"]

logger = logging.getLogger(__name__)


class HistoryEditing:
    """Methods of :class:`nbchat.Conversation` that change or export its message tree."""

    @property
    def messages(self) -> list[dict[str, str]]:
        """The visible history as OpenAI-style dicts ``[{"role": ..., "content": ...}, ...]``.

        Setting it replaces the whole conversation with these messages (validated: roles ``user`` and
        ``assistant`` — a leading ``system`` message becomes :attr:`system_prompt` — and string contents).

        Raises
        ------
        ValueError, TypeError
            On a malformed list; the conversation is left unchanged.
        ConversationBusyError
            While a reply is being generated.
        """
        with self._lock:
            return [m.to_openai() for m in self._tree.branch()]

    @messages.setter
    def messages(self, value: list[dict[str, str]]) -> None:
        from ._persist import validate_messages

        system, records = validate_messages(value)
        with self._lock:
            self._refuse_while_busy("replace the history")
            self._tree.clear()
            for record in records:
                self._tree.append(ChatMessage(record["role"], record["content"], attachments=record["attachments"]))
            if system is not None:
                self.system_prompt = system
        self._changed()

    def regenerate(self, message_id: str | None = None) -> Future[ChatMessage]:
        """Generate a new answer to the same question; the old one stays as an alternative ("‹ 1/2 ›").

        Parameters
        ----------
        message_id : str, optional
            An assistant message; default: the last one of the visible branch.

        Raises
        ------
        ValueError
            If there is no assistant message to regenerate.
        ConversationBusyError
            While a reply is being generated.
        """
        with self._lock:
            self._refuse_while_busy("regenerate")
            target = self._tree.get(message_id) if message_id else self._last_of_role("assistant")
            if target is None or target.role != "assistant" or target.parent is None:
                msg = "There is no answer to regenerate yet; send a message first."
                raise ValueError(msg)
            self.check_images(self._tree.get(target.parent).attachments)
            return self._reply_to(self._tree.get(target.parent))

    def edit(self, message_id: str, text: str) -> Future[ChatMessage]:
        """Replace a user message by ``text`` as a new alternative, and answer it; later turns are kept aside.

        Raises
        ------
        ValueError
            If ``message_id`` is not a user message or ``text`` is empty.
        ConversationBusyError
            While a reply is being generated.
        """
        check_text(text)
        with self._lock:
            self._refuse_while_busy("edit")
            original = self._tree.get(message_id)
            if original.role != "user":
                msg = "Only your own messages can be edited; regenerate an answer instead."
                raise ValueError(msg)
            self.check_images(original.attachments)
            edited = ChatMessage("user", text, pinned=original.pinned, attachments=list(original.attachments))
            user = self._tree.add(edited, original.parent)
            return self._reply_to(user)

    def switch_branch(self, message_id: str, step: int) -> str:
        """Show the alternative ``step`` places after ``message_id`` (‹ = -1, › = +1); returns the shown id."""
        with self._lock:
            self._refuse_while_busy("switch versions")
            shown = self._tree.step(message_id, step)
        self._changed()
        return shown

    def delete(self, message_id: str) -> None:
        """Delete one message; the messages after it stay (they follow its predecessor).

        Raises
        ------
        ConversationBusyError
            While a reply is being generated.
        """
        with self._lock:
            self._refuse_while_busy("delete")
            self._tree.delete(message_id)
            self._requests.pop(message_id, None)
        self._changed()

    def set_flags(self, message_id: str, *, pinned: bool | None = None, excluded: bool | None = None) -> None:
        """Pin a message (always sent, even when older ones are left out) or exclude it (never sent)."""
        with self._lock:
            node = self._tree.get(message_id)
            if pinned is not None:
                node.pinned = bool(pinned)
            if excluded is not None:
                node.excluded = bool(excluded)
        self._changed()

    def set_feedback(self, message_id: str, rating: str | None, comment: str = "") -> None:
        """Rate an assistant message: ``"up"``, ``"down"`` or ``None`` (no rating), with an optional comment.

        The rating is kept on the message (:attr:`~nbchat.ChatMessage.feedback`, saved with the conversation) and
        passed to every :meth:`on_feedback` callback. A rating of ``None`` with no comment removes the feedback.

        Raises
        ------
        KeyError
            If there is no message ``message_id``.
        ValueError
            For a user message, a rating other than "up", "down" or None, or a comment that is not a string.
        """
        from ._feedback import check_feedback, feedback_record

        rating, comment = check_feedback(rating, comment)
        with self._lock:
            node = self._tree.get(message_id)
            if node.role != "assistant":
                msg = "Only answers (assistant messages) can be rated."
                raise ValueError(msg)
            rated = rating is not None or comment != ""
            node.feedback = {"rating": rating, "comment": comment, "time": time.time()} if rated else None
            record = feedback_record(self._tree, node)
        self._changed()
        for callback in list(self._feedback_callbacks):
            try:
                callback(record)
            except Exception:  # a broken log must not break the chat; it is logged
                logger.exception("nbchat feedback callback failed")

    def on_feedback(self, callback: Any) -> Any:
        """Call ``callback(record)`` on every change of a rating (a dict of :data:`nbchat._feedback.FEEDBACK_COLUMNS`).

        Returns a function that removes the callback. ``nbchat web --feedback FILE.jsonl`` uses this to append each
        record to a file.
        """
        self._feedback_callbacks.append(callback)
        return lambda: self._feedback_callbacks.remove(callback) if callback in self._feedback_callbacks else None

    def feedback_records(self) -> list[dict[str, Any]]:
        """Every rated answer, in every branch, as flat records (oldest message first).

        Keys: ``message_id``, ``rating`` ("up", "down" or None), ``comment``, ``time`` (Unix seconds of the last
        change), ``question``, ``answer``, ``model``, ``backend``.
        """
        from ._feedback import feedback_record

        with self._lock:
            rated = [m for m in self._tree.nodes.values() if m.feedback is not None]
            rated.sort(key=lambda m: m.created)
            return [feedback_record(self._tree, m) for m in rated]

    def to_json(self) -> str:
        """The conversation file's text, exactly what :meth:`save` writes (the widget's "Download as nbchat JSON")."""
        from ._persist import conversation_json

        return conversation_json(self)

    def _last_of_role(self, role: str) -> ChatMessage | None:
        return next((m for m in reversed(self._tree.branch()) if m.role == role), None)

    def save(self, path: str | Path) -> Path:
        """Write the conversation (every branch, settings, model spec; never keys) as versioned JSON.

        See :mod:`nbchat._persist` for the format. Returns the path written.
        """
        from ._persist import write_conversation

        return write_conversation(self, Path(path))

    @classmethod
    def load(cls, path: str | Path, spec: Any = None, **options: Any) -> Conversation:
        """Open a conversation saved with :meth:`save`.

        Parameters
        ----------
        path : str or Path
            The JSON file.
        spec, **options
            Override the saved model spec and settings (needed when the saved model was a Python object). A file
            may set only the backend options in :data:`nbchat._persist.LOADABLE_OPTIONS` (engine, context window,
            timeout, ...); others (``base_url``, ``headers``, ...) must be passed here. A server URL saved in the
            file gets no key from the environment or ``.env`` (pass ``api_key=`` here to send one).

        Raises
        ------
        NbchatError
            If the file is not a valid nbchat conversation, or sets an option a file may not set (the message names
            it and says how to pass it in code).
        """
        from ._persist import read_conversation

        return read_conversation(cls, Path(path), spec, options)

    def to_markdown(self, *, html: bool = True) -> str:
        """The visible conversation as a readable Markdown transcript (``html=False``: reasoning as a quote, not a
        ``<details>`` section; see :func:`nbchat._persist.to_markdown`)."""
        from ._persist import to_markdown

        return to_markdown(self, html=html)

    def request_code(self, message_id: str) -> str:
        """A runnable Python snippet that re-sends exactly the request behind an assistant message."""
        from ._persist import request_code

        return request_code(self, message_id)
