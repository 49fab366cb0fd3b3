"""Tool calls on the transformers backend: the tools rendered by the model's chat template
(``apply_chat_template(..., tools=...)``) and the calls read back by transformers' own streaming response parser.

transformers 5 parses a reply with a *response template* (``transformers.utils.chat_parsing.ResponseParser``): the
tokenizer's ``response_template`` where the model ships one, else the one ``transformers serve`` keeps for its model
type (Qwen2/2.5/3 and their MoE and VL variants: Hermes-style ``<tool_call>`` JSON; Qwen 3.5; Gemma 4), found by
``transformers.cli.serving.utils.get_response_template``. A model with neither cannot have its calls read: nbchat
says so before generating.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from ._base import Message, Reasoning, ToolCallDelta

__all__ = ["ToolReplyReader", "response_template_of", "template_messages"]

_REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


def response_template_of(tokenizer: Any, model: Any) -> dict[str, Any] | None:
    """The response template that reads ``model``'s replies (see the module docstring), or ``None``."""
    from transformers.cli.serving.utils import get_response_template

    template = get_response_template(tokenizer, model)
    return template if isinstance(template, dict) and "tool_calls" in template.get("fields", {}) else None


def template_messages(messages: list[Message]) -> list[Message]:
    """``messages`` as chat templates read them: an assistant's ``tool_calls`` with their ``arguments`` as a dict
    (templates write them with ``| tojson``; the OpenAI shape holds a JSON text), other fields as they are."""
    out = []
    for message in messages:
        calls = message.get("tool_calls")
        if not calls:
            out.append(message)
            continue
        decoded = []
        for call in calls:
            function = dict(call.get("function", {}))
            with contextlib.suppress(json.JSONDecodeError):  # else the text the model wrote, shown as it was
                function["arguments"] = json.loads(function.get("arguments") or "{}")
            decoded.append({**call, "function": function})
        out.append({**message, "tool_calls": decoded})
    return out


class ToolReplyReader:
    """Reads a streamed reply with transformers' ``ResponseParser``: answer text, reasoning and tool calls.

    Parameters
    ----------
    template : dict
        The response template (:func:`response_template_of`).
    prompt : str
        The rendered prompt (the parser reads what the template already wrote of the assistant's turn).
    tools : list of dict
        The OpenAI function-tool schemas sent (arguments are cast to their parameter types).
    """

    def __init__(self, template: dict[str, Any], prompt: str, tools: Sequence[dict[str, Any]]) -> None:
        from transformers.utils.chat_parsing import ResponseParser

        self._parser = ResponseParser(template, prefix=prompt, tools=list(tools))
        self.calls = 0

    def feed(self, text: str) -> list[str | Reasoning | ToolCallDelta]:
        """The deltas in the next piece of text."""
        return self._deltas(self._parser.feed(text))

    def finish(self) -> list[str | Reasoning | ToolCallDelta]:
        """The deltas the end of the reply closes (a call or text still open)."""
        _, events = self._parser.finalize()
        return self._deltas(events)

    def _deltas(self, events: list[dict[str, Any]]) -> list[str | Reasoning | ToolCallDelta]:
        out: list[str | Reasoning | ToolCallDelta] = []
        for event in events:
            field = event.get("field")
            if event["type"] == "region_chunk" and not event.get("dirty") and event.get("text"):
                text = str(event["text"])
                if field in _REASONING_FIELDS:
                    out.append(Reasoning(text))
                elif field == "content":
                    out.append(text)
            elif event["type"] == "region_close" and field == "tool_calls":
                value = event.get("value") or {}
                function = value.get("function", value) if isinstance(value, dict) else {}
                name = function.get("name") if isinstance(function, dict) else None
                if not isinstance(name, str):
                    continue
                arguments = function.get("arguments", {})
                text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
                out.append(ToolCallDelta(index=self.calls, name=name, arguments=text))
                self.calls += 1
        return out
