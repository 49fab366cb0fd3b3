"""Typing ahead: the model evaluates a question's prompt while it is typed, and the next turn's start while it is idle.

A :class:`PrefillScheduler` belongs to one :class:`~nbchat.Conversation`. It queues
:meth:`~nbchat.backends.Backend.prefill` on the conversation's single worker thread, so a prefill never runs beside a
reply: a send cancels the one running (it ends within a few tokens) and the ones queued (they never start).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from ._redact import redacting_logger
from .backends import Backend

__all__ = ["PrefillScheduler"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record


class PrefillScheduler:
    """Queues prompt prefills for one conversation, keeping only the latest draft.

    Two kinds of prefill share one queue slot: a typed draft (:meth:`draft`, from the widget while the user types)
    and the next turn's start (:meth:`next_turn`, whenever the conversation becomes idle). The start of the next turn
    is the history so far and the chat template's opening of a user message, rendered with an empty question; a
    question sent without typing ahead then leaves only its own words and the template's closing tokens to evaluate
    (13 instead of 19 new tokens for a short question to the embedded model). While a task is queued, a newer draft
    takes the place of the text it will evaluate; the next turn's start never replaces a draft.

    Parameters
    ----------
    backend : Backend
        Evaluates the prompts; nothing is queued when its ``can_prefill`` is false (only llama.cpp can use them).
    worker : concurrent.futures.Executor
        The conversation's worker (one thread), where prefills are queued among replies.
    lock : threading.RLock
        The conversation's lock, held while a draft is queued or taken, so that a send (which holds it while it
        calls :meth:`cancel`) and a prefill never interleave.
    idle : callable
        ``idle() -> bool``: no reply is being generated and the model is prepared without error. Read with ``lock``
        held.
    build_messages : callable
        ``build_messages(text) -> messages``: what a send of ``text`` would send
        (:meth:`nbchat.Conversation.build_messages`).
    """

    def __init__(
        self,
        backend: Backend,
        worker: Executor,
        lock: threading.RLock,
        idle: Callable[[], bool],
        build_messages: Callable[[str], list[dict[str, Any]]],
    ) -> None:
        self._backend = backend
        self._worker = worker
        self._lock = lock
        self._idle = idle
        self._build_messages = build_messages
        self._draft: str | None = None  # the latest text to evaluate; "" for the next turn's start; None: no task
        self._cancel = threading.Event()  # one event for every prefill queued or running since the last cancel()

    def draft(self, text: str) -> None:
        """Queue the prompt of a question typed so far; blank text (or not a string) is ignored. Returns at once.

        Parameters
        ----------
        text : str
            The question as typed so far; the prompt is what :meth:`nbchat.Conversation.send` would send for it.
        """
        if isinstance(text, str) and text.strip():
            self._queue(text, replace=True)

    def next_turn(self) -> None:
        """Queue the start of the next turn (the history and an empty question), unless a draft is queued."""
        self._queue("", replace=False)

    def cancel(self) -> None:
        """End the prefill running (within a few tokens) and drop the one queued: a send or close comes first."""
        with self._lock:
            self._cancel.set()
            self._draft = None

    def _queue(self, text: str, *, replace: bool) -> None:
        if not self._backend.can_prefill:
            return
        with self._lock:
            if not self._idle():
                return
            queued = self._draft is not None
            if queued and not replace:  # a draft is more specific than the next turn's start
                return
            self._draft = text  # a queued task takes the latest draft
            if queued:
                return
            if self._cancel.is_set():
                self._cancel = threading.Event()
            cancel = self._cancel
        self._worker.submit(self._run, cancel)

    def _run(self, cancel: threading.Event) -> None:
        with self._lock:
            text, self._draft = self._draft, None
            if text is None or cancel.is_set() or not self._idle():
                return
            messages = self._build_messages(text)
        try:
            self._backend.prefill(messages, cancel)
        except Exception:  # typing ahead is an optimisation: it never puts an error in the chat
            logger.debug("prefill failed", exc_info=True)
