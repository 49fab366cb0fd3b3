"""An OpenAI-compatible chat server that misbehaves on request: a test peer for the ``openai`` backend.

The model name picks the behaviour; the path prefix picks the server's quirks::

    model                 behaviour
    (any other name)      echo: "You said: <last user message>", one word per chunk, usage in the last chunk
    "slow"                like echo, 100 words, 50 ms apart (for Stop)
    "missing-model"       404 model_not_found
    "unauthorized"        401; the error body echoes the Authorization header (as some gateways do)
    "unauthorized-once"   that 401 for the first request of each question, then echo
    "forbidden"           403
    "rate-limited"        429 without Retry-After (a used-up quota: waiting will not help)
    "rate-limited-long"   429 with Retry-After: 30 (longer than nbchat waits by itself)
    "busy-once"           429 with Retry-After: 1 for the first request of each question and key, then echo
    "flaky-once"          503 without Retry-After for the first request of each question and key, then echo
    "server-error"        500
    "bad-gateway"         502, with retry-after-ms: 50
    "unavailable"         503, with retry-after-ms: 50
    "gateway-timeout"     504, with retry-after-ms: 50
    "cut-off"             two chunks, then the stream ends cleanly without a finish_reason
    "drop"                two chunks, then the connection is dropped in the middle of the response body
    "malformed"           two chunks, then a chunk that is not JSON
    "error-event"         two chunks, then an ``{"error": ...}`` event (a server failing mid-reply)
    "html"                200 with an HTML page instead of an event stream (a proxy's error page)
    "silent"              200 and SSE headers, then nothing (until the client goes away)
    "no-headers"          waits 30 s before answering at all
    "verbatim"            answers the last user message word for word (a test writes the JSON a model would), one word
                          per chunk; ``max_tokens`` counts words, past it the reply ends with ``finish_reason:
                          "length"``. Any ``response_format`` is checked first (see below)
    "tools"               scripted tool calls: each request takes the next entry of ``app.state.tool_script`` (a test
                          fills it); with none left, it answers "Results: <the last tool messages' contents>"

    prefix                quirk
    /v1                   none; ``GET /v1/models`` lists "echo" and "slow"
    /nomodels/v1          ``GET /models`` answers 500, as ``transformers serve`` < 5.24 did without a Hugging Face cache
    /strict/v1            400 for requests with ``stream_options`` (older servers)
    /auth/v1              401 unless the key is "sk-right"; the error body echoes the Authorization header

Tool calls stream as the OpenAI API and vLLM send them. OpenAI's API reference (Chat Completions, "The chat
completion chunk object": ``choices[].delta.tool_calls[]`` = ``{"index", "id", "type": "function", "function":
{"name", "arguments"}}``, https://platform.openai.com/docs/api-reference/chat-streaming/streaming) and vLLM's
``vllm/entrypoints/openai/protocol.py``::

    class DeltaFunctionCall(BaseModel):
        name: str | None = None
        arguments: str | None = None

    class DeltaToolCall(OpenAIBaseModel):
        id: str | None = None
        type: Literal["function"] | None = None
        index: int
        function: DeltaFunctionCall | None = None

The first delta of a call carries ``index``, ``id``, ``type`` and ``function.name`` (with ``arguments: ""``); later
deltas carry only ``index`` and a piece of ``function.arguments``; calls of one reply come one after another with
indices 0, 1, ...; the last chunk has ``finish_reason: "tool_calls"`` (vLLM ``serving_chat.py`` sets it when tools
were called). Requests are checked as the OpenAI API checks them: every ``tools`` entry is ``{"type": "function",
"function": {"name", ...}}``; an assistant message with ``tool_calls`` must be followed by one ``tool`` message per
call id (else 400 "An assistant message with 'tool_calls' must be followed by tool messages responding to each
'tool_call_id'"); a ``tool`` message's content is text or text parts only.

A script entry is a dict: ``text`` (streamed first), ``calls`` (a list of ``{"name", "arguments": JSON text as the
model writes it, "id"?}``), ``delay`` (seconds between chunks), ``pieces`` (chunks per arguments text, default 3),
``no_ids`` (send calls without ids, as some servers do). ``app.state.tool_requests`` keeps each tools request.
A stub run as its own process takes script entries as a JSON list posted to ``/_script`` (not an OpenAI route).

A message ``content`` may be a list of content parts, checked as the OpenAI API takes them (openai-python's
``ChatCompletionContentPartTextParam`` / ``ChatCompletionContentPartImageParam``: ``{"type": "text", "text": str}``,
``{"type": "image_url", "image_url": {"url": str, "detail"?: "auto" | "low" | "high"}}``); anything else is a 400
``invalid_request_error``. The echo then says the text parts and ``[image <media type>]`` per image.

``response_format`` is checked as OpenAI's API reference shapes it (Chat Completions, "response_format",
https://platform.openai.com/docs/api-reference/chat/create#chat-create-response_format): ``{"type": "text"}``,
``{"type": "json_object"}`` or ``{"type": "json_schema", "json_schema": {"name", "description"?, "schema"?,
"strict"?}}`` where ``name`` is letters, digits, ``_`` and ``-``, at most 64; with ``strict: true`` the Structured
Outputs guide's rules for the schema hold (https://platform.openai.com/docs/guides/structured-outputs, "Supported
schemas": every object has ``additionalProperties: false`` and lists all its properties in ``required``). Anything
else is a 400 ``invalid_request_error`` with the API's wording.

Every request body is appended to ``app.state.requests``, its headers to ``app.state.headers``. Run standalone:
``python openai_stub.py --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

app = FastAPI()
app.state.requests = []
app.state.headers = []
app.state.tool_script = []
app.state.tool_requests = []
_failed_once: set[tuple[str, str, str]] = set()  # (model, question, key) of requests that already failed once


class _DroppedStream(Response):
    """Sends the response head and ``chunks``, then returns without ending the body: the connection drops."""

    def __init__(self, chunks: list[str]) -> None:
        super().__init__(media_type="text/event-stream")
        self.chunks = chunks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
            await asyncio.sleep(0.05)


def _error(
    status: int, message: str, code: str, type_: str = "invalid_request_error", headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status, headers=headers)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/models")
@app.get("/{variant}/v1/models")
async def models(variant: str = "") -> Any:
    if variant == "nomodels":
        return JSONResponse({"detail": "Internal Server Error"}, 500)
    listed = [{"id": name, "object": "model", "owned_by": "stub"} for name in ("echo", "slow")]
    return {"object": "list", "data": listed}


def _part_problem(part: Any) -> str | None:
    if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
        return f"Invalid content part: {str(part)[:60]}; expected type 'text' or 'image_url'."
    if part["type"] == "text":
        return None if set(part) == {"type", "text"} and isinstance(part["text"], str) else "Invalid text part."
    image = part.get("image_url")
    if set(part) != {"type", "image_url"} or not isinstance(image, dict) or not isinstance(image.get("url"), str):
        return "Invalid image_url part: expected {'type': 'image_url', 'image_url': {'url': ...}}."
    if set(image) - {"url", "detail"} or image.get("detail", "auto") not in ("auto", "low", "high"):
        return "Invalid image_url part: unknown field or detail."
    return None


def _tools_problem(body: dict[str, Any]) -> str | None:
    """What the OpenAI API would refuse about tools and tool messages in a request (None: nothing)."""
    for entry in body.get("tools") or []:
        function = entry.get("function") if isinstance(entry, dict) else None
        if entry.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
            return "Invalid tools entry: expected {'type': 'function', 'function': {'name': ...}}."
    if body.get("tool_choice") not in (None, "auto", "required", "none") and not isinstance(body["tool_choice"], dict):
        return "Invalid tool_choice."
    owed: list[str] = []
    for message in body.get("messages") or []:
        if message.get("role") == "tool":
            if message.get("tool_call_id") not in owed:
                return "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'."
            owed.remove(message["tool_call_id"])
            content = message.get("content")
            if isinstance(content, list) and any(p.get("type") != "text" for p in content):
                return "Invalid content for a tool message: only text parts are allowed."
            continue
        if owed:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(owed)}"
            )
        if message.get("role") == "assistant" and message.get("tool_calls"):
            owed = [call["id"] for call in message["tool_calls"]]
    return None


def _tool_chunks(model: str, script: dict[str, Any]) -> list[dict[str, Any]]:
    """The deltas of one scripted reply with tool calls (see the module docstring)."""
    deltas: list[dict[str, Any]] = []
    for n, call in enumerate(script.get("calls", [])):
        first: dict[str, Any] = {"index": n, "type": "function", "function": {"name": call["name"], "arguments": ""}}
        if not script.get("no_ids"):
            first["id"] = call.get("id", f"chatcmpl-tool-{n}{abs(hash(call['name'])) % 10**8}")
        deltas.append({"tool_calls": [first]})
        text, count = call["arguments"], max(1, script.get("pieces", 3))
        size = max(1, -(-len(text) // count))
        for i in range(0, len(text), size):
            deltas.append({"tool_calls": [{"index": n, "function": {"arguments": text[i : i + size]}}]})
    return deltas


_FORMAT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _strict_problem(schema: Any, where: str = "()") -> str | None:
    """A rule of OpenAI's strict Structured Outputs that ``schema`` breaks (first found), or None."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            if schema.get("additionalProperties") is not False:
                return f"In context={where}, 'additionalProperties' is required to be supplied and to be false."
            missing = [k for k in schema.get("properties", {}) if k not in schema.get("required", [])]
            if missing:
                return f"In context={where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing[0]}'."  # noqa: E501 - the API's sentence
        for key, value in schema.items():
            inner = _strict_problem(value, f"{where}, '{key}'") if isinstance(value, (dict, list)) else None
            if inner:
                return inner
    elif isinstance(schema, list):
        for item in schema:
            inner = _strict_problem(item, where)
            if inner:
                return inner
    return None


def _format_problem(body: dict[str, Any]) -> str | None:
    """What OpenAI would say about the request's ``response_format``, or None when it is fine or absent."""
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        return "Invalid value: 'response_format.type'. Supported values are: 'text', 'json_object', and 'json_schema'."
    if fmt["type"] != "json_schema":
        return None
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        return "Missing required parameter: 'response_format.json_schema'."
    unknown = set(spec) - {"name", "description", "schema", "strict"}
    if unknown:
        return f"Unrecognized request argument supplied: response_format.json_schema.{sorted(unknown)[0]}"
    if "name" not in spec:
        return "Missing required parameter: 'response_format.json_schema.name'."
    if not isinstance(spec["name"], str) or not _FORMAT_NAME.fullmatch(spec["name"]):
        return "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."  # noqa: E501 - the API's sentence
    if "schema" in spec and not isinstance(spec["schema"], dict):
        return "Invalid type for 'response_format.json_schema.schema': expected an object."
    if "strict" in spec and not isinstance(spec["strict"], (bool, type(None))):
        return "Invalid type for 'response_format.json_schema.strict': expected a boolean."
    if spec.get("strict"):
        problem = _strict_problem(spec.get("schema", {}))
        if problem:
            return f"Invalid schema for response_format '{spec['name']}': {problem}"
    return None


def _said(content: Any) -> str:
    if isinstance(content, str):
        return content
    out = []
    for part in content:
        if part["type"] == "text":
            out.append(part["text"])
        else:
            out.append(f"[image {part['image_url']['url'].partition(';')[0].removeprefix('data:')}]")
    return " ".join(out)


@app.post("/_script")
async def add_script(request: Request) -> JSONResponse:
    """Not part of the OpenAI API: append entries to the "tools" model's script (a list of dicts, see above), for a
    stub started as its own process (notebooks/09_tools.ipynb); in-process tests fill ``app.state.tool_script``."""
    entries = await request.json()
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return JSONResponse({"error": "expected a list of script entries"}, status_code=400)
    app.state.tool_script.extend(entries)
    return JSONResponse({"queued": len(app.state.tool_script)})


@app.post("/v1/chat/completions")
@app.post("/{variant}/v1/chat/completions")
async def chat(request: Request, variant: str = "") -> Any:
    body = await request.json()
    app.state.requests.append(body)
    app.state.headers.append(dict(request.headers))
    model = body.get("model", "")
    for message in body.get("messages") or []:
        if isinstance(message.get("content"), list):
            problems = [p for p in map(_part_problem, message["content"]) if p]
            if problems:
                return _error(400, problems[0], "invalid_value")
    question = str(body["messages"][-1].get("content", "")) if body.get("messages") else ""
    first = (model, question, request.headers.get("authorization", ""))
    once = model.endswith("-once") and first not in _failed_once
    if once:
        _failed_once.add(first)
    if (
        (variant == "auth" and request.headers.get("authorization") != "Bearer sk-right")
        or model == "unauthorized"
        or (model == "unauthorized-once" and once)
    ):
        auth = request.headers.get("authorization")
        return _error(401, f"Incorrect API key provided. Received: Authorization: {auth}", "invalid_api_key")
    problem = _tools_problem(body) or _format_problem(body)
    if problem:
        return _error(400, problem, "invalid_request_error")
    if variant == "strict" and "stream_options" in body:
        return _error(400, "Unrecognized request argument supplied: stream_options", "invalid_argument")
    if model == "missing-model":
        return _error(404, f"The model `{model}` does not exist or you do not have access to it.", "model_not_found")
    if model == "forbidden":
        return _error(403, "This key has no access to the model in your region.", "unsupported_country")
    if model == "rate-limited":
        return _error(429, "You exceeded your current quota.", "insufficient_quota", "insufficient_quota")
    if model == "rate-limited-long":
        headers = {"retry-after": "30"}
        return _error(429, "Rate limit reached for requests.", "rate_limit_exceeded", "requests", headers)
    if model in ("busy-once", "flaky-once") and once:
        if model == "busy-once":
            return _error(429, "Rate limit reached.", "rate_limit_exceeded", "requests", {"retry-after": "1"})
        return _error(503, "The engine is currently overloaded.", "overloaded", "server_error")
    if model == "server-error":
        return _error(500, "The server had an error while processing your request.", "server_error", "server_error")
    gateway = {"bad-gateway": (502, "Bad gateway"), "unavailable": (503, "Service unavailable"),
               "gateway-timeout": (504, "Gateway timeout")}  # fmt: skip
    if model in gateway:
        status, text = gateway[model]
        return _error(status, text, "upstream_error", "server_error", {"retry-after-ms": "50"})
    if model == "html":
        return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>")
    if model == "drop":
        return _DroppedStream(
            [_chunk(model, {"role": "assistant", "content": "You"}), _chunk(model, {"content": " said"})]
        )
    if model == "no-headers":
        for _ in range(300):
            if await request.is_disconnected():
                return JSONResponse({}, 499)
            await asyncio.sleep(0.1)
    if model == "tools":
        return StreamingResponse(_scripted(model, body, request), media_type="text/event-stream")
    if model == "verbatim":
        words = _said(body["messages"][-1]["content"]).split(" ")
    else:
        words = (["w"] * 100) if model == "slow" else f"You said: {_said(body['messages'][-1]['content'])}".split(" ")
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 1000
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))
    prompt_tokens = sum(len(str(m.get("content", "")).split()) + 3 for m in body["messages"])

    if not body.get("stream"):
        text = " ".join(words[:max_tokens])
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }

    async def events() -> AsyncIterator[str]:
        yield _chunk(model, {"role": "assistant", "content": ""})
        if model == "silent":
            while not await request.is_disconnected():
                await asyncio.sleep(0.1)
            return
        sent, text, finish = 0, "", "stop"
        for i, word in enumerate(words):
            if sent >= max_tokens:
                finish = "length"
                break
            piece = word if i == 0 else f" {word}"
            if any(s in text + piece for s in stop):
                break
            if model == "slow":
                await asyncio.sleep(0.05)
            yield _chunk(model, {"content": piece})
            sent, text = sent + 1, text + piece
            if model == "cut-off" and sent == 2:
                return  # the connection ends: no finish_reason, no [DONE]
            if model == "malformed" and sent == 2:
                yield 'data: {"id": "chatcmpl-stub", "choices": [{"delta": {"content": \n\n'
            if model == "error-event" and sent == 2:
                yield f"data: {json.dumps({'error': {'message': 'The model crashed mid-reply.', 'code': 500}})}\n\n"
                return
        yield _chunk(model, {}, finish)
        if usage_wanted:
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": sent, "total_tokens": prompt_tokens + sent}
            body_ = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "model": model, "choices": []}
            yield f"data: {json.dumps({**body_, 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def _scripted(model: str, body: dict[str, Any], request: Request) -> AsyncIterator[str]:
    """One reply of the scripted tool-calling "model"."""
    app.state.tool_requests.append(body)
    if app.state.tool_script:
        script = app.state.tool_script.pop(0)
    else:
        results = []
        for message in reversed(body["messages"]):
            if message["role"] != "tool":
                break
            results.insert(0, _said(message["content"]))
        script = {"text": "Results: " + " | ".join(results)}
    delay = float(script.get("delay", 0))
    yield _chunk(model, {"role": "assistant", "content": ""})
    text = script.get("text", "")
    for i, word in enumerate(text.split(" ") if text else []):
        yield _chunk(model, {"content": word if i == 0 else f" {word}"})
    for delta in _tool_chunks(model, script):
        if delay:
            await asyncio.sleep(delay)
            if await request.is_disconnected():
                return
        yield _chunk(model, delta)
    yield _chunk(model, {}, "tool_calls" if script.get("calls") else "stop")
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    last = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}
    yield f"data: {json.dumps(last)}\n\n"
    yield "data: [DONE]\n\n"


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
