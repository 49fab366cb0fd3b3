"""Preparing a conversation's model: load its weights or check its server once, in the worker thread, with progress.

The lifecycle, as a view sees it through the conversation's status::

    "loading" (text and fraction from Backend.prepare) ──► "ready · <device>"
                                                       └─► "error" ("Could not load <model>: <why>")

A :class:`ModelLoader` belongs to one :class:`~nbchat.Conversation`; it runs on the conversation's single worker
thread, so a reply or a prefill queued after it starts only once the model is prepared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from ._errors import NbchatError
from ._events import Status
from ._i18n import Keyed, keyed, keyed_text
from ._redact import redact_text, redacting_logger
from .backends import Backend

__all__ = ["ModelLoader"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record


class ModelLoader:
    """Prepares one backend's model (:meth:`~nbchat.backends.Backend.prepare`) once, and reports how it went.

    Parameters
    ----------
    backend : Backend
        The backend whose model is prepared.
    worker : concurrent.futures.Executor
        The conversation's worker (one thread), where preparing is queued before any reply or prefill.
    on_status : callable
        ``on_status(status, line, progress)``: ``"loading"`` with the backend's progress text (a ``str``, written by
        the backend) and fraction in [0, 1] (or ``None``), then ``"ready"`` or ``"error"``; nbchat's own lines come
        as catalogue keys (:class:`nbchat._i18n.Keyed`: ``py.status.loading``, ``readyOn``, ``loadFailed``), so a
        view shows them in its language. Called in the worker thread.
    on_done : callable
        Called in the worker thread once preparing ended, whether it failed or not (the conversation then prefills
        the start of the next turn).

    Attributes
    ----------
    error : Exception or None
        Why preparing failed; ``None`` while it runs and after it succeeded.
    """

    def __init__(
        self,
        backend: Backend,
        worker: Executor,
        on_status: Callable[[Status, str | Keyed, float | None], None],
        on_done: Callable[[], None],
    ) -> None:
        self._backend = backend
        self._worker = worker
        self._on_status = on_status
        self._on_done = on_done
        self._lock = threading.RLock()  # start_once() calls start()
        self._started = False
        self._done = threading.Event()
        self._failure = keyed("py.status.loadFailed", model="", error="")  # the status line of a failure
        self.error: Exception | None = None

    @property
    def done(self) -> bool:
        """True once preparing ended, whether it failed or not."""
        return self._done.is_set()

    @property
    def ready(self) -> bool:
        """True once preparing succeeded: replies and prefills can run."""
        return self._done.is_set() and self.error is None

    def begin(self, when: str) -> None:
        """Start preparing as a conversation's ``prepare=`` says.

        Parameters
        ----------
        when : {"background", "now", "lazy"}
            Queue it on the worker thread at once, queue it and wait until it ends, or wait for :meth:`start_once`
            (called at the first question or :meth:`wait`).

        Raises
        ------
        ValueError
            For any other ``when``.
        """
        if when == "now":
            self.start().result()
        elif when == "background":
            self.start()
        elif when != "lazy":
            msg = f"prepare must be 'background', 'now' or 'lazy', got {when!r}."
            raise ValueError(msg)

    def start(self) -> Future[None]:
        """Queue preparing on the worker thread; returns its future (a second run returns at once)."""
        with self._lock:
            self._started = True
            return self._worker.submit(self.run)

    def start_once(self) -> None:
        """Queue preparing unless it was queued before (a ``prepare="lazy"`` conversation's first question)."""
        with self._lock:
            if not self._started:
                self.start()

    def run(self) -> None:
        """Prepare the model, reporting through ``on_status``; returns at once when it ran before. Worker thread."""
        if self._done.is_set():
            return
        model = self._backend.model
        self._on_status("loading", keyed("py.status.loading", model=model), None)
        try:
            self._backend.prepare(progress=lambda text, fraction: self._on_status("loading", text, fraction))
        except Exception as exc:
            logger.debug("loading %s failed", model, exc_info=True)
            self.error = exc
            self._failure = keyed("py.status.loadFailed", model=redact_text(str(model)), error=redact_text(str(exc)))
            self._on_status("error", self._failure, None)
        else:
            self._on_status("ready", self.ready_line(), None)
        finally:
            self._done.set()
        self._on_done()

    def ready_line(self) -> Keyed:
        """The status line of a prepared model: ``"ready"``, or ``"ready · <device>"`` when the backend names one."""
        device: Any = self._backend.describe().get("device")
        return keyed("py.status.readyOn", device=device) if device else keyed("py.status.ready")

    def settled(self) -> tuple[Status, Keyed]:
        """The status once preparing ended: ``("ready", ready_line())`` or ``("error", "Could not load …")`` (keyed)."""
        return ("error", self._failure) if self.error is not None else ("ready", self.ready_line())

    def wait(self, timeout: float | None = None) -> None:
        """Block until preparing ended, starting it if it was not: :meth:`nbchat.Conversation.wait_until_ready`.

        Raises ``NbchatError`` with the status text of a failure (the cause chained), or after ``timeout`` seconds.
        """
        self.start_once()
        if not self._done.wait(timeout):
            msg = f"{self._backend.model} did not finish loading within {timeout} s."
            raise NbchatError(msg)
        if self.error is not None:
            raise NbchatError(keyed_text(self._failure)) from self.error
