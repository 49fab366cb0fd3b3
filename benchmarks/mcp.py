"""MCP call overhead and the cost of structured replies.

- One call of a tool on a real MCP server (tests/servers/mcp_server.py, the SDK's FastMCP-style server) through
  :meth:`nbchat.MCPServer.call`, over stdio and over streamable HTTP on 127.0.0.1, beside the same function run as a
  Python tool by the tool loop (:func:`nbchat.tools._run.run_call`: argument validation, a thread, result conversion).
  The tool (``echo``) returns its argument, so the figure is the round trip itself.
- The server's start (process, SDK import, handshake, tools/list) once per run.
- Decode speed of the embedded model (llama.cpp) with and without a JSON schema: the grammar made from the schema
  is checked at every token.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from ._process import stop_process
from ._report import Figure

SERVER = str(Path(__file__).resolve().parent.parent / "tests" / "servers" / "mcp_server.py")


def _round_trips(call: object, calls: int) -> float:
    """Median seconds of ``call()`` over ``calls`` calls (after one warm-up)."""
    call()  # type: ignore[operator]
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mcp_figures(runs: int, calls: int) -> list[Figure]:
    """Median MCP round trips (stdio, HTTP) beside a Python tool's own run, and the stdio server's start."""
    import nbchat
    from nbchat.tools import ToolCall
    from nbchat.tools._run import run_call
    from tests.servers._runner import free_port, wait_until_up

    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    tool, cancel = nbchat.Tool(echo), threading.Event()
    local = _round_trips(lambda: run_call(tool, ToolCall("c", "echo", '{"text": "ping"}'), cancel, timeout=10), calls)
    starts = []
    for _ in range(runs):
        server = nbchat.MCPServer([sys.executable, SERVER], name="bench")
        start = time.perf_counter()
        server.start()
        starts.append(time.perf_counter() - start)
        server.close()
    with nbchat.MCPServer([sys.executable, SERVER], name="bench") as server:
        stdio = _round_trips(lambda: server.call("echo", {"text": "ping"}), calls)
    port = free_port()
    proc = subprocess.Popen([sys.executable, SERVER, "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        with nbchat.MCPServer(url=f"http://127.0.0.1:{port}/mcp", name="bench-http") as server:
            http = _round_trips(lambda: server.call("echo", {"text": "ping"}), calls)
    finally:
        stop_process(proc, grace_s=10)
    reference = "the same function as a Python tool (run_call)"
    return [
        Figure("MCP tool call, stdio (round trip)", stdio * 1000, "ms", local * 1000, reference,
               note=f"median of {calls} calls of echo"),
        Figure("MCP tool call, streamable HTTP on 127.0.0.1 (round trip)", http * 1000, "ms", local * 1000, reference,
               note=f"median of {calls} calls of echo"),
        Figure("MCP stdio server start (process, handshake, tools/list)", statistics.median(starts), "s",
               note=f"median of {runs}; python with the mcp SDK"),
    ]  # fmt: skip


def structured_figures(runs: int, max_new: int) -> list[Figure]:
    """Decode tokens/s of the embedded model on llama.cpp with a JSON schema (its grammar) and without."""
    import pydantic

    import nbchat

    class Cities(pydantic.BaseModel):
        names: list[str]
        note: str

    question = "List five large French cities and say something about each."
    free, constrained = [], []
    conv = nbchat.Conversation(prepare="now", temperature=0, max_new_tokens=max_new)
    for _ in range(runs):
        conv.clear()
        conv.ask(question)
        free.append(conv.history[-1].stats["tokens_per_s"])
        conv.clear()
        with contextlib.suppress(nbchat.GenerationError):  # cut by max_new_tokens: its speed counts all the same
            conv.ask(question, schema=Cities)
        constrained.append(conv.history[-1].stats["tokens_per_s"])
    conv.close()
    return [
        Figure("embedded model decode with a JSON schema (llama.cpp grammar)", statistics.median(constrained),
               "tok/s", statistics.median(free), "the same question without a schema",
               note=f"median of {runs}, {max_new} new tokens at most, greedy"),
    ]  # fmt: skip
