"""Reasoning in local models' text: split ``<think>…</think>`` from the answer as it streams; the thinking switch.

(gpt-oss writes channels instead of tags: :mod:`nbchat.backends.harmony`; :func:`reply_splitter` picks by template.)

Local thinking models (Qwen3, DeepSeek-R1 distills, SmolLM3, QwQ) write their reasoning into the generated text
between ``<think>`` and ``</think>``; some chat templates open the block themselves (the prompt ends in
``<think>\\n``), so the model's text starts inside it. Every engine that produces raw text (transformers,
llama.cpp, callables, TGI) passes its deltas through :func:`split_think`, which yields answer text as ``str`` and
reasoning as :class:`~nbchat.backends.Reasoning` (the seam's two kinds of delta).

The rule, the same for a whole text and any way of cutting it into deltas:

- A think block is recognised only at the very start of the reply (after white space), or when the prompt opened
  it. Once answer text has started, ``<think>`` is plain text (e.g. inside a code block of the answer).
- White space around the reasoning and at the start of the answer is dropped (models write ``</think>\\n\\n``).
- A block that never closes (Stop, ``max_new_tokens``) is all reasoning: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from ._base import Reasoning
from .harmony import HarmonySplitter, template_is_harmony

__all__ = [
    "CLOSE_TAG",
    "OPEN_TAG",
    "ReplySplitter",
    "ThinkSplitter",
    "no_switch_notice",
    "prompt_opens_think",
    "reply_splitter",
    "split_think",
    "split_think_text",
    "template_takes_thinking",
    "template_with_thinking",
]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

_START, _OPENED, _THINK_LEAD, _THINK, _ANSWER_LEAD, _ANSWER = range(6)


class ThinkSplitter:
    """A streaming state machine that separates a ``<think>`` block from the answer.

    Parameters
    ----------
    opened : bool, default False
        True when the prompt already opened the block (see :func:`prompt_opens_think`): the text starts as
        reasoning (a repeated ``<think>`` at its start is dropped).

    Notes
    -----
    Text that may still turn out to be part of a tag (``"<thi"`` at the start, ``"</th"`` in the reasoning) is held
    back until the next delta decides, so at most ``len("</think>") - 1`` characters wait; :meth:`flush` releases
    them at the end.
    """

    def __init__(self, *, opened: bool = False) -> None:
        self._state = _OPENED if opened else _START
        self._buf = ""

    @property
    def thinking(self) -> bool:
        """True while inside the think block."""
        return self._state in (_OPENED, _THINK_LEAD, _THINK)

    def feed(self, text: str) -> list[str | Reasoning]:
        """Add a delta of raw model text; return what is now certain: answer ``str`` and :class:`Reasoning` parts."""
        self._buf += text
        out: list[str | Reasoning] = []
        while True:
            buf, state = self._buf, self._state
            if state == _START:
                rest = buf.lstrip()
                if rest.startswith(OPEN_TAG):
                    self._buf, self._state = rest[len(OPEN_TAG) :], _THINK_LEAD
                elif OPEN_TAG.startswith(rest):  # white space, or the start of a tag: wait for more
                    return out
                else:
                    self._state = _ANSWER
            elif state == _OPENED:
                rest = buf.lstrip()
                if rest.startswith(OPEN_TAG):
                    self._buf, self._state = rest[len(OPEN_TAG) :], _THINK_LEAD
                elif OPEN_TAG.startswith(rest):
                    return out
                else:
                    self._buf, self._state = rest, _THINK
            elif state in (_THINK_LEAD, _ANSWER_LEAD):
                rest = buf.lstrip()
                if not rest:
                    self._buf = ""
                    return out
                self._buf, self._state = rest, _THINK if state == _THINK_LEAD else _ANSWER
            elif state == _THINK:
                end = buf.find(CLOSE_TAG)
                if end >= 0:
                    if end:
                        out.append(Reasoning(buf[:end]))
                    self._buf, self._state = buf[end + len(CLOSE_TAG) :], _ANSWER_LEAD
                    continue
                keep = _partial_tag(buf, CLOSE_TAG)
                if len(buf) > keep:
                    out.append(Reasoning(buf[: len(buf) - keep]))
                self._buf = buf[len(buf) - keep :]
                return out
            else:  # _ANSWER
                if buf:
                    out.append(buf)
                self._buf = ""
                return out

    def flush(self) -> list[str | Reasoning]:
        """The text held back, at the end of the stream: an unfinished tag is text of the part it was in."""
        buf, self._buf = self._buf, ""
        if self._state in (_START, _ANSWER):
            return [buf] if buf else []
        if self._state in (_OPENED, _THINK):
            rest = buf.lstrip() if self._state == _OPENED else buf
            return [Reasoning(rest)] if rest else []
        return []


def _partial_tag(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper beginning of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ReplySplitter(Protocol):
    """What separates reasoning from answer in a model's raw text: :class:`ThinkSplitter` or
    :class:`~nbchat.backends.harmony.HarmonySplitter`."""

    @property
    def thinking(self) -> bool: ...

    def feed(self, text: str) -> list[str | Reasoning]: ...

    def flush(self) -> list[str | Reasoning]: ...


def reply_splitter(template: str | None, prompt: str | None) -> ReplySplitter:
    """The splitter for a model's text: harmony channels when its chat template is gpt-oss's (the engine must then
    keep special tokens in the text), else ``<think>`` blocks, opened already when the prompt ends inside one."""
    if template_is_harmony(template):
        return HarmonySplitter()
    return ThinkSplitter(opened=prompt_opens_think(prompt))


def split_think(
    deltas: Iterable[str], *, opened: bool = False, splitter: ReplySplitter | None = None
) -> Iterator[str | Reasoning]:
    """Pass a stream of raw text deltas through ``splitter`` (default: a :class:`ThinkSplitter`, ``opened`` as given).

    Closing this generator closes ``deltas`` (so an engine's ``finally`` runs at once); an error from ``deltas``
    first yields the text held back, then propagates.
    """
    splitter = splitter or ThinkSplitter(opened=opened)
    try:
        for delta in deltas:
            yield from splitter.feed(delta)
    except Exception:
        yield from splitter.flush()
        raise
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()
    yield from splitter.flush()


def split_think_text(text: str, *, opened: bool = False) -> tuple[str, str]:
    """``(reasoning, answer)`` of a whole text, by the same rule as :class:`ThinkSplitter` (used in tests)."""
    rest = text.lstrip()
    if not opened:
        if not rest.startswith(OPEN_TAG):
            return "", text
        rest = rest[len(OPEN_TAG) :]
    elif rest.startswith(OPEN_TAG):
        rest = rest[len(OPEN_TAG) :]
    rest = rest.lstrip()
    end = rest.find(CLOSE_TAG)
    if end < 0:
        return rest, ""
    return rest[:end], rest[end + len(CLOSE_TAG) :].lstrip()


def prompt_opens_think(prompt: str | None) -> bool:
    """True when a rendered prompt ends inside an open think block (DeepSeek-R1's and QwQ's templates do that)."""
    return bool(prompt) and prompt.rstrip().endswith(OPEN_TAG)  # type: ignore[union-attr]


def template_takes_thinking(template: str | None) -> bool:
    """True when a Jinja chat template reads ``enable_thinking`` (Qwen3, SmolLM3-style switches)."""
    return bool(template) and "enable_thinking" in template  # type: ignore[operator]


def template_with_thinking(template: str, thinking: bool) -> str:
    """``template`` with ``enable_thinking`` set to ``thinking``, for renderers that take no extra variables.

    llama.cpp's Jinja formatter renders with a fixed set of variables; a top-level ``{% set %}`` in front of the
    template defines the switch for every renderer alike (transformers passes ``enable_thinking=`` directly).
    """
    return f"{{%- set enable_thinking = {'true' if thinking else 'false'} %}}{template}"


def no_switch_notice(model: str, thinking: bool) -> str:
    """The notice for a local model whose chat template has no thinking switch."""
    return (
        f"thinking={thinking} was not applied: {model}'s chat template has no enable_thinking switch, so the model "
        "decides whether it thinks."
    )
