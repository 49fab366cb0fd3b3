"""A reasoning stream (vLLM's dialect, replayed by tests/servers/reasoning_stub.py): TTFT of thinking and of answer.

The stub sends 40 reasoning chunks 50 ms apart, then the answer. nbchat's ``ttft_s`` (first token of either kind)
and ``first_answer_s`` are set beside the same instants read straight from the ``openai`` client's stream.
"""

from __future__ import annotations

import statistics
import time

from ._report import Figure


def _raw(base_url: str) -> tuple[float, float]:
    """(first reasoning chunk, first answer chunk), seconds after the request, from the raw client stream."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=0)
    start, thought, answer = time.perf_counter(), None, None
    with client.chat.completions.create(
        model="slow", messages=[{"role": "user", "content": "think"}], stream=True
    ) as stream:
        for chunk in stream:
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            if thought is None and getattr(delta, "reasoning", None):
                thought = time.perf_counter() - start
            if answer is None and delta.content:
                answer = time.perf_counter() - start
    assert thought is not None, "no reasoning chunk"
    assert answer is not None, "no answer chunk"
    return thought, answer


def reasoning_figures(runs: int) -> list[Figure]:
    """Median ``ttft_s`` and ``first_answer_s`` through nbchat against the raw client's first chunks of each kind."""
    import nbchat
    from tests.servers import reasoning_stub
    from tests.servers._runner import run_in_thread

    with run_in_thread(reasoning_stub.app) as url:
        base_url = f"{url}/vllm/v1"
        conv = nbchat.Conversation(base_url, model="slow", prepare="now", retries=0)
        raw, ours = [], []
        for _ in range(runs):
            raw.append(_raw(base_url))
            conv.clear()
            conv.ask("think")
            stats = conv.history[-1].stats
            ours.append((stats["ttft_s"], stats["first_answer_s"]))
        conv.close()
    raw_thought = statistics.median(r[0] for r in raw)
    raw_answer = statistics.median(r[1] for r in raw)
    thought = statistics.median(o[0] for o in ours)
    answer = statistics.median(o[1] for o in ours)
    return [
        Figure(
            "time to first thinking token (ttft_s, reasoning stub)",
            thought,
            "s",
            raw_thought,
            "raw openai client: first reasoning chunk",
            note="40 reasoning chunks 50 ms apart",
        ),
        Figure(
            "time to first answer token (first_answer_s, reasoning stub)",
            answer,
            "s",
            raw_answer,
            "raw openai client: first content chunk",
        ),
    ]
