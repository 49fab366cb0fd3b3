"""OpenAI-compatible servers that stream reasoning, each in its own recorded dialect: a test peer for reasoning models.

The path prefix picks the dialect; the model name picks the pace::

    prefix           dialect (where the chunk shapes come from)
    /deepseek/v1     DeepSeek's API, deepseek-reasoner (api-docs.deepseek.com, "Reasoning Model" guide): the first
                     delta is ``{"role": "assistant", "content": null, "reasoning_content": ""}``, then
                     ``{"content": null, "reasoning_content": "..."}`` deltas, then ``{"content": "...",
                     "reasoning_content": null}``; the last chunk has ``finish_reason`` and ``usage`` with
                     ``completion_tokens_details.reasoning_tokens`` and DeepSeek's ``prompt_cache_hit_tokens`` /
                     ``prompt_cache_miss_tokens``. A request whose history carries ``reasoning_content`` gets
                     DeepSeek's 400 (its docs: "the reasoning_content field ... will result in a 400 error").
    /vllm/v1         vLLM's OpenAI server with a reasoning parser (vllm/entrypoints/openai/serving_chat.py,
                     docs "Reasoning Outputs"; the field is ``reasoning`` since vLLM 0.10, before that
                     ``reasoning_content``): ``{"role": "assistant", "content": ""}``, then ``{"reasoning": "..."}``
                     deltas, then ``{"content": "..."}``; ``finish_reason`` chunk with ``"stop_reason": null``;
                     with ``stream_options.include_usage`` a last chunk with ``"choices": []`` and ``usage``
                     (no reasoning_tokens).
    /llamacpp/v1     llama.cpp's server with ``--jinja --reasoning-format deepseek`` (tools/server/README.md,
                     server-common ``to_json_oaicompat_chat_stream``): ``{"role": "assistant", "content": null}``,
                     ``{"reasoning_content": "..."}`` deltas, ``{"content": "..."}`` deltas, a final
                     ``{"finish_reason": "stop", "delta": {}}`` chunk carrying ``usage`` and ``timings``.
    /fastchat/v1     FastChat 0.2.36's openai_api_server (fastchat/serve/openai_api_server.py): no reasoning and no
                     usage in streams (it ignores ``stream_options``); an unknown model is HTTP 400 with
                     ``{"object": "error", "message": "...", "code": 40301}``.

    model            pace
    "replay"         every chunk at once
    "slow"           50 ms between reasoning chunks, 40 of them (live streaming, Stop while thinking)

Every request body is appended to ``app.state.requests``. Run standalone: ``python reasoning_stub.py --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()
app.state.requests = []

REASONING = [
    "Okay,",
    " the user",
    " asks which",
    " is greater:",
    " 9.11 or 9.8.",
    " Compare",
    " the tenths:",
    " $8 > 1$,",
    " so 9.8",
    " is greater.",
]
ANSWER = ["**9.8** is", " greater:", " $9.8 > 9.11$", " because", " $0.8 > 0.11$."]
SLOW_REASONING = [f" step {i}," for i in range(40)]
DIALECTS = ("deepseek", "vllm", "llamacpp", "fastchat")


def _event(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


def _base(dialect: str, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "chatcmpl-7f3a", "object": "chat.completion.chunk", "created": int(time.time())}
    body["model"] = model
    if dialect == "deepseek":
        body["system_fingerprint"] = "fp_3a5770e1b4_prod0225"
    if dialect == "llamacpp":
        body["system_fingerprint"] = "b6123-2241453"
    return body


def _choice(dialect: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if dialect in ("deepseek", "vllm"):
        choice["logprobs"] = None
    if dialect == "vllm" and finish is not None:
        choice["stop_reason"] = None
    return choice


def _reasoning_delta(dialect: str, text: str) -> dict[str, Any]:
    if dialect == "deepseek":
        return {"content": None, "reasoning_content": text}
    if dialect == "vllm":
        return {"reasoning": text}
    return {"reasoning_content": text}  # llama.cpp


def _answer_delta(dialect: str, text: str) -> dict[str, Any]:
    return {"content": text, "reasoning_content": None} if dialect == "deepseek" else {"content": text}


def replay(dialect: str, model: str, prompt_tokens: int, include_usage: bool) -> list[tuple[float, str]]:
    """The recorded-shape stream of ``dialect`` as ``(delay_s, event)`` pairs, ending with ``[DONE]``."""
    reasoning = SLOW_REASONING if model == "slow" else REASONING
    pause = 0.05 if model == "slow" else 0.0
    first = {
        "deepseek": {"role": "assistant", "content": None, "reasoning_content": ""},
        "vllm": {"role": "assistant", "content": ""},
        "llamacpp": {"role": "assistant", "content": None},
        "fastchat": {"role": "assistant"},
    }[dialect]
    out = [(0.0, _event({**_base(dialect, model), "choices": [_choice(dialect, first)]}))]
    if dialect != "fastchat":
        for piece in reasoning:
            delta = _reasoning_delta(dialect, piece)
            out.append((pause, _event({**_base(dialect, model), "choices": [_choice(dialect, delta)]})))
    for piece in ANSWER:
        delta = _answer_delta(dialect, piece)
        out.append((0.0, _event({**_base(dialect, model), "choices": [_choice(dialect, delta)]})))
    completion = len(ANSWER) + (0 if dialect == "fastchat" else len(reasoning))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
    final = {**_base(dialect, model)}
    if dialect == "deepseek":
        usage.update(
            prompt_tokens_details={"cached_tokens": 0},
            completion_tokens_details={"reasoning_tokens": len(reasoning)},
            prompt_cache_hit_tokens=0,
            prompt_cache_miss_tokens=prompt_tokens,
        )
        final.update(choices=[_choice(dialect, {"content": "", "reasoning_content": None}, "stop")], usage=usage)
        out.append((0.0, _event(final)))
    elif dialect == "vllm":
        out.append((0.0, _event({**final, "choices": [_choice(dialect, {"content": ""}, "stop")]})))
        if include_usage:
            out.append((0.0, _event({**_base(dialect, model), "choices": [], "usage": usage})))
    elif dialect == "llamacpp":
        timings = {"prompt_n": prompt_tokens, "prompt_ms": 12.5, "predicted_n": completion, "predicted_ms": 250.0}
        final.update(choices=[_choice(dialect, {}, "stop")], usage=usage, timings=timings)
        out.append((0.0, _event(final)))
    else:  # FastChat: no usage in streams
        out.append((0.0, _event({**final, "choices": [_choice(dialect, {}, "stop")]})))
    out.append((0.0, "data: [DONE]\n\n"))
    return out


@app.get("/{dialect}/v1/models")
async def models(dialect: str) -> Any:
    return {"object": "list", "data": [{"id": "replay", "object": "model", "owned_by": dialect}]}


@app.post("/{dialect}/v1/chat/completions")
async def chat(request: Request, dialect: str) -> Any:
    body = await request.json()
    app.state.requests.append(body)
    model = str(body.get("model", ""))
    if dialect not in DIALECTS:
        return JSONResponse({"detail": "Not Found"}, 404)
    if dialect == "fastchat" and model not in ("replay", "slow"):
        message = f"Only replay&&slow allowed now, your model {model}"  # FastChat's check_model wording
        return JSONResponse({"object": "error", "message": message, "code": 40301}, 400)
    if dialect == "deepseek" and any("reasoning_content" in m for m in body.get("messages", [])):
        error = {
            "message": "The reasoning_content is an intermediate result for display purposes only and will not be "
            "included in the context for inference. Please remove the reasoning_content from your message "
            "to reduce network traffic.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
        return JSONResponse({"error": error}, 400)
    prompt_tokens = sum(len(str(m.get("content", "")).split()) + 3 for m in body.get("messages", []))
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events = replay(dialect, model, prompt_tokens, include_usage)

    async def stream() -> AsyncIterator[str]:
        for delay, event in events:
            if delay:
                await asyncio.sleep(delay)
                if await request.is_disconnected():
                    return
            yield event

    return StreamingResponse(stream(), media_type="text/event-stream")


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
