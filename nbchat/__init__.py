"""nbchat: chat with any LLM inside a notebook cell.

>>> import nbchat
>>> chat = nbchat.Chat()   # embedded SmolLM2-135M-Instruct, offline
>>> chat                   # the widget

Heavy libraries (torch, transformers, anywidget) are imported on first use, so ``import nbchat`` stays fast.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._attachments import Attachment, AttachmentError
from ._conversation import Conversation, ConversationEvent
from ._errors import (
    BackendError,
    ConversationBusyError,
    GenerationError,
    MissingDependencyError,
    ModelNotFoundError,
    NbchatError,
)
from ._feedback import FeedbackLog
from ._messages import ChatMessage
from ._policy import ModelNotAllowedError, Policy, PolicyWarning, current_policy
from ._settings import GenerationSettings
from ._structured import StructuredReplyError
from .tools import MCPServer, Tool, ToolCall, ToolError, ToolRound, mcp_servers, tool

if TYPE_CHECKING:
    from ._explain import explain_errors
    from ._widget import Chat
    from .compare import Compare

__version__ = "0.1.0"  # the package version: pyproject.toml reads it from here

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Attachment",
    "AttachmentError",
    "BackendError",
    "Chat",
    "ChatMessage",
    "Compare",
    "Conversation",
    "ConversationBusyError",
    "ConversationEvent",
    "FeedbackLog",
    "GenerationError",
    "GenerationSettings",
    "MCPServer",
    "MissingDependencyError",
    "ModelNotAllowedError",
    "ModelNotFoundError",
    "NbchatError",
    "Policy",
    "PolicyWarning",
    "StructuredReplyError",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolRound",
    "__version__",
    "current_policy",
    "explain_errors",
    "mcp_servers",
    "to_attachment",
    "tool",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbchat``: registers the ``%%chat`` cell magic (see :mod:`nbchat._magic`)."""
    from ._magic import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    # The widget imports anywidget/ipywidgets; load it only when a notebook asks for it.
    if name == "Chat":
        from ._widget import Chat

        return Chat
    if name == "to_attachment":  # imports nothing heavy itself, but keeps `import nbchat` minimal
        from ._convert import to_attachment

        return to_attachment
    if name == "Compare":
        from .compare import Compare

        return Compare
    if name == "explain_errors":  # the Ask the chat button is a widget too
        from ._explain import explain_errors

        return explain_errors
    msg = f"module 'nbchat' has no attribute {name!r}"
    raise AttributeError(msg)
