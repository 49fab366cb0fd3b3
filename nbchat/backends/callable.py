"""Any Python callable as a model: ``fn(message, history)`` (Gradio's convention) or ``fn(messages)``."""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._settings import GenerationSettings
from ._aio import Stopped, iterate_async
from ._base import Backend, GenerationInfo, Message, Reasoning, StopSequenceFilter, ToolCallDelta
from .thinking import ThinkSplitter

__all__ = ["CallableBackend"]

_SETTING_NAMES = ("max_new_tokens", "temperature", "top_p", "stop")
_NAMED_ONLY = ("thinking", "tool_choice")  # given only to a function that names the parameter, never through **kwargs


class CallableBackend(Backend):
    """Chat with a Python function.

    Parameters
    ----------
    fn : callable
        Either ``fn(message: str, history: list[dict]) -> str | Iterator[str]`` (the last user message and the
        earlier OpenAI-style messages, system message included) or ``fn(messages: list[dict])`` when its only
        required parameter is named ``messages``. Returning a string gives the whole reply at once; yielding
        strings streams deltas. Keyword parameters named ``max_new_tokens``, ``temperature``, ``top_p`` or
        ``stop`` (or ``**kwargs``) receive the widget's settings; a parameter named ``thinking`` receives
        ``thinking=`` (True, False or None; not passed through ``**kwargs``, which may forward to an API). A reply
        that starts with a ``<think>…</think>`` block (a local reasoning model's raw text) shows it as reasoning,
        not as the answer.

        Tools: a function with a parameter named ``tools`` can call them. It receives the OpenAI function-tool
        schemas (``[{"type": "function", "function": {"name", "description", "parameters"}}]``; ``[]`` without
        tools) and, if it names ``tool_choice``, that setting; it asks for a call by yielding
        :class:`nbchat.backends.ToolCallDelta` items (e.g. ``ToolCallDelta(0, "call_1", "area", '{"width": 2}')``)
        beside its text, and sees the results as ``role: "tool"`` messages next time. A function without a
        ``tools`` parameter cannot: a conversation with tools refuses it before calling it.

        Structured replies (``ask(..., schema=)``): a parameter named ``response_format`` receives the OpenAI
        ``response_format`` dict (``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``) or
        ``None``; without one, the function is called as usual and its reply is validated against the schema.
    name : str, optional
        Shown as the model name; default: the function's ``__name__``.
    images : bool, default False
        Whether the function takes images: then a user message with image attachments reaches it with a list of
        OpenAI content parts as ``content`` (``message`` is that list in the ``fn(message, history)`` form).
        Without it, a message with an image is refused before the function is called.

    Notes
    -----
    ``async def`` functions work too: a coroutine's result is awaited, an async generator is streamed (each runs
    in a private event loop in the stream thread). Stop takes effect between chunks, and for async functions
    also while one is awaited. Exceptions raised by ``fn`` appear in the chat as errors.
    """

    kind = "callable"
    thinking_switch = "a parameter named thinking"

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, images: bool = False) -> None:
        self.fn = fn
        self.image_input = bool(images)
        self.model = name or str(getattr(fn, "__name__", None) or type(fn).__name__)
        params: Mapping[str, inspect.Parameter]
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        required = [
            p.name
            for p in params.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name not in ("tools", "response_format")
        ]
        self._takes_messages = required == ["messages"]
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        self._setting_names = [n for n in _SETTING_NAMES if var_kw or n in params] + [
            n for n in _NAMED_ONLY if n in params
        ]
        self.tool_calls = "tools" in params  # the documented rule: a `tools` parameter, else refused with tools
        self._takes_format = "response_format" in params
        self.json_schema = True if self._takes_format else None

    def policy_identities(self) -> list[str]:
        """``callable:<module>.<qualified name>`` of the function."""
        fn = self.fn
        qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        return [f"callable:{getattr(fn, '__module__', None) or type(fn).__module__}.{qualname}"]

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """Call the function and yield its reply (see :meth:`Backend.stream`); a ``<think>`` block is reasoning."""
        kwargs = {n: getattr(settings, n) for n in self._setting_names}
        if settings.thinking is not None and "thinking" not in kwargs:
            info.notice = (
                f"thinking={settings.thinking} was not applied: {self.model} takes no 'thinking' parameter "
                "(add one to receive the setting)."
            )
        if "stop" in kwargs:
            kwargs["stop"] = list(settings.stop)
        if self.tool_calls:
            kwargs["tools"] = list(settings.tools)
        if self._takes_format:
            kwargs["response_format"] = settings.response_format
        if self._takes_messages:
            result = self.fn(messages, **kwargs)
        else:
            result = self.fn(messages[-1]["content"], messages[:-1], **kwargs)
        if inspect.isawaitable(result) or hasattr(result, "__anext__"):
            result = _from_async(result, cancel)
        chunks = [result] if isinstance(result, str) else result
        stop = StopSequenceFilter(settings.stop)
        splitter = ThinkSplitter()
        try:
            for chunk in chunks:
                if cancel.is_set():
                    return
                if isinstance(chunk, ToolCallDelta) and self.tool_calls:
                    yield chunk
                    continue
                if not isinstance(chunk, str):
                    msg = f"{self.model} yielded {type(chunk).__name__}, expected str text deltas."
                    raise TypeError(msg)
                out = stop.feed(chunk)
                if out:
                    yield from splitter.feed(out)
                if stop.stopped:
                    break
            yield from splitter.feed(stop.flush())
            yield from splitter.flush()
            info.finish_reason = "stop"
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def _from_async(result: Any, cancel: threading.Event) -> Iterator[str]:
    """Stream an async generator, or the string an awaited coroutine returns; Stop cancels the pending await."""
    if hasattr(result, "__anext__"):

        async def start() -> Any:
            return result

        return _stoppable(iterate_async(start, cancel))

    async def start_coroutine() -> Any:
        value = await result

        async def single() -> Any:
            yield value

        return single()

    return _stoppable(iterate_async(start_coroutine, cancel))


def _stoppable(items: Iterator[Any]) -> Iterator[Any]:
    with contextlib.suppress(Stopped):
        yield from items
