"""One reply, worker side: run a backend stream with Stop, collect the text and the numbers about it."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._errors import NbchatError
from ._settings import GenerationSettings
from .backends import Backend, GenerationInfo

__all__ = ["ReplyOutcome", "run_reply"]

logger = logging.getLogger(__name__)

POLL_S = 0.02  # how often the worker checks for Stop while waiting for the backend
STOP_GRACE_S = 1.0  # after Stop, how long the worker waits for the backend to wind down (stats, free model)
MIN_DECODE_S = 0.05  # below this, a decode rate after the first text is noise
_END = object()


@dataclasses.dataclass
class ReplyOutcome:
    """How a reply ended: ``status`` (done, stopped, error, incomplete), ``error`` text, ``stats``."""

    status: str
    error: str | None
    stats: dict[str, Any]


def run_reply(
    backend: Backend,
    messages: list[dict[str, str]],
    settings: GenerationSettings,
    cancel: threading.Event,
    on_delta: Callable[[str], None],
) -> ReplyOutcome:
    """Stream one reply from ``backend``, calling ``on_delta(text)`` per delta; never raises.

    Returns
    -------
    ReplyOutcome
        ``stats`` holds ``tokens``, ``prompt_tokens``, ``cached_tokens``, ``ttft_s`` (request to first text),
        ``duration_s``, ``tokens_per_s`` (decode rate after the first text) and ``finish_reason``.
    """
    info = GenerationInfo()
    status, error = "done", None
    start = time.perf_counter()
    first: float | None = None
    try:
        for delta in pump(backend.stream(messages, settings, info, cancel), cancel):
            if first is None:
                first = time.perf_counter()
            on_delta(delta)
        if cancel.is_set():
            status, info.finish_reason = "stopped", "stopped"
        elif info.finish_reason is None:
            status = "incomplete"
            error = "The reply ended without a finish reason, so it may be cut off. Send again to retry."
    except Exception as exc:
        logger.debug("generation failed", exc_info=True)
        status, info.finish_reason = "error", "error"
        error = describe_error(exc)
    end = time.perf_counter()
    stats = {
        "tokens": info.completion_tokens,
        "prompt_tokens": info.prompt_tokens,
        "cached_tokens": info.cached_tokens,
        "ttft_s": None if first is None else round(first - start, 4),
        "duration_s": round(end - start, 4),
        "tokens_per_s": tokens_per_s(info.completion_tokens, start, first, end),
        "finish_reason": info.finish_reason,
    }
    return ReplyOutcome(status, error, stats)


def pump(stream: Iterator[str], cancel: threading.Event) -> Iterator[str]:
    """Run ``stream`` in its own thread so that Stop ends the turn even while the backend blocks.

    The caller polls a queue every ``POLL_S`` seconds and checks ``cancel``; the backend sees ``cancel`` too and
    stops between tokens; its generator is closed in its own thread (releasing connections). After Stop, the
    caller waits up to ``STOP_GRACE_S`` for the backend to finish, so its token counts are complete.
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
                item = chunks.get(timeout=POLL_S)
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
        thread.join(STOP_GRACE_S if cancel.is_set() else None)


def tokens_per_s(tokens: int | None, start: float, first: float | None, end: float) -> float | None:
    """Decode rate: tokens after the first / time after the first text; whole-reply rate for very short replies."""
    if not tokens or first is None:
        return None
    if tokens > 1 and end - first >= MIN_DECODE_S:
        return round((tokens - 1) / (end - first), 2)
    return round(tokens / (end - start), 2) if end > start else None


def describe_error(exc: BaseException) -> str:
    """A one-paragraph message for the chat: what happened (and, for nbchat errors, what to do)."""
    if isinstance(exc, NbchatError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
