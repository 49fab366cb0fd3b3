"""The backend seam: a backend streams text for OpenAI-style messages and can be cancelled.

A backend knows nothing about widgets; the conversation controller knows nothing about models.
"""

from __future__ import annotations

import dataclasses
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from .._settings import GenerationSettings

__all__ = [
    "Backend",
    "Delta",
    "GenerationInfo",
    "Message",
    "ProgressCallback",
    "Reasoning",
    "StopSequenceFilter",
    "ToolCallDelta",
]

Message = dict[str, Any]
"""One OpenAI-style chat message: ``{"role": "system" | "user" | "assistant", "content": str}``.

For a backend whose :attr:`Backend.image_input` is not ``False``, a user message with images has a list of OpenAI
content parts as ``content`` (``{"type": "text", "text": ...}``, ``{"type": "image_url", "image_url": {"url":
"data:image/png;base64,..."}}``); every other message, and every message for other backends, has a string.

An assistant message may also carry ``"reasoning_content"`` (its reasoning), but only when the backend asks for it
(:attr:`Backend.send_reasoning`); by default reasoning is never sent back to a model.
"""


@dataclasses.dataclass(frozen=True)
class Reasoning:
    """A delta of the model's reasoning ("thinking"), streamed beside the answer text.

    :meth:`Backend.stream` yields plain ``str`` for answer text and ``Reasoning`` for reasoning text; concatenated,
    the ``Reasoning`` deltas are the reasoning (``ChatMessage.reasoning``), the ``str`` deltas the answer
    (``ChatMessage.content``).

    Attributes
    ----------
    text : str
        The reasoning text of this delta (may be empty only in tests; backends skip empty deltas).
    """

    text: str


@dataclasses.dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call the model is writing, streamed beside the answer text (the OpenAI stream's
    ``choices[0].delta.tool_calls[i]``, as the OpenAI API and vLLM send them).

    The first delta of a call usually carries ``id`` and ``name``; later ones append to ``arguments`` (a JSON text).
    nbchat assembles them by ``index`` (:class:`nbchat.tools.ToolCallAssembler`).

    Attributes
    ----------
    index : int
        Which call of this reply the piece belongs to (0 for the first).
    id : str
        The call's id in this piece, ``""`` when absent.
    name : str
        The function name (or a piece of it), ``""`` when absent.
    arguments : str
        A piece of the arguments' JSON text, ``""`` when absent.
    """

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


Delta = str | Reasoning | ToolCallDelta
"""What :meth:`Backend.stream` yields: answer text (``str``), a :class:`Reasoning` delta, or a
:class:`ToolCallDelta` (backends whose :attr:`Backend.tool_calls` is not False)."""

ProgressCallback = Callable[[str, "float | None"], None]
"""``progress(text, fraction)`` reports loading progress; ``fraction`` in [0, 1] or ``None`` when unknown."""


@dataclasses.dataclass
class GenerationInfo:
    """What a backend reports about one reply; filled in while it streams.

    Attributes
    ----------
    prompt_tokens : int or None
        Tokens in the prompt as the model saw it (after the chat template), if known.
    completion_tokens : int or None
        Tokens generated, if known (servers report it in ``usage``; local models count it).
    finish_reason : str or None
        ``"stop"`` (end of sequence or a stop sequence), ``"length"`` (``max_new_tokens`` reached).
        The controller sets ``"stopped"`` (user pressed Stop) and ``"error"`` itself. ``None`` while
        streaming, and after a stream that ended without saying why (treated as incomplete).
    prompt : str or None
        The exact prompt text sent, for backends that render one (local chat template, raw-prompt formats).
    cached_tokens : int or None
        Prompt tokens served from a cache (prefix reuse), if the backend knows.
    reasoning_tokens : int or None
        Of ``completion_tokens``, the tokens spent on reasoning, if the backend knows (servers report it in
        ``usage.completion_tokens_details.reasoning_tokens``); else the controller counts the reasoning text.
    reasoning_tokens_estimated : bool
        True when ``reasoning_tokens`` is an estimate (one streamed reasoning chunk counted as one token: vLLM
        reports usage without ``reasoning_tokens``).
    tokens_estimated : bool
        True when ``completion_tokens`` is an estimate (a server that reports no usage and no tokenizer at hand:
        one streamed chunk counted as one token).
    notice : str or None
        Something the user should know about this reply that is not an error, e.g. that ``thinking=`` could not
        be applied to this model. Shown beside the reply's stats.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    prompt: str | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    reasoning_tokens_estimated: bool = False
    tokens_estimated: bool = False
    notice: str | None = None


class Backend:
    """Base class of every backend.

    Subclasses set ``kind`` and implement :meth:`stream`; those with something heavy to prepare (weights,
    a connection check) override :meth:`prepare`.

    Attributes
    ----------
    kind : str
        Short backend name shown in the widget: ``"transformers"``, ``"openai"``, ``"tgi"``, ``"callable"``.
    model : str
        Human-readable model name shown in the widget (no secrets).
    context_window : int or None
        Maximum tokens of prompt plus reply, from the model config or server; ``None`` if unknown.
    """

    kind: ClassVar[str] = "backend"
    can_prefill: ClassVar[bool] = False
    """True when :meth:`prefill` does something: the widget then sends the question while it is typed."""
    send_reasoning: bool = False
    """True when earlier replies' reasoning is sent back with the history (as ``"reasoning_content"``): only for a
    model that wants it. Default False: DeepSeek's API rejects a request that carries it, and model makers advise
    against it."""
    thinking_switch: str = ""
    """How this backend applies ``thinking=`` (``GenerationSettings.thinking``), in words for the Details card and
    the notice; empty when it has no general switch (see :meth:`stream` of each backend)."""
    image_input: bool | None = False
    """Whether the model sees images: ``True``, ``False`` (a message with an image is refused before anything is
    sent), or ``None`` when unknown (images are sent; the server says if it cannot take them)."""
    model: str = ""
    context_window: int | None = None
    tool_calls: bool | None = False
    """Whether the model can ask for tool calls: ``True``, ``False`` (a conversation with ``tools=`` refuses before
    sending, naming backends that can), or ``None`` when unknown (tools are sent; the server decides). A backend that
    can reads ``settings.tools`` / ``settings.tool_choice`` and yields :class:`ToolCallDelta` items."""

    json_schema: bool | None = None
    """Whether the backend constrains a reply to ``settings.response_format``'s JSON schema (a structured reply,
    ``Conversation.ask(..., schema=)``): ``True`` (a grammar or the server's structured outputs), ``False`` (refused
    before sending, naming backends that can), ``None`` when unknown (sent where the backend can; the reply is
    validated, and one that does not fit is an error that keeps its text)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        old = cls.__dict__.get("load")
        if callable(old) and "prepare" not in cls.__dict__:  # a backend written before load() became prepare()
            msg = f"{cls.__name__}.load() is called prepare() now; rename it (load() is still called for now)."
            warnings.warn(msg, FutureWarning, stacklevel=2)
            cls.prepare = old  # type: ignore[method-assign]

    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Prepare the backend (download, load weights, check a server, ...). Called once, in a background thread.

        Parameters
        ----------
        progress : callable, optional
            ``progress(text, fraction)`` for the widget's loading line.
        """

    def stream(
        self,
        messages: list[Message],
        settings: GenerationSettings,
        info: GenerationInfo,
        cancel: threading.Event,
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """Yield the reply as deltas: answer text as ``str``, reasoning as :class:`Reasoning`, tool calls as
        :class:`ToolCallDelta` (only backends whose :attr:`tool_calls` is not False, when ``settings.tools`` is set).

        Parameters
        ----------
        messages : list of dict
            OpenAI-style messages, system message first if there is one, last message from the user.
        settings : GenerationSettings
            ``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ``thinking``.
        info : GenerationInfo
            Filled in by the backend while it streams (token counts, finish reason, rendered prompt).
        cancel : threading.Event
            Set when the user presses Stop; the backend ends as soon as it can (between tokens).

        Yields
        ------
        str or Reasoning
            ``str``: answer text deltas; concatenated they are the reply. Stop sequences are never part of it.
            :class:`Reasoning`: reasoning deltas (a separate field on servers, ``<think>`` blocks in local models'
            text, split by :class:`~nbchat.backends.thinking.ThinkSplitter`); they usually all come first.

        Raises
        ------
        BackendError
            When generation fails; text already yielded is kept by the caller.
        """
        raise NotImplementedError
        yield ""  # pragma: no cover

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Tokens ``messages`` take as a prompt, or ``None`` if this backend cannot count them."""
        return None

    def count_text_tokens(self, text: str) -> int | None:
        """Tokens of a plain ``text`` with this model's tokenizer (no template), or ``None`` without a tokenizer."""
        return None

    def prefill(self, messages: list[Message], cancel: threading.Event) -> int | None:
        """Evaluate the prompt for ``messages`` ahead of a request (a question still being typed), if this backend can.

        A later :meth:`stream` whose prompt starts with the same tokens evaluates only the tokens after them, so its
        first token comes sooner. Must not change what :meth:`stream` generates.

        Parameters
        ----------
        messages : list of dict
            As for :meth:`stream`, the last one the user's draft.
        cancel : threading.Event
            Set when the work is no longer wanted (the question was sent); return as soon as possible.

        Returns
        -------
        int or None
            Prompt tokens now evaluated, or ``None`` when nothing was done (the default: servers and callables).
        """
        return None

    def render_prompt(self, messages: list[Message]) -> str | None:
        """The exact prompt text the model would see for ``messages`` (chat template or prompt format), if any.

        ``None`` for backends that send structured messages (OpenAI-compatible servers, callables).
        """
        return None

    def policy_identities(self) -> list[str]:
        """What this backend contacts, as an administrator's allowed patterns match it, most specific first.

        nbchat's server backends give the normal form of the URL their HTTP client really uses
        (:func:`nbchat._spec.endpoint_of`), local engines the resolved model file (``local:<path>``). Only nbchat's
        own classes are asked (see :func:`nbchat._policy.backend_identities`); the default is ``<kind>:<model>``.
        """
        return [f"{self.kind}:{self.model}"]

    def describe(self) -> dict[str, Any]:
        """Public, secret-free description shown in the widget and in provenance records."""
        return {"backend": self.kind, "model": self.model, "context_window": self.context_window}

    def close(self) -> None:
        """Release resources (HTTP clients, models); the backend may not be used afterwards."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.model}>"


class StopSequenceFilter:
    """Remove stop sequences from a stream of text deltas, holding back text that may start one.

    Backends that cannot stop on strings themselves (or that echo the stop string, as transformers'
    ``stop_strings`` does) feed their deltas through this filter.

    Parameters
    ----------
    stop : sequence of str
        Stop sequences. The reply ends right before the first occurrence of any of them.

    Attributes
    ----------
    stopped : bool
        True once a stop sequence was seen; later input is ignored.
    """

    def __init__(self, stop: tuple[str, ...] | list[str]) -> None:
        self._stop = tuple(s for s in stop if s)
        self._hold = max((len(s) for s in self._stop), default=1) - 1
        self._pending = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """Add ``delta``; return the text that is now safe to show."""
        if self.stopped:
            return ""
        if not self._stop:
            return delta
        text = self._pending + delta
        cut = min((i for i in (text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._pending = ""
            return text[:cut]
        # keep back the longest tail that is a prefix of a stop sequence
        keep = 0
        for n in range(min(self._hold, len(text)), 0, -1):
            tail = text[-n:]
            if any(s.startswith(tail) for s in self._stop):
                keep = n
                break
        self._pending = text[len(text) - keep :]
        return text[: len(text) - keep]

    def flush(self) -> str:
        """Return text held back at the end of the stream (it did not become a stop sequence)."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out
