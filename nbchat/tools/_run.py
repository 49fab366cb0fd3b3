"""Run one approved call: validate its arguments, run the function in a thread of its own with a time limit and
cooperative Stop, turn its result into text (and images) for the model, capped in size.

Python cannot stop a thread from outside. A function that takes ``cancel: threading.Event`` is told (the event is set)
on Stop and on time-out; one that does not is left to finish in the background, and its call says so.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

from .._attachments import DEFAULT_MAX_SIDE, Attachment, AttachmentError, truncate_to_tokens
from .._convert import to_attachment
from ._calls import ToolCall
from ._function import Tool, ToolArgumentsError

__all__ = [
    "DEFAULT_RESULT_CHARS",
    "DEFAULT_TOOL_TIMEOUT",
    "STOP_GRACE_S",
    "ToolOutput",
    "cap_text",
    "convert_result",
    "run_call",
]

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a function may run (``Conversation(tool_timeout=)``, ``Tool(timeout=)``), unless an administrator caps it."""
DEFAULT_RESULT_CHARS = 32_000
"""Longest result text sent to the model (about 8,000 tokens); a longer one is cut, its start and end kept."""
STOP_GRACE_S = 0.5  # after Stop or time-out, how long a function told through `cancel` has to return
_POLL_S = 0.02
_CHARS_PER_TOKEN = 4


@dataclasses.dataclass(frozen=True)
class ToolOutput:
    """A result already in the form the model gets: ``text`` and image ``attachments`` (an MCP server's content
    blocks, converted by :meth:`nbchat.MCPServer.call`). :func:`convert_result` only caps its text."""

    text: str
    attachments: list[Attachment] = dataclasses.field(default_factory=list)


def run_call(
    tool: Tool,
    call: ToolCall,
    cancel: threading.Event,
    *,
    timeout: float,
    max_chars: int = DEFAULT_RESULT_CHARS,
    max_side: int = DEFAULT_MAX_SIDE,
) -> None:
    """Run ``call`` with ``tool``; fill in its ``status``, ``result``, ``result_attachments``, ``error`` and
    ``duration_s``. Never raises: a failure is the call's ``error`` and goes to the model as its result.

    Parameters
    ----------
    timeout : float
        Seconds the function may run; then the call is an error ("did not finish within N s").
    max_chars : int, default DEFAULT_RESULT_CHARS
        Cap on the result text (start and end kept, a notice says how much was cut).
    max_side : int, default 1024
        Longer side of image results in pixels (downscaled).

    Notes
    -----
    On Stop the call ends as ``"stopped"`` within :data:`STOP_GRACE_S`, unless the function returned by then.
    """
    try:
        kwargs = tool.validate(call.arguments)
    except ToolArgumentsError as exc:
        _fail(call, str(exc), max_chars)
        return
    told = threading.Event()  # given to a function that takes `cancel`
    if tool.takes_cancel:
        kwargs["cancel"] = told
    box: list[Any] = []
    done = threading.Event()

    def work() -> None:
        try:
            value = tool.fn(**kwargs)
            box.append(("value", convert_result(value, call.name, max_chars=max_chars, max_side=max_side)))
        except BaseException as exc:  # noqa: BLE001 - the model and the card get its type and message
            box.append(("error", exc))
        finally:
            done.set()

    call.status = "running"
    start = time.perf_counter()
    threading.Thread(target=work, name=f"nbchat-tool-{call.name}", daemon=True).start()
    ended = None
    while not done.wait(_POLL_S):
        if cancel.is_set():
            ended = "stopped"
            break
        if time.perf_counter() - start > timeout:
            ended = "timeout"
            break
    if ended is not None:
        told.set()
        done.wait(STOP_GRACE_S if tool.takes_cancel else _POLL_S)
    call.duration_s = round(time.perf_counter() - start, 4)
    if ended is not None and not done.is_set():
        background = (
            "it was told to stop (cancel) but has not returned yet"
            if tool.takes_cancel
            else "Python cannot interrupt a function from outside: it may still be running in the background "
            "(a tool that takes `cancel: threading.Event` is told to stop)"
        )
        if ended == "stopped":
            call.status, call.error = "stopped", f"Stopped by the user; {background}."
            call.result = "The user stopped this call before it finished; it has no result."
        else:
            _fail(call, f"{_label(tool, call)} did not finish within {timeout:g} s; {background}.", max_chars)
        return
    kind, payload = box[0]
    if kind == "error":
        _fail(call, f"{type(payload).__name__}: {payload}", max_chars)
        return
    call.result, call.result_attachments = payload
    call.status = "done" if ended != "stopped" else "stopped"


def _label(tool: Tool, call: ToolCall) -> str:
    """The call's tool for an error text: its name, and its MCP server where it has one."""
    return f"{call.name} (MCP server {tool.server!r})" if tool.server else call.name


def _fail(call: ToolCall, error: str, max_chars: int) -> None:
    call.status = "error"
    call.error = cap_text(error, min(max_chars, 4000))
    call.result = f"Error: {call.error}"


def cap_text(text: str, max_chars: int) -> str:
    """``text`` cut to about ``max_chars`` characters (start and end kept) with a notice of how much was cut."""
    if len(text) <= max_chars:
        return text
    cut, _ = truncate_to_tokens(text, max(1, max_chars // _CHARS_PER_TOKEN))
    return f"{cut}\n[nbchat: the result had {len(text):,} characters; cut to about {max_chars:,}, start and end kept]"


def convert_result(value: Any, name: str, *, max_chars: int = DEFAULT_RESULT_CHARS,
                   max_side: int = DEFAULT_MAX_SIDE) -> tuple[str, list[Attachment]]:  # fmt: skip
    """A function's return value as (text for the model, image attachments).

    ``str`` as it is; numbers, booleans, ``None``, lists and dicts as JSON; pydantic models and dataclasses as JSON
    of their fields; DataFrames, figures, PIL images, image arrays and other objects through nbchat's attachment
    converter (:func:`nbchat._convert.to_attachment`): text (a DataFrame summary, a ``repr``) becomes the result,
    an image an attachment (named in the text, sent as an image part to a model that sees). Text is capped at
    ``max_chars``.
    """
    if isinstance(value, str):
        return cap_text(value, max_chars), []
    if isinstance(value, ToolOutput):
        return cap_text(value.text, max_chars), list(value.attachments)
    if value is None or isinstance(value, (bool, int, float, list, tuple, dict)):
        try:
            return cap_text(json.dumps(value, ensure_ascii=False, default=str), max_chars), []
        except (TypeError, ValueError):  # a float nan or a cycle: its repr
            return cap_text(repr(value), max_chars), []
    if hasattr(value, "model_dump_json") and callable(value.model_dump_json):
        return cap_text(str(value.model_dump_json()), max_chars), []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return cap_text(json.dumps(dataclasses.asdict(value), ensure_ascii=False, default=str), max_chars), []
    try:
        part = to_attachment(value, name=name, max_side=max_side, tokens=max(1, max_chars // _CHARS_PER_TOKEN))
    except (AttachmentError, OSError, ValueError, TypeError):
        return cap_text(repr(value), max_chars), []
    if part.kind == "image":
        return "", [part]
    return cap_text(part.text, max_chars), []
