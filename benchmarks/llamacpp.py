"""The embedded model on a CPU: llama.cpp (xllamacpp) and llama-cpp-python, each alone at its best and through
nbchat, transformers beside them, each against its memory-bandwidth floor.

Decoding one token reads every weight once, so a CPU cannot decode faster than
``read bandwidth ÷ bytes of weights``: the *floor* on time per token, shown here as a ceiling in tokens/s.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

from ._report import Figure

_QUESTION = "Write a long story about a lion who wanted to fly."
_NOTE = (
    "The savanna is a mixed woodland-grassland ecosystem where the trees are spaced widely enough that the "
    "canopy does not close, letting sunlight reach the ground and sustain an unbroken layer of grasses. "
)


def read_bandwidth(threads: int, size_bytes: int = 1 << 30, runs: int = 5) -> float:
    """Bytes per second ``threads`` threads read from memory: numpy sums of a ``size_bytes`` array, best of ``runs``.

    The array is 1 GiB, far beyond any cache; numpy's reductions release the GIL, so the threads run in parallel,
    each summing its own slice.
    """
    import numpy as np

    data = np.ones(size_bytes // 8, dtype=np.float64)
    parts = np.array_split(data, threads)
    best = float("inf")
    for _ in range(runs):
        barrier = threading.Barrier(threads + 1)

        def read(part: Any, barrier: threading.Barrier) -> None:
            barrier.wait()
            part.sum()

        workers = [threading.Thread(target=read, args=(p, barrier)) for p in parts]
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - start)
    return data.nbytes / best


def gguf_tensor_bytes(path: Any) -> int:
    """Bytes of all tensors in a GGUF file: what llama.cpp reads per token (tied embeddings are stored once)."""
    import gguf

    return sum(int(t.n_bytes) for t in gguf.GGUFReader(path).tensors)


def _llama_cpp_python_decode(llm: Any, tokens: list[int], max_new: int) -> dict[str, float]:
    """llama-cpp-python alone at its best: its ``Llama.generate`` loop, greedy, detokenising each token, run in the
    thread that loaded ``llm`` (the main thread). A different thread calling llama.cpp makes its OpenMP thread teams
    compete on few cores (measured here: 60-75 vs 107-129 tok/s), so that would be a handicapped reference."""
    import llama_cpp

    vocab = llm._model.vocab
    start = time.perf_counter()
    first = end = start
    count = 0
    text = b""
    generator = llm.generate(tokens, temp=0.0, repeat_penalty=1.0)
    for token in generator:
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        text += llm.detokenize([token])
        count += 1
        if count == 1:
            first = time.perf_counter()
        if count >= max_new:
            break
    end = time.perf_counter()
    generator.close()
    return {"ttft": first - start, "tps": (count - 1) / (end - first) if count > 1 else 0.0, "tokens": count}


def engine_decode(backend: Any, tokens: list[int], max_new: int, *, cache_prompt: bool = True) -> dict[str, float]:
    """llama.cpp's server engine alone (xllamacpp): one greedy ``/v1/completions`` request from this thread, holding
    the backend's lock; tok/s as llama.cpp itself times its decode (``timings.predicted_per_second``), TTFT from the
    request to the first chunk with text; ``prompt_ms`` and ``prompt_n``: the prompt tokens llama.cpp evaluated (those
    after its cached prefix) and how long that took, by its own timing."""
    import json

    body = json.dumps({"prompt": tokens, "max_tokens": max_new, "temperature": 0.0, "stream": True,
                       "cache_prompt": cache_prompt}).encode()  # fmt: skip
    first: list[float] = []
    last: dict[str, Any] = {}

    def on_chunk(data: bytes) -> bool:
        chunk = json.loads(data)
        if not first and (chunk.get("choices") or [{}])[0].get("text"):
            first.append(time.perf_counter())
        if chunk.get("timings"):
            last.update(chunk["timings"])
        return False

    with backend._shared.lock:
        start = time.perf_counter()
        backend._shared.server.handle_completions(body, on_chunk)
    return {"ttft": (first[0] if first else time.perf_counter()) - start,
            "tps": float(last.get("predicted_per_second", 0.0)), "tokens": int(last.get("predicted_n", 0)),
            "prompt_ms": float(last.get("prompt_ms", 0.0)), "prompt_n": int(last.get("prompt_n", 0))}  # fmt: skip


def llamacpp_figures(runs: int, max_new: int) -> list[Figure]:
    """Bandwidth floors; decode tok/s of llama.cpp (xllamacpp) and llama-cpp-python, each alone at its best and through
    nbchat; transformers beside them; Stop; TTFT at turn 11 of a ~2,000-token conversation."""
    import nbchat
    from nbchat._embedded import embedded_gguf_path
    from nbchat.backends.llamacpp import LlamaCppBackend, physical_cores
    from nbchat.backends.llamacpp_python import LlamaCppPythonBackend, llama_cpp_python_available
    from nbchat.backends.transformers import TransformersBackend
    from nbchat.testing import recording_comms

    from ._report import stop_latency

    threads = physical_cores()
    bandwidth = max(read_bandwidth(1), read_bandwidth(threads)) if threads > 1 else read_bandwidth(1)
    gguf_bytes = gguf_tensor_bytes(embedded_gguf_path())
    load = os.getloadavg()[0]
    figures = [
        Figure("memory read bandwidth (numpy sum of 1 GiB)", bandwidth / 1e9, "GB/s",
               note=f"best of 5, 1 and {threads} threads; the floors below divide it by the bytes read per token; "
                    f"load average at the start {load:.1f} on {os.cpu_count()} CPUs"),
    ]  # fmt: skip
    settings = {"prepare": "now", "temperature": 0, "max_new_tokens": max_new}
    with recording_comms():
        fast = nbchat.Chat(conversation=nbchat.Conversation(LlamaCppBackend.embedded(), **settings))
        slow = nbchat.Chat(conversation=nbchat.Conversation(TransformersBackend.embedded(), **settings))
        backend = fast.conversation.backend
        tokens = backend._tokenize(backend._render([{"role": "user", "content": _QUESTION}]))
        param_bytes = sum(p.numel() * p.element_size() for p in slow.conversation.backend._model.parameters())
        other = None
        llms: dict[int, Any] = {}  # decode threads -> a Llama loaded by this thread (the main thread)
        if llama_cpp_python_available():
            other = nbchat.Chat(conversation=nbchat.Conversation(LlamaCppPythonBackend.embedded(), **settings))
            import llama_cpp

            for n_threads in sorted({1, threads}):  # its best on this machine: one thread or all of them
                llms[n_threads] = llama_cpp.Llama(
                    model_path=str(embedded_gguf_path()),
                    n_ctx=4096,
                    n_threads=n_threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        alone, ours, other_ours, theirs = [], [], [], []
        other_alone: dict[int, list[float]] = {n: [] for n in llms}
        pairs = max(3, 2 * runs - 1)  # llama.cpp runs take a second: more of them, as the machine's noise is large
        for n in range(pairs):  # interleaved, so all of them see the same machine state
            alone.append(engine_decode(backend, tokens, max_new)["tps"])
            fast.clear()
            fast.ask(_QUESTION)
            ours.append(fast.conversation.history[-1].stats["tokens_per_s"])
            if other is not None:
                for n_threads, llm in llms.items():
                    other_alone[n_threads].append(_llama_cpp_python_decode(llm, tokens, max_new)["tps"])
                other.clear()
                other.ask(_QUESTION)
                other_ours.append(other.conversation.history[-1].stats["tokens_per_s"])
            if n < runs:
                slow.clear()
                slow.ask(_QUESTION)
                theirs.append(slow.conversation.history[-1].stats["tokens_per_s"])
        raw, ours_tps, tf_tps = statistics.median(alone), statistics.median(ours), statistics.median(theirs)
        paired = statistics.median(o / d for o, d in zip(ours, alone, strict=True))  # each run beside its reference
        tokens_out = fast.conversation.history[-1].stats["tokens"]
        floor_cpp, floor_tf = bandwidth / gguf_bytes, bandwidth / param_bytes
        figures += [
            Figure("decode through Conversation + widget (llama.cpp)", ours_tps, "tok/s", raw,
                   "llama.cpp engine alone", "≥ 0.95× reference, ≥ 150 tok/s",
                   paired >= 0.95 and ours_tps >= 150, paired_ratio=paired,
                   note=f"xllamacpp; median of {pairs}, {tokens_out} tokens greedy, {backend.n_threads} decode "
                        "thread(s); reference: the engine's own decode timing for a request sent from the main "
                        f"thread; ratio: median of the {pairs} paired ratios (runs {min(ours):.0f}–{max(ours):.0f} vs "
                        f"{min(alone):.0f}–{max(alone):.0f} tok/s); {ours_tps / floor_cpp:.0%} of the bandwidth "
                        f"floor {floor_cpp:.0f} tok/s ({gguf_bytes / 1e6:.0f} MB of Q4_1 tensors per token)"),
        ]  # fmt: skip
        if other is not None:
            best = max(other_alone, key=lambda n: statistics.median(other_alone[n]))
            runs_best = other_alone[best]
            other_raw, other_tps = statistics.median(runs_best), statistics.median(other_ours)
            other_paired = statistics.median(o / d for o, d in zip(other_ours, runs_best, strict=True))
            by_threads = ", ".join(f"{n} thread(s) {statistics.median(r):.0f}" for n, r in other_alone.items())
            figures += [
                Figure("decode, llama-cpp-python alone (main thread, its best)", other_raw, "tok/s", raw,
                       "llama.cpp engine alone (xllamacpp)", "", None,
                       note=f"engine vs engine, median of {pairs} (runs {min(runs_best):.0f}–{max(runs_best):.0f}); "
                            "Llama.generate in the thread that loaded the model, detokenising each token; decode "
                            f"threads: {by_threads} tok/s"),
                Figure("decode through Conversation + widget (llama-cpp-python)", other_tps, "tok/s", other_raw,
                       "llama-cpp-python alone", "", None, paired_ratio=other_paired,
                       note="the optional engine (backend='llama-cpp-python'), called from nbchat's worker thread"),
            ]  # fmt: skip
        figures += [
            Figure("decode through Conversation + widget (transformers)", tf_tps, "tok/s", ours_tps,
                   "llama.cpp through nbchat", "", None,
                   note=f"float32, {tf_tps / floor_tf:.0%} of the bandwidth floor {floor_tf:.0f} tok/s "
                        f"({param_bytes / 1e6:.0f} MB of parameters per token); llama.cpp is "
                        f"{ours_tps / tf_tps:.1f}× faster"),
            Figure("bandwidth floor (llama.cpp, Q4_1)", floor_cpp, "tok/s", None, "", "", None),
            Figure("bandwidth floor (transformers, float32)", floor_tf, "tok/s", None, "", "", None),
        ]  # fmt: skip
        slow.conversation.close()
        for label, chat in (("llama.cpp", fast), ("llama-cpp-python", other)):
            if chat is None:
                continue
            stop = stop_latency(chat, runs)
            token_ms = 1000 / statistics.median(ours if chat is fast else other_ours)
            figures.append(Figure(f"Stop → worker finished ({label})", stop * 1000, "ms", token_ms, "one token",
                                  "≤ 3 token times", stop * 1000 <= 3 * token_ms))  # fmt: skip
            chat.conversation.settings = chat.conversation.settings.replace(max_new_tokens=max_new)
        if other is not None:
            other.conversation.close()
            llms.clear()
        figures += _long_chat_ttft(fast, runs)
        fast.conversation.close()
        q8 = nbchat.Chat(conversation=nbchat.Conversation(LlamaCppBackend.embedded(requantize="Q8_0"), **settings))
        figures += _long_chat_ttft(q8, runs, weights="Q8_0")  # the batched kernel's copy (opt-in for a chat)
        q8.conversation.close()
    return figures


def _typing_schedule(text: str, chars_per_s: float, draft_s: float) -> tuple[list[tuple[float, str]], float]:
    """When the widget sends drafts of ``text`` typed at ``chars_per_s``, and when Enter is pressed.

    Mirrors js/controls.ts: a keystroke with no draft pending starts a ``draft_s`` timer; when it fires, the text
    typed by then is sent if it changed. Enter comes one keystroke after the last character and drops a pending draft.
    """
    keys = [(i + 1) / chars_per_s for i in range(len(text))]
    enter = (len(text) + 1) / chars_per_s
    drafts: list[tuple[float, str]] = []
    due = None
    for t in keys:
        if due is not None and due <= t:
            typed = text[: sum(k <= due for k in keys)]
            if not drafts or drafts[-1][1] != typed:
                drafts.append((due, typed))
            due = None
        if due is None:
            due = t + draft_s
    if due is not None and due < enter:
        drafts.append((due, text))
    return drafts, enter


def _ask_typed(chat: Any, question: str, chars_per_s: float = 8.0) -> float:
    """Type ``question`` into the widget (drafts as the browser sends them), press Enter; seconds to the first token."""
    conv = chat.conversation
    drafts, enter = _typing_schedule(question, chars_per_s, 0.150)
    first: list[float] = []
    unsubscribe = conv.subscribe(lambda e: first.append(time.perf_counter()) if e.kind == "delta" else None)
    start = time.perf_counter()
    for at, text in drafts:
        time.sleep(max(0.0, start + at - time.perf_counter()))
        chat._on_custom_message(chat, {"kind": "draft", "text": text}, [])
    time.sleep(max(0.0, start + enter - time.perf_counter()))
    sent = time.perf_counter()
    chat._on_custom_message(chat, {"kind": "submit", "text": question}, [])
    conv._executor.submit(lambda: None).result()  # the reply is done
    unsubscribe()
    return first[0] - sent


def _ask_timed(conv: Any, question: str) -> float:
    """Seconds from sending ``question`` (as the widget's Enter does) to the reply's first delta: nbchat's own work
    before the request (choosing the context, the chat template, tokens) included."""
    first: list[float] = []
    unsubscribe = conv.subscribe(lambda e: first.append(time.perf_counter()) if e.kind == "delta" else None)
    try:
        sent = time.perf_counter()
        conv.ask(question)
    finally:
        unsubscribe()
    return first[0] - sent


def _long_chat_ttft(chat: Any, runs: int, *, weights: str = "") -> list[Figure]:
    """TTFT at turn 11 after ~2,000 tokens of history: llama.cpp's prefix reuse vs re-prefilling it all, and with
    the question typed into the widget (its drafts prefilled while typing). ``weights``: a label for a chat on other
    weights than the shipped file (then only the first figure)."""
    conv = chat.conversation
    conv.clear()
    conv.settings = conv.settings.replace(max_new_tokens=16)
    first_ttft = None
    for turn in range(10):
        conv.ask(f"Note {turn}: {_NOTE * 4} Summarise note {turn} in one line.")
        first_ttft = first_ttft or conv.history[-1].stats["ttft_s"]
    backend = conv.backend
    history_tokens = backend.count_tokens(conv.build_messages())
    questions = ["Which animals live in the savanna?", "What is the climate like there?", "Name a savanna bird."]

    def back_to_turn_10() -> None:
        for message in conv.history[-1:-3:-1]:  # the reply, then the question
            conv.delete(message.id)
        for _ in range(2):  # a user reads before asking: the worker gets the next turn's start ready meanwhile
            conv._executor.submit(lambda: None).result()

    def forget_cache(tokens: list[int]) -> float:  # the same prompt without the cache: all of it is evaluated
        return engine_decode(backend, tokens, 1, cache_prompt=False)["ttft"]

    ours, engine, typed, refill, new_tokens = [], [], [], [], []
    for n in range(runs):  # each run asks a turn-11 question at the same point of the conversation
        question = questions[n % len(questions)]
        tokens = backend._tokenize(backend._render(conv.build_messages(question)))
        ours.append(_ask_timed(conv, question))  # only the tokens after the cached history are evaluated
        engine.append(conv.history[-1].stats["ttft_s"])
        new_tokens.append(conv.history[-1].stats["prompt_tokens"] - conv.history[-1].stats["cached_tokens"])
        back_to_turn_10()
        refill.append(forget_cache(tokens))
        conv.ask(questions[(n + 1) % len(questions)])  # the cache ends with another question, as after a turn
        back_to_turn_10()
        if not weights:
            typed.append(_ask_typed(chat, question))
            back_to_turn_10()
    ours_s, engine_s, refill_s = statistics.median(ours), statistics.median(engine), statistics.median(refill)
    on = f", requantize={weights!r}" if weights else ""
    figures = [
        Figure(f"TTFT at turn 11 (llama.cpp, prefix reuse{on})", ours_s * 1000, "ms", refill_s * 1000,
               f"re-prefilling all {history_tokens} tokens", "≤ 50 ms", ours_s <= 0.05,
               note=f"send → first token, median of {runs}; speed-up {refill_s / ours_s:.1f}×; "
                    f"{statistics.median(new_tokens):.0f} new prompt tokens (question and chat template); the request "
                    f"alone (from the engine call) {engine_s * 1000:.0f} ms, nbchat's work before it (context, chat "
                    f"template, tokens) {(ours_s - engine_s) * 1000:.0f} ms; best run {min(ours) * 1000:.0f} ms; "
                    f"turn 1 TTFT {first_ttft * 1000:.0f} ms"),
    ]  # fmt: skip
    if weights:
        return figures
    typed_s = statistics.median(typed)
    return [
        *figures,
        Figure("TTFT at turn 11, question typed in the widget (llama.cpp)", typed_s * 1000, "ms", ours_s * 1000,
               "sent without typing ahead", "≤ 50 ms", typed_s <= 0.05,
               note="drafts sent as js/controls.ts does (every 150 ms while typing at 8 characters/s) are prefilled "
                    f"while typing; Enter → first token, median of {runs}; best run {min(typed) * 1000:.0f} ms"),
    ]  # fmt: skip
