"""Tool calls as nbchat keeps them: one call (:class:`ToolCall`), one round of calls (:class:`ToolRound`), and the
assembly of streamed OpenAI ``tool_calls`` deltas into calls (:class:`ToolCallAssembler`).

The wire shape assembled here is the OpenAI chat-completion stream's: each ``chat.completion.chunk`` may carry
``choices[0].delta.tool_calls``, a list of ``{"index", "id"?, "type"?: "function", "function": {"name"?,
"arguments"?}}``; the first delta of a call carries its ``id``, ``type`` and ``function.name``, later ones append
pieces of ``function.arguments`` (a JSON text) for the same ``index`` (openai-python ``ChatCompletionDeltaToolCall``;
vLLM ``DeltaToolCall`` in ``vllm/entrypoints/openai/protocol.py``). Backends hand them over as
:class:`nbchat.backends.ToolCallDelta` items.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any, Literal, Protocol

from .._attachments import Attachment, attachment_from_dict

__all__ = [
    "MAX_ARGUMENT_CHARS",
    "MAX_CALLS_PER_ROUND",
    "ToolCall",
    "ToolCallAssembler",
    "ToolRound",
    "ToolStatus",
]

ToolStatus = Literal["pending", "running", "done", "error", "declined", "stopped"]
"""``pending``: waits for approval. ``running``: the function runs. ``done``: it returned. ``error``: it raised, its
arguments were invalid, the tool is unknown or it ran out of time. ``declined``: not approved. ``stopped``: the user
pressed Stop before it finished (a function that cannot be interrupted may still be running: ``error`` says so)."""
_STATUSES = ("pending", "running", "done", "error", "declined", "stopped")

MAX_CALLS_PER_ROUND = 16
"""Calls kept from one reply of the model; more are counted (:attr:`ToolRound.dropped`), told to the model, not run."""
MAX_ARGUMENT_CHARS = 1_000_000
"""Longest arguments text kept for one call; the rest is dropped (the arguments then fail to parse, and the model is
told). A model that never closes its JSON is bounded by ``max_new_tokens`` too."""
MAX_NAME_CHARS = 128


class _Delta(Protocol):  # nbchat.backends.ToolCallDelta (not imported: the backends do not depend on tools)
    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> str: ...


def new_call_id() -> str:
    """An id for a call whose backend gave none: ``call_`` and 24 hex digits (the OpenAI API's style)."""
    return f"call_{uuid.uuid4().hex[:24]}"


@dataclasses.dataclass
class ToolCall:
    """One call the model asked for, and what became of it. Saved with the conversation.

    Attributes
    ----------
    id : str
        The model's call id (``tool_call_id`` of the result), or one nbchat made.
    name : str
        The tool's name as the model wrote it (it may name no tool: then ``status`` is ``"error"``).
    arguments : str
        The arguments as the model wrote them: a JSON text, maybe malformed (shown as written).
    status : ToolStatus
        See :data:`ToolStatus`.
    result : str
        The text sent to the model as the tool's result (also for errors, declines and stops), capped in size.
    result_attachments : list of Attachment
        Images (figures, PIL images, arrays) the function returned; sent as image parts to a model that sees.
    error : str or None
        What went wrong, for the user's card (``"ValueError: ..."``, ``"did not finish within 60 s"``).
    duration_s : float or None
        Seconds the function ran (None when it did not run).
    reason : str
        Why it was declined (the user's words, also sent to the model); ``""`` otherwise.
    server : str
        The MCP server of the tool; ``""`` for a Python function.
    """

    id: str
    name: str
    arguments: str = "{}"
    status: ToolStatus = "pending"
    result: str = ""
    result_attachments: list[Attachment] = dataclasses.field(default_factory=list)
    error: str | None = None
    duration_s: float | None = None
    reason: str = ""
    server: str = ""

    def parsed_arguments(self) -> dict[str, Any] | None:
        """The arguments as a dict, or ``None`` when they are not a JSON object (an empty text is ``{}``)."""
        if not self.arguments.strip():
            return {}
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def to_openai(self) -> dict[str, Any]:
        """The entry of an assistant message's ``tool_calls``: ``{"id", "type": "function", "function": {"name",
        "arguments"}}``."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def to_tool_message(self, images: bool = True) -> dict[str, Any]:
        """The ``{"role": "tool", "tool_call_id", "content"}`` message with the result.

        ``content`` is text: the OpenAI API takes only text in a tool message, so images travel in a user message
        after the round's tool messages (see :meth:`ToolRound.to_openai_list`); here they are named in the text.
        """
        text = self.result or _status_text(self)
        if self.result_attachments:
            note = "; ".join(a.as_text() if a.kind == "image" else a.name for a in self.result_attachments)
            where = " (shown in the next message)" if images and self.image_results() else ""
            text = f"{text}\n[{note}{where}]" if text else f"[{note}{where}]"
        return {"role": "tool", "tool_call_id": self.id, "content": text}

    def image_results(self) -> list[Attachment]:
        return [a for a in self.result_attachments if a.kind == "image"]

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-serialisable; image bytes are not included (saved files store them once, by SHA-256)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["result_attachments"] = [a.to_dict() for a in self.result_attachments]
        return out

    @classmethod
    def from_dict(cls, raw: Any, blobs: dict[str, bytes]) -> ToolCall:
        """Rebuild a call saved by :meth:`to_dict`; ``blobs`` maps SHA-256 to image bytes.

        A call saved while ``pending`` or ``running`` loads as ``stopped``: nothing runs on load.

        Raises
        ------
        ValueError
            Naming the first missing or invalid field.
        """
        if not isinstance(raw, dict):
            msg = f"a tool call must be an object, got {str(raw)[:80]!r}."
            raise ValueError(msg)
        strings = ("id", "name", "arguments", "result", "reason", "server")
        for key in strings:
            if not isinstance(raw.get(key, ""), str):
                msg = f"tool call {str(raw.get('id'))[:40]!r} has an invalid {key!r}."
                raise ValueError(msg)
        if not raw.get("id") or raw.get("status") not in _STATUSES:
            msg = f"tool call {str(raw.get('id'))[:40]!r} has a missing id or an invalid status."
            raise ValueError(msg)
        error, duration = raw.get("error"), raw.get("duration_s")
        if error is not None and not isinstance(error, str):
            msg = f"tool call {raw['id'][:40]!r} has an invalid 'error'."
            raise ValueError(msg)
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))):
            msg = f"tool call {raw['id'][:40]!r} has an invalid 'duration_s'."
            raise ValueError(msg)
        parts = raw.get("result_attachments", [])
        if not isinstance(parts, list):
            msg = f"tool call {raw['id'][:40]!r} has result_attachments that are not a list."
            raise ValueError(msg)
        status: ToolStatus = raw["status"] if raw["status"] not in ("pending", "running") else "stopped"
        return cls(
            id=raw["id"],
            name=raw.get("name", ""),
            arguments=raw.get("arguments", ""),
            status=status,
            result=raw.get("result", ""),
            result_attachments=[attachment_from_dict(a, blobs) for a in parts],
            error=error,
            duration_s=None if duration is None else float(duration),
            reason=raw.get("reason", ""),
            server=raw.get("server", ""),
        )


def _status_text(call: ToolCall) -> str:
    """The result a model gets for a call that produced none (it must get one for every call id)."""
    if call.status == "declined":
        return "The user declined this call." + (f" Reason: {call.reason}" if call.reason else "")
    if call.status == "stopped":
        return "The user stopped this call before it finished; it has no result."
    if call.status == "error":
        return f"Error: {call.error or 'the call failed'}"
    return ""


@dataclasses.dataclass
class ToolRound:
    """What the model wrote before it asked for calls, and the calls (one reply of the model inside a turn).

    Attributes
    ----------
    content : str
        The text the model wrote in this round (often empty).
    reasoning : str
        Its reasoning in this round (kept and shown, not sent back unless the backend wants it).
    calls : list of ToolCall
        The calls, in the order the model wrote them.
    dropped : int
        Calls beyond :data:`MAX_CALLS_PER_ROUND` that the model asked for in this round: not kept, not run; the model
        is told in the last result of the round.
    """

    content: str = ""
    reasoning: str = ""
    calls: list[ToolCall] = dataclasses.field(default_factory=list)
    dropped: int = 0

    def to_openai_list(self, images: bool = True, *, reasoning: bool = False) -> list[dict[str, Any]]:
        """The assistant message with ``tool_calls``, one ``role: "tool"`` message per call (in order), and, with
        ``images`` and image results, a user message carrying them as image parts (the OpenAI API takes only text in
        tool messages)."""
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": self.content,
            "tool_calls": [c.to_openai() for c in self.calls],
        }
        if reasoning and self.reasoning:
            assistant["reasoning_content"] = self.reasoning
        out = [assistant, *(c.to_tool_message(images) for c in self.calls)]
        if self.dropped and len(out) > 1:
            note = f"\n[nbchat: {self.dropped} more calls in this reply were not run: at most {len(self.calls)} a turn]"
            out[-1]["content"] += note
        pictures = [a for c in self.calls for a in c.image_results()] if images else []
        if pictures:
            names = ", ".join(f"{a.name} ({a.width}×{a.height})" for a in pictures)
            text = {"type": "text", "text": f"Images returned by the tool calls above: {names}."}
            out.append({"role": "user", "content": [text, *(a.to_part() for a in pictures)]})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (calls by :meth:`ToolCall.to_dict`)."""
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "calls": [c.to_dict() for c in self.calls],
            "dropped": self.dropped,
        }

    @classmethod
    def from_dict(cls, raw: Any, blobs: dict[str, bytes]) -> ToolRound:
        """Rebuild a round saved by :meth:`to_dict`.

        Raises
        ------
        ValueError
            Naming the first invalid field.
        """
        if not isinstance(raw, dict) or not isinstance(raw.get("calls", []), list):
            msg = f"a tool round must be an object with a list of calls, got {str(raw)[:80]!r}."
            raise ValueError(msg)
        content, thought, dropped = raw.get("content", ""), raw.get("reasoning", ""), raw.get("dropped", 0)
        if not isinstance(content, str) or not isinstance(thought, str):
            msg = "a tool round's content and reasoning must be text."
            raise ValueError(msg)
        if isinstance(dropped, bool) or not isinstance(dropped, int) or dropped < 0:
            msg = "a tool round's 'dropped' must be a whole number >= 0."
            raise ValueError(msg)
        calls = [ToolCall.from_dict(c, blobs) for c in raw.get("calls", [])]
        return cls(content=content, reasoning=thought, calls=calls, dropped=dropped)


class ToolCallAssembler:
    """Assemble streamed tool-call deltas (by ``index``) into :class:`ToolCall` records.

    Parameters
    ----------
    max_calls : int, default MAX_CALLS_PER_ROUND
        Calls kept; deltas of further indices are counted in :attr:`dropped` and otherwise ignored.

    Notes
    -----
    A delta with a new ``index`` starts a call; its ``id`` and ``name`` are taken from the first delta that has
    them (a name sent in pieces is joined); ``arguments`` pieces are appended in order, up to
    :data:`MAX_ARGUMENT_CHARS`. A server that sends every call of a parallel batch at index 0 with a fresh id
    (some Ollama versions) starts a new call for each new id.
    """

    def __init__(self, max_calls: int = MAX_CALLS_PER_ROUND) -> None:
        self.max_calls = max_calls
        self._calls: dict[int, dict[str, Any]] = {}
        self._slot_of: dict[int, int] = {}  # the stream's index -> the slot it currently writes to
        self._dropped: set[int] = set()

    @property
    def dropped(self) -> int:
        """How many calls were beyond ``max_calls``."""
        return len(self._dropped)

    def add(self, delta: _Delta) -> None:
        """Take one delta (``index``, ``id``, ``name``, ``arguments``: each the piece in this delta, ``""`` if
        absent)."""
        index = int(delta.index)
        slot = self._slot_of.get(index)
        current = self._calls.get(slot) if slot is not None else None
        if current is not None and delta.id and current["id"] and delta.id != current["id"]:
            slot = None  # a fresh id at a used index: the next call of a parallel batch
        if slot is None:
            slot = len(self._calls) + len(self._dropped)
            self._slot_of[index] = slot
            if len(self._calls) >= self.max_calls:
                self._dropped.add(slot)
                return
            self._calls[slot] = {"id": "", "name": [], "arguments": [], "size": 0}
        if slot in self._dropped:
            return
        call = self._calls[slot]
        if delta.id and not call["id"]:
            call["id"] = delta.id
        if delta.name and sum(map(len, call["name"])) < MAX_NAME_CHARS:
            call["name"].append(delta.name)
        if delta.arguments and call["size"] < MAX_ARGUMENT_CHARS:
            piece = delta.arguments[: MAX_ARGUMENT_CHARS - call["size"]]
            call["arguments"].append(piece)
            call["size"] += len(piece)

    def __bool__(self) -> bool:
        return bool(self._calls) or bool(self._dropped)

    def calls(self) -> list[ToolCall]:
        """The calls so far, in the order the model started them (ids made where the backend gave none)."""
        out = []
        for slot in sorted(self._calls):
            call = self._calls[slot]
            name = "".join(call["name"])[:MAX_NAME_CHARS]
            out.append(ToolCall(id=call["id"] or new_call_id(), name=name, arguments="".join(call["arguments"])))
            call["id"] = out[-1].id  # the same id if asked again
        return out
