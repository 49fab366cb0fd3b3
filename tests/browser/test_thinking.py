"""A thinking model in a real JupyterLab: the Thinking block streams, collapses, expands; Stop while thinking keeps
the thoughts; math renders in the answer and in the thoughts; hostile TeX and the hostile corpus stay inert in the
thinking block, with no request off the page and no long frame.

The "model" is a Python function that writes ``<think>…</think>`` as a local reasoning model does (no network).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import ROOT, Lab
from .lab import ask, current_notebook, open_notebook, run_all
from .test_hostile_content import PAGE_STATE, PAYLOADS_FILE, Traffic

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "images" / "thinking-and-math.png"

SETUP = r"""
import json, time
import nbchat

HOSTILE = [p["text"] for p in json.load(open("hostile_payloads.json", encoding="utf-8"))]
TEX = [r"$\href{javascript:window.__pwned=1}{click}$", r"$\htmlData{x=1}{y}$", r"$$\def\a{\a\a}\a$$",
       r"$$\def\b#1{#1#1#1#1#1#1#1#1}\b{\b{\b{\b{\b{\b{\b{x}}}}}}}$$"]

def thinker(message, history):
    if message.startswith("hostile"):  # every payload and hostile TeX as thoughts, then as the answer
        yield "<think>" + "\n\n".join(HOSTILE + TEX) + "</think>"
        yield "\n\n".join(TEX)
        return
    yield "<think>\n"
    slow = message.startswith("think long")
    for i in range(400 if slow else 30):
        time.sleep(0.05)
        yield f"Step {i}: the area grows as $r^2$. "
    yield "\n</think>\n\n"
    for part in ["The area of a circle is ", r"$A = \pi r^2$", ", so for $r = 2$:", "\n\n",
                 r"$$A = 4\pi \approx 12.57$$", "\n\nPrinting costs $5 and $10."]:
        time.sleep(0.05)
        yield part

chat = nbchat.Chat(thinker)
chat"""


@pytest.fixture
def thinking_notebook(lab: Lab) -> str:
    shutil.copy(PAYLOADS_FILE, lab.root / PAYLOADS_FILE.name)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP.strip())]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "thinking.ipynb")
    return "thinking.ipynb"


LONG_FRAMES = """() => {
    window.__longest = 0;
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: "longtask", buffered: false });
}"""


def test_thinking_streams_collapses_expands_stops_and_renders_math(lab: Lab, page: Any, thinking_notebook: str) -> None:
    traffic = Traffic(page, lab)
    open_notebook(lab, page, thinking_notebook)
    run_all(page)
    chat = current_notebook(page).locator(".nbchat").first
    chat.wait_for()
    page.evaluate(LONG_FRAMES)

    # thinking streams live, in an open block, before any answer text
    ask(chat, "What is the area of a circle of radius 2?")
    block = chat.locator('[data-role="assistant"]').last.locator(".nbchat-thinking")
    page.wait_for_function(
        "(el) => el.dataset.state === 'thinking' && el.open", arg=block.element_handle(timeout=30_000)
    )
    assert block.locator("summary").inner_text().strip() == "Thinking…"
    sizes = []
    for _ in range(6):
        sizes.append(len(block.locator(".nbchat-thinking-body").inner_text()))
        time.sleep(0.2)
    assert len(set(sizes)) >= 3, f"thinking did not stream: {sizes}"
    assert block.locator(".nbchat-thinking-body math").count() > 0  # math in the thoughts

    # the answer starts: the block collapses; when done it says how long, and opens on a click
    reply = chat.locator('[data-role="assistant"]').last
    page.wait_for_function("(el) => el.dataset.status === 'done'", arg=reply.element_handle(), timeout=60_000)
    assert not block.evaluate("el => el.open")
    summary = block.locator("summary").inner_text()
    assert summary.startswith("Thought for "), summary
    block.locator("summary").click()
    assert block.evaluate("el => el.open")
    assert reply.locator(".nbchat-content math").count() >= 2  # inline and display math in the answer
    assert reply.locator(".nbchat-content .katex-display math").count() == 1
    assert "$5 and $10" in reply.locator(".nbchat-content").inner_text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    reply.screenshot(path=str(SCREENSHOT))

    # Stop while thinking: the thoughts stay, marked stopped; no answer
    ask(chat, "think long about it")
    stopping = chat.locator('[data-role="assistant"]').last
    page.wait_for_function(
        "(el) => el.querySelector('.nbchat-thinking')?.dataset.state === 'thinking'"
        " && el.querySelector('.nbchat-thinking-body').textContent.length > 100",
        arg=stopping.element_handle(),
        timeout=30_000,
    )
    chat.get_by_role("button", name="Stop").click()
    page.wait_for_function("(el) => el.dataset.status === 'stopped'", arg=stopping.element_handle(), timeout=15_000)
    stopped = stopping.locator(".nbchat-thinking")
    assert stopped.get_attribute("data-state") == "stopped"
    assert stopped.locator("summary").inner_text().startswith("Thinking stopped")
    assert len(stopped.locator(".nbchat-thinking-body").inner_text()) > 100

    # hostile corpus and hostile TeX through the thinking block: inert, nothing fetched, no long frame. Twice, and
    # the lower of the two longest frames counts: load on the machine only ever adds to a task's duration.
    frames = []
    for _ in range(2):
        page.evaluate("() => { window.__longest = 0; }")
        last = ask(chat, "hostile")
        page.wait_for_function("(el) => el.dataset.status === 'done'", arg=last.element_handle(), timeout=60_000)
        last.locator(".nbchat-thinking summary").click()
        time.sleep(1.0)
        frames.append(page.evaluate("() => window.__longest"))
    state = page.evaluate(PAGE_STATE)
    assert state["pwned"] == "undefined"
    assert not state["pwnedInWindow"]
    assert state["handlers"] == []
    assert state["badHrefs"] == []
    assert state["forbidden"] == []
    assert state["styles"] == 0
    assert traffic.outside() == []
    assert traffic.dialogs == []
    longest = min(frames)
    assert longest < 200, f"a frame took {longest:.0f} ms (runs: {frames})"

    # the Thinking choice in Advanced options reaches the kernel; this function has no switch, and the reply says so
    chat.locator("summary", has_text="Advanced options").click()
    chat.get_by_label("Thinking", exact=True).select_option("off")
    ask(chat, "What is the area of a circle of radius 1?")
    noted = chat.locator('[data-role="assistant"]').last
    page.wait_for_function("(el) => el.dataset.status === 'done'", arg=noted.element_handle(), timeout=60_000)
    assert "thinking=False was not applied" in noted.locator(".nbchat-note").inner_text()
    print(json.dumps({"screenshot": str(SCREENSHOT.relative_to(ROOT)), "longest_frame_ms": longest}))


def test_screenshot_is_in_docs() -> None:
    """The screenshot above is committed (docs/images/), so README and the docs can show it."""
    assert Path(SCREENSHOT).exists()
