"""Driving JupyterLab from tests: open a notebook in a workspace of its own, run it, find its panel."""

from __future__ import annotations

from typing import Any

from .conftest import Lab

__all__ = ["current_notebook", "open_notebook", "run_all"]


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
