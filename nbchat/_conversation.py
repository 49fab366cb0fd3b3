"""The conversation controller: history, settings, a worker thread, cancellation. No widget import.

Data path of one turn::

    send(text) ─► history += user message, assistant placeholder ─► worker thread
        worker: backend.stream(messages, settings, info, cancel) ─► pump thread ─► queue
        worker: queue ─► listeners("delta") ─► ... ─► listeners("message") with the final text and stats
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

from ._errors import ConversationBusyError, GenerationError, NbchatError
from ._messages import ChatMessage
from ._settings import DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE, GenerationSettings
from .backends import Backend, GenerationInfo, resolve_backend

__all__ = ["Conversation", "ConversationEvent"]

logger = logging.getLogger(__name__)

Status = Literal["loading", "ready", "generating", "error"]

_POLL_S = 0.02  # how often the worker checks for Stop while waiting for the backend
_STOP_GRACE_S = 1.0  # after Stop, how long the worker waits for the backend to wind down (stats, free model)
_MIN_DECODE_S = 0.05  # below this, a decode rate after the first text is noise


@dataclasses.dataclass(frozen=True)
class ConversationEvent:
    """What listeners receive, from the thread that caused it.

    Attributes
    ----------
    kind : {"status", "message", "delta", "clear"}
        ``status``: ``status``/``text``/``progress`` changed. ``message``: ``message`` was added or committed
        (its final text, status and stats). ``delta``: ``text`` was appended to the streaming ``message``.
        ``clear``: the history was emptied.
    """

    kind: Literal["status", "message", "delta", "clear"]
    message: ChatMessage | None = None
    text: str = ""
    progress: float | None = None


_END = object()


class Conversation:
    """A chat with one model: history, settings and streaming generation, usable from plain Python.

    Parameters
    ----------
    model : str, callable, Backend or None, default None
        What answers. ``None``: the embedded SmolLM2-135M-Instruct. A string: a local model directory, hub id
        or ``.gguf`` file (see :func:`nbchat.backends.resolve_backend` for every accepted form). A callable
        ``fn(message, history)`` or ``fn(messages)``. A :class:`~nbchat.backends.Backend` instance.
    system_prompt : str, default ""
        System message sent first in every request; empty means none.
    max_new_tokens : int, default 256
        Upper bound on tokens per reply.
    temperature : float, default 0.7
        Sampling temperature in [0, 2]; 0 is greedy (deterministic).
    top_p : float, default 1.0
        Nucleus sampling mass in (0, 1].
    stop : list of str, optional
        Stop sequences; never part of the reply.
    history : bool, default True
        Send earlier turns with each question. ``False`` sends each question alone (history is still shown).
    load : {"background", "now", "lazy"}, default "background"
        When to load the model: in a background thread at once (the widget shows progress), before returning,
        or at the first question.
    **backend_options
        Passed to the backend (e.g. ``device=``, ``dtype=`` for local models).

    Raises
    ------
    ModelNotFoundError
        If ``model`` names nothing that can be found (the message lists where it looked).
    ValueError, TypeError
        If a setting is out of range.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        system_prompt: str = "",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        top_p: float = 1.0,
        stop: list[str] | tuple[str, ...] = (),
        history: bool = True,
        load: Literal["background", "now", "lazy"] = "background",
        **backend_options: Any,
    ) -> None:
        self.settings = GenerationSettings(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=tuple(stop)
        )
        self.system_prompt = system_prompt
        self.use_history = bool(history)
        self.backend: Backend = resolve_backend(model, **backend_options)
        self._history: list[ChatMessage] = []
        self._listeners: list[Callable[[ConversationEvent], None]] = []
        self._lock = threading.RLock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbchat-worker")
        self._cancel = threading.Event()
        self._busy = False
        self._streaming: ChatMessage | None = None
        self._parts: list[str] = []
        self.status: Status = "loading"
        self.status_text = f"loading {self.backend.model}…"
        self.progress: float | None = None
        self.load_error: Exception | None = None
        self._loaded = threading.Event()
        self._load_started = False
        if load == "now":
            self._start_load().result()
        elif load == "background":
            self._start_load()
        elif load != "lazy":
            msg = f"load must be 'background', 'now' or 'lazy', got {load!r}."
            raise ValueError(msg)

    # ------------------------------------------------------------------ listeners
    def subscribe(self, listener: Callable[[ConversationEvent], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every change; returns a function that unsubscribes it.

        Listeners run in the thread that made the change (often the worker thread) and must be quick.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: ConversationEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken view must not break generation
                logger.exception("nbchat listener failed on %s", event.kind)

    def _set_status(self, status: Status, text: str, progress: float | None = None) -> None:
        self.status, self.status_text, self.progress = status, text, progress
        self._emit(ConversationEvent("status", text=text, progress=progress))

    # ------------------------------------------------------------------ loading
    def _start_load(self) -> Future[None]:
        with self._lock:
            self._load_started = True
            return self._executor.submit(self._load)

    def _load(self) -> None:
        if self._loaded.is_set():
            return
        self._set_status("loading", f"loading {self.backend.model}…")
        try:
            self.backend.load(progress=lambda text, fraction: self._set_status("loading", text, fraction))
        except Exception as exc:
            logger.debug("loading %s failed", self.backend.model, exc_info=True)
            self.load_error = exc
            self._set_status("error", f"Could not load {self.backend.model}: {exc}")
        else:
            self._set_status("ready", self._ready_text())
        finally:
            self._loaded.set()

    def _ready_text(self) -> str:
        device = self.backend.describe().get("device")
        return f"ready · {device}" if device else "ready"

    def wait_until_loaded(self, timeout: float | None = None) -> None:
        """Block until the model is loaded (or failed to load).

        Raises
        ------
        NbchatError
            If loading failed (the message says why) or did not finish within ``timeout`` seconds.
        """
        if not self._load_started:
            self._start_load()
        if not self._loaded.wait(timeout):
            msg = f"{self.backend.model} did not finish loading within {timeout} s."
            raise NbchatError(msg)
        if self.load_error is not None:
            raise NbchatError(str(self.status_text)) from self.load_error

    # ------------------------------------------------------------------ history
    @property
    def messages(self) -> list[dict[str, str]]:
        """The history as OpenAI-style dicts ``[{"role": ..., "content": ...}, ...]`` (system message not included)."""
        return [m.to_openai() for m in self._history]

    @property
    def history(self) -> list[ChatMessage]:
        """The history as :class:`ChatMessage` records (status, error, stats); a copy."""
        with self._lock:
            return list(self._history)

    @property
    def busy(self) -> bool:
        """True while a reply is being generated (or waits for the model to load)."""
        return self._busy

    def partial_reply(self) -> tuple[str, str] | None:
        """``(message id, text so far)`` of the reply being streamed, or ``None``."""
        with self._lock:
            if self._streaming is None:
                return None
            return self._streaming.id, "".join(self._parts)

    def clear(self) -> None:
        """Stop any reply in progress and empty the history (settings are kept)."""
        self.stop()
        with self._lock:
            self._history.clear()
        self._emit(ConversationEvent("clear"))

    # ------------------------------------------------------------------ generation
    def build_messages(self, text: str | None = None) -> list[dict[str, str]]:
        """The messages a request would send: system message, history (if enabled), then ``text``.

        Assistant messages with no text (a failed reply) are left out.
        """
        out: list[dict[str, str]] = []
        if self.system_prompt.strip():
            out.append({"role": "system", "content": self.system_prompt})
        with self._lock:
            earlier = [m for m in self._history if m.status != "streaming"]
        if self.use_history:
            out.extend(m.to_openai() for m in earlier if m.content or m.role == "user")
        if text is not None:
            out.append({"role": "user", "content": text})
        return out

    def _fit_context(self, messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], int]:
        """Drop whole old turns (keeping the system message and the question) until the prompt fits."""
        window = self.backend.context_window
        if not window:
            return messages, 0
        budget = window - self.settings.max_new_tokens
        head = messages[:1] if messages and messages[0]["role"] == "system" else []
        body = messages[len(head) :]
        dropped = 0
        while len(body) > 1:
            count = self.backend.count_tokens(head + body)
            if count is None or count <= budget:
                break
            # drop the oldest message, and its reply if the next one is the assistant's
            cut = 2 if len(body) > 2 and body[1]["role"] == "assistant" else 1
            body = body[cut:]
            dropped += cut
        return head + body, dropped

    def send(self, text: str) -> Future[ChatMessage]:
        """Add a user message and start generating the reply in the worker thread.

        Parameters
        ----------
        text : str
            The user's message. Leading/trailing whitespace is kept as typed.

        Returns
        -------
        concurrent.futures.Future of ChatMessage
            Resolves to the assistant message when the reply is complete, stopped or failed (check ``status``).

        Raises
        ------
        ValueError
            If ``text`` is empty or only whitespace.
        ConversationBusyError
            If a reply is still being generated: wait for it or call :meth:`stop` first.
        """
        if not isinstance(text, str) or not text.strip():
            msg = "The message is empty; type something to send."
            raise ValueError(msg)
        with self._lock:
            if self._busy:
                msg = "A reply is still being generated; wait for it or press Stop before sending again."
                raise ConversationBusyError(msg)
            self._busy = True
            self._cancel = threading.Event()
            messages = self.build_messages(text)
            user = ChatMessage("user", text)
            reply = ChatMessage("assistant", "", status="streaming")
            self._history += [user, reply]
            self._streaming, self._parts = reply, []
            if not self._load_started:
                self._start_load()
            settings, cancel = self.settings, self._cancel
        self._emit(ConversationEvent("message", message=user))
        self._emit(ConversationEvent("message", message=reply))
        return self._executor.submit(self._generate, reply, messages, settings, cancel)

    def ask(self, text: str, timeout: float | None = None) -> str:
        """Send ``text`` and block until the reply is done; return the reply text.

        The reply streams into every open view of the conversation while this waits. Interrupting the kernel
        (or Ctrl+C) stops generation and keeps the partial reply, marked "stopped".

        Raises
        ------
        ValueError, ConversationBusyError
            As :meth:`send`.
        GenerationError
            If the reply failed; its partial text stays in the history and is in ``error.partial``.
        """
        future = self.send(text)
        try:
            reply = future.result(timeout)
        except KeyboardInterrupt:
            self.stop()
            future.result()
            raise
        if reply.status in ("error", "incomplete"):
            raise GenerationError(reply.error or "generation failed", partial=reply.content)
        return reply.content

    def stop(self) -> None:
        """Stop the reply in progress, keeping its partial text (marked "stopped"). Returns at once."""
        self._cancel.set()

    def _generate(
        self, reply: ChatMessage, messages: list[dict[str, str]], settings: GenerationSettings, cancel: threading.Event
    ) -> ChatMessage:
        stats: dict[str, Any] = {}
        start = time.perf_counter()
        first: float | None = None
        info = GenerationInfo()
        status, error = "done", None
        try:
            if not self._loaded.is_set():
                self._set_status("loading", self.status_text, self.progress)
                self._load()  # queued after the background load: returns at once when it ran
            if self.load_error is not None:
                raise self.load_error
            self._set_status("generating", f"generating with {self.backend.model}…")
            messages, stats["left_out"] = self._fit_context(messages)
            start = time.perf_counter()
            for delta in self._pump(self.backend.stream(messages, settings, info, cancel), cancel):
                if first is None:
                    first = time.perf_counter()
                with self._lock:
                    self._parts.append(delta)
                self._emit(ConversationEvent("delta", message=reply, text=delta))
            if cancel.is_set():
                status, info.finish_reason = "stopped", "stopped"
            elif info.finish_reason is None:
                status = "incomplete"
                error = "The reply ended without a finish reason, so it may be cut off. Send again to retry."
        except Exception as exc:
            logger.debug("generation failed", exc_info=True)
            status, info.finish_reason = "error", "error"
            error = _describe_error(exc)
        end = time.perf_counter()
        stats.update(
            tokens=info.completion_tokens,
            prompt_tokens=info.prompt_tokens,
            cached_tokens=info.cached_tokens,
            ttft_s=None if first is None else round(first - start, 4),
            duration_s=round(end - start, 4),
            tokens_per_s=_tokens_per_s(info.completion_tokens, start, first, end),
            finish_reason=info.finish_reason,
            **{k: v for k, v in self.backend.describe().items() if k in ("backend", "model")},
        )
        with self._lock:
            reply.content = "".join(self._parts)
            reply.status, reply.error, reply.stats = status, error, stats
            self._streaming, self._parts = None, []
            self._busy = False
        self._emit(ConversationEvent("message", message=reply))
        if self.load_error is not None:
            self._set_status("error", self.status_text)
        else:
            self._set_status("ready", self._ready_text())
        return reply

    @staticmethod
    def _pump(stream: Iterator[str], cancel: threading.Event) -> Iterator[str]:
        """Run ``stream`` in its own thread so that Stop ends the turn even while the backend blocks.

        The worker polls the queue every ``_POLL_S`` seconds and checks ``cancel``; the backend sees ``cancel``
        too and stops between tokens; its generator is closed in its own thread (releasing connections).
        """
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()

        def run() -> None:
            try:
                with contextlib.closing(stream) if hasattr(stream, "close") else contextlib.nullcontext():
                    for delta in stream:
                        chunks.put(delta)
                        if cancel.is_set():
                            break
            except BaseException as exc:  # noqa: BLE001 - handed to the worker, which reports it in the chat
                chunks.put(exc)
            finally:
                chunks.put(_END)

        thread = threading.Thread(target=run, name="nbchat-stream", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = chunks.get(timeout=_POLL_S)
                except queue.Empty:
                    if cancel.is_set():
                        return
                    continue
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item:
                    yield item
                if cancel.is_set():
                    return
        finally:
            # A backend that honours cancel ends within a token; one that hangs is left behind after the grace.
            thread.join(_STOP_GRACE_S if cancel.is_set() else None)

    def close(self) -> None:
        """Stop generation, release the worker thread and the backend."""
        self.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.backend.close()

    def __repr__(self) -> str:
        return (
            f"<Conversation {self.backend.kind}:{self.backend.model} · {len(self._history)} messages · {self.status}>"
        )


def _tokens_per_s(tokens: int | None, start: float, first: float | None, end: float) -> float | None:
    """Decode rate: tokens after the first / time after the first text; whole-reply rate for very short replies."""
    if not tokens or first is None:
        return None
    if tokens > 1 and end - first >= _MIN_DECODE_S:
        return round((tokens - 1) / (end - first), 2)
    return round(tokens / (end - start), 2) if end > start else None


def _describe_error(exc: BaseException) -> str:
    """A one-paragraph message for the chat: what happened (and, for nbchat errors, what to do)."""
    if isinstance(exc, NbchatError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
