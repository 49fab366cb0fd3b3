"""A reply's code block into the notebook, in JupyterLab and Notebook 7 (Chromium): *Insert below* puts exactly the
block's text in a new cell under the chat's cell, *Replace active cell* replaces the cell the user last worked in,
Undo (Z in command mode: JupyterLab 4.6 binds Ctrl+Z there to
no cell undo) takes either back, nothing runs; a hostile reply inserts text only and never
inserts anything by itself. The buttons come from nbchat's labextension (labextension/, loaded from this tree's
build: conftest.with_labextension); Voila and ``nbchat web`` show none (tests/browser/test_voila.py, test_web.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Lab
from .frontends import notebook7, wait_ready, write_notebook
from .lab import ask, current_notebook, open_notebook, reply_done

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "images" / "code-to-cells.png"
CODE = "print('from the chat')\nanswer = 6 * 7"
# Trojan Source (CVE-2021-42574): bidi overrides and isolates inside a string literal
BIDI = 'access = "user\u202e \u2066# admin\u2069 \u2066"'
BIDI_CHARS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
MARKDOWN = (
    '# Notes\n<script>window.__nbchatPwned = "script"</script>\n<img src="x" onerror="window.__nbchatPwned = \'img\'">'
)
BIG = "x = 1  # one line of a 1 MB code block\n" * 26_000  # 1,040,000 characters
REPLIES = {
    "code": f"Here it is:\n\n```python\n{CODE}\n```\n",
    "hostile": (
        "Careful:\n\n"
        f"```python\n{BIDI}\n```\n\n"
        f"```markdown\n{MARKDOWN}\n```\n\n"
        # markup in the prose that looks like the widget's own button: sanitized away, it cannot insert
        '<button class="nbchat-code-cell" data-mode="below" onclick="window.__nbchatPwned = 1">Insert below</button>'
    ),
    "big": f"```python\n{BIG}```\n",
}
# the notebook: the scripted model (a callable that answers from REPLIES), a user cell, the chat, a cell after it
CELLS = (
    f"import nbchat\n\nREPLIES = {REPLIES!r}\n\n\ndef coder(message, history):\n    yield REPLIES[message]\n",
    "x = 1",
    "chat = nbchat.Chat(coder)\nchat",
    "y = 2",
)
USER, CHAT = 1, 2  # cell indexes

CELLS_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => ({
  type: c.model.type,
  source: c.model.sharedModel.getSource(),
  ran: c.model.type === 'code' && (c.model.executionCount !== null || c.model.outputs.length > 0),
}))"""

SOURCE_JS = "window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()"


def cells(page: Any) -> list[dict[str, Any]]:
    """The notebook's cells in order: type, source, whether it ran (a count or outputs)."""
    return list(page.evaluate(CELLS_JS))


def run_all_and_wait(page: Any, count: int) -> None:
    """Run the notebook's cells and wait until the first ``count`` code cells have run."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "(n) => window.jupyterapp.shell.currentWidget.content.widgets.slice(0, n)"
        ".every(c => c.model.executionCount !== null)",
        arg=count,
        timeout=120_000,
    )


def block_button(reply: Any, index: int, mode: str) -> Any:
    """The *Insert below* (``mode="below"``) or *Replace active cell* (``"replace"``) button of a code block."""
    return reply.locator(".nbchat-codeblock").nth(index).locator(f'.nbchat-code-cell[data-mode="{mode}"]')


def command_mode_on(notebook: Any, index: int) -> None:
    """Select cell ``index`` in command mode, as a user does by clicking its prompt area."""
    notebook.locator(".jp-Cell").nth(index).locator(".jp-InputPrompt").click()


def insert_replace_undo(page: Any, notebook: Any, *, screenshot: Path | None = None) -> None:
    """The whole flow in the notebook in front (JupyterLab or Notebook 7), whose chat is cell ``CHAT``."""
    chat = notebook.locator(".nbchat").first
    chat.wait_for(timeout=120_000)
    wait_ready(page, chat)
    assert page.evaluate("() => document.body.dataset.nbchatCells") == "1"  # the extension marked the page
    start = cells(page)
    assert [c["source"] for c in start] == list(CELLS)

    reply = reply_done(page, ask(chat, "code"))
    below = block_button(reply, 0, "below")
    assert below.get_attribute("title").startswith("Put this code in a new cell below the cell that holds the chat")
    assert cells(page) == start  # a reply inserts nothing by itself

    # Insert below: a new code cell right under the chat's cell holding exactly the block's text; nothing runs
    reply.locator(".nbchat-codeblock").first.hover()
    below.click()
    page.wait_for_function("(n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=5)
    now = cells(page)
    assert now[CHAT + 1] == {"type": "code", "source": CODE, "ran": False}
    assert [c["source"] for c in now[: CHAT + 1]] == list(CELLS[: CHAT + 1])
    assert now[CHAT + 2]["source"] == CELLS[-1]
    assert below.inner_text() == "Inserted below the chat"
    if screenshot is not None:
        top = notebook.locator(".jp-Cell").nth(CHAT).bounding_box()
        new = notebook.locator(".jp-Cell").nth(CHAT + 1).bounding_box()
        clip = {"x": top["x"], "y": top["y"], "width": top["width"], "height": new["y"] + new["height"] - top["y"]}
        page.screenshot(path=str(screenshot), clip=clip)

    # Undo: Z in command mode on the notebook takes the insertion back (one step)
    command_mode_on(notebook, CHAT + 1)
    page.keyboard.press("z")
    page.wait_for_function("(n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=4)
    assert [c["source"] for c in cells(page)] == list(CELLS)

    # Replace active cell: the cell the user last worked in (not the chat's own, made active by the click)
    notebook.locator(".jp-Cell").nth(USER).locator(".cm-content").click()
    block_button(reply, 0, "replace").click()
    page.wait_for_function(f"([i, code]) => {SOURCE_JS} === code", arg=[USER, CODE])
    now = cells(page)
    assert len(now) == 4
    assert now[USER] == {"type": "code", "source": CODE, "ran": False}
    assert now[CHAT]["source"] == CELLS[CHAT]  # the chat's own cell is untouched
    assert notebook.locator(".jp-Cell").nth(CHAT).locator(".nbchat").count() == 1
    command_mode_on(notebook, USER)
    page.keyboard.press("z")
    page.wait_for_function(f"([i, code]) => {SOURCE_JS} === code", arg=[USER, CELLS[USER]])
    assert [c["source"] for c in cells(page)] == list(CELLS)


def test_insert_below_replace_and_undo_in_jupyterlab(lab: Lab, page: Any) -> None:
    name = "code_to_cells.ipynb"
    write_notebook(lab.root / name, *CELLS)
    open_notebook(lab, page, name)
    run_all_and_wait(page, 4)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    insert_replace_undo(page, current_notebook(page), screenshot=SCREENSHOT)


def test_insert_below_replace_and_undo_in_notebook7(page: Any, tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_notebook(root / "cells.ipynb", *CELLS)
    with notebook7(root, tmp_path) as url:
        page.goto(url("notebooks/cells.ipynb"))
        page.wait_for_function(
            "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
            timeout=120_000,
        )
        run_all_and_wait(page, 4)
        insert_replace_undo(page, page.locator(".jp-Notebook").first)


def test_a_hostile_reply_inserts_text_only_and_only_on_a_click(lab: Lab, page: Any) -> None:
    name = "code_to_cells_hostile.ipynb"
    write_notebook(lab.root / name, *CELLS)
    open_notebook(lab, page, name)
    run_all_and_wait(page, 4)
    notebook = current_notebook(page)
    chat = notebook.locator(".nbchat").first
    wait_ready(page, chat)
    start = cells(page)

    reply = reply_done(page, ask(chat, "hostile"))
    assert reply.locator(".nbchat-codeblock").count() == 2  # the fake button in the prose was sanitized away
    assert reply.locator(".nbchat-code-cell").count() == 4
    # a script's clicks (what a reply could at most cause) are not the user's: nothing is inserted
    reply.locator(".nbchat-code-cell").evaluate_all("(buttons) => buttons.forEach((b) => b.click())")
    assert cells(page) == start
    assert page.evaluate("() => window.__nbchatPwned") is None

    # the bidi block: its text without the invisible controls (as Copy gives it), as a code cell
    block_button(reply, 0, "below").click()
    page.wait_for_function("(n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=5)
    inserted = cells(page)[CHAT + 1]
    assert inserted == {"type": "code", "source": BIDI_CHARS.sub("", BIDI), "ran": False}

    # the block that claims to be Markdown: a markdown cell holding the text; rendered by the user, no script runs
    block_button(reply, 1, "below").click()
    page.wait_for_function("(n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=6)
    inserted = cells(page)[CHAT + 1]
    assert inserted == {"type": "markdown", "source": MARKDOWN, "ran": False}
    assert page.evaluate("() => window.__nbchatPwned") is None
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")  # the user's Shift+Enter
    rendered = notebook.locator(".jp-Cell").nth(CHAT + 1).locator(".jp-RenderedMarkdown")
    rendered.locator("h1").wait_for()
    assert rendered.locator("script").count() == 0
    assert rendered.locator("img[onerror]").count() == 0
    page.wait_for_timeout(500)  # an image's onerror would have fired by now
    assert page.evaluate("() => window.__nbchatPwned") is None

    # a 1 MB block: all of it, as one cell
    big = reply_done(page, ask(chat, "big"), timeout_ms=180_000)
    assert len(cells(page)) == 6  # still nothing inserted by the reply itself
    block_button(big, 0, "below").click()
    page.wait_for_function(
        "(n) => window.jupyterapp.shell.currentWidget.content.widgets.length === n", arg=7, timeout=120_000
    )
    inserted = cells(page)[CHAT + 1]
    assert inserted["type"] == "code"
    assert len(inserted["source"]) == len(BIG) - 1  # the fence's closing newline is not part of the cell
    assert inserted["source"] == BIG[:-1]
    assert not inserted["ran"]
