"""Chat messages as the controller keeps them: OpenAI-style role and content, plus status and stats."""

from __future__ import annotations

import dataclasses
import itertools
import time
import uuid
from typing import Any, Literal

from ._attachments import Attachment
from .tools._calls import ToolRound

__all__ = ["ChatMessage", "MessageStatus", "check_text"]

MessageStatus = Literal["done", "streaming", "stopped", "error", "incomplete"]
"""``done``: complete. ``streaming``: being generated. ``stopped``: the user pressed Stop (partial text kept).
``error``: generation failed (partial text kept, ``error`` says why). ``incomplete``: the stream ended without a
finish reason, so the reply may be cut off."""

_ids = itertools.count(1)
_PROCESS = uuid.uuid4().hex[:6]  # ids stay unique when conversations saved by other processes are loaded


def _new_id() -> str:
    return f"m{_PROCESS}{next(_ids)}"


@dataclasses.dataclass
class ChatMessage:
    """One message of a conversation.

    Attributes
    ----------
    role : {"user", "assistant"}
        Who wrote it. The system message is a setting of the conversation, not a message.
    content : str
        The text (for an assistant message: the answer). For an assistant message that was stopped or failed, the
        partial reply.
    reasoning : str
        For an assistant message of a reasoning model: what it thought before answering (a server's
        ``reasoning_content``/``reasoning`` field, or a local model's ``<think>`` block); ``""`` when none. Kept,
        shown and saved, but not sent back to the model (see :meth:`to_openai`). A reply stopped while thinking keeps
        its partial reasoning.
    status : MessageStatus
        See :data:`MessageStatus`.
    error : str or None
        What went wrong and what to do, for ``status == "error"`` or ``"incomplete"`` (English).
    error_i18n : dict or None
        The same text as a key of the UI catalogue and its parameters, ``{"key": str, "params": {str: str}}``
        (:attr:`nbchat.BackendError.key` / ``params``), so a widget shows the error in its own language; ``None``
        when the error has no catalogue entry (an unexpected exception) or there is no error. Saved with the
        conversation; files written before it existed load with ``None``.
    stats : dict
        For assistant messages: ``tokens`` (generated tokens, or None), ``prompt_tokens``, ``ttft_s`` (seconds
        from request to first text), ``tokens_per_s`` (decode rate after the first token), ``duration_s``,
        ``finish_reason``, ``backend``, ``model``, ``left_out`` (earlier messages dropped to fit the context).
        Of a reasoning reply also: ``first_answer_s`` (seconds from request to the first answer text; ``ttft_s``
        is to the first token of either kind), ``thinking_s`` (seconds from the first reasoning text to the first
        answer text, or to the end when no answer came), ``thinking_tokens`` (reasoning tokens, as the server
        reported or counted with the model's tokenizer; ``thinking_tokens_estimated`` when counted as streamed
        chunks), ``tokens_estimated`` (True when ``tokens`` and
        ``thinking_tokens`` are estimates: the server reported no usage and no tokenizer was at hand), ``notice``
        (e.g. that ``thinking=`` could not be applied to this model).
    id : str
        Stable identifier, unique within the process; the widget keys its DOM nodes on it.
    parent : str or None
        Id of the message this one follows in the conversation tree (``None`` for a first message). Editing a
        message or regenerating a reply adds a sibling with the same parent.
    pinned : bool
        Always sent, even when older messages are left out to fit the context window.
    excluded : bool
        Never sent to the model (still shown and saved).
    created : float
        Unix time the message was added.
    feedback : dict or None
        A user's rating of an assistant message: ``{"rating": "up" | "down" | None, "comment": str, "time": float}``
        (``time``: Unix seconds of the last change); ``None``: not rated. Set from the widget's thumbs or with
        :meth:`nbchat.Conversation.set_feedback`; saved with the conversation.
    attachments : list of Attachment
        Images and text parts of a user message besides its text (see :mod:`nbchat._attachments`); empty for most.
    tool_rounds : list of ToolRound
        For an assistant message of a conversation with tools: each reply of the model that asked for calls, in
        order (its text, reasoning and the calls with their results); ``content`` is then the final answer, written
        after the last round. Empty for most. See :meth:`to_openai_list`.
    """

    role: str
    content: str
    reasoning: str = ""
    status: MessageStatus = "done"
    error: str | None = None
    error_i18n: dict[str, Any] | None = None
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    id: str = dataclasses.field(default_factory=_new_id)
    parent: str | None = None
    pinned: bool = False
    excluded: bool = False
    created: float = dataclasses.field(default_factory=time.time)
    feedback: dict[str, Any] | None = None
    attachments: list[Attachment] = dataclasses.field(default_factory=list)
    tool_rounds: list[ToolRound] = dataclasses.field(default_factory=list)

    def to_openai_list(self, images: bool = True, *, reasoning: bool = False) -> list[dict[str, Any]]:
        """This message as the OpenAI-style messages a chat-completion API takes: ``[self.to_openai()]``, or for an
        assistant turn with tool calls, per round the assistant message with ``tool_calls`` (``[{"id", "type":
        "function", "function": {"name", "arguments"}}]``) and one ``{"role": "tool", "tool_call_id", "content"}``
        per call (a user message with the image results after them, with ``images``), then the final answer as an
        assistant message (left out when it has no text). Parameters as :meth:`to_openai`.
        """
        if not self.tool_rounds:
            return [self.to_openai(images, reasoning=reasoning)]
        out = [m for r in self.tool_rounds for m in r.to_openai_list(images, reasoning=reasoning)]
        if self.content or (reasoning and self.reasoning):
            out.append(self.to_openai(images, reasoning=reasoning))
        return out

    def to_openai(self, images: bool = True, *, reasoning: bool = False) -> dict[str, Any]:
        """``{"role": ..., "content": ...}`` as chat-completion APIs take it.

        Parameters
        ----------
        images : bool, default True
            With image attachments and ``images=True``, ``content`` is a list of OpenAI content parts: the text,
            each text attachment as a text part, each image as an ``image_url`` part with a data URL. Otherwise
            ``content`` is a string: the text, then each attachment's text (an image as ``[image NAME, W×H]``).
        reasoning : bool, default False
            Add ``"reasoning_content"`` to an assistant message that has reasoning; only for a backend that wants
            it back (``Backend.send_reasoning``). DeepSeek's API rejects a request that carries it (400).
        """
        out = self._openai_content(images)
        if reasoning and self.reasoning and self.role == "assistant":
            out["reasoning_content"] = self.reasoning
        return out

    def _openai_content(self, images: bool) -> dict[str, Any]:
        if not self.attachments:
            return {"role": self.role, "content": self.content}
        if images and any(a.kind == "image" for a in self.attachments):
            parts = [{"type": "text", "text": self.content}] if self.content else []
            return {"role": self.role, "content": parts + [a.to_part() for a in self.attachments]}
        text = "\n\n".join(t for t in [self.content, *(a.as_text() for a in self.attachments)] if t)
        return {"role": self.role, "content": text}

    def has_images(self) -> bool:
        """Whether an attachment is an image."""
        return any(a.kind == "image" for a in self.attachments)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-serialisable (the saved-file form); a new dict, ``stats`` copied too.

        Not ``dataclasses.asdict``: its deep copy made syncing a 2,000-message history to the browser take ~70 ms
        per change instead of ~5 ms (``stats`` holds numbers and strings only).
        """
        out = {name: getattr(self, name) for name in _FIELDS}
        out["stats"] = dict(self.stats)
        if self.feedback is not None:
            out["feedback"] = dict(self.feedback)
        if self.error_i18n is not None:
            out["error_i18n"] = {"key": self.error_i18n["key"], "params": dict(self.error_i18n.get("params") or {})}
        out["attachments"] = [a.to_dict() for a in self.attachments]  # image bytes are stored once, by hash
        out["tool_rounds"] = [r.to_dict() for r in self.tool_rounds]
        return out

    def images(self) -> list[Attachment]:
        """Every image of this message: its attachments' and its tool calls' results (saved files store each once)."""
        found = [a for a in self.attachments if a.kind == "image"]
        return found + [a for r in self.tool_rounds for c in r.calls for a in c.image_results()]


_FIELDS = tuple(f.name for f in dataclasses.fields(ChatMessage))


def check_text(text: object) -> None:
    """Refuse an empty or whitespace-only message.

    Raises
    ------
    ValueError
        "The message is empty; type something to send."
    """
    if not isinstance(text, str) or not text.strip():
        msg = "The message is empty; type something to send."
        raise ValueError(msg)
