"""Documents in JupyterLab, in a real browser: attach a PDF made here with the Attach button, see what it will send,
ask, and open the passage a citation chip points to (a scripted model that cites the page it was given).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import document_files as files

from .conftest import ARTIFACTS, Lab
from .lab import ask, current_notebook, open_notebook, reply_done, run_all, write_notebook

pytestmark = pytest.mark.browser
pytest.importorskip("fpdf")

QUESTION, CODE, SENTENCE = files.fact(3)

# The model: answers with the code it finds in what it was sent, citing that page, and cites page 11 (not sent).
SETUP = f"""\
import re
import nbchat

def bot(messages):
    sent = " ".join(m["content"] if isinstance(m["content"], str) else str(m["content"]) for m in messages)
    found = re.search(r"\\[(report\\.pdf p\\. \\d+)\\]\\n[^\\[]*?{CODE}", sent)
    where = found.group(1) if found else "report.pdf p. 1"
    return f"The survey code is {CODE} [{{where}}]; page 11 says otherwise [report.pdf p. 11]."

chat = nbchat.Chat(bot, documents={{"mode": "relevant", "top_k": 1}})
chat"""


@pytest.fixture
def documents_notebook(lab: Lab) -> str:
    (lab.root / "report.pdf").write_bytes(files.report_pdf(12))
    return write_notebook(lab, "documents.ipynb", SETUP)


def test_attach_a_pdf_ask_and_a_citation_chip_opens_the_passage(lab: Lab, page: Any, documents_notebook: str) -> None:
    open_notebook(lab, page, documents_notebook)
    run_all(page)
    chat = current_notebook(page).locator(".nbchat").first
    chat.wait_for()

    # Attach: the file chooser behind the Attach button; the kernel converts it and the chip says what it will send
    chat.locator("input[type=file]").set_input_files(str(lab.root / "report.pdf"))
    plan = chat.locator(".nbchat-tray .nbchat-doc-plan")
    plan.wait_for(timeout=60_000)
    assert plan.get_attribute("data-plan") == "relevant"
    assert "relevant passages" in plan.text_content()
    assert chat.locator(".nbchat-tray .nbchat-document").text_content().count("12 pages") == 1

    reply = reply_done(page, ask(chat, QUESTION))
    user = chat.locator('[data-role="user"]').last
    assert user.locator(".nbchat-doc-mode").text_content() == "relevant passages: 1 of 12"

    chips = reply.locator("button.nbchat-cite")
    chips.first.wait_for(timeout=30_000)
    assert chips.count() == 2
    verified, unverified = chips.nth(0), chips.nth(1)
    assert verified.text_content() == "report.pdf p. 3"
    assert verified.get_attribute("data-verified") == "true"
    assert unverified.get_attribute("data-verified") == "false"

    verified.click()
    passage = reply.locator(".nbchat-cite-passage")
    passage.wait_for()
    assert SENTENCE in passage.locator(".nbchat-cite-text").text_content()  # the exact passage sent
    assert "sent with this question" in passage.text_content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    reply.scroll_into_view_if_needed()
    chat.screenshot(path=str(ARTIFACTS / "jupyterlab-citation-chip.png"))

    unverified.click()  # one passage open at a time; this one was not sent
    assert passage.count() == 1
    assert "Unverified" in passage.text_content()
