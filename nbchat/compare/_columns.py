"""The parts of a :class:`~nbchat.Compare`: columns, turns, per-column settings, and the specs that make columns.

Plain data and functions (no widget import): the widget (:mod:`nbchat.compare._widget`) builds its columns and
sweeps from these, the arena (:mod:`nbchat.compare._arena`) names and records them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from typing import Any

from .._conversation import Conversation
from .._errors import NbchatError
from .._messages import ChatMessage
from .._redact import redacting_logger
from .._settings import GenerationSettings, coerce_settings, renamed_history

__all__ = [
    "SETTINGS",
    "Column",
    "Reply",
    "Turn",
    "apply_settings",
    "candidates",
    "checked_settings",
    "combo_name",
    "letter",
    "settings_text",
    "split_item",
    "sweep_factory",
]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record

GENERATION = ("max_new_tokens", "temperature", "top_p", "stop")
SETTINGS = (*GENERATION, "system_prompt", "use_history")


def letter(index: int) -> str:
    """0 → "A", 25 → "Z", 26 → "AA": the blind names."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def settings_text(settings: GenerationSettings, system_prompt: str) -> str:
    """``temperature=0.7 · max_new_tokens=256`` (and the system message, shortened), for headers and results."""
    parts = [f"temperature={settings.temperature:g}", f"max_new_tokens={settings.max_new_tokens}"]
    if settings.top_p != 1.0:
        parts.append(f"top_p={settings.top_p:g}")
    if system_prompt.strip():
        short = system_prompt.strip().replace("\n", " ")
        parts.append(f"system={short[:40] + '…' if len(short) > 40 else short!r}")
    return " · ".join(parts)


def checked_settings(conv: Conversation, values: Mapping[str, Any]) -> tuple[GenerationSettings, str, bool]:
    """``conv``'s settings, system message and history flag with ``values`` applied; nothing is changed yet.

    Raises
    ------
    TypeError, ValueError
        For a name not in ``SETTINGS`` or a value out of range (the message says which).
    """
    values = renamed_history(dict(values), stacklevel=4)  # history= is the old name of use_history=
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        msg = f"Unknown setting(s) {', '.join(unknown)}; a column takes {', '.join(SETTINGS)}."
        raise TypeError(msg)
    changes = coerce_settings({k: values[k] for k in GENERATION if k in values})  # as Chat's sliders are
    settings = conv.settings.replace(**changes) if changes else conv.settings
    system = str(values["system_prompt"] or "") if "system_prompt" in values else conv.system_prompt
    use_history = bool(values["use_history"]) if "use_history" in values else conv.use_history
    return settings, system, use_history


def apply_settings(conv: Conversation, values: Mapping[str, Any]) -> None:
    """Set ``values`` (names from ``SETTINGS``) on ``conv``, all or nothing."""
    conv.settings, conv.system_prompt, conv.use_history = checked_settings(conv, values)


def combo_name(combo: Mapping[str, Any]) -> str | None:
    """``temperature=0.7, max_new_tokens=64``: a sweep column's name (None when nothing varies)."""
    parts = []
    for key, value in combo.items():
        shown = repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts) or None


@dataclasses.dataclass(eq=False)
class Column:
    """One column of a :class:`~nbchat.Compare`: a name and the :class:`~nbchat.Conversation` that answers in it.

    Attributes
    ----------
    id : str
        Stable identifier (``"c1"``, ``"c2"``, ...); says nothing about the model, so it is safe in blind mode.
    name : str
        The column's name (the model name unless one was given).
    conversation : Conversation
        The column's conversation: history, settings (``conversation.settings``), backend.
    letter : str
        Its blind name (``"A"``, ``"B"``, ...), assigned when blind mode is turned on.
    """

    id: str
    name: str
    conversation: Conversation
    letter: str = ""
    owned: bool = dataclasses.field(default=True, repr=False)  # created by the Compare: closed when removed

    @property
    def label(self) -> str:
        """``model · backend`` as the Chat widget shows it."""
        info = self.conversation.backend.describe()
        return " · ".join(str(info[k]) for k in ("model", "backend") if info.get(k))


@dataclasses.dataclass(eq=False)
class Reply:
    """One column's part of a turn, recorded when the prompt was sent (the message fills in as it streams)."""

    column: Column
    user_id: str
    message: ChatMessage
    future: Future[ChatMessage]
    settings: GenerationSettings
    system_prompt: str
    model: str


@dataclasses.dataclass(eq=False)
class Turn:
    """One prompt sent to every column, the replies it got, and the vote on them."""

    index: int
    prompt: str
    replies: list[Reply]
    vote: str | None = None  # winning column id, "tie", or None

    @property
    def done(self) -> bool:
        """Every reply is complete, stopped or failed."""
        return all(r.message.status != "streaming" for r in self.replies)


def candidates(base: str) -> Iterator[str]:
    """``base``, ``base (2)``, ``base (3)``, ...: default column names."""
    yield base
    for i in itertools.count(2):
        yield f"{base} ({i})"


def split_item(item: Any) -> tuple[str | None, Any, dict[str, Any]]:
    """(name, spec, options) of one item of ``models``: ``spec``, ``(name, spec)`` or ``(spec, {options})``."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        first, second = item
        if isinstance(second, Mapping) and not {"spec", "name"} & set(second):
            return None, first, dict(second)  # ("http://127.0.0.1:8000/v1", {"model": "x"})
        return first, second, {}  # ("my name", spec)
    return None, item, {}


def sweep_factory(base: Any, existing: Any, options: dict[str, Any]) -> Any:
    """A function ``settings -> Conversation`` for :meth:`~nbchat.Compare.sweep`."""
    from ..backends import Backend

    if isinstance(existing, Conversation):
        if options:
            msg = f"Options {', '.join(options)} apply to a new model; the base conversation already has its backend."
            raise TypeError(msg)
        start = {
            "system_prompt": existing.system_prompt,
            "max_new_tokens": existing.settings.max_new_tokens,
            "temperature": existing.settings.temperature,
            "top_p": existing.settings.top_p,
            "stop": existing.settings.stop,
            "use_history": existing.use_history,
        }
        spec = existing.spec

        def from_conversation(settings: dict[str, Any]) -> Conversation:
            kwargs = {**start, **settings}
            if not spec.get("object"):
                try:  # a new backend from the same spec: local weights are shared, caches are not
                    return Conversation(
                        spec.get("spec"), model=spec.get("model"), source=spec.get("source"),
                        **spec.get("options", {}), **kwargs,
                    )  # fmt: skip
                except (NbchatError, TypeError):  # e.g. an api_key= that was not saved with the spec
                    logger.debug("nbchat sweep shares the base backend", exc_info=True)
            return Conversation(existing.backend, **kwargs)

        return from_conversation
    if isinstance(base, Backend):
        if options:
            msg = f"Options {', '.join(options)} cannot be applied to an existing backend object."
            raise TypeError(msg)
        return lambda settings: Conversation(base, **settings)
    if isinstance(base, Mapping):
        described = {k: v for k, v in base.items() if k != "name"}
        spec = described.pop("spec", None)
        return lambda settings: Conversation(spec, **{**described, **options, **settings})
    return lambda settings: Conversation(base, **{**options, **settings})
