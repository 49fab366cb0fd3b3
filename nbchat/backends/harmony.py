"""Reasoning in gpt-oss's text: the harmony format's channels, split as they stream.

gpt-oss models write their reply as messages on channels, each between special tokens (OpenAI's harmony response
format, https://cookbook.openai.com/articles/openai-harmony)::

    <|channel|>analysis<|message|>…reasoning…<|end|><|start|>assistant<|channel|>final<|message|>…answer…<|return|>

The chat template ends the prompt with ``<|start|>assistant``, so the generated text starts at ``<|channel|>``.
``analysis`` (and ``commentary``: tool-call preambles) is reasoning, ``final`` is the answer. llama.cpp's server
leaves ``<|end|>`` and ``<|return|>`` out of its text; the rules below do not need them.

The engines must keep special tokens in the text for this (transformers: ``skip_special_tokens=False``; llama.cpp:
special token output on), which they do when :func:`template_is_harmony` says the chat template is harmony's.

The rule, the same for a whole text (:func:`split_harmony_text`) and any way of cutting it into deltas
(:class:`HarmonySplitter`):

- A header runs from ``<|start|>`` or ``<|channel|>`` to ``<|message|>``; its channel is the first word after
  ``<|channel|>``. Header text is never shown.
- A message's text runs from ``<|message|>`` to the next marker; it is answer text on the ``final`` channel (or a
  header without a channel) and reasoning on any other channel.
- Text outside any message (a model that does not follow the format) is answer text: nothing is lost.
- A reply cut short (Stop, ``max_new_tokens``) keeps what its open message had written.
"""

from __future__ import annotations

import re

from ._base import Reasoning

__all__ = ["MARKERS", "HarmonySplitter", "split_harmony_text", "template_is_harmony"]

MARKERS = ("<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>", "<|call|>", "<|constrain|>")
"""The harmony format's special tokens, as text."""

_ENDS = frozenset({"<|end|>", "<|return|>", "<|call|>"})
_ANSWER_CHANNEL = "final"
_OUTSIDE, _HEADER, _BODY = range(3)


def template_is_harmony(template: str | None) -> bool:
    """True when a Jinja chat template writes the harmony format (gpt-oss)."""
    return bool(template) and "<|channel|>" in template and "<|message|>" in template  # type: ignore[operator]


def _channel(header: str) -> str:
    """The channel named in a header's text (``"analysis"`` of ``"assistant<|channel|>analysis"``); ``""`` if none."""
    _, marker, rest = header.partition("<|channel|>")
    words = rest.replace("<|", " <|").split()  # "final<|constrain|>json": the channel ends where a marker starts
    return words[0] if marker and words else ""


def _is_answer(channel: str) -> bool:
    return channel in ("", _ANSWER_CHANNEL)


class HarmonySplitter:
    """A streaming state machine that separates gpt-oss's reasoning channels from its final answer.

    Same interface as :class:`~nbchat.backends.thinking.ThinkSplitter`: :meth:`feed` a delta of raw text (special
    tokens included), get back answer ``str`` and :class:`Reasoning` parts; :meth:`flush` at the end.

    Notes
    -----
    Text that may still turn out to be a marker (``"<|cha"``) is held back until the next delta decides, so at most
    ``len("<|constrain|>") - 1`` characters wait.
    """

    def __init__(self) -> None:
        self._state = _OUTSIDE
        self._header = ""
        self._answer = True  # the open message's channel is the answer's
        self._buf = ""

    @property
    def thinking(self) -> bool:
        """True while inside a reasoning message."""
        return self._state == _BODY and not self._answer

    def feed(self, text: str) -> list[str | Reasoning]:
        """Add a delta of raw model text; return what is now certain: answer ``str`` and :class:`Reasoning` parts."""
        self._buf += text
        out: list[str | Reasoning] = []
        while True:
            at, marker = self._next_marker()
            if marker is None:  # no whole marker: keep back what may still become one
                self._emit(self._buf[:at], out)
                self._buf = self._buf[at:]
                return out
            self._emit(self._buf[:at], out)
            self._buf = self._buf[at + len(marker) :]
            self._mark(marker)

    def _next_marker(self) -> tuple[int, str | None]:
        """``(position, marker)`` of the first whole marker in the buffer, or ``(position, None)`` where the text
        that may still start one begins (the buffer's length when none can)."""
        buf = self._buf
        at = buf.find("<|")
        while at >= 0:
            marker = next((m for m in MARKERS if buf.startswith(m, at)), None)
            if marker is not None:
                return at, marker
            if any(m.startswith(buf[at:]) for m in MARKERS):  # perhaps a marker: wait for more
                return at, None
            at = buf.find("<|", at + 2)
        return (len(buf) - 1 if buf.endswith("<") else len(buf)), None  # "<" may be the start of "<|"

    def flush(self) -> list[str | Reasoning]:
        """The text held back, at the end of the stream: an unfinished marker is text of the part it was in."""
        out: list[str | Reasoning] = []
        self._emit(self._buf, out)
        self._buf = ""
        return out

    def _emit(self, text: str, out: list[str | Reasoning]) -> None:
        if not text:
            return
        if self._state == _HEADER:
            self._header += text
        elif self._state == _BODY and not self._answer:
            out.append(Reasoning(text))
        else:
            out.append(text)

    def _mark(self, marker: str) -> None:
        if marker == "<|message|>":
            if self._state == _HEADER:
                self._state, self._answer = _BODY, _is_answer(_channel(self._header))
        elif marker in _ENDS:
            self._state, self._answer = _OUTSIDE, True
        elif marker in ("<|start|>", "<|channel|>"):
            if self._state != _HEADER:
                self._state, self._header = _HEADER, ""
            self._header += marker
        elif self._state == _HEADER:  # <|constrain|>: part of a tool call's header
            self._header += marker


_SPLIT = re.compile("(" + "|".join(re.escape(m) for m in MARKERS) + ")")


def split_harmony_text(text: str) -> tuple[str, str]:
    """``(reasoning, answer)`` of a whole text, by the same rule as :class:`HarmonySplitter` (used in tests)."""
    reasoning, answer = [], []
    header: str | None = None  # the header being read, None outside one
    channel: str | None = None  # the open message's channel, None outside one
    for piece in _SPLIT.split(text):
        if piece == "<|message|>" and header is not None:
            channel, header = _channel(header), None
        elif piece in _ENDS:
            header = channel = None
        elif piece in ("<|start|>", "<|channel|>"):
            header = (header or "") + piece
            channel = None
        elif header is not None:
            header += piece
        elif piece in MARKERS:  # <|message|> or <|constrain|> out of place: dropped, like any marker
            continue
        elif channel is not None and not _is_answer(channel):
            reasoning.append(piece)
        else:
            answer.append(piece)
    return "".join(reasoning), "".join(answer)
