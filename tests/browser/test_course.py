"""Course features in a real browser: the browser's language, starter prompts, Esc, ↑, ratings, Export, shortcuts.

JupyterLab runs the quickstart (the embedded model) in an English and in a Chinese Chromium; each run ends with a
screenshot for the README (docs/images/chat-en.png, chat-zh.png). ``nbchat web`` (Voila) is driven with
``--lang zh --prompt ... --feedback FILE``.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.testing import FakeBackend, RecordingComm

from .conftest import ROOT, Lab
from .frontends import ECHO_CODE, Server, open_web_chat, wait_ready, write_notebook
from .lab import current_notebook, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("embedded_ready")]

IMAGES = ROOT / "docs" / "images"
PROMPTS = {
    "en": ["Which animals live in the savanna?", "Explain {a word} in one sentence."],
    "zh": ["用一句话介绍狮子。", "用一句话解释“{一个词}”。"],
}
TEXTS = {  # what the widget must say in each language (from js/i18n.ts)
    "en": {"send": "Send", "stopped": "stopped", "box": "Message", "export": "Export", "saved": "Thanks"},
    "zh": {"send": "发送", "stopped": "已停止", "box": "消息", "export": "导出", "saved": "谢谢"},
}


def new_page(browser: Any, locale: str) -> Any:
    """A page in a browser context whose languages are ``locale`` (navigator.languages, Accept-Language)."""
    context = browser.new_context(viewport={"width": 1100, "height": 860}, locale=locale, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def by_id(chat: Any, test_id: str) -> Any:
    return chat.locator(f'[data-testid="{test_id}"]')


@pytest.mark.parametrize(("lang", "locale"), [("en", "en-US"), ("zh", "zh-CN")])
def test_quickstart_in_the_browsers_language(
    lab: Lab, browser: Any, lang: str, locale: str, tmp_path: Path, comms: list[RecordingComm]
) -> None:
    name = f"course_{lang}.ipynb"
    write_notebook(
        lab.root / name,
        # 400 new tokens: the reply Esc stops runs ~3 s (at 48 it could end before the key press reached it)
        f"import nbchat\n\nchat = nbchat.Chat(prompts={PROMPTS[lang]!r}, max_new_tokens=400, temperature=0)\nchat",
    )
    page = new_page(browser, locale)
    try:
        open_notebook(lab, page, name)
        run_all(page)
        chat = current_notebook(page).locator(".nbchat").first
        chat.wait_for()
        wait_ready(page, chat, timeout_ms=180_000)
        texts = TEXTS[lang]
        assert chat.get_attribute("data-lang") == lang  # no lang=: the browser's language
        assert by_id(chat, "nbchat-send").inner_text() == texts["send"]
        assert chat.get_by_label(texts["box"], exact=True).is_visible()

        # A card with a {…} placeholder fills the box for completing; a plain one sends at once.
        by_id(chat, "nbchat-prompt-1").click()
        box = by_id(chat, "nbchat-input")
        assert box.input_value() == PROMPTS[lang][1]
        box.fill("")
        by_id(chat, "nbchat-prompt-0").click()
        first = chat.locator('[data-role="assistant"]').first
        page.wait_for_function("(el) => el.dataset.status === 'done'", arg=first.element_handle(), timeout=120_000)
        assert chat.locator(".nbchat-prompts").is_hidden()

        # ↑ in the empty box recalls the question; Esc stops the reply it starts.
        box.click()
        box.press("ArrowUp")
        assert box.input_value() == PROMPTS[lang][0]
        longer = "Write a long story about them." if lang == "en" else "请写一个关于它的长故事。"
        box.fill(PROMPTS[lang][0] + " " + longer)
        box.press("Enter")
        chat.locator('[data-role="assistant"][data-status="streaming"]').wait_for(timeout=60_000)
        box.press("Escape")
        stopped = chat.locator('[data-role="assistant"][data-status="stopped"]')
        stopped.wait_for(timeout=15_000)
        assert stopped.locator(".nbchat-badge").inner_text().strip() == texts["stopped"]

        # Rate the first answer with a comment.
        first.locator('[data-testid="nbchat-rate-up"]').click()
        first.locator('[data-testid="nbchat-feedback-comment"]').fill("Clear." if lang == "en" else "很清楚。")
        first.locator('[data-testid="nbchat-feedback-save"]').click()
        first.locator(".nbchat-feedback-saved", has_text=texts["saved"]).wait_for()
        page.wait_for_function(
            "(el) => el.querySelector('[data-testid=nbchat-rate-up]').getAttribute('aria-pressed') === 'true'",
            arg=first.element_handle(),
        )

        IMAGES.mkdir(parents=True, exist_ok=True)
        box.focus()  # the pointer and focus away from the answers: their action bars fade out (0.12 s)
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)
        chat.screenshot(path=str(IMAGES / f"chat-{lang}.png"))

        # Download the conversation as nbchat JSON; it loads back with Chat.load, rating and all.
        by_id(chat, "nbchat-export").click()
        with page.expect_download() as info:
            by_id(chat, "nbchat-export-json").click()
        download = info.value
        assert re.fullmatch(r"chat-[\w.-]+-\d{8}-\d{4}\.json", download.suggested_filename)
        path = tmp_path / download.suggested_filename
        download.save_as(str(path))
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["format"] == "nbchat.conversation"
        loaded = nbchat.Chat.load(path, FakeBackend())
        assert loaded.messages[0]["content"] == PROMPTS[lang][0]
        records = loaded.conversation.feedback_records()
        assert [(r["rating"], r["comment"], r["question"]) for r in records] == [
            ("up", "Clear." if lang == "en" else "很清楚。", PROMPTS[lang][0])
        ]
        # ... and as Markdown: the kernel's to_markdown() (the menu closed after the first download)
        by_id(chat, "nbchat-export").click()
        with page.expect_download() as info:
            by_id(chat, "nbchat-export-markdown").click()
        markdown = Path(info.value.path()).read_text(encoding="utf-8")
        assert PROMPTS[lang][0] in markdown
        assert info.value.suggested_filename.endswith(".md")
    finally:
        page.context.close()


def test_jupyterlab_keeps_its_shortcuts_while_the_chat_is_not_focused(lab: Lab, browser: Any) -> None:
    write_notebook(lab.root / "course_keys.ipynb", ECHO_CODE + "\nchat = nbchat.Chat(echo)\nchat", "1 + 1")
    page = new_page(browser, "en-US")
    try:
        open_notebook(lab, page, "course_keys.ipynb")
        run_all(page)
        notebook = current_notebook(page)
        chat = notebook.locator(".nbchat").first
        chat.wait_for()
        cells = "() => window.jupyterapp.shell.currentWidget.content.widgets.length"
        before = page.evaluate(cells)

        # Command mode on the second cell: "b" inserts a cell below, "Escape" and arrows work as in JupyterLab.
        notebook.locator(".jp-Cell").nth(1).locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.wait_for_function(f"() => ({cells})() === {before + 1}")

        # Typing in the chat: the keys stay in the chat.
        box = by_id(chat, "nbchat-input")
        box.click()
        page.keyboard.type("bad")
        page.keyboard.press("Escape")
        page.keyboard.press("ArrowUp")
        assert box.input_value() == "bad"
        assert page.evaluate(cells) == before + 1
        # Ctrl+Enter sends from the chat and does not run the notebook's cell.
        runs = "() => window.jupyterapp.shell.currentWidget.content.widgets[1].model.executionCount"
        count_before = page.evaluate(runs)
        box.press("Control+Enter")
        chat.locator('[data-role="assistant"][data-status="done"]').first.wait_for(timeout=30_000)
        assert page.evaluate(runs) == count_before

        # The shortcuts help lists the keys.
        by_id(chat, "nbchat-shortcuts").click()
        assert "Esc" in chat.locator(".nbchat-shortcuts").inner_text()
    finally:
        page.context.close()


def test_nbchat_web_in_chinese_with_starter_prompts_and_a_feedback_file(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "bots.py").write_text(ECHO_CODE, encoding="utf-8")
    log = tmp_path / "ratings.jsonl"
    command = [
        str(Path(sys.executable).with_name("nbchat")), "web", "bots:echo", "--lang", "zh",
        "--prompt", "什么是 token？", "--feedback", str(log),
    ]  # fmt: skip
    server = Server(command, tmp_path / "nbchat-web.log", cwd=tmp_path)
    page = new_page(browser, "en-US")  # lang= wins over the browser's language
    try:
        chat = open_web_chat(server, page)
        assert chat.get_attribute("data-lang") == "zh"
        assert by_id(chat, "nbchat-send").inner_text() == "发送"
        by_id(chat, "nbchat-prompt-0").click()
        answer = chat.locator('[data-role="assistant"][data-status="done"]').first
        answer.wait_for(timeout=30_000)
        assert "什么是 token？" in answer.inner_text()
        answer.locator('[data-testid="nbchat-rate-down"]').click()
        answer.locator('[data-testid="nbchat-feedback-comment"]').fill("太短了")
        answer.locator('[data-testid="nbchat-feedback-save"]').click()
        answer.locator(".nbchat-feedback-saved").wait_for()
        # "saved" shows when the form is sent; the kernel writes the line a moment later
        deadline = time.monotonic() + 15
        lines: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not any(x["comment"] == "太短了" for x in lines):
            time.sleep(0.1)
            text = log.read_text(encoding="utf-8") if log.exists() else ""
            lines = [json.loads(line) for line in text.splitlines()]
        assert [(x["rating"], x["comment"], x["question"]) for x in lines][-1] == ("down", "太短了", "什么是 token？")

        by_id(chat, "nbchat-export").click()
        with page.expect_download() as info:
            by_id(chat, "nbchat-export-json").click()
        saved = tmp_path / "web.json"
        info.value.save_as(str(saved))
        assert nbchat.Conversation.load(saved, FakeBackend()).feedback_records()[0]["comment"] == "太短了"
    finally:
        page.context.close()
        server.stop(signal.SIGINT, timeout=30)
