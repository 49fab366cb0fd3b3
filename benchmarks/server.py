"""nbchat on a real OpenAI-compatible server (`transformers serve` on 127.0.0.1), side by side with the raw client."""

from __future__ import annotations

import time

from ._report import Figure, stop_latency

PROMPT = "Write a long story about a lion who wanted to fly."


def _raw_stream(base_url: str, model: str, max_new: int) -> float:
    """Decode tokens/s read straight from the `openai` client's stream (the reference)."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
    start, first, chunks, usage = time.perf_counter(), None, 0, None
    with client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=max_new,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage.completion_tokens
            if chunk.choices and chunk.choices[0].delta.content:
                chunks += 1
                if first is None:
                    first = time.perf_counter()
    end = time.perf_counter()
    tokens = usage or chunks
    assert first is not None, f"no text streamed (started {start})"
    return (tokens - 1) / (end - first)


def server_figures(runs: int, max_new: int) -> list[Figure]:
    """Decode rate through Conversation + widget vs the raw client; Stop latency on the server path."""
    import nbchat
    from nbchat.testing import recording_comms
    from tests.servers.transformers_serve import embedded_model_dir, start_transformers_serve

    served = start_transformers_serve(embedded_model_dir())
    try:
        with recording_comms():
            chat = nbchat.Chat(
                served.base_url, model=served.model, prepare="now", temperature=0, max_new_tokens=max_new
            )
            raw, ours = [], []
            for _ in range(runs):  # interleaved: both see the same machine state
                raw.append(_raw_stream(served.base_url, served.model, max_new))
                chat.clear()
                chat.ask(PROMPT)
                ours.append(chat.conversation.history[-1].stats["tokens_per_s"])
            stop_s = stop_latency(chat, runs)
    finally:
        served.stop()
    raw_tps, our_tps = sorted(raw)[runs // 2], sorted(ours)[runs // 2]
    return [
        Figure("decode through Conversation + widget (server)", our_tps, "tok/s", raw_tps, "raw openai client stream",
               "≥ 0.98× reference", our_tps >= 0.98 * raw_tps),
        Figure("Stop → worker finished (server)", stop_s * 1000, "ms", None, "", "≤ 200 ms", stop_s <= 0.2),
    ]  # fmt: skip


def import_figure(runs: int) -> list[Figure]:
    """`import nbchat` in a fresh process (heavy libraries load lazily), vs `import torch, transformers`."""
    import subprocess
    import sys

    def seconds(code: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return float(out.stdout.split()[-1])

    ours = sorted(seconds("import nbchat") for _ in range(runs))[runs // 2]
    heavy = sorted(seconds("import torch, transformers") for _ in range(runs))[runs // 2]
    return [Figure("import nbchat", ours * 1000, "ms", heavy * 1000, "import torch, transformers",
                   "fast (lazy imports)", ours < 0.2 * heavy)]  # fmt: skip
