"""A long chat in a real browser: JupyterLab on 127.0.0.1, Debian's headless Chromium, a kernel-side bot.

The chat is loaded with many earlier turns (``chat.messages = [...]``); then a question is typed and sent, and the
reply streams. Measured in the page: how long a key press takes to show, how long Enter takes to show the question,
and, for every delta, the time from the kernel sending it (a timestamp the bot writes into the text) to the page
painting it — the same clock, one machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._process import stop_process
from ._report import Figure

CHROMIUM = os.environ.get("NBCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

SETUP = """\
import time, nbchat

def bot(message, history):  # a delta every 20 ms, each carrying the time the kernel produced it
    for i in range({deltas}):
        time.sleep(0.02)
        yield f"⟦{{time.time():.4f}}⟧ word{{i}} "

chat = nbchat.Chat(bot)
answer = "Here is *some* text with `code`, a [link](https://example.org) and a list:\\n\\n- one\\n- two\\n\\n"
chat.messages = [
    m
    for n in range({turns})
    for m in ({{"role": "user", "content": f"Question {{n}} about **topic {{n}}**?"}},
              {{"role": "assistant", "content": f"Answer {{n}}. " + answer + "filler words " * 20}})
]
print("LOADED_AT=" + str(time.time()))
chat"""

# In the page: when each delta's timestamp is first painted; key press and Enter to paint.
PROBE = """() => {
    const now = () => performance.timeOrigin + performance.now();
    const painted = (fn) => requestAnimationFrame(() => setTimeout(fn, 0));
    const probe = window.__probe = { deltas: [], keys: [], send: null, longTasks: [], touched: new Set() };
    new PerformanceObserver((list) => { for (const e of list.getEntries()) probe.longTasks.push(e.duration); })
        .observe({ type: 'longtask' });
    const root = window.jupyterapp.shell.currentWidget.node.querySelector('.nbchat');
    const box = root.querySelector('textarea[aria-label="Message"]');
    // The messages already painted: while a reply streams, its deltas must leave their elements alone (a list that
    // re-renders would touch them all, for each delta). Sending and committing a turn may update them (their
    // actions are disabled while a reply is generated): that is the "Enter → question painted" figure.
    const earlier = probe.earlier = [...root.querySelectorAll('[data-role]')];
    const index = new Map(earlier.map((el, i) => [el, i]));
    new MutationObserver((records) => {
        if (probe.deltas.length === 0 || !root.querySelector('[data-role=assistant][data-status=streaming]')) return;
        for (const record of records) {
            const message = (record.target.nodeType === 1 ? record.target : record.target.parentElement)
                ?.closest('[data-role]');
            if (message && index.has(message)) probe.touched.add(index.get(message));
        }
    }).observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
    box.addEventListener('keydown', (event) => {
        const start = now();
        if (event.key === 'Enter') {
            const users = root.querySelectorAll('[data-role=user]').length;
            const check = () => root.querySelectorAll('[data-role=user]').length > users
                ? painted(() => { probe.send = now() - start; }) : setTimeout(check, 2);
            check();
        } else {
            painted(() => probe.keys.push(now() - start));
        }
    }, true);
    let last = 0;
    new MutationObserver(() => {
        const streaming = root.querySelector('[data-role=assistant][data-status=streaming] .nbchat-content');
        if (!streaming) return;
        const fresh = [...streaming.textContent.matchAll(/⟦([\\d.]+)⟧/g)].map((m) => parseFloat(m[1]) * 1000)
            .filter((t) => t > last);
        if (fresh.length === 0) return;
        last = Math.max(...fresh);
        painted(() => { const at = now(); for (const t of fresh) probe.deltas.push(at - t); });
    }).observe(root, { subtree: true, childList: true, characterData: true });
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str] | None = None) -> Iterator[Callable[[str], str]]:
    """JupyterLab serving ``root`` on 127.0.0.1 (``env``: more environment variables); yields ``url(path)``."""
    settings = Path(tempfile.mkdtemp(prefix="nbchat-lab-settings-"))
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ, **(env or {})}
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(settings))
    port, token = _free_port(), secrets.token_hex(16)
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root, env=env,
    )  # fmt: skip

    def url(path: str = "lab") -> str:
        return f"http://127.0.0.1:{port}/{path}{'&' if '?' in path else '?'}token={token}"

    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(url("api/status"), timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    msg = "JupyterLab did not start"
                    raise RuntimeError(msg) from None
                time.sleep(0.5)
        yield url
    finally:
        stop_process(process, grace_s=15)


def write_notebook(root: Path, turns: int, deltas: int) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP.format(turns=turns, deltas=deltas))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    name = f"long_chat_{turns}.ipynb"
    nbformat.write(nb, root / name)
    return name


def measure_long_chat(
    page: Any, url: Callable[[str], str], root: Path, turns: int, deltas: int = 150
) -> dict[str, Any]:
    """Open a chat with ``turns`` earlier turns in ``page``, type and send a question, let the reply stream.

    Returns
    -------
    dict
        ``load_ms`` (kernel setting the history → all of it painted), ``load_longest_task_ms``, ``key_ms`` (key
        press → painted, each), ``send_ms`` (Enter → question painted), ``delta_ms`` (kernel → painted, each
        delta), ``stream_longest_task_ms``, ``earlier_touched`` (indices of the messages painted
        before the question whose elements changed after the reply's first delta) and ``earlier_replaced`` (how many
        of them left the page).
    """
    name = write_notebook(root, turns, deltas)
    page.goto(url(f"lab/workspaces/{Path(name).stem}/tree/{name}?reset"))  # its own workspace: no other tabs
    page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.sessionContext", timeout=120_000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
        timeout=120_000,
    )
    page.evaluate(
        "() => { window.__loadTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries())"
        " window.__loadTasks.push(e.duration); }).observe({ type: 'longtask' }); }"
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "([n]) => window.jupyterapp.shell.currentWidget.node.querySelectorAll('.nbchat [data-role]').length === n",
        arg=[2 * turns],
        timeout=300_000,
    )
    loaded = page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.timeOrigin"
        " + performance.now()), 0)))"
    )
    output = page.locator(".jp-OutputArea-output", has_text="LOADED_AT=").first
    load_ms = loaded - float(output.inner_text().split("LOADED_AT=")[1].split()[0]) * 1000
    load_tasks = page.evaluate("() => window.__loadTasks")

    page.evaluate(PROBE)
    # Focus the box once and type with the keyboard: a Playwright locator resolved per key press would compute the
    # accessible name of every element on the page, on the page's main thread, and be measured with the chat.
    page.focus('.nbchat textarea[aria-label="Message"]')
    page.keyboard.type("What about the savanna, then?", delay=40)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.nbchat [data-role=assistant]')]"
        ".pop()?.dataset.status === 'done'"
        " && window.__probe.send !== null && window.__probe.deltas.length > 0",
        timeout=120_000,
    )
    probe = page.evaluate(
        "() => ({ ...window.__probe, touched: [...window.__probe.touched].sort((a, b) => a - b),"
        " replaced: window.__probe.earlier.filter((el) => !el.isConnected).length, earlier: undefined })"
    )
    return {
        "turns": turns,
        "load_ms": load_ms,
        "load_longest_task_ms": max(load_tasks, default=0.0),
        "key_ms": probe["keys"],
        "send_ms": probe["send"],
        "delta_ms": probe["deltas"],
        "stream_longest_task_ms": max(probe["longTasks"], default=0.0),
        "earlier_touched": probe["touched"],
        "earlier_replaced": probe["replaced"],
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summarize(result: dict[str, Any]) -> dict[str, float]:
    """The figures of one :func:`measure_long_chat` run, rounded (ms)."""
    return {
        "history painted after being set (ms)": round(result["load_ms"]),
        "longest task while loading it (ms)": round(result["load_longest_task_ms"]),
        "key press → painted, p95 (ms)": round(p95(result["key_ms"]), 1),
        "Enter → question painted (ms)": round(result["send_ms"]),
        "delta sent → painted, median (ms)": round(statistics.median(result["delta_ms"]), 1),
        "delta sent → painted, p95 (ms)": round(p95(result["delta_ms"]), 1),
        "longest task while streaming (ms)": round(result["stream_longest_task_ms"]),
        "deltas measured": len(result["delta_ms"]),
    }


def browser_figures(quick: bool) -> list[Figure]:
    """Responsiveness of a chat with 1,000 earlier turns (250 with ``quick``) in JupyterLab and Chromium.

    The same measurement with a single earlier turn, in the same browser, is the reference: what the kernel, the
    transport and the machine cost on their own.
    """
    from playwright.sync_api import sync_playwright

    turns = 250 if quick else 1000
    with (
        tempfile.TemporaryDirectory(prefix="nbchat-bench-") as tmp,
        jupyterlab(Path(tmp)) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(120_000)
        base = summarize(measure_long_chat(page, url, Path(tmp), 1))
        page.context.close()
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(120_000)
        s = summarize(measure_long_chat(page, url, Path(tmp), turns))
        browser.close()
    print(json.dumps({"1 turn": base, f"{turns} turns": s}, ensure_ascii=False))
    delta, key = s["delta sent → painted, p95 (ms)"], s["key press → painted, p95 (ms)"]
    median = s["delta sent → painted, median (ms)"]
    return [
        Figure(f"delta sent → painted, p95, {turns} earlier turns", delta, "ms", base["delta sent → painted, p95 (ms)"],
               "1 turn", "< 100", delta < 100,
               note=f"kernel timestamp in the text → first paint showing it; median {median} ms "
                    f"({base['delta sent → painted, median (ms)']} ms with 1 turn)"),
        Figure(f"key press → painted, p95, {turns} earlier turns", key, "ms", base["key press → painted, p95 (ms)"],
               "1 turn", "< 100", key < 100),
        Figure(f"Enter → question painted, {turns} earlier turns", s["Enter → question painted (ms)"], "ms", None, "",
               "< 500", s["Enter → question painted (ms)"] < 500, note="a round trip through the kernel"),
        Figure(f"longest main-thread task while streaming, {turns} turns", s["longest task while streaming (ms)"],
               "ms", None, "", "< 200", s["longest task while streaming (ms)"] < 200),
        Figure(f"{turns} turns set from Python → painted", s["history painted after being set (ms)"], "ms", None, "",
               "", None, note=f"longest task while loading: {s['longest task while loading it (ms)']} ms"),
    ]  # fmt: skip
