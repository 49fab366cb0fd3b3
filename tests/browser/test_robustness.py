"""Rough use of a chat in JupyterLab: two views, double sends, sending while a reply streams, Stop before the first
token, Clear mid-reply, out-of-range settings from the page, a kernel restart, and a 1,000-turn chat that stays
responsive. Nothing is duplicated or lost, nothing stays "generating", and the page says what happened."""

from __future__ import annotations

import json
import time
from typing import Any

import nbformat
import pytest

from benchmarks.browser import measure_long_chat, summarize

from .conftest import ARTIFACTS, Lab
from .test_jupyterlab import open_notebook, run_all_cells

pytestmark = pytest.mark.browser

SETUP = """\
import time, nbchat

def bot(message, history):
    if message.startswith("slow"):
        for i in range(500):
            time.sleep(0.02)
            yield f"w{i} "
    elif message.startswith("think"):
        time.sleep(20)  # a model that takes its time before the first token
        yield "late"
    else:
        yield f"Echo: {message}"

chat = nbchat.Chat(bot)
chat"""


@pytest.fixture
def notebook(lab: Lab) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("chat  # a second view")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "robustness.ipynb")
    return "robustness.ipynb"


def users(view: Any, text: str) -> int:
    return int(view.evaluate(
        "(root, text) => [...root.querySelectorAll('[data-role=user] .nbchat-content')]"
        ".filter((el) => el.textContent === text).length",
        text,
    ))  # fmt: skip


def wait_answered(page: Any, text: str) -> None:
    """Every view shows the user message ``text`` followed by a finished reply."""
    page.wait_for_function(
        """(text) => [...document.querySelectorAll('.nbchat')].every((root) => {
            const nodes = [...root.querySelectorAll('[data-role]')];
            const i = nodes.findIndex((n) => n.dataset.role === 'user'
                && n.querySelector('.nbchat-content').textContent === text);
            return i >= 0 && nodes[i + 1] && nodes[i + 1].dataset.status !== 'streaming';
        })""",
        arg=text,
        timeout=30_000,
    )
    wait_idle(page)


def wait_idle(page: Any) -> None:
    """Both views show no streaming reply and an enabled Send button."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nbchat')].every((root) =>"
        " !root.querySelector('[data-status=streaming]')"
        " && !root.querySelector('.nbchat-composer .nbchat-primary').disabled)",
        timeout=30_000,
    )


def wait_streaming(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nbchat')].every((root) =>"
        " root.querySelector('[data-status=streaming] .nbchat-content')?.textContent.includes('w3'))",
        timeout=30_000,
    )


def test_two_views_double_sends_stop_clear_settings_and_restart(lab: Lab, page: Any, notebook: str) -> None:
    open_notebook(lab, page, notebook)
    run_all_cells(page)
    views = page.locator(".nbchat")
    views.nth(1).wait_for()
    assert views.count() == 2
    one, two = views.nth(0), views.nth(1)
    box = one.get_by_label("Message", exact=True)
    send = one.get_by_role("button", name="Send")

    # two views of one widget: a message sent from one shows in both, with its reply
    box.fill("hello from view one")
    box.press("Enter")
    wait_answered(page, "hello from view one")
    page.wait_for_function("() => [...document.querySelectorAll('.nbchat')].every((root) =>"
                           " root.innerText.includes('Echo: hello from view one'))")  # fmt: skip
    assert users(one, "hello from view one") == users(two, "hello from view one") == 1

    # double-click Send, Enter twice: one message each
    box.fill("double click")
    send.dblclick()
    wait_answered(page, "double click")
    box.fill("enter twice")
    box.press("Enter")
    box.press("Enter")
    wait_answered(page, "enter twice")
    time.sleep(0.5)  # a duplicate would have arrived by now
    for view in (one, two):
        assert users(view, "double click") == 1
        assert users(view, "enter twice") == 1

    # sending while a reply streams: refused in the page, the text stays in the box, nothing is sent
    box.fill("slow reply please")
    box.press("Enter")
    wait_streaming(page)
    assert send.is_disabled()
    assert two.get_by_role("button", name="Send").is_disabled()
    box.fill("typed while streaming")
    box.press("Enter")
    send.click(force=True)
    time.sleep(0.3)
    assert box.input_value() == "typed while streaming"
    assert users(one, "typed while streaming") == 0
    one.get_by_role("button", name="Stop").click()
    wait_idle(page)
    stopped = one.locator('[data-role="assistant"][data-status="stopped"]')
    assert stopped.count() == 1
    box.press("Enter")  # now it goes
    wait_answered(page, "typed while streaming")
    assert users(one, "typed while streaming") == users(two, "typed while streaming") == 1
    assert box.input_value() == ""

    # Stop before the first token
    box.fill("think hard")
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('.nbchat [data-status=streaming]')")
    time.sleep(0.3)
    started = time.perf_counter()
    one.get_by_role("button", name="Stop").click()
    page.wait_for_function("() => [...document.querySelectorAll('.nbchat [data-role=assistant]')].pop()"
                           "?.dataset.status === 'stopped'")  # fmt: skip
    stop_ms = (time.perf_counter() - started) * 1000
    wait_idle(page)
    print(f"Stop before the first token, seen in the page: {stop_ms:.0f} ms")
    assert stop_ms < 10_000  # the model sleeps 20 s before its first token: Stop did not wait for it

    # Clear while streaming: both views empty, nothing stuck, the next message works
    box.fill("slow again")
    box.press("Enter")
    wait_streaming(page)
    one.get_by_role("button", name="Clear").click()
    wait_idle(page)
    page.wait_for_function("() => !document.querySelector('.nbchat [data-role]')")
    box.fill("after clear")
    box.press("Enter")
    wait_answered(page, "after clear")
    page.wait_for_function("() => [...document.querySelectorAll('.nbchat')].every((root) =>"
                           " root.innerText.includes('Echo: after clear'))")  # fmt: skip
    assert users(one, "after clear") == users(two, "after clear") == 1

    # out-of-range settings sent from the page (a widened slider): refused or clamped, and said
    one.locator("summary", has_text="Advanced options").click()
    temperature = one.get_by_label("Temperature", exact=True)
    temperature.evaluate("(el) => { el.max = '100'; el.value = '50';"
                         " el.dispatchEvent(new Event('change', {bubbles: true})); }")  # fmt: skip
    notice = one.locator(".nbchat-notice")
    page.wait_for_function(
        "() => document.querySelector('.nbchat .nbchat-notice')?.textContent.includes('Temperature')"
    )
    assert "50 was refused" in notice.inner_text()
    page.wait_for_function("() => document.querySelector('.nbchat').querySelectorAll('input[type=range]')[1].value"
                           " === '0.7'")  # fmt: skip
    tokens = one.get_by_label("Max new tokens", exact=True)
    tokens.evaluate("(el) => { el.max = '10000000'; el.value = '10000000';"
                    " el.dispatchEvent(new Event('change', {bubbles: true})); }")  # fmt: skip
    page.wait_for_function("() => document.querySelector('.nbchat .nbchat-notice')?.textContent.includes('at most')")
    page.wait_for_function("() => document.querySelector('.nbchat').querySelectorAll('input[type=range]')[0].value"
                           " === '4096'")  # fmt: skip
    assert two.get_by_label("Max new tokens", exact=True).input_value() == "4096"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    one.screenshot(path=str(ARTIFACTS / "settings-refused.png"))

    # a kernel restart: the old views stay readable, say they are disconnected, and cannot send
    box.fill("draft kept")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    page.wait_for_function("() => [...document.querySelectorAll('.nbchat')].every((root) =>"
                           " root.dataset.connected === 'false' && !root.querySelector('.nbchat-disconnected').hidden)",
                           timeout=60_000)  # fmt: skip
    for view in (one, two):
        banner = view.locator(".nbchat-disconnected")
        assert "run the cell again" in banner.inner_text()
        assert view.get_by_role("button", name="Send").is_disabled()
        assert view.get_by_label("Message", exact=True).get_attribute("readonly") is not None
        assert "Echo: after clear" in (view.text_content() or "")
        assert view.locator(".nbchat-status-text").text_content() == "disconnected"
    assert box.input_value() == "draft kept"
    one.screenshot(path=str(ARTIFACTS / "disconnected.png"))


def test_a_1000_turn_chat_stays_responsive(lab: Lab, page: Any) -> None:
    """benchmarks/browser.py's measurement: with 1,000 earlier turns, a streaming reply leaves the others alone.

    How fast deltas and key presses are painted is a figure of ``python -m benchmarks`` (goal 100 ms), not asserted
    here: on a shared test machine it measures the machine. What keeps it fast is asserted instead: a new turn
    replaces none of the 2,000 messages already painted, and while the reply streams only the page in view changes
    (before messages were grouped in pages, each delta re-rendered the list: 300-550 ms p95).
    """
    result = measure_long_chat(page, lab.url, lab.root, turns=1000)
    figures = summarize(result)
    print("1,000 turns:", json.dumps(figures, ensure_ascii=False))
    assert page.locator(".nbchat [data-role]").count() == 2002
    assert figures["deltas measured"] >= 100
    assert result["earlier_replaced"] == 0
    # Only the page in view (the last 50 messages: messages.ts PAGE_SIZE) may change, when the reply is committed and
    # their actions are enabled again; pages out of view are refreshed when seen.
    assert min(result["earlier_touched"], default=2000) >= 2000 - 50, result["earlier_touched"][:10]
