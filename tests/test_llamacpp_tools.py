"""Tool calls on the local llama.cpp engines: a tiny scripted GGUF model with a Qwen/Hermes chat template writes a
``<tool_call>`` token by token (through nbchat's xllamacpp backend and through ``nbchat serve``), the embedded
SmolLM2 (no tool section in its template) calls through a grammar, and llama-cpp-python refuses tools.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import nbchat
from benchmarks.tools_local import multiply  # the benchmark's questions use the same tool
from nbchat._settings import GenerationSettings
from nbchat.backends import GenerationInfo, ToolCallDelta
from nbchat.backends._llama_tools import call_schema, generic_messages, read_generic
from nbchat.backends.llamacpp import LlamaCppBackend
from nbchat.tools import ToolCallAssembler
from tests.servers._runner import free_port, wait_until_up
from tests.tiny_models import save_scripted_gguf

ROOT = Path(__file__).resolve().parents[1]

# Qwen2.5-Instruct's chat template (Hermes-style tool calls), as in its tokenizer_config.json
QWEN_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""  # noqa: E501 - the template's own lines

# what the scripted model writes, one piece per token (<tool_call> alone: llama.cpp's trigger word for the format)
SCRIPT = ["<tool_call>", '\n{"name": "', "multiply", '", "arguments": {"a": ', "6", ', "b": ', "7", "}}\n",
          "</tool_call>", "<|im_end|>"]  # fmt: skip
QUESTION = [{"role": "user", "content": "What is 6 * 7?"}]


TOOLS = (nbchat.tools.Tool(multiply).schema(),)


@pytest.fixture(scope="module")
def scripted_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_scripted_gguf(tmp_path_factory.mktemp("scripted") / "scripted-qwen.gguf", QWEN_TEMPLATE, SCRIPT)


@pytest.fixture(scope="module")
def scripted(scripted_path: Path) -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(scripted_path)
    backend.prepare()
    yield backend
    backend.close()


def run(backend: LlamaCppBackend, messages: list[dict], **settings: object) -> tuple[list[object], GenerationInfo]:
    info = GenerationInfo()
    chosen = GenerationSettings(max_new_tokens=40, temperature=0, tools=TOOLS).replace(**settings)
    return list(backend.stream(messages, chosen, info, threading.Event())), info


def test_the_scripted_model_writes_the_call_token_by_token_and_llama_cpp_reads_it(scripted: LlamaCppBackend) -> None:
    deltas, info = run(scripted, QUESTION)
    assert all(isinstance(d, ToolCallDelta) for d in deltas), deltas  # no <tool_call> text reaches the chat
    assert len(deltas) > 2  # streamed in pieces as the model wrote them, not in one piece at the end
    calls = ToolCallAssembler()
    for delta in deltas:
        calls.add(delta)  # type: ignore[arg-type]
    [call] = calls.calls()
    assert (call.name, call.parsed_arguments()) == ("multiply", {"a": 6, "b": 7})
    assert info.finish_reason == "tool_calls"
    assert "<tools>" in (info.prompt or "")
    assert '"name": "multiply"' in (info.prompt or "")


def test_with_tool_choice_none_the_same_text_is_an_answer(scripted: LlamaCppBackend) -> None:
    deltas, info = run(scripted, QUESTION, tool_choice="none")
    assert "".join(map(str, deltas)).startswith("<tool_call>")
    assert info.finish_reason == "stop"


def test_a_round_after_the_tool_result_evaluates_only_the_new_tokens(scripted_path: Path) -> None:
    backend = LlamaCppBackend(scripted_path)
    conv = nbchat.Conversation(backend, tools=[multiply], tool_approval="auto", max_tool_rounds=1, temperature=0,
                               max_new_tokens=40, prepare="now")  # fmt: skip
    reply = conv.send("What is 6 * 7?").result(timeout=300)
    [round_] = reply.tool_rounds
    [call] = round_.calls
    assert (call.name, call.status, json.loads(call.result)) == ("multiply", "done", 42.0)
    tool_message = conv.messages[2]
    assert tool_message["role"] == "tool"
    assert tool_message["tool_call_id"] == call.id
    first_prompt = backend.count_tokens(QUESTION)  # the first round's prompt (with the tools, as it was sent)
    assert first_prompt is not None
    # the second round reused every token of the first round's prompt from llama.cpp's cache
    assert reply.stats["cached_tokens"] >= first_prompt
    assert reply.stats["prompt_tokens"] > reply.stats["cached_tokens"]
    conv.close()


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
@pytest.mark.parametrize("choice", ["required", None])
def test_the_embedded_model_calls_through_a_grammar(choice: str | None) -> None:
    """SmolLM2's template has no tool section: the tools go into the system message and the reply is constrained to
    a call or an answer (llama.cpp's grammar from the JSON schema)."""
    backend = LlamaCppBackend.embedded()
    deltas, info = run(backend, [{"role": "user", "content": "What is 1234 * 5678?"}], tool_choice=choice,
                       max_new_tokens=60)  # fmt: skip
    assert "You can call these tools" in (info.prompt or "")
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    if choice == "required":
        [call] = calls  # the grammar allows nothing else
        assert call.name == "multiply"
        assert set(json.loads(call.arguments)) == {"a", "b"}
        assert info.finish_reason == "tool_calls"
    else:  # a call or an answer: either way, well-formed
        assert calls or all(isinstance(d, str) for d in deltas)
    backend.close()


def test_generic_messages_write_calls_and_results_for_a_template_without_tools() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "multiply", "arguments": '{"a": 6, "b": 7}'}}
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "6*7?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    out = generic_messages(messages, TOOLS)
    assert out[0]["role"] == "system"
    assert out[0]["content"].startswith("Be brief.")
    assert '"name": "multiply"' in out[0]["content"]
    assert json.loads(out[2]["content"]) == {"tool_call": {"name": "multiply", "arguments": {"a": 6, "b": 7}}}
    assert out[3] == {"role": "user", "content": "Result of multiply: 42"}
    assert {m["role"] for m in out} == {"system", "user", "assistant"}


def test_a_constrained_reply_is_read_as_a_call_an_answer_or_the_text_it_is() -> None:
    said = read_generic('{"tool_call": {"name": "multiply", "arguments": {"a": 1, "b": 2}}}')
    assert isinstance(said, ToolCallDelta)
    assert json.loads(said.arguments) == {"a": 1, "b": 2}
    assert read_generic('{"response": "Hello"}') == "Hello"
    assert read_generic('{"tool_call": {"name": "multi') == '{"tool_call": {"name": "multi'  # cut short: kept
    bare = read_generic('{"name": "multiply", "arguments": {}}', wrapped=False)
    assert isinstance(bare, ToolCallDelta)
    assert bare.name == "multiply"
    schema = call_schema(TOOLS, required=True)
    assert schema["properties"]["tool_call"]["properties"]["name"] == {"const": "multiply"}
    assert "anyOf" in call_schema(TOOLS, required=False)


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
def test_llama_cpp_python_refuses_tools_before_sending_and_keeps_the_message() -> None:
    from nbchat.backends.llamacpp_python import LlamaCppPythonBackend, llama_cpp_python_available

    if not llama_cpp_python_available():
        pytest.skip("llama-cpp-python is not installed")
    conv = nbchat.Conversation(LlamaCppPythonBackend.embedded(), tools=[multiply], tool_approval="auto")
    reply = conv.send("What is 6 * 7?").result(timeout=120)
    assert reply.status == "error"
    assert "backend='llama.cpp'" in (reply.error or "")
    assert conv.history[0].content == "What is 6 * 7?"
    assert reply.stats.get("tokens") in (None, 0)  # nothing was generated
    conv.close()


@pytest.fixture(scope="module")
def served_scripted(scripted_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "nbchat", "serve", str(scripted_path), "--slots", "1", "--ctx-per-slot", "2048",
               "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout=120)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)


def test_through_nbchat_serve_the_call_reaches_the_openai_backend(served_scripted: str) -> None:
    """``nbchat serve`` is llama.cpp's own server: tools pass through its ``/v1/chat/completions`` and come back as
    streamed ``tool_calls`` deltas, which nbchat's OpenAI backend assembles."""
    from tests.test_serve import healthy

    healthy(served_scripted.removesuffix("/v1") + "/health")
    conv = nbchat.Conversation(served_scripted, model="scripted-qwen", tools=[multiply], tool_approval="auto",
                               max_tool_rounds=1, temperature=0, max_new_tokens=40, prepare="now")  # fmt: skip
    reply = conv.send("What is 6 * 7?").result(timeout=120)
    [round_] = reply.tool_rounds
    [call] = round_.calls
    assert (call.name, call.parsed_arguments(), call.status) == ("multiply", {"a": 6, "b": 7}, "done")
    assert reply.stats["tool_rounds"] == 1
    conv.close()
