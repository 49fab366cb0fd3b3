"""The chat and the notebook, in JupyterLab in Chromium: the notebook context chip (what it shows is what is sent)
and *Ask the chat* under a failing cell (the click puts the error in the chat's message box; nothing is sent by
itself)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ROOT, Lab
from .frontends import ECHO_CODE, screenshot, wait_ready, write_notebook
from .lab import current_notebook, open_notebook

pytestmark = pytest.mark.browser

NAME = "notebook_actions.ipynb"
SCREENSHOT = ROOT / "docs" / "images" / "notebook-actions.png"
CELLS = (
    ECHO_CODE,
    "prices = [3.5, 1.25, 2.0]\nsorted(prices)",
    "chat = nbchat.Chat(echo, context='notebook', explain_errors=True)\nchat",
    "average = sum(prices) / len([p for p in prices if p > 10])",  # fails: ZeroDivisionError
)


def test_ask_the_chat_and_the_notebook_context(lab: Lab, page: Any) -> None:
    write_notebook(lab.root / NAME, *CELLS)
    open_notebook(lab, page, NAME)
    # run-all stops at the failing cell, which is the last one
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    notebook = current_notebook(page)
    chat = notebook.locator(".nbchat").first
    chat.wait_for(timeout=120_000)
    wait_ready(page, chat)
    ask_button = notebook.get_by_role("button", name="Ask the chat")
    ask_button.wait_for(timeout=60_000)
    assert ask_button.count() == 1  # one button, under the one failing cell
    assert notebook.locator(".nbchat").count() == 1  # recording the cell's result did not display the chat again
    box = chat.get_by_label("Message", exact=True)
    assert box.input_value() == ""  # nothing before the click
    assert chat.locator('[data-role="user"]').count() == 0

    # the chip says which cells go with the next message; opened, it shows exactly that text
    chip = chat.locator('[data-testid="nbchat-context-chip"]')
    page.wait_for_function("(el) => /Context: cells 1–4 ·/.test(el.textContent)", arg=chip.element_handle())
    chip.click()
    shown = chat.locator(".nbchat-context-text").inner_text()
    assert "sorted(prices)" in shown
    assert "ZeroDivisionError" in shown  # the failing cell's error, recorded as it ran
    assert shown.index("# In [4]") < shown.index("# In [2]")  # newest first

    ask_button.click()
    page.wait_for_function("(el) => el.value.includes('ZeroDivisionError')", arg=box.element_handle())
    draft = box.input_value()
    assert "This cell failed with ZeroDivisionError" in draft
    assert "average = sum(prices)" in draft  # the cell's code
    assert "division by zero" in draft
    assert chat.locator('[data-role="user"]').count() == 0  # the user edits, then sends
    screenshot(chat, "notebook-actions")
    chat.screenshot(path=str(SCREENSHOT))  # the README's picture

    box.press("Enter")
    reply = chat.locator('[data-role="assistant"][data-status="done"]').first
    reply.wait_for(timeout=60_000)
    assert "This cell failed with ZeroDivisionError" in reply.inner_text()
    bubble = chat.locator('[data-role="user"]').first
    assert "notebook" in bubble.inner_text()  # the context went along as an attachment
