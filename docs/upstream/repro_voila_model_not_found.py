"""Minimal reproduction: Voila pages opened together show "Error displaying widget: model not found".

No nbchat in it: one notebook cell that displays one anywidget, served by ``voila`` on 127.0.0.1, opened by N headless
Chromium contexts (separate browser sessions) at the same moment. For each page it records:

- what the output finally shows (the widget, or "Error displaying widget: ..."),
- whether the page's widget manager took ipywidgets' fallback restore (``_loadFromKernelModels``), seen on the
  kernel WebSocket as a ``comm_info_request`` sent by the page,
- when the page's ``request_states`` left the browser and when ``update_states`` came back, relative to the moment the
  widget manager queued the request (the kernel connection's creation).

- for a broken page, a trace of the page's widget manager (``trace``): restoredStatus changes, models registered and
  every look-up of a model that is not registered (see ``TRACE``).

Usage (needs voila, anywidget and playwright; ``--chromium`` is a Chromium executable)::

    python docs/upstream/repro_voila_model_not_found.py --pages 6 --rounds 3 --busy-cpu 4

``--busy-cpu N`` keeps N extra processes spinning on the CPU, as other kernels and Voila's own executions do when a room
of visitors arrives: the race needs the restore from the kernel to take more than 2 s. See
docs/upstream/voila-model-not-found.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOTEBOOK_CELL = """\
import anywidget, traitlets

class Hello(anywidget.AnyWidget):
    _esm = "export default { render({ model, el }) { el.className = 'hello'; el.textContent = model.get('text'); } }"
    text = traitlets.Unicode("hello from the kernel").tag(sync=True)

Hello()
"""

# The page is ready when the widget rendered or the renderer gave up.
DONE = (
    "() => document.querySelector('.hello') || [...document.querySelectorAll('.jp-OutputArea-output')]"
    ".some((el) => el.textContent.startsWith('Error displaying widget'))"
)


# Injected before the page's scripts. ipywidgets' managers set their state by assignment in their constructors
# (``this._restoredStatus = false``, ``this._kernelRestoreInProgress = false``, ``this._models = {}``), so setters on
# Object.prototype see the manager being built and log, with the time since the page started: every change of
# restoredStatus and kernelRestoreInProgress, every model registered, and every look-up of a model that is not there.
TRACE = """
window.__trace = [];
const caller = () => (new Error().stack || "").split("\\n").slice(3, 5).map((l) => l.trim().split(" (")[0]).join(" < ");
const log = (what) => window.__trace.push([Math.round(performance.now()), what + "  [" + caller() + "]"]);
const consoleError = console.error;
console.error = (...args) => { log("console.error " + String(args[0]).slice(0, 40)); consoleError(...args); };
function watch(name, onSet) {
  Object.defineProperty(Object.prototype, name, {
    configurable: true,
    set(value) {
      let current = value;
      Object.defineProperty(this, name, {configurable: true, enumerable: true, get: () => current,
        set: (next) => { current = onSet(this, next); }});
      current = onSet(this, value);
    },
  });
}
watch("_restoredStatus", (manager, value) => { log("restoredStatus=" + value); return value; });
watch("_kernelRestoreInProgress", (manager, value) => { log("restoreInProgress=" + value); return value; });
watch("_models", (manager, value) => new Proxy(value, {
  get(target, key) {
    if (typeof key === "string" && key.length === 32 && !(key in target)) {
      log("model looked up, missing: " + key.slice(0, 6));
    }
    return target[key];
  },
  set(target, key, value) { log("model registered: " + String(key).slice(0, 6)); target[key] = value; return true; },
}));
"""


def _spin() -> None:
    while True:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _decode(payload: str | bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and content of a kernel WebSocket frame: JSON (the default protocol) or jupyter_server's binary
    ``v1.kernel.websocket.jupyter.org`` protocol (jupyter_server/services/kernels/connection/base.py,
    ``serialize_msg_to_ws_v1``: a count, then that many 64-bit offsets, then channel, header, parent header,
    metadata, content and buffers)."""
    if isinstance(payload, str):
        msg = json.loads(payload)
        return msg.get("header", {}), msg.get("content", {})
    count = struct.unpack_from("<Q", payload, 0)[0]
    offsets = [*struct.unpack_from(f"<{count}Q", payload, 8), len(payload)]
    parts = [payload[offsets[i] : offsets[i + 1]] for i in range(count)]
    return json.loads(parts[1]), json.loads(parts[4])


async def _page(browser: Any, url: str, start_at: float) -> dict[str, Any]:
    context = await browser.new_context()
    page = await context.new_page()
    await page.add_init_script(TRACE)
    frames: list[tuple[float, str, str]] = []  # (time, direction, msg_type or comm method)

    def record(direction: str, payload: Any) -> None:
        try:
            header, content = _decode(payload)
        except (ValueError, struct.error, UnicodeDecodeError):
            return
        kind = header.get("msg_type", "?")
        method = (content.get("data") or {}).get("method") if kind == "comm_msg" else None
        frames.append((time.monotonic(), direction, method or kind))

    def on_socket(ws: Any) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framesent", lambda payload: record("sent", payload))
            ws.on("framereceived", lambda payload: record("recv", payload))

    page.on("websocket", on_socket)
    errors: list[tuple[float, str]] = []
    page.on("console", lambda m: errors.append((time.monotonic(), m.text[:700])) if m.type == "error" else None)
    created: list[float] = []
    page.on("request", lambda req: created.append(time.monotonic()) if "/api/kernels/" in req.url else None)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    started = time.monotonic()
    outcome = "no page"
    trace: list[Any] = []
    try:
        await page.goto(url, timeout=180_000)
        await page.wait_for_function(DONE, timeout=180_000)
        outcome = "widget"
        if not await page.locator(".hello").count():
            shown = await page.locator(".jp-OutputArea-output").first.inner_text()
            await asyncio.sleep(2)
            late = await page.evaluate("() => Object.keys(window.jupyterapp.widgetManager._models)")
            outcome = f"{shown!r} (models registered 2 s later: {len(late)})"
            trace = await page.evaluate("() => window.__trace")
    except Exception as exc:  # noqa: BLE001  (a page that never finished is reported as such)
        outcome = f"no result ({type(exc).__name__})"
    await context.close()
    zero = created[0] if created else started
    sent = [t for t, d, m in frames if d == "sent" and m == "request_states"]
    recv = [t for t, d, m in frames if d == "recv" and m == "update_states"]
    return {
        "outcome": outcome,
        "fallback": any(d == "sent" and m == "comm_info_request" for _, d, m in frames),
        "request_states_sent_s": round(sent[0] - zero, 2) if sent else None,
        "update_states_s": round(recv[0] - zero, 2) if recv else None,
        "trace": trace,
        "errors": [(round(t - zero, 2), text) for t, text in errors] if outcome != "widget" else len(errors),
        "frames": [(round(t - zero, 2), d, m) for t, d, m in frames if m not in ("status",)][:30]
        if outcome != "widget"
        else len(frames),
    }


async def _round(url: str, pages: int, chromium: str) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            start_at = time.monotonic() + 1 + 0.2 * pages
            return list(await asyncio.gather(*(_page(browser, url, start_at) for _ in range(pages))))
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy-cpu", type=int, default=0, help="extra processes spinning on the CPU")
    parser.add_argument("--chromium", default=os.environ.get("NBCHAT_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy_cpu)]
    for proc in spinners:
        proc.start()
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / "hello.ipynb"
        notebook.write_text(json.dumps({
            "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": NOTEBOOK_CELL}],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5,
        }))  # fmt: skip
        port = _free_port()
        log = (Path(tmp) / "voila.log").open("wb")
        voila = subprocess.Popen(
            [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.3)
            for number in range(1, args.rounds + 1):
                results = asyncio.run(_round(f"http://127.0.0.1:{port}/", args.pages, args.chromium))
                broken = sum(r["outcome"] != "widget" for r in results)
                print(f"round {number}: {broken} of {args.pages} pages broken (load average {os.getloadavg()[0]:.1f})")
                for r in results:
                    print("   ", json.dumps(r))
        finally:
            voila.terminate()
            voila.wait(30)
            for proc in spinners:
                proc.terminate()


if __name__ == "__main__":
    main()
