"""The embedded model through nbchat, side by side with plain transformers in the same process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from ._report import Figure, stop_latency

_START_SCRIPT = """
import time, sys
t0 = time.perf_counter()
import torch, transformers  # imports are timed separately: a kernel that ran nbchat before has them
t1 = time.perf_counter()
import nbchat
from nbchat.backends.transformers import TransformersBackend
conv = nbchat.Conversation(TransformersBackend.embedded(), prepare="now")
t2 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f}")
"""


_START_SCRIPT_LLAMA_CPP = """
import time
t0 = time.perf_counter()
import nbchat
conv = nbchat.Conversation(backend="llama.cpp", prepare="now")
print(f"{time.perf_counter() - t0:.4f}")
"""


def _start_times(cache: str, script: str = _START_SCRIPT) -> tuple[float, ...]:
    env = {**os.environ, "NBCHAT_CACHE_DIR": cache, "TRANSFORMERS_VERBOSITY": "error"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return tuple(float(x) for x in out[-2 if script == _START_SCRIPT else -1 :])


def start_figures(runs: int) -> list[Figure]:
    """Embedded model start in fresh processes: llama.cpp (the default when installed: no conversion, no torch), and
    transformers cold (GGUF conversion into an empty cache) and warm (the converted copy)."""
    from nbchat.backends.llamacpp import llama_cpp_available

    figures = []
    with tempfile.TemporaryDirectory(prefix="nbchat-bench-cache-") as cache:
        if llama_cpp_available():
            llama = sorted(_start_times(cache, _START_SCRIPT_LLAMA_CPP)[0] for _ in range(runs))[runs // 2]
            figures.append(
                Figure("embedded model start (llama.cpp)", llama, "s", None, "", "≤ 2 s", llama <= 2,
                       note="import nbchat and llama_cpp, map the GGUF file, read its chat template; new process")
            )  # fmt: skip
        _, cold = _start_times(cache)
        warm_runs = [_start_times(cache) for _ in range(runs)]
    warm = sorted(w for _, w in warm_runs)[len(warm_runs) // 2]
    import_s = sorted(i for i, _ in warm_runs)[len(warm_runs) // 2]
    return [
        *figures,
        Figure("embedded model start, warm (transformers)", warm, "s", cold, "cold start (GGUF conversion)", "≤ 2 s",
               warm <= 2, note=f"plus {import_s:.2f} s to import torch + transformers in a new process"),
    ]  # fmt: skip


def _raw_generate(model: Any, tokenizer: Any, messages: list[dict[str, str]], max_new: int) -> dict[str, float]:
    """Plain transformers: generate in a thread, read a TextIteratorStreamer (the documented streaming recipe)."""
    from transformers import TextIteratorStreamer

    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    result: dict[str, Any] = {}
    start = time.perf_counter()
    thread = threading.Thread(
        target=lambda: result.update(
            out=model.generate(**inputs, streamer=streamer, max_new_tokens=max_new, do_sample=False)
        )
    )
    thread.start()
    first = None
    for text in streamer:
        if first is None and text:
            first = time.perf_counter()
    end = time.perf_counter()
    thread.join()
    tokens = result["out"].shape[1] - inputs["input_ids"].shape[1]
    assert first is not None
    return {"ttft": first - start, "tps": (tokens - 1) / (end - first), "tokens": tokens}


def throughput_figures(runs: int, max_new: int) -> list[Figure]:
    """Decode tokens/s through Conversation + widget (recording comm) vs raw generate; Stop latency; long-chat TTFT."""
    import nbchat
    from nbchat.backends.transformers import TransformersBackend
    from nbchat.testing import recording_comms

    with recording_comms():
        chat = nbchat.Chat(TransformersBackend.embedded(), prepare="now", temperature=0, max_new_tokens=max_new)
        backend = chat.conversation.backend
        model, tokenizer = backend._model, backend._tokenizer  # the very same weights
        question = [{"role": "user", "content": "Write a long story about a lion who wanted to fly."}]
        raw_tps, ours_tps = [], []
        for _ in range(runs):  # interleaved, so both see the same machine state
            raw_tps.append(_raw_generate(model, tokenizer, question, max_new)["tps"])
            chat.clear()
            chat.ask(question[0]["content"])
            ours_tps.append(chat.conversation.history[-1].stats["tokens_per_s"])
        raw, ours = sorted(raw_tps)[runs // 2], sorted(ours_tps)[runs // 2]
        figures = [
            Figure("decode through Conversation + widget (local)", ours, "tok/s", raw, "model.generate + streamer",
                   "≥ 0.98× reference", ours >= 0.98 * raw),
        ]  # fmt: skip

        stop = stop_latency(chat, runs)  # Stop → worker finished, vs one token's time
        token_s = 1 / raw
        figures.append(Figure("Stop → worker finished (local)", stop * 1000, "ms", token_s * 1000, "one token",
                              "≤ 1 token time", stop <= token_s))  # fmt: skip
    figures += long_chat_ttft(chat.conversation, model, tokenizer, runs)
    return figures


def long_chat_ttft(conv: Any, model: Any, tokenizer: Any, runs: int) -> list[Figure]:
    """TTFT at turn 10 of a conversation with ≥ 2,000 tokens of history: prefix reuse vs re-prefilling it all."""
    conv.clear()
    conv.settings = conv.settings.replace(max_new_tokens=16)
    paragraph = (
        "The savanna is a mixed woodland-grassland ecosystem where the trees are spaced widely enough that the "
        "canopy does not close, letting sunlight reach the ground and sustain an unbroken layer of grasses. "
    )
    turn1 = []
    for turn in range(9):
        conv.ask(f"Note {turn}: {paragraph * 5} Summarise note {turn} in one line.")
        turn1.append(conv.history[-1].stats["ttft_s"])
    history_tokens = conv.backend.count_tokens(conv.build_messages())
    questions = ["Which animals live in the savanna?", "What is the climate like there?", "Name a savanna bird."]
    ours, raw = [], []
    for n in range(runs):  # each run asks a different turn-10 question at the same point of the conversation
        question = questions[n % len(questions)]
        raw.append(_raw_generate(model, tokenizer, conv.build_messages(question), 16)["ttft"])
        conv.ask(question)  # only the tokens after the cached prefix are prefilled
        ours.append(conv.history[-1].stats["ttft_s"])
        for message in conv.history[-1:-3:-1]:  # the answer, then the question
            conv.delete(message.id)
    ours_s, raw_s = sorted(ours)[runs // 2], sorted(raw)[runs // 2]
    first = turn1[0]
    return [
        Figure("TTFT at turn 10 (local, prefix reuse)", ours_s * 1000, "ms", raw_s * 1000,
               f"plain generate re-prefilling {history_tokens} tokens", "≥ 5× faster",
               raw_s >= 5 * ours_s, note=f"speed-up {raw_s / ours_s:.1f}×"),
        Figure("TTFT turn 10 ÷ turn 1 (local)", ours_s / first, "×", None, "", "≤ 1.3", ours_s / first <= 1.3,
               note=f"turn 1 TTFT {first * 1000:.0f} ms with a {conv.history[0].content.count(' ') + 1}-word question"),
    ]  # fmt: skip
