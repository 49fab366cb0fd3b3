"""Working with a conversation in JupyterLab: edit, regenerate, flip branches, copy code, details, reload."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ARTIFACTS, Lab
from .lab import current_notebook, open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

SETUP = """\
import itertools
import nbchat

calls = itertools.count(1)

def bot(message, history):
    n = next(calls)
    return f"Answer #{n} to: {message}\\n\\n```python\\nprint('hello {n}')\\n```"

chat = nbchat.Chat(bot, system_prompt="You are a test double.")
chat"""


@pytest.fixture
def notebook(lab: Lab) -> str:
    return write_notebook(lab, "conversation_ui.ipynb", SETUP)


def send(chat: Any, page: Any, text: str) -> None:
    count = chat.locator('[data-role="assistant"][data-status="done"]').count()
    box = chat.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(
        "([n]) => document.querySelectorAll('.nbchat [data-role=assistant][data-status=done]').length > n",
        arg=[count],
    )


def test_edit_regenerate_branches_copy_details_and_reload(lab: Lab, page: Any, notebook: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url("").split("/?")[0])
    open_notebook(lab, page, notebook)
    run_all(page)
    chat = current_notebook(page).locator(".nbchat").first
    chat.wait_for()
    send(chat, page, "first question")
    send(chat, page, "second question")
    assistants = chat.locator('[data-role="assistant"]')
    assert "Answer #2 to: second question" in assistants.last.inner_text()

    # regenerate: a second version of the last answer, with a ‹ 2/2 › switcher
    assistants.last.get_by_role("button", name="Regenerate").click()
    page.wait_for_function("() => document.querySelector('.nbchat [data-role=assistant]:last-of-type')"
                           "?.innerText.includes('Answer #3')")  # fmt: skip
    last = chat.locator('[data-role="assistant"]').last
    assert "2/2" in last.inner_text()
    last.get_by_role("button", name="Previous version").click()
    page.wait_for_function("() => [...document.querySelectorAll('.nbchat [data-role=assistant]')].at(-1)"
                           "?.innerText.includes('Answer #2')")  # fmt: skip
    assert "1/2" in chat.locator('[data-role="assistant"]').last.inner_text()

    # edit the first question: a new branch from there, the later turns kept aside
    first_user = chat.locator('[data-role="user"]').first
    first_user.get_by_role("button", name="Edit").click()
    editor = chat.get_by_label("Edit message")
    editor.fill("first question, edited")
    editor.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.nbchat [data-role=user]').length === 1"
        " && document.querySelector('.nbchat [data-role=assistant]')?.dataset.status === 'done'"
    )
    assert chat.locator('[data-role="user"]').first.inner_text().startswith("first question, edited")
    assert "2/2" in chat.locator('[data-role="user"]').first.inner_text()
    answer = chat.locator('[data-role="assistant"]').first
    assert "Answer #4 to: first question, edited" in answer.inner_text()

    # copy a code block: exactly the code, not the button label
    answer.get_by_role("button", name="Copy code").click()
    assert page.evaluate("() => navigator.clipboard.readText()").strip() == "print('hello 4')"

    # the provenance card shows the request that was sent
    answer.get_by_role("button", name="Details").click()
    card = answer.get_by_role("region", name="Details")
    card.wait_for()
    card.locator("summary", has_text="Request").click()
    assert "You are a test double." in card.inner_text()
    assert "first question, edited" in card.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chat.screenshot(path=str(ARTIFACTS / "conversation-branches-details.png"))

    # flip back to the original branch: its later turns are all there
    chat.locator('[data-role="user"]').first.get_by_role("button", name="Previous version").click()
    page.wait_for_function("() => document.querySelectorAll('.nbchat [data-role=user]').length === 2")

    # save and reload: the same branch, with its switchers, is still shown
    before = chat.locator("[data-role]").all_inner_texts()
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    page.wait_for_selector(".nbchat [data-role='assistant']", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.content")
    after = current_notebook(page).locator(".nbchat").first.locator("[data-role]").all_inner_texts()
    assert after == before
