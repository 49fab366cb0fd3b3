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
    """A backend could not load its model or could not generate (server down, bad reply, ...)."""


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
