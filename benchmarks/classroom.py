"""A class on one engine: N students chatting at once through nbchat against ``nbchat serve`` (llama.cpp's server).

Each configuration starts ``python -m nbchat serve`` in a new process with ``--slots S`` and sends N questions at the
same moment from N ``nbchat.Conversation`` objects (each a student's notebook), greedy, ``max_new`` tokens each.
``--slots N`` decodes the N conversations together (continuous batching); ``--slots 1`` answers one request at a
time, as the single-request servers the tests use do.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ._process import stop_process
from ._report import Figure

_QUESTIONS = ["Write a short story about a lion.", "Describe the savanna.", "Why is the sky blue?",
              "Name five birds and describe them.", "Explain rain to a child.", "What do elephants eat?",
              "Write a poem about the sea.", "How do bees make honey?"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(slots: int, ctx_per_slot: int, requantize: str = "Q8_0") -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "nbchat", "serve", "--slots", str(slots), "--ctx-per-slot",
                             str(ctx_per_slot), "--port", str(port), "--requantize", requantize], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc, f"http://127.0.0.1:{port}/v1"  # 200: loaded (503, an HTTPError, while loading)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    msg = "nbchat serve did not start"
    raise RuntimeError(msg)


def class_load(students: int, slots: int, max_new: int, requantize: str = "Q8_0") -> dict[str, float]:
    """Aggregate tok/s and per-student TTFT for ``students`` concurrent questions to a server with ``slots`` slots
    (``requantize``: ``nbchat serve --requantize``, the Q8_0 copy by default, ``"none"`` the shipped Q4_1 file)."""
    import nbchat

    proc, url = _start(slots, 1024, requantize)
    try:
        options = {"temperature": 0, "max_new_tokens": max_new, "prepare": "now"}
        convs = [nbchat.Conversation(url, **options) for _ in range(students)]
        convs[0].ask("Hi")  # warm: page cache, first graph
        convs[0].clear()
        start = time.perf_counter()
        futures = [c.send(_QUESTIONS[i % len(_QUESTIONS)]) for i, c in enumerate(convs)]
        replies = [f.result(timeout=600) for f in futures]
        wall = time.perf_counter() - start
    finally:
        stop_process(proc, signal.SIGINT)  # Ctrl+C, as a user stops it
    ttfts = sorted(r.stats["ttft_s"] for r in replies if r.stats.get("ttft_s") is not None)
    tokens = sum(r.stats.get("tokens") or 0 for r in replies)
    failed = sum(r.status != "done" for r in replies)
    if not ttfts:
        return {"tps": 0.0, "p50": float("nan"), "p95": float("nan"), "tokens": 0, "wall": wall, "failed": failed}
    p95 = ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))]
    return {"tps": tokens / wall, "p50": statistics.median(ttfts), "p95": p95, "tokens": tokens, "wall": wall,
            "failed": failed}  # fmt: skip


def classroom_figures(quick: bool) -> list[Figure]:
    """1, 4 and 8 students (4 with ``quick``) on a server with as many slots and on one slot, and the most students on
    the shipped Q4_1 file beside the Q8_0 copy ``nbchat serve`` uses for the embedded model."""
    figures = []
    max_new = 16 if quick else 64
    load = os.getloadavg()[0]
    for students in (4,) if quick else (1, 4, 8):
        batched = class_load(students, students, max_new)
        single = class_load(students, 1, max_new) if students > 1 else batched
        figures.append(Figure(
            f"class: {students} students, {students} slots, aggregate decode", batched["tps"], "tok/s",
            single["tps"], "one slot (one request at a time)", "", None,
            note=f"TTFT p50 {batched['p50'] * 1000:.0f} ms, p95 {batched['p95'] * 1000:.0f} ms per student "
                 f"(one slot: p50 {single['p50'] * 1000:.0f} ms, p95 {single['p95'] * 1000:.0f} ms); "
                 f"{max_new} tokens each, greedy, the embedded model; load average {load:.1f}"
                 + (f"; replies not done: {batched['failed']} and {single['failed']}"
                    if batched["failed"] or single["failed"] else "")))  # fmt: skip
    students = 4 if quick else 8
    shipped = class_load(students, students, max_new, requantize="none")
    figures.append(Figure(
        f"class: {students} students, {students} slots, the shipped Q4_1 file", shipped["tps"], "tok/s",
        batched["tps"], "the Q8_0 copy (nbchat serve's default)", "", None,
        note=f"nbchat serve --requantize none: no batched kernel for Q4_1; TTFT p50 {shipped['p50'] * 1000:.0f} ms, "
             f"p95 {shipped['p95'] * 1000:.0f} ms per student"))  # fmt: skip
    return figures
