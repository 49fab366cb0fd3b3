"""A text-generation-inference (TGI) server with a scripted "model": a test peer for the ``tgi`` backend.

It follows TGI's documented REST protocol (https://huggingface.github.io/text-generation-inference/):

- ``POST /generate_stream``: server-sent events, one per token, ``{"token": {"id", "text", "logprob", "special"},
  "generated_text": null, "details": null}``; the last event carries ``generated_text`` and ``details``
  (``finish_reason`` "length" | "eos_token" | "stop_sequence", ``generated_tokens``). Failures mid-stream are an
  event ``{"error": "...", "error_type": "generation"}``.
- ``POST /generate``: ``{"generated_text": ..., "details": {...}}``.
- ``POST /``: either of the above, chosen by the body's ``"stream"`` (what ``text_generation.Client`` and
  ``huggingface_hub.InferenceClient`` call); non-streaming answers are a one-element list, as TGI's are.
- ``GET /info``: model id and token limits. Validation errors are 422 ``{"error", "error_type": "validation"}``,
  as TGI's are: ``temperature`` must be > 0, ``top_p`` in (0, 1), ``max_new_tokens`` <= 1024.

The "model" answers from a script: the savanna questions of the Falcon lesson (the second answer depends on the
first being in the prompt, so history matters), else "You said: <last user message>". It then runs on into a
made-up next turn ("\\nUser: ...") as raw models do, so stop sequences matter, and ends with an EOS token.
Words in the last user message trigger failures: "trigger-overloaded" (429), "trigger-generation-error" (error
event after two tokens), "trigger-slow" (200 tokens, 50 ms apart), "trigger-hang" (headers, then nothing).
"trigger-think" makes it a reasoning model that writes a ``<think>`` block before its answer, as Qwen3 and
DeepSeek-R1 do in TGI (which passes their text through unchanged).

Run standalone: ``python tgi_stub.py --port 8080``. Request bodies are appended to ``app.state.requests``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

MODEL_ID = "stub/falcon-7b-instruct"
MAX_NEW_TOKENS = 1024
EOS = "<|endoftext|>"

app = FastAPI()
app.state.requests = []


def _last_user_message(prompt: str) -> str:
    falcon = r"User: (.*?)\nAssistant:\s*$"
    chatml = r"<\|im_start\|>user\n(.*?)<\|im_end\|>\n<\|im_start\|>assistant\n$"
    for pattern in (falcon, chatml):
        match = re.search(pattern, prompt, re.S)
        if match:
            return match.group(1).rsplit("User: ", 1)[-1]
    return prompt.strip()


def _answer(prompt: str) -> str:
    question = _last_user_message(prompt)
    if "savanna" in question.lower():
        answer = "Lions, elephants, giraffes, zebras and cheetahs live in the savanna."
    elif "strongest" in question.lower():
        answer = "Of these, the elephant is the strongest." if "Lions" in prompt else "The strongest what?"
    elif "trigger-slow" in question:
        answer = " ".join(["word"] * 200)
    elif "trigger-think" in question:
        answer = "<think>\nThe user wants a thought. Lions sleep 20 hours.\n</think>\n\nLions sleep a lot."
    else:
        answer = f"You said: {question}"
    return f" {answer}\nUser: And what else?\nAssistant: Nothing."


def _tokens(text: str) -> list[str]:
    return re.findall(r"\n|[ ]?[A-Za-z0-9'-]+|[ ]?[^\sA-Za-z0-9'-]", text)


def _validate(params: dict[str, Any]) -> JSONResponse | None:
    problem = None
    if params.get("temperature") is not None and params["temperature"] <= 0:
        problem = "`temperature` must be strictly positive"
    elif params.get("top_p") is not None and not 0 < params["top_p"] < 1:
        problem = "`top_p` must be > 0.0 and < 1.0"
    elif (params.get("max_new_tokens") or 20) > MAX_NEW_TOKENS:
        problem = f"`max_new_tokens` must be <= {MAX_NEW_TOKENS}. Given: {params['max_new_tokens']}"
    return None if problem is None else JSONResponse({"error": problem, "error_type": "validation"}, 422)


def _run(prompt: str, params: dict[str, Any]) -> tuple[list[str], str]:
    """Tokens the model generates for ``prompt`` and the finish reason, honouring max_new_tokens and stop."""
    limit = params.get("max_new_tokens") or 20
    stops = [s for s in params.get("stop") or [] if s]
    out: list[str] = []
    text = ""
    for token in [*_tokens(_answer(prompt)), EOS]:
        if len(out) >= limit:
            return out, "length"
        out.append(token)
        if token == EOS:
            return out, "eos_token"
        text += token
        if any(text.endswith(s) for s in stops):
            return out, "stop_sequence"
    return out, "eos_token"


def _event(i: int, token: str, last: bool, text: str = "", finish: str = "") -> str:
    body: dict[str, Any] = {
        "index": i,
        "token": {"id": 1000 + i, "text": token, "logprob": -0.5, "special": token == EOS},
        "top_tokens": None,
        "generated_text": text if last else None,
        "details": {"finish_reason": finish, "generated_tokens": i + 1, "seed": None} if last else None,
    }
    return f"data:{json.dumps(body)}\n\n"


async def _generate_stream(request: Request, body: dict[str, Any]) -> Any:
    prompt, params = body["inputs"], body.get("parameters") or {}
    invalid = _validate(params)
    if invalid is not None:
        return invalid
    question = _last_user_message(prompt)
    if "trigger-overloaded" in question:
        return JSONResponse({"error": "Model is overloaded", "error_type": "overloaded"}, 429)
    tokens, finish = _run(prompt, params)

    async def events() -> AsyncIterator[str]:
        if "trigger-hang" in question:
            while not await request.is_disconnected():
                await asyncio.sleep(0.1)
            return
        text = ""
        for i, token in enumerate(tokens):
            if "trigger-generation-error" in question and i == 2:
                yield f"data:{json.dumps({'error': 'CUDA out of memory', 'error_type': 'generation'})}\n\n"
                return
            if "trigger-slow" in question:
                await asyncio.sleep(0.05)
            if token != EOS:
                text += token
            yield _event(i, token, i == len(tokens) - 1, text, finish)

    return StreamingResponse(events(), media_type="text/event-stream")


def _generate(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
    params = body.get("parameters") or {}
    invalid = _validate(params)
    if invalid is not None:
        return invalid
    tokens, finish = _run(body["inputs"], params)
    text = "".join(t for t in tokens if t != EOS)
    if not params.get("details"):
        return {"generated_text": text}
    listed = [{"id": 1000 + i, "text": t, "logprob": -0.5, "special": t == EOS} for i, t in enumerate(tokens)]
    details = {"finish_reason": finish, "generated_tokens": len(tokens), "seed": None, "prefill": [], "tokens": listed}
    return {"generated_text": text, "details": details}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/info")
async def info() -> dict[str, Any]:
    return {
        "model_id": MODEL_ID,
        "model_sha": None,
        "model_pipeline_tag": "text-generation",
        "max_input_tokens": 1024,
        "max_total_tokens": 2048,
        "version": "stub",
    }


@app.post("/generate_stream")
async def generate_stream(request: Request) -> Any:
    body = await request.json()
    app.state.requests.append(body)
    return await _generate_stream(request, body)


@app.post("/generate")
async def generate(request: Request) -> Any:
    body = await request.json()
    app.state.requests.append(body)
    return _generate(body)


@app.post("/")
async def compat(request: Request) -> Any:
    body = await request.json()
    app.state.requests.append(body)
    if body.get("stream"):
        return await _generate_stream(request, body)
    result = _generate(body)
    return result if isinstance(result, JSONResponse) else [result]


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
