"""Working with a conversation's history: edit, regenerate, branch, delete, pin, exclude, save, export.

A mixin of :class:`nbchat.Conversation`, kept apart so the controller module stays about generation.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._messages import ChatMessage, check_text

if TYPE_CHECKING:
    from ._conversation import Conversation

__all__ = ["HistoryEditing"]


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
