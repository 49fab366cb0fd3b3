"""The embedded model on a CPU: llama.cpp through nbchat vs llama-cpp-python alone, transformers beside them, each
against its memory-bandwidth floor.

Decoding one token reads every weight once, so a CPU cannot decode faster than
``read bandwidth ÷ bytes of weights``: the *floor* on time per token, shown here as a ceiling in tokens/s.
"""

from __future__ import annotations

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


def _direct_decode(llm: Any, tokens: list[int], max_new: int) -> dict[str, float]:
    """llama-cpp-python alone: its ``Llama.generate`` token loop, greedy, detokenising each token.

    Run in a new thread, as nbchat runs it: on a busy machine, llama.cpp's OpenMP threads spin-wait less harmfully
    when the calling thread is not the process's main thread (measured here: 2-15 vs 23-38 tok/s under load).
    """
    result: dict[str, float] = {}
    worker = threading.Thread(target=lambda: result.update(_decode(llm, tokens, max_new)), name="bench-direct")
    worker.start()
    worker.join()
    return result


def _decode(llm: Any, tokens: list[int], max_new: int) -> dict[str, float]:
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


def llamacpp_figures(runs: int, max_new: int) -> list[Figure]:
    """Bandwidth floors, decode tok/s of both local paths, and TTFT at turn 11 of a ~2,000-token conversation."""
    import nbchat
    from nbchat._embedded import embedded_gguf_path
    from nbchat.backends.llamacpp import LlamaCppBackend, physical_cores
    from nbchat.backends.transformers import TransformersBackend
    from nbchat.testing import recording_comms

    threads = physical_cores()
    bandwidth = max(read_bandwidth(1), read_bandwidth(threads)) if threads > 1 else read_bandwidth(1)
    gguf_bytes = gguf_tensor_bytes(embedded_gguf_path())
    figures = [
        Figure("memory read bandwidth (numpy sum of 1 GiB)", bandwidth / 1e9, "GB/s",
               note=f"best of 5, 1 and {threads} threads; the floors below divide it by the bytes read per token"),
    ]  # fmt: skip

    with recording_comms():
        fast = nbchat.Chat(conversation=nbchat.Conversation(
            LlamaCppBackend.embedded(), prepare="now", temperature=0, max_new_tokens=max_new))  # fmt: skip
        slow = nbchat.Chat(conversation=nbchat.Conversation(
            TransformersBackend.embedded(), prepare="now", temperature=0, max_new_tokens=max_new))  # fmt: skip
        backend = fast.conversation.backend
        llm = backend._shared.llm  # the very same llama.cpp model and context
        tokens = backend._tokenize(backend._render([{"role": "user", "content": _QUESTION}]))
        param_bytes = sum(p.numel() * p.element_size() for p in slow.conversation.backend._model.parameters())
        single = LlamaCppBackend.embedded(n_threads=1)  # thread scaling, for the note
        single.prepare()
        direct, ours, theirs, one_thread = [], [], [], []
        pairs = max(3, 2 * runs - 1)  # llama.cpp runs take a second: more of them, as the machine's noise is large
        for n in range(pairs):  # interleaved, so all of them see the same machine state
            direct.append(_direct_decode(llm, tokens, max_new)["tps"])
            fast.clear()
            fast.ask(_QUESTION)
            ours.append(fast.conversation.history[-1].stats["tokens_per_s"])
            if n < runs:
                one_thread.append(_direct_decode(single._shared.llm, tokens, max_new)["tps"])
                slow.clear()
                slow.ask(_QUESTION)
                theirs.append(slow.conversation.history[-1].stats["tokens_per_s"])
        raw, ours_tps, tf_tps = statistics.median(direct), statistics.median(ours), statistics.median(theirs)
        paired = statistics.median(o / d for o, d in zip(ours, direct, strict=True))  # each run beside its reference
        tokens_out = fast.conversation.history[-1].stats["tokens"]
        floor_cpp, floor_tf = bandwidth / gguf_bytes, bandwidth / param_bytes
        figures += [
            Figure("decode through Conversation + widget (llama.cpp)", ours_tps, "tok/s", raw,
                   "llama-cpp-python Llama.generate", "≥ 0.95× reference, ≥ 80 tok/s",
                   paired >= 0.95 and ours_tps >= 80, paired_ratio=paired,
                   note=f"median of {pairs}, {tokens_out} tokens greedy, {threads} threads; ratio: median of the "
                        f"{pairs} paired ratios ({ours_tps / raw:.3f} between the medians; runs "
                        f"{min(ours):.0f}–{max(ours):.0f} vs {min(direct):.0f}–{max(direct):.0f} tok/s); "
                        f"{ours_tps / floor_cpp:.0%} of the bandwidth floor {floor_cpp:.0f} tok/s "
                        f"({gguf_bytes / 1e6:.0f} MB of Q4_1 tensors per token); "
                        f"1 thread: {statistics.median(one_thread):.0f} tok/s"),
            Figure("decode through Conversation + widget (transformers)", tf_tps, "tok/s", ours_tps,
                   "llama.cpp through nbchat", "", None,
                   note=f"float32, {tf_tps / floor_tf:.0%} of the bandwidth floor {floor_tf:.0f} tok/s "
                        f"({param_bytes / 1e6:.0f} MB of parameters per token); llama.cpp is "
                        f"{ours_tps / tf_tps:.1f}× faster"),
            Figure("bandwidth floor (llama.cpp, Q4_1)", floor_cpp, "tok/s", None, "", "", None),
            Figure("bandwidth floor (transformers, float32)", floor_tf, "tok/s", None, "", "", None),
        ]  # fmt: skip
        slow.conversation.close()
        figures += _long_chat_ttft(fast, llm, runs)
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


def _long_chat_ttft(chat: Any, llm: Any, runs: int) -> list[Figure]:
    """TTFT at turn 11 after ~2,000 tokens of history: llama.cpp's prefix reuse vs re-prefilling it all, and with
    the question typed into the widget (its drafts prefilled while typing)."""
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

    def forget_cache(tokens: list[int]) -> float:
        with backend._shared.lock:  # the same prompt with the cache forgotten: all of it is evaluated
            llm.reset()
            return _direct_decode(llm, tokens, 1)["ttft"]

    ours, typed, refill, new_tokens = [], [], [], []
    for n in range(runs):  # each run asks a turn-11 question at the same point of the conversation
        question = questions[n % len(questions)]
        tokens = backend._tokenize(backend._render(conv.build_messages(question)))
        conv.ask(question)  # only the tokens after the cached history are evaluated
        ours.append(conv.history[-1].stats["ttft_s"])
        new_tokens.append(conv.history[-1].stats["prompt_tokens"] - conv.history[-1].stats["cached_tokens"])
        back_to_turn_10()
        refill.append(forget_cache(tokens))
        conv.ask(questions[(n + 1) % len(questions)])  # the cache ends with another question, as after a turn
        back_to_turn_10()
        typed.append(_ask_typed(chat, question))
        back_to_turn_10()
    ours_s, typed_s, refill_s = statistics.median(ours), statistics.median(typed), statistics.median(refill)
    return [
        Figure("TTFT at turn 11 (llama.cpp, prefix reuse)", ours_s * 1000, "ms", refill_s * 1000,
               f"re-prefilling all {history_tokens} tokens", "≤ 50 ms", ours_s <= 0.05,
               note=f"speed-up {refill_s / ours_s:.1f}×; {statistics.median(new_tokens):.0f} new prompt tokens "
                    f"(question and chat template) at ~{ours_s * 1000 / statistics.median(new_tokens):.0f} ms each "
                    f"on this CPU; best run {min(ours) * 1000:.0f} ms; turn 1 TTFT {first_ttft * 1000:.0f} ms"),
        Figure("TTFT at turn 11, question typed in the widget (llama.cpp)", typed_s * 1000, "ms", ours_s * 1000,
               "sent without typing ahead", "≤ 50 ms", typed_s <= 0.05,
               note="drafts sent as js/controls.ts does (every 150 ms while typing at 8 characters/s) are prefilled "
                    f"while typing; Enter → first token, median of {runs}; best run {min(typed) * 1000:.0f} ms"),
    ]  # fmt: skip
