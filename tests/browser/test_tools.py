"""Tool calls in a real JupyterLab: ``Chat(model, tools=[...])`` asks in the chat (no ``tool_approval``: "ask").
Allow for this chat (the group's second call, and the next turn, run without asking), Allow once, Decline with a
reason the model sees, Stop while a tool runs (the card turns "stopped"), a matplotlib figure inline in its card, a
hostile result shown as text; the Markdown export and "Copy as code" carry the calls and ``tools=``; a reload shows
the same cards from synced state. The screenshot of a group of cards for the README is taken here.

The model is a Python function with a ``tools`` parameter (the documented rule of nbchat/backends/callable.py) that
asks for the calls the test names in its question, as a model streams them (:class:`nbchat.backends.ToolCallDelta`),
and answers with the results it got back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import ROOT, Lab
from .lab import ask, current_notebook, open_notebook, run_all

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "images" / "tool-cards.png"

SETUP = r'''
import itertools, json, threading
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbchat
from nbchat.backends import ToolCallDelta

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'

def area(width: float, height: float) -> float:
    """Area of a rectangle.

    Parameters
    ----------
    width : float
        Width in metres.
    height : float
        Height in metres.
    """
    return width * height

def wait(seconds: float, cancel: threading.Event) -> str:
    """Wait, then say so (Stop ends the wait).

    Parameters
    ----------
    seconds : float
        How long to wait.
    """
    cancel.wait(seconds)
    return "waited"

def plot(title: str):
    """Plot the squares of 1 to 5.

    Parameters
    ----------
    title : str
        The figure's title.
    """
    fig, ax = plt.subplots(figsize=(4, 2.6))
    ax.plot([1, 2, 3, 4, 5], [1, 4, 9, 16, 25], marker="o")
    ax.set_title(title)
    plt.close(fig)
    return fig

def page(url: str) -> str:
    """Read a web page (a stand-in that returns hostile HTML).

    Parameters
    ----------
    url : str
        The page's address.
    """
    return f"# Page\n\n{HOSTILE}\n\nEnd of {url}"

SCRIPTS = {
    "two": [("area", {"width": 2, "height": 3}), ("area", {"width": 2, "height": 4})],
    "area": [("area", {"width": 5, "height": 5})],
    "wait": [("wait", {"seconds": 120})],
    "plot": [("plot", {"title": "Squares"})],
    "page": [("page", {"url": "https://example.com/\u202egnp.exe"})],
}
ids = itertools.count(1)

def model(messages, tools):
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    results = [m["content"] for m in messages[last_user + 1:] if m["role"] == "tool"]
    if results:
        yield "Results: " + " | ".join(results)
        return
    key = str(messages[last_user]["content"]).split()[0]
    yield "Let me use a tool. "
    for i, (name, args) in enumerate(SCRIPTS[key]):
        yield ToolCallDelta(i, f"call_{next(ids)}", name, json.dumps(args, ensure_ascii=False))

chat = nbchat.Chat(model, tools=[area, wait, plot, page])
chat
'''


@pytest.fixture
def notebook(lab: Lab) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP.strip())]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "tools_ui.ipynb")
    return "tools_ui.ipynb"


def wait_status(page: Any, element: Any, status: str, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "([el, status]) => el.dataset.status === status", arg=[element.element_handle(), status], timeout=timeout_ms
    )


def cards(reply: Any) -> Any:
    return reply.locator(".nbchat-tool-card")


def test_tool_cards_approve_decline_allow_for_chat_stop_figure_and_hostile(lab: Lab, page: Any, notebook: str) -> None:
    open_notebook(lab, page, notebook)
    run_all(page)
    chat = current_notebook(page).locator(".nbchat").first
    chat.wait_for()

    # two calls in one round: one group, both waiting, with the exact arguments
    reply = ask(chat, "two rectangles")
    cards(reply).nth(1).wait_for(timeout=60_000)
    page.wait_for_function(
        "(el) => el.querySelectorAll('.nbchat-tool-card[data-status=pending] button').length === 6",
        arg=reply.element_handle(),
        timeout=60_000,
    )
    group = reply.locator(".nbchat-tool-group")
    assert group.get_attribute("aria-label") == "2 tool calls"
    assert cards(reply).first.locator(".nbchat-tool-args").inner_text() == '{\n  "width": 2,\n  "height": 3\n}'
    assert reply.locator(".nbchat-tool-round-text").inner_text().strip() == "Let me use a tool."
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    chat.get_by_label("Message", exact=True).focus()
    page.mouse.move(0, 0)
    reply.screenshot(path=str(SCREENSHOT))

    # Allow for this chat: this call runs, and the second one of the same tool runs without asking
    cards(reply).first.get_by_role("button", name="Allow for this chat").click()
    wait_status(page, reply, "done")
    assert [cards(reply).nth(i).get_attribute("data-status") for i in range(2)] == ["done", "done"]
    assert reply.locator(":scope > .nbchat-bubble > .nbchat-content").inner_text().strip() == "Results: 6.0 | 8.0"
    assert cards(reply).first.locator(".nbchat-tool-duration").count() == 1
    # ... and in the next turn too
    later = ask(chat, "area again")
    wait_status(page, later, "done")
    assert cards(later).first.get_attribute("data-status") == "done"

    # Decline, with a reason: the model gets it
    declined = ask(chat, "wait a bit")
    cards(declined).first.get_by_role("button", name="Decline").wait_for(timeout=60_000)
    cards(declined).first.get_by_role("textbox").fill("not now, please")
    cards(declined).first.get_by_role("button", name="Decline").click()
    wait_status(page, declined, "done")
    assert cards(declined).first.get_attribute("data-status") == "declined"
    assert "not now, please" in cards(declined).first.locator(".nbchat-tool-reason").inner_text()
    answer = declined.locator(":scope > .nbchat-bubble > .nbchat-content").inner_text()
    assert "The user declined this call. Reason: not now, please" in answer

    # Allow once, then Stop while the tool runs: the card turns "stopped", the reply keeps what it said
    stopping = ask(chat, "wait longer")
    cards(stopping).first.get_by_role("button", name="Allow once").click(timeout=60_000)
    wait_status(page, cards(stopping).first, "running")
    chat.get_by_role("button", name="Stop").click()
    wait_status(page, stopping, "stopped")
    wait_status(page, cards(stopping).first, "stopped")
    assert stopping.locator(".nbchat-tool-round-text").inner_text().strip() == "Let me use a tool."

    # a figure: inline in the card, from the kernel's preview (a data URL)
    figure = ask(chat, "plot it")
    cards(figure).first.get_by_role("button", name="Allow once").click(timeout=60_000)
    wait_status(page, figure, "done")
    image = cards(figure).first.locator("img.nbchat-tool-image")
    assert image.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert image.evaluate("img => img.complete && img.naturalWidth") >= 300

    # a hostile result (HTML, script) and a bidi override in the arguments: text, flagged, nothing runs
    hostile = ask(chat, "page please")
    card = cards(hostile).first
    assert card.locator(".nbchat-tool-args .nbchat-invisible").first.inner_text(timeout=60_000) == "U+202E"
    card.get_by_role("button", name="Allow once").click()
    wait_status(page, hostile, "done")
    card.locator(".nbchat-tool-result > summary").click()
    text = card.locator(".nbchat-tool-result-text")
    assert "<script>window.__pwned=1</script>" in text.inner_text()
    assert text.locator("h1").inner_text() == "Page"
    assert chat.locator(".nbchat-tool-card img:not(.nbchat-tool-image), .nbchat-tool-card script").count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"

    # "Copy as code" reproduces tools= by name; the Markdown export shows the calls
    hostile.hover()
    hostile.get_by_role("button", name="Copy as code").click()
    code = hostile.locator(".nbchat-code-snippet")
    code.wait_for(timeout=30_000)
    assert "tools=[area, wait, plot, page]" in code.inner_text()
    chat.locator('[data-testid="nbchat-export"]').click()
    with page.expect_download() as info:
        chat.locator('[data-testid="nbchat-export-markdown"]').click()
    markdown = Path(info.value.path()).read_text(encoding="utf-8")
    assert "🔧 **Tool call** `area` · done" in markdown
    assert "🔧 **Tool call** `wait` · declined" in markdown
    assert "not now, please" in markdown

    # a reload: the same cards, in the same order, from synced state
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    page.wait_for_selector(".nbchat .nbchat-tool-card", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.content")
    chat = current_notebook(page).locator(".nbchat").first
    chat.locator(".nbchat-tool-card").nth(6).wait_for(timeout=120_000)
    statuses = chat.locator(".nbchat-tool-card").evaluate_all("els => els.map(e => e.dataset.status)")
    assert statuses == ["done", "done", "done", "declined", "stopped", "done", "done"]
    assert chat.locator(".nbchat-tool-card button").count() == 0
