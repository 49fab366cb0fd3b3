"""What the widget sends to the browser, and what the kernel keeps, measured with a scripted backend."""

from __future__ import annotations

import json
import time
import tracemalloc

from ._report import Figure


def traffic_figures(tokens: int) -> list[Figure]:
    """Bytes and messages sent to the browser per generated token (fake backend at ~500 tokens/s)."""
    import nbchat
    from nbchat.testing import FakeBackend, recording_comms

    def one(n: int) -> tuple[float, float, float]:
        with recording_comms() as comms:
            fake = FakeBackend(delay=0.002)
            chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now", max_new_tokens=n + 1))
            words = [f"w{i % 10} " for i in range(n)]
            fake.enqueue(words)
            start = time.perf_counter()
            chat.ask("go")
            elapsed = time.perf_counter() - start
            comm = comms[-1]
            deltas = comm.custom("delta")
            sizes = [len(json.dumps({"method": "custom", "content": d})) for d in deltas]
            framing = [len(json.dumps({"method": "custom", "content": {**d, "text": ""}})) for d in deltas]
            text_bytes = len("".join(words).encode())
            payload_ratio = (sum(sizes) - sum(framing)) / text_bytes
            return payload_ratio, (len(deltas) - 1) / elapsed, sum(sizes) / n, sum(framing) / len(deltas)

    ratio, rate, per_token, framing = one(tokens)
    _, _, per_token_small, _ = one(tokens // 8)
    return [
        Figure("bytes sent beyond framing ÷ token text bytes", ratio, "×", None, "", "≤ 2", ratio <= 2,
               note=f"plus {framing:.0f} bytes of JSON framing per delta message"),
        Figure("delta messages per second", rate, "msg/s", None, "", "≤ 30", rate <= 30.5),
        Figure(f"bytes per token, {tokens} vs {tokens // 8} tokens", per_token / per_token_small, "×", None, "",
               "≈ 1 (O(n) total)", per_token / per_token_small <= 1.2),
    ]  # fmt: skip


def memory_figures(turns: int) -> list[Figure]:
    """Python heap after many turns (fake backend, 200-token replies), per turn, beyond the text kept."""
    import nbchat
    from nbchat.testing import FakeBackend, recording_comms

    reply = [f"word{i} " for i in range(200)]
    with recording_comms() as comms:
        fake = FakeBackend(record=False)
        chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now", max_new_tokens=500))
        tracemalloc.start()
        for n in range(turns):
            fake.enqueue(reply)
            chat.ask(f"question {n}")
            comms[-1].sent.clear()  # a kernel comm keeps nothing it sent; the recorder would
            if n == 9:
                after_10, _ = tracemalloc.get_traced_memory()
        final, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    per_turn = (final - after_10) / (turns - 10)
    text_per_turn = len("".join(reply)) + len("question 100")
    return [
        Figure(f"kernel heap growth per turn ({turns} turns)", per_turn / 1024, "KiB", text_per_turn / 1024,
               "text kept per turn", "bounded: no per-token growth", per_turn < 20 * text_per_turn,
               note="the history itself is kept (it is the conversation); growth per turn stays flat"),
    ]  # fmt: skip
