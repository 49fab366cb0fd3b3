"""Tools: the user's Python functions, which a model may call, with approval and visible calls.

::

    conv = nbchat.Conversation("http://127.0.0.1:8000/v1", tools=[area], tool_approval="auto")

- :class:`Tool` / :func:`tool`: a function → name, description and JSON schema of its parameters (pydantic, the
  docstring's parameter descriptions through ``docstring-parser``); the model's arguments validated.
- :class:`ToolCall` / :class:`ToolRound`: what the model asked for and what became of it (saved with messages).
- :class:`Approvals`: "ask" (a person clicks), "auto", or a callable ``(call) -> bool``; "Allow for this chat" is
  in memory only.
- :class:`MCPServer` / :func:`mcp_servers`: an MCP server's tools (stdio or streamable HTTP, through the official
  ``mcp`` SDK), from code or from an MCP settings file (:mod:`nbchat.tools._mcp_settings`).
- The loop of a turn is :class:`nbchat.tools._loop.ToolLoop` (the conversation calls it).
"""

from __future__ import annotations

from ._approval import APPROVAL_MODES, Approvals, Decision, ToolApproval
from ._calls import MAX_CALLS_PER_ROUND, ToolCall, ToolCallAssembler, ToolRound, ToolStatus
from ._function import Tool, ToolArgumentsError, ToolError, as_tools, tool
from ._mcp import MCPServer, MCPServerError, MCPTool, mcp_servers
from ._run import DEFAULT_RESULT_CHARS, DEFAULT_TOOL_TIMEOUT, ToolOutput

__all__ = [
    "APPROVAL_MODES",
    "DEFAULT_RESULT_CHARS",
    "DEFAULT_TOOL_TIMEOUT",
    "MAX_CALLS_PER_ROUND",
    "Approvals",
    "Decision",
    "MCPServer",
    "MCPServerError",
    "MCPTool",
    "Tool",
    "ToolApproval",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallAssembler",
    "ToolError",
    "ToolOutput",
    "ToolRound",
    "ToolStatus",
    "as_tools",
    "mcp_servers",
    "tool",
]
