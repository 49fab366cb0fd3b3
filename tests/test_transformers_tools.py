"""Tool calls on the transformers backend: a tiny scripted Qwen2 model (random weights but for the chain that writes
its script) with Qwen2.5's chat template writes a ``<tool_call>`` token by token; transformers' response parser
reads it; the tool runs and its result goes back through the template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nbchat
from tests.test_llamacpp_tools import QWEN_TEMPLATE, SCRIPT, multiply

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]


@pytest.fixture(scope="module")
def scripted_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import save_scripted_chat_model

    target = tmp_path_factory.mktemp("tiny-qwen-tools")
    pieces = [p for p in SCRIPT if p != "<|im_end|>"]  # each piece one added token; <|im_end|> is SmolLM2's EOS
    save_scripted_chat_model(target, QWEN_TEMPLATE, "".join(SCRIPT), pieces, qwen2=True)
    return target


def test_a_qwen2_model_calls_a_tool_and_gets_the_result(scripted_qwen: Path) -> None:
    conv = nbchat.Conversation(str(scripted_qwen), tools=[multiply], tool_approval="auto", max_tool_rounds=1,
                               temperature=0, max_new_tokens=20, prepare="now")  # fmt: skip
    assert conv.backend.tool_calls is True
    reply = conv.send("What is 6 * 7?").result(timeout=300)
    [round_] = reply.tool_rounds
    [call] = round_.calls
    assert (call.name, call.parsed_arguments(), call.status) == ("multiply", {"a": 6, "b": 7}, "done")
    assert round_.content == ""  # the <tool_call> text never reaches the chat
    prompt = conv.backend.render_prompt(conv.messages[:3])  # the second round's: the tools, the call, its result
    assert prompt is not None
    assert '<tool_call>\n{"name": "multiply", "arguments": {"a": 6, "b": 7}}\n</tool_call>' in prompt
    assert "<tool_response>\n42.0\n</tool_response>" in prompt
    assert reply.status == "done"  # round 2: tool_choice "none" after max_tool_rounds, an answer
    conv.close()


def test_a_model_transformers_cannot_parse_refuses_before_generating(tmp_path: Path) -> None:
    from tests.tiny_models import save_tiny_chat_model

    save_tiny_chat_model(tmp_path / "tiny-llama", QWEN_TEMPLATE)  # a Llama: no response template for its calls
    conv = nbchat.Conversation(str(tmp_path / "tiny-llama"), tools=[multiply], tool_approval="auto", prepare="now")
    assert conv.backend.tool_calls is False
    reply = conv.send("What is 6 * 7?").result(timeout=120)
    assert reply.status == "error"
    assert "cannot call tools" in (reply.error or "")
    assert conv.history[0].content == "What is 6 * 7?"
    conv.close()


def test_tool_call_arguments_reach_the_template_as_objects() -> None:
    from nbchat.backends._hf_tools import template_messages

    call = {"id": "c1", "type": "function", "function": {"name": "multiply", "arguments": '{"a": 6}'}}
    [out] = template_messages([{"role": "assistant", "content": "", "tool_calls": [call]}])
    assert out["tool_calls"][0]["function"]["arguments"] == {"a": 6}
    assert json.loads(call["function"]["arguments"]) == {"a": 6}  # the caller's message is not changed
