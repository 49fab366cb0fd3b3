"""Code blocks → cells: a click on *Insert below* to the new cell painted in the page, in JupyterLab and Chromium.

JupyterLab loads nbchat's labextension as built in this tree (labextension/dist, first on JUPYTER_PATH); a chat shows a
reply with a code block (set from Python: no model); Playwright clicks *Insert below* 20 times (real, trusted clicks).
In the page, a capture listener notes each click's time before the button's own handler runs; the figure is the time
to the first frame painted with the new cell's editor in the page. Also the extension's size as shipped in the wheel.
"""

from __future__ import annotations

import gzip
import json
import statistics
import tempfile
from pathlib import Path

import nbformat

from ._report import Figure
from .browser import CHROMIUM, CHROMIUM_ARGS, jupyterlab, p95

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "labextension" / "dist"
CLICKS = 20
CHAT = 1  # the chat's cell index
SETUP = """\
import nbchat

chat = nbchat.Chat(lambda message, history: iter(["unused"]))
chat.messages = [{"role": "user", "content": "A loop?"},
                 {"role": "assistant", "content": "```python\\nfor i in range(3):\\n    print(i)\\n```"}]
chat"""

# In the page: each click on a cell button → the first paint with the new cell's editor in the notebook.
PROBE = """(chat) => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const probe = window.__cells = { ms: [] };
    document.addEventListener('click', (event) => {
        if (!(event.target instanceof Element) || !event.target.closest('.nbchat-code-cell')) return;
        const start = performance.now(), before = notebook.widgets.length;  // capture: before the button's handler
        const check = () => {
            const cell = notebook.widgets.length > before ? notebook.widgets[chat + 1] : null;
            if (cell && cell.node.isConnected && cell.node.querySelector('.cm-line'))
                setTimeout(() => probe.ms.push(performance.now() - start), 0);  // after this frame's paint
            else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
    }, true);
}"""


def extension_size() -> tuple[int, int]:
    """Bytes of the built extension's JavaScript: raw and gzip (what a browser downloads)."""
    data = b"".join(p.read_bytes() for p in sorted((BUILT / "static").glob("*.js")))
    return len(data), len(gzip.compress(data))


def cells_figures(quick: bool) -> list[Figure]:
    """p50/p95 of click → new cell painted over ``CLICKS`` clicks (the same with ``quick``), and the bundle size."""
    from playwright.sync_api import sync_playwright

    if not (BUILT / "package.json").exists():
        msg = "labextension/dist is missing: npm run build:labextension"
        raise RuntimeError(msg)
    raw, packed = extension_size()
    with tempfile.TemporaryDirectory(prefix="nbchat-cells-") as tmp:
        data = Path(tmp) / "jupyter-path"
        (data / "labextensions").mkdir(parents=True)
        (data / "labextensions" / "nbchat-cells").symlink_to(BUILT, target_is_directory=True)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(SETUP)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, Path(tmp) / "cells.ipynb")
        with jupyterlab(Path(tmp), {"JUPYTER_PATH": str(data)}) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(120_000)
            page.goto(url("lab/workspaces/cells/tree/cells.ipynb?reset"))
            page.wait_for_function(
                "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            button = page.locator('.nbchat [data-role="assistant"] .nbchat-code-cell[data-mode="below"]').first
            button.wait_for()
            page.evaluate(PROBE, CHAT)
            for i in range(CLICKS):
                button.click()
                page.wait_for_function("(n) => window.__cells.ms.length === n", arg=i + 1)
            ms: list[float] = page.evaluate("() => window.__cells.ms")
            cells = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")
            browser.close()
    assert cells == 2 + CLICKS, f"{cells} cells after {CLICKS} clicks"
    median, tail = statistics.median(ms), p95(ms)
    print(json.dumps({"click → new cell painted (ms)": [round(x, 1) for x in ms], "quick": quick}))
    return [
        Figure(f"Insert below: click → new cell painted, p50 ({CLICKS} clicks)", median, "ms", None, "", "< 100",
               median < 100, note="JupyterLab 4 in headless Chromium; the cell holds the code, nothing runs"),
        Figure(f"Insert below: click → new cell painted, p95 ({CLICKS} clicks)", tail, "ms", None, "", "< 200",
               tail < 200),
        Figure("nbchat-cells labextension, JavaScript (gzip)", packed / 1000, "kB", None, "", "", None,
               note=f"{raw / 1000:.1f} kB raw; it uses JupyterLab's packages for their types only (nothing bundled)"),
    ]  # fmt: skip
