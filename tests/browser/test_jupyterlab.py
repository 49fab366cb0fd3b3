"""The first notebook in JupyterLab, in a real browser: stream, Stop, settings, reload."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from .conftest import ARTIFACTS, Lab
from .lab import current_notebook, open_notebook, run_all

run_all_cells = run_all  # the name other browser tests import

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("embedded_ready")]


def assistant_texts(chat: Any) -> list[str]:
    return chat.locator('[data-role="assistant"]').all_inner_texts()


def test_first_notebook_chats_streams_stops_and_survives_reload(lab: Lab, page: Any) -> None:
    open_notebook(lab, page, "01_first_chatbot.ipynb")
    run_all(page)
    chat = current_notebook(page).locator(".nbchat").first
    chat.wait_for()
    # the notebook's two questions were answered through chat.ask and streamed into this view
    assert len(chat.locator('[data-role="assistant"]').all()) == 2
    page.wait_for_function(
        "() => document.querySelector('.nbchat')?.querySelector('[data-status]')?.dataset.status === 'done'"
    )

    # type, press Enter, and watch the reply grow in several steps
    box = chat.get_by_label("Message", exact=True)
    box.fill("Tell me a long story about a lion who wanted to fly.")
    box.press("Enter")
    streaming = chat.locator('[data-role="assistant"][data-status="streaming"]')
    streaming.wait_for(timeout=30_000)
    lengths: list[int] = []
    deadline = time.time() + 20
    while time.time() < deadline and len(set(lengths)) < 4:
        lengths.append(len(streaming.inner_text()) if streaming.count() else -1)
        time.sleep(0.1)
    assert len({n for n in lengths if n > 0}) >= 3, f"reply did not grow in steps: {lengths}"

    # Stop mid-reply: marked stopped, text kept
    chat.get_by_role("button", name="Stop").click()
    stopped = chat.locator('[data-role="assistant"][data-status="stopped"]')
    stopped.wait_for(timeout=10_000)
    assert stopped.locator(".nbchat-badge").inner_text().strip() == "stopped"
    assert len(stopped.inner_text()) > 10
    assert chat.get_by_role("button", name="Send").is_enabled()

    # Max new tokens = 5 is obeyed
    chat.locator("summary", has_text="Advanced options").click()
    chat.get_by_label("Max new tokens", exact=True).fill("5")
    box.fill("Describe the savanna in detail.")
    replies = chat.locator('[data-role="assistant"]')
    before = replies.count()
    chat.get_by_role("button", name="Send").click()
    page.wait_for_function(  # the new reply is in the view (the kernel syncs it from its own thread)
        "([root, n]) => root.querySelectorAll('[data-role=\"assistant\"]').length > n",
        arg=[chat.element_handle(), before],
        timeout=30_000,
    )
    last = replies.last
    page.wait_for_function(
        "(el) => el.dataset.status && el.dataset.status !== 'streaming'", arg=last.element_handle(), timeout=30_000
    )
    stats = last.locator(".nbchat-stats").inner_text()
    tokens = int(re.search(r"(\d+) tokens?", stats).group(1))  # type: ignore[union-attr]
    assert tokens <= 5, stats

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chat.screenshot(path=str(ARTIFACTS / "jupyterlab-chat.png"))

    # save, reload: the conversation is still there (committed messages live in widget state)
    before = assistant_texts(chat)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    page.wait_for_selector(".nbchat [data-role='assistant']", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.content")
    after = assistant_texts(current_notebook(page).locator(".nbchat").first)
    assert [t.split("\n")[0] for t in after] == [t.split("\n")[0] for t in before]
