"""One small hierarchy of errors a user can act on.

Every message says what happened and what to do about it.
"""

from __future__ import annotations

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

    Attributes
    ----------
    retryable, retry_after, brief
        As the parameters.
    """

    def __init__(
        self, message: str = "", *, retryable: bool = False, retry_after: float | None = None, brief: str | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.brief = brief


class GenerationError(BackendError):
    """A reply failed part-way; the partial text is kept in the conversation, marked as an error.

    Attributes
    ----------
    partial : str
        Text the model produced before the failure (may be empty).
    """

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class ConversationBusyError(NbchatError):
    """A reply is still being generated; wait for it, or call ``stop()``, before sending again."""
