"""One reply, worker side: run a backend stream with Stop, collect the text and the numbers about it."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._errors import BackendError, NbchatError
from ._i18n import Keyed
from ._i18n import keyed as keyed_line
from ._redact import redacting_logger
from ._settings import GenerationSettings
from .backends import Backend, GenerationInfo, Reasoning, ToolCallDelta
from .tools._calls import ToolCall, ToolCallAssembler

__all__ = ["DEFAULT_RETRIES", "ReplyOutcome", "describe_error", "error_i18n", "retry_wait", "run_reply"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record

POLL_S = 0.02  # how often the worker checks for Stop while waiting for the backend
STOP_GRACE_S = 1.0  # after Stop, how long the worker waits for the backend to wind down (stats, free model)
STATS_GRACE_S = 0.2  # of that, how long before the stopped reply is shown (a backend that honours Stop is done)
MIN_DECODE_S = 0.05  # below this, a decode rate after the first text is noise
DEFAULT_RETRIES = 2  # requests sent again after a retryable failure, before the first text only
RETRY_BASE_S = 1.0  # first back-off when the server gave no Retry-After; doubles each time
RETRY_CAP_S = 10.0  # never wait longer than this; a server asking for more is not retried
_END = object()


@dataclasses.dataclass
class ReplyOutcome:
    """How a reply ended: ``status`` (done, stopped, error, incomplete), ``error`` text, ``stats``, and
    ``error_i18n``: the error's catalogue key and parameters (``ChatMessage.error_i18n``), or ``None``.

    ``lingering`` is the backend's thread when it had not wound down after Stop (a backend that ignores Stop);
    call :meth:`wind_down` once the reply is shown, before starting another one.

    ``tool_calls`` are the calls the model asked for (assembled from :class:`~nbchat.backends.ToolCallDelta` items, in
    the order it started them; unfinished ones too when the reply was stopped), ``dropped_calls`` how many more it
    asked for beyond :data:`nbchat.tools.MAX_CALLS_PER_ROUND`.
    """

    status: str
    error: str | None
    stats: dict[str, Any]
    lingering: threading.Thread | None = None
    error_i18n: dict[str, Any] | None = None
    tool_calls: list[ToolCall] = dataclasses.field(default_factory=list)
    dropped_calls: int = 0

    def wind_down(self) -> None:
        """Give a backend that is still busy after Stop the rest of ``STOP_GRACE_S`` to finish."""
        if self.lingering is not None:
            self.lingering.join(max(0.0, STOP_GRACE_S - STATS_GRACE_S))
            self.lingering = None


def run_reply(
    backend: Backend,
    messages: list[dict[str, str]],
    settings: GenerationSettings,
    cancel: threading.Event,
    on_delta: Callable[[str], None],
    *,
    retries: int = DEFAULT_RETRIES,
    on_status: Callable[[Keyed | None], None] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
) -> ReplyOutcome:
    """Stream one reply from ``backend``, calling ``on_delta(text)`` per answer delta; never raises.

    Parameters
    ----------
    on_delta : callable
        ``on_delta(text)`` for each delta of the answer.
    on_reasoning : callable, optional
        ``on_reasoning(text)`` for each delta of the reasoning (:class:`~nbchat.backends.Reasoning`); without it,
        reasoning is dropped.
    retries : int, default 2
        How often to send the request again after a :class:`BackendError` that says it is ``retryable``
        (connection refused or reset, 429 with ``Retry-After``, 502/503/504) — only while no text of the reply
        has arrived, so nothing is ever shown twice. Waits ``retry_after`` if the server gave one, else 1 s, 2 s,
        4 s, ...; never longer than ``RETRY_CAP_S`` (a server asking for a longer wait is not retried). Stop ends
        a wait at once.
    on_status : callable, optional
        ``on_status(line)`` while waiting to retry, the line keyed ``py.status.retrying`` with ``brief``,
        ``seconds``, ``n``, ``of`` (in English: ``"server busy (429): retrying in 2 s… (1/2)"``), and
        ``on_status(None)`` when the next try starts.

    Returns
    -------
    ReplyOutcome
        ``stats`` holds ``tokens``, ``prompt_tokens``, ``cached_tokens``, ``ttft_s`` (request to first text),
        ``duration_s``, ``tokens_per_s`` (decode rate after the first text), ``finish_reason`` and ``retries``
        (requests sent again); ``ttft_s`` counts the first token of either kind. With reasoning also
        ``first_answer_s`` (request to first answer text), ``thinking_s`` (first reasoning text to first answer
        text, or to the end) and ``thinking_tokens``; ``tokens_estimated`` when the counts are estimates;
        ``notice`` when the backend had something to say (e.g. ``thinking=`` not applied).
    """
    status, error = "done", None
    keyed: dict[str, Any] | None = None  # the error's catalogue key and params
    start = time.perf_counter()
    first: float | None = None
    first_answer: float | None = None
    first_thought: float | None = None
    thoughts: list[str] = []
    tries = 0
    lingering: list[threading.Thread] = []
    while True:
        info = GenerationInfo()
        calls = ToolCallAssembler()
        try:
            for delta in pump(backend.stream(messages, settings, info, cancel), cancel, lingering):
                now = time.perf_counter()
                if first is None:
                    first = now
                if isinstance(delta, ToolCallDelta):
                    calls.add(delta)
                    continue
                if isinstance(delta, Reasoning):
                    if first_thought is None:
                        first_thought = now
                    thoughts.append(delta.text)
                    if on_reasoning is not None:
                        on_reasoning(delta.text)
                    continue
                if first_answer is None:
                    first_answer = now
                on_delta(delta)
            if cancel.is_set():
                status, info.finish_reason = "stopped", "stopped"
            elif info.finish_reason is None:
                status = "incomplete"
                error = "The reply ended without a finish reason, so it may be cut off. Send again to retry."
                keyed = {"key": "py.err.incomplete", "params": {}}
        except Exception as exc:
            wait = None if first is not None or cancel.is_set() else retry_wait(exc, tries, retries)
            if wait is not None:
                tries += 1
                logger.debug("retrying in %.1f s after: %s", wait, exc)
                if on_status is not None:
                    brief = getattr(exc, "brief", None) or "server error"
                    on_status(
                        keyed_line("py.status.retrying", brief=brief, seconds=_seconds(wait), n=tries, of=retries)
                    )
                stopped = cancel.wait(wait)
                if on_status is not None:
                    on_status(None)
                if not stopped:
                    continue
                status, info.finish_reason = "stopped", "stopped"
            else:
                logger.debug("generation failed", exc_info=True)
                status, info.finish_reason = "error", "error"
                error, keyed = describe_error(exc), error_i18n(exc)
                if tries:
                    if keyed is not None:  # "{error} (Tried 3 times.)", {error} from the error's own key
                        params = {**keyed["params"], "n": str(tries + 1), "error": error, "error_key": keyed["key"]}
                        keyed = {"key": "py.err.tried", "params": params}
                    error = f"{error} (Tried {tries + 1} times.)"
        break
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
    if thoughts:
        stats.update(_thinking_stats(backend, info, "".join(thoughts), start, first_thought, first_answer, end))
    if info.tokens_estimated:
        stats["tokens_estimated"] = True
    if info.notice:
        stats["notice"] = info.notice
    if tries:
        stats["retries"] = tries
    if calls:
        stats["tool_calls"] = len(calls.calls())
    outcome = ReplyOutcome(status, error, stats, lingering[-1] if lingering else None, keyed)
    outcome.tool_calls, outcome.dropped_calls = calls.calls(), calls.dropped
    return outcome


def _thinking_stats(
    backend: Backend,
    info: GenerationInfo,
    reasoning: str,
    start: float,
    first_thought: float | None,
    first_answer: float | None,
    end: float,
) -> dict[str, Any]:
    """``first_answer_s``, ``thinking_s`` and ``thinking_tokens`` of a reply that had reasoning."""
    tokens = info.reasoning_tokens
    if tokens is None:
        try:
            tokens = backend.count_text_tokens(reasoning)
        except Exception:  # a count is a nicety; never fail the reply over it
            logger.debug("counting reasoning tokens failed", exc_info=True)
            tokens = None
    thought_until = first_answer if first_answer is not None else end
    out = {
        "first_answer_s": None if first_answer is None else round(first_answer - start, 4),
        "thinking_s": None if first_thought is None else round(thought_until - first_thought, 4),
        "thinking_tokens": tokens,
    }
    if info.reasoning_tokens is not None and info.reasoning_tokens_estimated:
        out["thinking_tokens_estimated"] = True
    return out


def retry_wait(exc: BaseException, tries: int, retries: int) -> float | None:
    """Seconds to wait before sending again after ``exc`` (``tries`` retries so far), or ``None``: do not retry."""
    if not isinstance(exc, BackendError) or not exc.retryable or tries >= retries:
        return None
    if exc.retry_after is not None:
        return max(0.0, float(exc.retry_after)) if exc.retry_after <= RETRY_CAP_S else None
    return min(RETRY_CAP_S, RETRY_BASE_S * 2.0**tries)


def _seconds(wait: float) -> str:
    return f"{wait:.0f}" if wait >= 1 else f"{wait:.1f}"


def pump(
    stream: Iterator[Any], cancel: threading.Event, lingering: list[threading.Thread] | None = None
) -> Iterator[Any]:
    """Run ``stream`` in its own thread so that Stop ends the turn even while the backend blocks.

    The caller polls a queue every ``POLL_S`` seconds and checks ``cancel``; the backend sees ``cancel`` too and
    stops between tokens; its generator is closed in its own thread (releasing connections). After Stop, the
    caller waits up to ``STATS_GRACE_S`` for the backend to finish, so its token counts are complete; a thread
    still running then is appended to ``lingering`` (the caller gives it the rest of ``STOP_GRACE_S`` once the
    stopped reply is shown), or, without ``lingering``, waited for up to ``STOP_GRACE_S`` here.
    """
    chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run() -> None:
        try:
            try:
                for delta in stream:
                    chunks.put(delta)
                    if cancel.is_set():
                        break
            finally:
                close = getattr(stream, "close", None)  # a generator: its finally blocks release connections
                if close is not None:
                    close()
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
        if not cancel.is_set():
            thread.join()
        elif lingering is None:
            thread.join(STOP_GRACE_S)
        else:
            thread.join(STATS_GRACE_S)
            if thread.is_alive():
                lingering.append(thread)


def tokens_per_s(tokens: int | None, start: float, first: float | None, end: float) -> float | None:
    """Decode rate: tokens after the first / time after the first text; whole-reply rate for very short replies."""
    if not tokens or first is None:
        return None
    if tokens > 1 and end - first >= MIN_DECODE_S:
        return round((tokens - 1) / (end - first), 2)
    return round(tokens / (end - start), 2) if end > start else None


def error_i18n(exc: BaseException) -> dict[str, Any] | None:
    """``{"key": ..., "params": {...}}`` of an error that has a catalogue key (:attr:`BackendError.key`), else
    ``None``: what a widget needs to show :func:`describe_error`'s text in its own language."""
    if not isinstance(exc, BackendError) or not exc.key:
        return None
    return {"key": exc.key, "params": {name: str(value) for name, value in exc.params.items()}}


def describe_error(exc: BaseException) -> str:
    """A one-paragraph message for the chat: what happened (and, for nbchat errors, what to do)."""
    if isinstance(exc, NbchatError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
