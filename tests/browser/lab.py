"""Driving JupyterLab from tests: open a notebook in a workspace of its own, run it, find its panel."""

from __future__ import annotations

import time
from typing import Any

from .conftest import Lab

__all__ = ["ask", "current_notebook", "open_notebook", "reply_done", "run_all", "write_notebook"]


def write_notebook(lab: Lab, name: str, *cells: str) -> str:
    """Write a notebook of code ``cells`` (Python 3 kernel) into the lab's folder; returns ``name``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / name)
    return name


def open_notebook(lab: Lab, page: Any, name: str) -> None:
    """Open ``name`` in a workspace of its own (no tabs restored from other tests) and wait for its idle kernel."""
    page.goto(lab.url(f"lab/workspaces/{name.removesuffix('.ipynb')}/tree/{name}"))
    page.wait_for_function(
        "(name) => window.jupyterapp?.shell?.currentWidget?.context?.path === name", arg=name, timeout=120_000
    )
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
        timeout=120_000,
    )


def current_notebook(page: Any) -> Any:
    """The notebook panel in front (JupyterLab reopens earlier tests' notebooks in hidden tabs)."""
    panel_id = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    return page.locator(f"[id='{panel_id}']")


def run_all(page: Any) -> None:
    """Run every cell of the notebook in front and wait until each code cell has an execution count."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => window.jupyterapp.shell.currentWidget.content.widgets
                    .filter(cell => cell.model.type === 'code')
                    .every(cell => cell.model.executionCount !== null)""",
        timeout=300_000,
    )


def ask(chat: Any, text: str | None = None, *, timeout_s: float = 30) -> Any:
    """Send ``text`` (None: what the message box holds); wait until its reply is in the list and return that reply.

    The reply is found by count, not as ``.last``: until the kernel syncs the new turn, ``.last`` is the previous
    reply (which may have been made by the notebook's own cells and say the same thing).
    """
    replies = chat.locator('[data-role="assistant"]')
    before = replies.count()
    box = chat.get_by_label("Message", exact=True)
    if text is not None:
        box.fill(text)
    box.press("Enter")
    deadline = time.monotonic() + timeout_s
    while replies.count() <= before:
        assert time.monotonic() < deadline, f"no reply started for {text!r}"
        time.sleep(0.05)
    return replies.nth(before)


def reply_done(page: Any, reply: Any, timeout_ms: int = 60_000) -> Any:
    """Wait until ``reply`` is no longer streaming (done, stopped or failed) and return it."""
    page.wait_for_function(
        "(el) => el.dataset.status && el.dataset.status !== 'streaming'", arg=reply.element_handle(), timeout=timeout_ms
    )
    return reply
