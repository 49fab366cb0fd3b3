"""Drive an async stream from a backend's (synchronous) stream thread, so that Stop can cancel it at once."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

__all__ = ["Stopped", "iterate_async"]

_POLL_S = 0.05


class Stopped(Exception):  # noqa: N818 - a signal, not an error
    """Stop was pressed while an async stream was waiting; the backend ends its reply quietly."""


def iterate_async(
    start: Callable[[], Awaitable[Any]],
    cancel: threading.Event,
    cleanup: Callable[[], Awaitable[Any]] | None = None,
) -> Iterator[Any]:
    """Yield the items of an async iterator, running it in a private event loop in this thread.

    Parameters
    ----------
    start : coroutine function
        ``await start()`` returns the async iterator (so that opening the stream can be cancelled too).
    cancel : threading.Event
        Checked every 50 ms while an ``await`` is pending; when set, the pending task is cancelled and
        :class:`Stopped` is raised.
    cleanup : coroutine function, optional
        Awaited at the end, whatever happened (e.g. closing the client).

    Raises
    ------
    Stopped
        When ``cancel`` is set while waiting.
    """
    loop = asyncio.new_event_loop()

    async def until_stopped(awaitable: Awaitable[Any]) -> Any:
        task = asyncio.ensure_future(awaitable)
        while True:
            done, _ = await asyncio.wait({task}, timeout=_POLL_S)
            if done:
                return task.result()
            if cancel.is_set():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise Stopped

    agen = None
    try:
        agen = loop.run_until_complete(until_stopped(start()))
        while True:
            try:
                yield loop.run_until_complete(until_stopped(agen.__anext__()))
            except StopAsyncIteration:
                return
    finally:
        with contextlib.suppress(BaseException):
            if agen is not None and hasattr(agen, "aclose"):
                loop.run_until_complete(agen.aclose())
        with contextlib.suppress(BaseException):
            if cleanup is not None:
                loop.run_until_complete(cleanup())
        with contextlib.suppress(BaseException):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
