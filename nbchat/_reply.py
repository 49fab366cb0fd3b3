"""One reply in flight, the conversation's side: what streamed into it, how it ended, and waiting for it.

A :class:`~nbchat.Conversation` makes a :class:`StreamingReply` for each reply it starts; the worker thread asks
:func:`refusal` whether it can be sent at all, fills it (through :func:`nbchat._generation.run_reply`, the backend's
side: the stream, retries and Stop), and commits it to the reply's :class:`~nbchat.ChatMessage` when the reply ends.
:func:`wait_for_reply` is what :meth:`~nbchat.Conversation.ask` and ``%%chat`` block on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, Protocol

from ._errors import GenerationError
from ._events import ConversationEvent
from ._generation import ReplyOutcome, describe_error, error_i18n
from ._messages import ChatMessage
from ._settings import GenerationSettings
from .backends import Backend
from .tools import ToolCall, ToolRound

__all__ = ["StreamingReply", "no_images_message", "refusal", "wait_for_reply"]

_STOP_GRACE_S = 5.0  # how long wait_for_reply(timeout=) waits for the reply it stopped to end


class StreamingReply:
    """One reply being generated: what it sends, and the answer and reasoning streamed into it so far.

    Parameters
    ----------
    message : ChatMessage
        The reply's placeholder in the tree (status ``"streaming"``); :meth:`commit` writes the result into it.
    messages : list of dict
        The OpenAI-style messages sent for it (:meth:`nbchat.Conversation.build_messages` at the time of sending).
    settings : GenerationSettings
        The settings it is generated with.
    cancel : threading.Event
        Set by :meth:`nbchat.Conversation.stop`: the reply ends, keeping what streamed.
    emit : callable
        ``emit(event)``: tells the conversation's listeners of each piece (a ``"delta"`` or ``"reasoning"``
        :class:`~nbchat.ConversationEvent`), in the worker thread.
    """

    def __init__(
        self,
        message: ChatMessage,
        messages: list[dict[str, str]],
        settings: GenerationSettings,
        cancel: threading.Event,
        emit: Callable[[ConversationEvent], None],
    ) -> None:
        self.message = message
        self.messages = messages
        self.settings = settings
        self.cancel = cancel
        self._emit = emit
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._thoughts: list[str] = []

    @property
    def text(self) -> str:
        """The answer so far."""
        with self._lock:
            return "".join(self._parts)

    @property
    def reasoning(self) -> str:
        """The reasoning (thinking) so far."""
        with self._lock:
            return "".join(self._thoughts)

    def add_text(self, delta: str) -> None:
        """Append ``delta`` to the answer and tell the listeners."""
        with self._lock:
            self._parts.append(delta)
        self._emit(ConversationEvent("delta", message=self.message, text=delta))

    def set_text(self, text: str) -> None:
        """Replace the answer (a structured reply's JSON, formatted) before :meth:`commit`; no event is sent."""
        with self._lock:
            self._parts = [text]

    def add_reasoning(self, delta: str) -> None:
        """Append ``delta`` to the reasoning and tell the listeners."""
        with self._lock:
            self._thoughts.append(delta)
        self._emit(ConversationEvent("reasoning", message=self.message, text=delta))

    def add_round(self, round_: ToolRound) -> None:
        """Append a round of tool calls to :attr:`message` (``tool_rounds``): the text and reasoning streamed so far
        belong to it and leave the streaming text; tell the listeners (a ``"tool"`` event)."""
        with self._lock:
            self.message.tool_rounds.append(round_)
            self._parts, self._thoughts = [], []
        self._emit(ConversationEvent("tool", message=self.message))

    def call_changed(self, call: ToolCall) -> None:
        """Tell the listeners that ``call`` (of this reply's rounds) changed status (a ``"tool"`` event)."""
        self._emit(ConversationEvent("tool", message=self.message, call=call))

    def commit(self, outcome: ReplyOutcome, description: dict[str, Any]) -> ChatMessage:
        """Write the answer, reasoning and how the reply ended into :attr:`message`; returns it.

        Parameters
        ----------
        outcome : ReplyOutcome
            Status (done, stopped, error, incomplete), error text and key, and stats of the reply.
        description : dict
            The backend's :meth:`~nbchat.backends.Backend.describe`; its ``backend`` and ``model`` join the stats.
        """
        reply = self.message
        reply.content = self.text
        reply.reasoning = self.reasoning.rstrip()  # models end their thoughts with blank lines
        reply.status, reply.error = outcome.status, outcome.error  # type: ignore[assignment]
        reply.error_i18n = outcome.error_i18n
        named = {k: v for k, v in description.items() if k in ("backend", "model")}
        reply.stats = {**reply.stats, **outcome.stats, **named}
        return reply


def no_images_message(backend: Backend) -> str:
    """Why nothing was sent: ``backend``'s model cannot see images, and what to use instead."""
    return (
        f"{backend.model} ({backend.kind}) cannot see images, so nothing was sent. Use a vision "
        "model (e.g. an OpenAI-compatible one such as 'openai:gpt-4o-mini', or a local image-text-to-text "
        "model), or remove the image."
    )


def refusal(backend: Backend, messages: list[dict[str, Any]], load_error: Exception | None) -> ReplyOutcome | None:
    """The outcome of a reply that cannot be sent, or ``None`` when it can. Worker thread, after preparing the model.

    Parameters
    ----------
    backend : Backend
        The prepared backend (whether it takes images is known only now, for some).
    messages : list of dict
        The OpenAI-style messages the reply would send; an ``image_url`` part is refused by a model without image
        input.
    load_error : Exception or None
        Why preparing the model failed (:attr:`nbchat.Conversation.load_error`); the reply fails with it.

    Returns
    -------
    ReplyOutcome or None
        Status ``"error"`` with the message (and its catalogue key, for a load error), ``finish_reason`` "error".
    """
    images = any(isinstance(m.get("content"), list) and any(p.get("type") == "image_url" for p in m["content"])
                 for m in messages)  # fmt: skip
    if backend.image_input is False and images:
        return ReplyOutcome("error", no_images_message(backend), {"finish_reason": "error"})
    if load_error is None:
        return None
    failed = {"finish_reason": "error"}
    return ReplyOutcome("error", describe_error(load_error), failed, error_i18n=error_i18n(load_error))


class Stoppable(Protocol):
    """Anything whose reply in progress can be stopped (a :class:`~nbchat.Conversation`)."""

    def stop(self) -> None:
        """Stop the reply in progress, keeping its partial text; returns at once."""


def wait_for_reply(conversation: Stoppable, future: Future[ChatMessage], timeout: float | None) -> str:
    """Block until ``future`` (a reply of ``conversation``) is done; return its text.

    Ctrl+C / a kernel interrupt stops the reply (partial text kept) and re-raises; so does running out of
    ``timeout`` seconds, as ``TimeoutError``. The reply is finished (stopped) when either is raised, unless its
    backend ignores Stop for more than a few seconds (5 s).

    Raises
    ------
    GenerationError
        If the reply failed or is incomplete; its partial text is in ``error.partial``.
    TimeoutError
        If ``timeout`` seconds passed first.
    KeyboardInterrupt
        After stopping the reply.
    """
    try:
        reply = future.result(timeout)
    except KeyboardInterrupt:
        conversation.stop()
        future.result()
        raise
    except FutureTimeoutError as exc:  # the builtin TimeoutError from Python 3.11 on, another class on 3.10
        conversation.stop()
        with contextlib.suppress(FutureTimeoutError):
            future.result(_STOP_GRACE_S)
        msg = (
            f"No complete reply within {timeout} s; it was stopped (its partial text is kept, marked 'stopped'). "
            "Ask with a larger timeout=, or lower max_new_tokens."
        )
        raise TimeoutError(msg) from exc
    if reply.status in ("error", "incomplete"):
        keyed = reply.error_i18n or {}
        raise GenerationError(
            reply.error or "generation failed", partial=reply.content, key=keyed.get("key"), params=keyed.get("params")
        )
    return reply.content
