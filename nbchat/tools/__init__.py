"""Tools: the user's Python functions, which a model may call, with approval and visible calls.

::

    conv = nbchat.Conversation("http://127.0.0.1:8000/v1", tools=[area], tool_approval="auto")

- :class:`Tool` / :func:`tool`: a function → name, description and JSON schema of its parameters (pydantic, the
  docstring's parameter descriptions through ``docstring-parser``); the model's arguments validated.
- :class:`ToolCall` / :class:`ToolRound`: what the model asked for and what became of it (saved with messages).
- :class:`Approvals`: "ask" (a person clicks), "auto", or a callable ``(call) -> bool``; "Allow for this chat" is
  in memory only.
- The loop of a turn is :class:`nbchat.tools._loop.ToolLoop` (the conversation calls it).
"""

from __future__ import annotations

from ._approval import APPROVAL_MODES, Approvals, Decision, ToolApproval
from ._calls import MAX_CALLS_PER_ROUND, ToolCall, ToolCallAssembler, ToolRound, ToolStatus
from ._function import Tool, ToolArgumentsError, ToolError, as_tools, tool
from ._run import DEFAULT_RESULT_CHARS, DEFAULT_TOOL_TIMEOUT

__all__ = [
    "APPROVAL_MODES",
    "DEFAULT_RESULT_CHARS",
    "DEFAULT_TOOL_TIMEOUT",
    "MAX_CALLS_PER_ROUND",
    "Approvals",
    "Decision",
    "Tool",
    "ToolApproval",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallAssembler",
    "ToolError",
    "ToolRound",
    "ToolStatus",
    "as_tools",
    "tool",
]
