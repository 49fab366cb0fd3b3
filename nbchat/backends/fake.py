"""A scripted backend for tests and demos: replays enqueued replies chunk by chunk (like llm's ``MockModel``)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from .._errors import BackendError
from .._settings import GenerationSettings
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning, StopSequenceFilter

__all__ = ["FakeBackend"]


class FakeBackend(Backend):
    """Replay scripted replies; record what it was asked.

    Parameters
    ----------
    delay : float, default 0.0
        Seconds to wait before each chunk (simulates a model's token time).
    context_window : int, optional
        Pretend context window; tokens are counted as whitespace-separated words.
    model : str, default "fake"
        Model name shown in the widget.
    record : bool, default True
        Keep every request in :attr:`requests` (turn off for long runs: the list grows with each turn).
    images : bool, default False
        Pretend to see images (:attr:`~nbchat.backends.Backend.image_input`): messages with images then arrive
        as OpenAI content parts, and the echo names each image.

    Attributes
    ----------
    requests : list of (messages, settings)
        Every call to :meth:`stream`, in order.

    Examples
    --------
    >>> fake = FakeBackend()
    >>> fake.enqueue(["Hel", "lo"])
    >>> fake.enqueue(error=RuntimeError("boom"), chunks=["par", "tial"])
    """

    kind = "fake"

    def __init__(
        self,
        *,
        delay: float = 0.0,
        context_window: int | None = None,
        model: str = "fake",
        record: bool = True,
        images: bool = False,
    ) -> None:
        self.delay = delay
        self.image_input = images
        self.context_window = context_window
        self.model = model
        self.record = record
        self.requests: list[tuple[list[Message], GenerationSettings]] = []
        self._script: deque[tuple[list[str | Reasoning], BaseException | None, str | None]] = deque()
        self.loaded = False

    def enqueue(
        self,
        chunks: list[str | Reasoning] | None = None,
        *,
        error: BaseException | None = None,
        finish_reason: str | None = "stop",
    ) -> None:
        """Script the next reply: ``chunks`` streamed in order, then ``error`` raised (if given).

        ``finish_reason=None`` simulates a stream that ends without saying why (a cut-off reply).
        When nothing is enqueued, the backend echoes the last user message.
        """
        self._script.append((list(chunks or []), error, finish_reason))

    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Mark as loaded (nothing to load)."""
        self.loaded = True

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Whitespace-separated words in all message contents, plus 4 per message for the template."""
        return sum(len(_text(m["content"]).split()) + 4 for m in messages)

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning]:
        """Yield the next scripted chunks (see :meth:`Backend.stream`); :class:`Reasoning` chunks pass as they are."""
        if self.record:
            self.requests.append(([dict(m) for m in messages], settings))
        if self._script:
            chunks, error, finish = self._script.popleft()
        else:
            chunks, error, finish = [f"You said: {_text(messages[-1]['content'], images=True)}"], None, "stop"
        info.prompt_tokens = self.count_tokens(messages)
        stop = StopSequenceFilter(settings.stop)
        produced = 0
        for chunk in chunks:
            if cancel.is_set():
                info.completion_tokens = produced
                return
            if self.delay:
                time.sleep(self.delay)
            produced += 1
            if isinstance(chunk, Reasoning):
                yield chunk
                continue
            out = stop.feed(chunk)
            if out:
                yield out
            if stop.stopped or produced >= settings.max_new_tokens:
                break
        tail = stop.flush()
        if tail:
            yield tail
        info.completion_tokens = produced
        if isinstance(error, BackendError):
            raise error  # as scripted: its key, params and retry flags reach the conversation
        if error is not None:
            raise BackendError(str(error)) from error
        reached_limit = produced >= settings.max_new_tokens and not stop.stopped
        info.finish_reason = "length" if finish is not None and reached_limit else finish


def _text(content: str | list[dict[str, Any]], images: bool = False) -> str:
    """A message's text; of content parts (a backend with ``image_input``), the text parts (and ``[image]``s)."""
    if isinstance(content, str):
        return content
    return " ".join(p["text"] if p.get("type") == "text" else "[image]" for p in content if images or "text" in p)
