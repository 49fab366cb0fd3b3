"""Generation settings shared by every backend."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_TEMPERATURE",
    "MAX_TEMPERATURE",
    "GenerationSettings",
    "coerce_settings",
    "renamed_history",
]

DEFAULT_MAX_NEW_TOKENS = 256
DEFAULT_TEMPERATURE = 0.7
MAX_TEMPERATURE = 2.0


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """How one reply is generated; passed unchanged to the backend.

    Parameters
    ----------
    max_new_tokens : int, default 256
        Upper bound on generated tokens (not counting the prompt). Must be >= 1. Backends map it to their own
        name (``max_tokens`` for OpenAI-compatible servers).
    temperature : float, default 0.7
        Sampling temperature in [0, 2]; ``0`` means greedy decoding (deterministic).
    top_p : float, default 1.0
        Nucleus-sampling probability mass in (0, 1]; ``1.0`` disables it. Ignored when ``temperature == 0``.
    stop : tuple of str, default ()
        Stop sequences: generation ends when one appears; the sequence itself never shows up in the reply.
    thinking : bool or None, default None
        Whether a reasoning model thinks before it answers: ``True`` (on), ``False`` (off), ``None`` (the model's
        default). Each backend maps it to what the model understands (``enable_thinking`` in chat templates that
        take it, a source's own switch online, see :mod:`nbchat.backends.sources`); where a model has no switch,
        the reply carries a notice saying so.
    tools : tuple of dict, default ()
        OpenAI function-tool schemas offered to the model (``{"type": "function", "function": {"name",
        "description", "parameters"}}``); set per request by the conversation from its ``tools=`` (see
        :mod:`nbchat.tools`), not by hand. Backends that can call tools send them; empty: no tools.
    tool_choice : {"auto", "required", "none"} or None, default None
        Whether the model must, may or may not call a tool; ``None``: not sent (the server's default, "auto").
    parallel_tool_calls : bool or None, default None
        Whether the model may ask for several calls in one reply; ``None``: not sent (the server's default).
    response_format : dict or None, default None
        A structured reply: the OpenAI API's ``{"type": "json_schema", "json_schema": {"name", "schema", "strict":
        true}}`` (https://platform.openai.com/docs/api-reference/chat/create#chat-create-response_format); set per
        request by ``Conversation.ask(..., schema=)`` (see :mod:`nbchat._structured`), not by hand. OpenAI-compatible
        servers get it as it is, llama.cpp a grammar made from the schema. ``None``: free text.

    Raises
    ------
    ValueError
        If a value is out of range; the message names the allowed range.
    """

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    thinking: bool | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            msg = f"max_new_tokens must be an integer >= 1, got {self.max_new_tokens!r}."
            raise TypeError(msg)
        if self.max_new_tokens < 1:
            msg = f"max_new_tokens must be >= 1, got {self.max_new_tokens}."
            raise ValueError(msg)
        if not 0.0 <= float(self.temperature) <= MAX_TEMPERATURE:
            msg = f"temperature must be between 0 and {MAX_TEMPERATURE} (0 = greedy), got {self.temperature}."
            raise ValueError(msg)
        if not 0.0 < float(self.top_p) <= 1.0:
            msg = f"top_p must be in (0, 1], got {self.top_p}."
            raise ValueError(msg)
        stop = self.stop
        if isinstance(stop, str):
            stop = (stop,)
        if not isinstance(stop, Sequence) or not all(isinstance(s, str) and s for s in stop):
            msg = f"stop must be a list of non-empty strings, got {self.stop!r}."
            raise TypeError(msg)
        if self.thinking is not None and not isinstance(self.thinking, bool):
            msg = f"thinking must be True (on), False (off) or None (the model's default), got {self.thinking!r}."
            raise TypeError(msg)
        if not isinstance(self.tools, (list, tuple)) or not all(isinstance(t, dict) for t in self.tools):
            msg = f"tools must be a list of OpenAI function-tool dicts, got {type(self.tools).__name__}."
            raise TypeError(msg)
        if self.tool_choice not in (None, "auto", "required", "none"):
            msg = f"tool_choice must be 'auto', 'required', 'none' or None, got {self.tool_choice!r}."
            raise ValueError(msg)
        if self.parallel_tool_calls is not None and not isinstance(self.parallel_tool_calls, bool):
            msg = f"parallel_tool_calls must be True, False or None, got {self.parallel_tool_calls!r}."
            raise TypeError(msg)
        if self.response_format is not None and not (
            isinstance(self.response_format, dict)
            and self.response_format.get("type") == "json_schema"
            and isinstance((self.response_format.get("json_schema") or {}).get("schema"), dict)
        ):
            msg = (
                "response_format must be {'type': 'json_schema', 'json_schema': {'name': ..., 'schema': {...}}} or "
                f"None, got {self.response_format!r:.200}; ask(..., schema=Model) makes one."
            )
            raise TypeError(msg)
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "stop", tuple(stop))
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "top_p", float(self.top_p))

    @property
    def greedy(self) -> bool:
        """True when ``temperature == 0``: backends decode greedily (no sampling)."""
        return self.temperature == 0.0

    def replace(self, **changes: object) -> GenerationSettings:
        """Return a copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def coerce_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as :class:`GenerationSettings` takes them: a browser's number field may send ``"12"`` or ``12.0``
    for ``max_new_tokens`` and a string for ``temperature``/``top_p``. Every view (Chat's sliders, Compare's forms)
    coerces here, and :meth:`GenerationSettings.replace` checks the ranges: one validation for both.

    Raises
    ------
    ValueError
        For a string that is not a number.
    """
    out = dict(values)
    if isinstance(out.get("max_new_tokens"), (float, str)):
        out["max_new_tokens"] = int(float(out["max_new_tokens"]))
    for name in ("temperature", "top_p"):
        if isinstance(out.get(name), str):
            out[name] = float(out[name])
    return out


def renamed_history(values: dict[str, Any], *, stacklevel: int = 3) -> dict[str, Any]:
    """``values`` with the old ``history=`` switch renamed to ``use_history=`` (a ``DeprecationWarning``).

    ``use_history`` is the one name of the switch "send earlier turns with each question" (argument, trait,
    protocol field, Compare setting), so that it never reads like :attr:`nbchat.Conversation.history`, the message
    list. The old spelling ``history=`` still works for one release.

    Parameters
    ----------
    values : dict
        Keyword arguments or settings as given; changed in place and returned.
    stacklevel : int, default 3
        Where the warning points: 3 is the caller of the function that calls this one.

    Raises
    ------
    TypeError
        When both ``history`` and ``use_history`` are given.
    """
    if "history" not in values:
        return values
    if "use_history" in values:
        msg = "Pass use_history= only: history= is its old name."
        raise TypeError(msg)
    warnings.warn(
        "history= is deprecated and will be removed in the next release: use use_history= (the switch; "
        "Conversation.history is the message list).",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    values["use_history"] = values.pop("history")
    return values
