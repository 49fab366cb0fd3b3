"""One small hierarchy of errors a user can act on.

Every message says what happened and what to do about it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._i18n import text
from ._redact import redact_text

__all__ = [
    "BackendError",
    "ConversationBusyError",
    "GenerationError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "NbchatError",
]


class NbchatError(Exception):
    """Base class of every error nbchat raises on purpose."""


class ModelNotFoundError(NbchatError):
    """A model name, path or file could not be found; the message lists every place tried."""


class MissingDependencyError(NbchatError, ImportError):
    """An optional package is needed; the message gives the command that installs it."""


class BackendError(NbchatError):
    """A backend could not load its model or could not generate (server down, bad reply, ...).

    Parameters
    ----------
    message : str
        What happened and what to do (shown in the chat).
    retryable : bool, default False
        Sending the same request again may well work (connection refused or reset, 429 with a wait given,
        502/503/504). The controller then retries by itself, but only before any text of the reply arrived.
    retry_after : float, optional
        Seconds the server asked to wait before the next try (``Retry-After``), if it said.
    brief : str, optional
        A few words for the status line while waiting to retry, e.g. ``"server busy (429)"``.
    key : str, optional
        The message's key in the UI catalogue (:data:`nbchat._i18n.MESSAGES`, ``js/i18n.ts``), e.g.
        ``"py.err.refused"``: a widget shows the message in its own language from ``key`` and ``params``. ``None``:
        the message has no catalogue entry and is shown as written (English).
    params : dict of str to str, optional
        The placeholders of ``key``'s text (``{"where": ..., "cause": ...}``), already redacted like ``message``
        (never a key or a URL's password). A ``<name>_key`` entry names a catalogue key whose text fills
        ``<name>`` in the view's language (``<name>`` itself holds the English text). Default: ``{}``.

    Attributes
    ----------
    retryable, retry_after, brief, key, params
        As the parameters; ``str(error)`` is ``message``, the English text.
    """

    def __init__(
        self,
        message: str = "",
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        brief: str | None = None,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.brief = brief
        self.key = key
        self.params: dict[str, Any] = dict(params or {})

    @classmethod
    def from_key(
        cls,
        key: str,
        params: Mapping[str, Any],
        *,
        clean: Callable[[str], str] = redact_text,
        retryable: bool = False,
        retry_after: float | None = None,
        brief: str | None = None,
    ) -> BackendError:
        """The error whose message is the English catalogue text of ``key`` (:data:`nbchat._i18n.MESSAGES`).

        Parameters
        ----------
        key : str
            A key of the catalogue, e.g. ``"py.err.connect"``.
        params : mapping
            Its placeholders; each value becomes a string passed through ``clean``, and so does the message.
        clean : callable, default :func:`nbchat._redact.redact_text`
            What keeps secrets out of the text and the parameters; a server backend passes its own redaction
            (its key and headers, besides URLs' credentials).
        retryable, retry_after, brief
            As for :class:`BackendError`.

        Raises
        ------
        KeyError
            For a key that is not in the catalogue (a bug in nbchat).
        """
        shown = {name: clean(str(value)) for name, value in params.items()}
        message = clean(text(key, "en", **shown))
        return BackendError(message, retryable=retryable, retry_after=retry_after, brief=brief, key=key, params=shown)


class GenerationError(BackendError):
    """A reply failed part-way; the partial text is kept in the conversation, marked as an error.

    Attributes
    ----------
    partial : str
        Text the model produced before the failure (may be empty).
    """

    def __init__(
        self, message: str, partial: str = "", *, key: str | None = None, params: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, key=key, params=params)
        self.partial = partial


class ConversationBusyError(NbchatError):
    """A reply is still being generated; wait for it, or call ``stop()``, before sending again."""
