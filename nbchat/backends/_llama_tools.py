"""Tool calls on nbchat's llama.cpp engine: the two ways a GGUF model is asked for them, and what comes back.

**The model's own format.** A chat template with a tool section (Qwen/Hermes ``<tool_call>``, Llama 3.x, Mistral,
gpt-oss harmony, ...) renders the tools itself, and llama.cpp's chat-completions path reads the calls back out of
the text as the model writes them (its chat parsers, chosen from the template: ``common/chat.cpp``), streaming them
as OpenAI ``delta.tool_calls`` chunks; :func:`chunk_deltas` turns those into :class:`~nbchat.backends.ToolCallDelta`.

**A grammar.** Where the template has no tool section (the embedded SmolLM2: llama.cpp then sends the tools nowhere
and its parser finds no call), or where a call is required (``tool_choice="required"``: llama.cpp's lazy grammar
for it does not build on every vocabulary), the reply is one JSON object constrained by a JSON schema
(:func:`call_schema`; llama.cpp turns the schema into a grammar: ``json_schema`` of ``/v1/completions``), as
llama.cpp's earlier "generic" format did: ``{"tool_call": {"name": ..., "arguments": {...}}}`` or, when the model
may answer, ``{"response": "..."}``. For a template without a tool section, the tools and earlier calls are written
into the messages (:func:`generic_messages`). :func:`read_generic` reads the finished object.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._base import Message, ToolCallDelta

__all__ = ["call_schema", "chunk_deltas", "generic_messages", "read_generic", "tool_messages"]

_GENERIC_NOTE = (
    "You can call these tools (JSON schemas of their arguments):\n{tools}\n\n"
    'To call one, answer with only {{"tool_call": {{"name": <tool name>, "arguments": <arguments object>}}}}. '
    'To answer without a tool, answer with only {{"response": <your answer>}}.'
)


def tool_messages(messages: Sequence[Message]) -> list[Message]:
    """``messages`` with only what a chat template reads: role, content and, where present, ``tool_calls`` (an
    assistant's calls), ``tool_call_id`` and ``name`` (a tool's result)."""
    keep = ("role", "content", "tool_calls", "tool_call_id", "name")
    return [{key: m[key] for key in keep if key in m} for m in messages]


def generic_messages(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[Message]:
    """``messages`` for a chat template with no tool section: the tools described in the system message (added
    when there is none), each assistant turn's calls written as the JSON object it answered with, and each tool
    result as a user message (``Result of <name>: ...``), so that any template renders them.

    Parameters
    ----------
    messages : list of dict
        OpenAI-style messages, with assistant ``tool_calls`` and ``tool`` messages.
    tools : list of dict
        OpenAI function-tool schemas (``{"type": "function", "function": {"name", "description", "parameters"}}``).

    Returns
    -------
    list of dict
        Messages with string contents and the roles ``system``, ``user`` and ``assistant`` only.
    """
    functions = [t.get("function", t) for t in tools]
    listing = "\n".join(json.dumps(f, ensure_ascii=False) for f in functions)
    note = _GENERIC_NOTE.format(tools=listing)
    out: list[Message] = []
    names: dict[str, str] = {}  # call id -> tool name, for the results
    for message in messages:
        role = message.get("role")
        content = message.get("content") or ""
        if role == "assistant" and message.get("tool_calls"):
            answers = []
            for call in message["tool_calls"]:
                function = call.get("function", {})
                names[str(call.get("id", ""))] = str(function.get("name", ""))
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except json.JSONDecodeError:
                    arguments = function.get("arguments")
                answers.append(json.dumps({"tool_call": {"name": function.get("name"), "arguments": arguments}}))
            out.append({"role": "assistant", "content": "\n".join(answers)})
        elif role == "tool":
            name = message.get("name") or names.get(str(message.get("tool_call_id", "")), "the tool")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            out.append({"role": "user", "content": f"Result of {name}: {text}"})
        else:
            out.append({"role": role, "content": content})
    if out and out[0]["role"] == "system":
        out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{note}".strip()}
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def call_schema(tools: Sequence[dict[str, Any]], *, required: bool, wrapped: bool = True) -> dict[str, Any]:
    """The JSON schema a grammar-constrained reply follows: one call of one of ``tools`` (its arguments valid for
    its ``parameters`` schema) or, unless ``required``, a plain answer.

    Parameters
    ----------
    tools : list of dict
        OpenAI function-tool schemas.
    required : bool
        True: the reply must be a call (``tool_choice="required"``).
    wrapped : bool, default True
        True: ``{"tool_call": {"name", "arguments"}}`` or ``{"response": str}`` (:func:`generic_messages`' format);
        False: the call itself, ``{"name", "arguments"}`` (a required call for a template with its own tool
        format, whose text nbchat does not send back to the model: the template renders the call from
        ``tool_calls``).
    """
    calls = []
    for tool in tools:
        function = tool.get("function", tool)
        parameters = function.get("parameters") or {"type": "object"}
        calls.append({
            "type": "object",
            "properties": {"name": {"const": function["name"]}, "arguments": parameters},
            "required": ["name", "arguments"],
        })  # fmt: skip
    call = calls[0] if len(calls) == 1 else {"anyOf": calls}
    if not wrapped:
        return call
    as_call = {"type": "object", "properties": {"tool_call": call}, "required": ["tool_call"]}
    if required:
        return as_call
    answer = {"type": "object", "properties": {"response": {"type": "string"}}, "required": ["response"]}
    return {"anyOf": [as_call, answer]}


def read_generic(text: str, *, wrapped: bool = True) -> str | ToolCallDelta:
    """What a grammar-constrained reply (:func:`call_schema`) says: a call (a :class:`ToolCallDelta` with its name
    and whole arguments; nbchat makes its id), or the answer text. A reply that is not such an object (cut short by
    Stop or ``max_new_tokens``) is returned as the text it is, so nothing is lost."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(value, dict):
        return text
    call = value.get("tool_call") if wrapped else value
    if isinstance(call, dict) and isinstance(call.get("name"), str):
        arguments = call.get("arguments", {})
        return ToolCallDelta(index=0, name=call["name"], arguments=json.dumps(arguments, ensure_ascii=False))
    if wrapped and isinstance(value.get("response"), str):
        return str(value["response"])
    return text


def chunk_deltas(delta: dict[str, Any]) -> list[ToolCallDelta]:
    """The tool-call pieces of one chat-completions chunk's ``choices[0].delta`` as llama.cpp's server streams
    them (``tool_calls``: a list of ``{"index", "id"?, "type"?, "function": {"name"?, "arguments"?}}``, the OpenAI
    streaming shape: ``tools/server/README.md``)."""
    out = []
    for call in delta.get("tool_calls") or ():
        function = call.get("function") or {}
        out.append(
            ToolCallDelta(
                index=int(call.get("index") or 0),
                id=str(call.get("id") or ""),
                name=str(function.get("name") or ""),
                arguments=str(function.get("arguments") or ""),
            )
        )
    return out
