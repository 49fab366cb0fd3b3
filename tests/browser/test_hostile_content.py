"""Untrusted text in a real JupyterLab: hostile payloads, odd characters and 1 MB messages, as model output and as
user text. Nothing runs, nothing is fetched from elsewhere, the page's own globals still work, the page never freezes.

The payloads live in tests/hostile_payloads.json (the vitest corpus test reads the same file). Every request the page
makes is recorded, and every one that would leave JupyterLab's origin is refused (and counted).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import ARTIFACTS, Lab
from .test_jupyterlab import open_notebook, run_all_cells

pytestmark = pytest.mark.browser

PAYLOADS_FILE = Path(__file__).resolve().parents[1] / "hostile_payloads.json"
PAYLOADS: list[dict[str, str]] = json.loads(PAYLOADS_FILE.read_text(encoding="utf-8"))

SETUP = """\
import json, time
import nbchat

PAYLOADS = json.load(open("hostile_payloads.json", encoding="utf-8"))

def bot(message, history):
    return message  # the model "says" exactly what it was sent: every payload is a reply too

chat = nbchat.Chat(bot)
chat"""
ASK_ALL = "for p in PAYLOADS:\n    chat.ask(p['text'])"

ODD_TEXTS = [
    "right-to-left override \u202eevil.exe\u202c and after",
    "\u202eunterminated override at the start",
    "עברית ועוד טקסט בעברית",
    "emoji 🦁🦒🐘 with ZWJ 👩‍🔬 and a flag 🇰🇪",
    "CJK 你好，世界 · 日本語のテキスト · 한국어 텍스트",
    "control characters \u0007 bell \u001b[31m ANSI \u001b[0m tab\there \u007f DEL",
    "zero width\u200bspace, combining e\u0301, astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]


class Traffic:
    """Every request the browser context makes: from the lab page, from pop-ups; outside the origin refused."""

    def __init__(self, page: Any, lab: Lab) -> None:
        self.origin = f"http://127.0.0.1:{lab.port}"
        self.page = page
        self.requests: list[tuple[str, bool]] = []  # (url, from the lab page)
        self.refused: list[str] = []
        self.popups: list[Any] = []
        self.dialogs: list[str] = []
        context = page.context
        context.route("**/*", self._route)
        context.on("request", self._request)
        context.on("page", lambda popup: self.popups.append(popup))
        page.on("dialog", self._dialog)

    def local(self, url: str) -> bool:
        return url.startswith((f"{self.origin}/", "data:", "blob:", "about:"))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if self.local(url):
            route.continue_()
        else:  # answered here with an empty page: nothing leaves the machine, and a new tab has a document to check
            self.refused.append(url)
            route.fulfill(status=200, content_type="text/html", body="")

    def _request(self, request: Any) -> None:
        try:
            from_lab = request.frame.page == self.page
        except Exception:  # noqa: BLE001 - a detached frame (closed pop-up) is not the lab page
            from_lab = False
        self.requests.append((request.url, from_lab))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def outside(self) -> list[str]:
        """Requests from the lab page to anywhere but its own origin."""
        return [url for url, from_lab in self.requests if from_lab and not self.local(url)]


PAGE_STATE = """() => {
    // answers, user messages and thinking blocks (math renders as MathML inside them: allowed, but never a link)
    const contents = [...document.querySelectorAll('.nbchat .nbchat-content, .nbchat .nbchat-thinking-body')];
    const inside = contents.flatMap((c) => [...c.querySelectorAll('*')]);
    const handlers = inside.flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith('on'))
        .map((a) => el.tagName + ' ' + a.name));
    const badHrefs = inside.filter((el) => el.tagName === 'A' && el.hasAttribute('href')
        && !/^(https?:|mailto:)/i.test(el.getAttribute('href'))).map((el) => el.getAttribute('href'));
    const forbidden = inside.filter((el) => el.matches(
        'script,style,img,svg,mglyph,maction,iframe,frame,object,embed,form,input,textarea,select,base,meta,link,video,'
        + 'audio,[href]:not(a),'
        + 'source,template,noscript,marquee,details,x-widget,'
        + 'button:not(.nbchat-code-copy):not(.nbchat-code-cell):not(.nbchat-show-all)'))
        .map((el) => el.tagName);
    return {
        pwned: typeof window.__pwned,
        pwnedInWindow: '__pwned' in window,
        getElementById: typeof document.getElementById,
        app: typeof window.jupyterapp?.commands?.execute,
        config: document.getElementById('jupyter-config-data')?.tagName ?? null,
        body: document.body instanceof HTMLBodyElement,
        cookie: typeof document.cookie,
        attributes: document.documentElement.attributes instanceof NamedNodeMap,
        forms: document.forms.length,
        baseURI: document.baseURI,
        direction: getComputedStyle(document.documentElement).direction,
        bodyDirection: getComputedStyle(document.body).direction,
        idsOrNames: inside.filter((el) => el.hasAttribute('id') || el.hasAttribute('name')).length,
        styles: inside.filter((el) => el.hasAttribute('style') || el.hasAttribute('src')).length,
        handlers, badHrefs, forbidden,
    };
}"""


@pytest.fixture
def hostile_notebook(lab: Lab) -> str:
    shutil.copy(PAYLOADS_FILE, lab.root / PAYLOADS_FILE.name)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(ASK_ALL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "hostile.ipynb")
    return "hostile.ipynb"


def no_opener(popup: Any) -> bool | None:
    """``window.opener === null`` in a new tab; None if the tab already closed itself (mailto: does)."""
    try:
        return bool(popup.evaluate("() => window.opener === null"))
    except Exception:  # noqa: BLE001 - closed, or navigated away while asked
        return None


def send(page: Any, chat: Any, text: str) -> None:
    """Type ``text`` (set as the box's value: Playwright's typing cannot enter every control character) and Enter."""
    count = chat.locator('[data-role="assistant"]:not([data-status="streaming"])').count()
    box = chat.get_by_label("Message", exact=True)
    box.evaluate("(el, text) => { el.value = text; el.dispatchEvent(new Event('input', {bubbles: true})); }", text)
    box.press("Enter")
    page.wait_for_function(
        "([n]) => [...document.querySelector('.nbchat').querySelectorAll('[data-role=assistant]')]"
        ".filter((m) => m.dataset.status && m.dataset.status !== 'streaming').length > n",
        arg=[count],
        timeout=60_000,
    )


def test_hostile_payloads_render_inert(lab: Lab, page: Any, hostile_notebook: str) -> None:
    traffic = Traffic(page, lab)
    open_notebook(lab, page, hostile_notebook)
    base_before = page.evaluate("() => document.baseURI")
    run_all_cells(page)
    chat = page.locator(".nbchat").first
    page.wait_for_function(
        "([n]) => document.querySelectorAll('.nbchat [data-role=assistant][data-status=done]').length >= n",
        arg=[len(PAYLOADS)],
        timeout=120_000,
    )
    users = chat.locator('[data-role="user"] .nbchat-content')
    assert users.count() == len(PAYLOADS)
    # user text is shown exactly as typed, as text; only math in it is rendered, its TeX kept in the annotation
    shown = users.evaluate_all(
        "(els) => els.map((el) => el.querySelector('math') ? "
        "{tex: [...el.querySelectorAll('annotation')].map((a) => a.textContent)} : el.textContent)"
    )
    for payload, text in zip(PAYLOADS, shown, strict=True):
        if isinstance(text, dict):
            assert text["tex"], payload["name"]
            assert all(tex in payload["text"] for tex in text["tex"]), payload["name"]
        else:
            assert text == payload["text"], payload["name"]

    # click every link and button inside the messages, and hover every link
    links = chat.locator(".nbchat-content a")
    clicked, popups = 0, []
    for i in range(links.count()):
        link = links.nth(i)
        href, target, rel = link.evaluate("(a) => [a.getAttribute('href'), a.target, a.rel]")
        link.hover()
        if href is None:  # a link whose address was removed: clicking it does nothing
            link.click(no_wait_after=True)
        else:  # it opens a new tab, which must not be able to reach back into this page
            assert (target, rel) == ("_blank", "noopener noreferrer"), href
            with page.context.expect_page(timeout=15_000) as opened:
                link.click(no_wait_after=True)
            popup = opened.value
            popups.append((href, no_opener(popup)))
            popup.close()
        clicked += 1
    buttons = chat.locator(".nbchat-content button")
    for i in range(buttons.count()):
        buttons.nth(i).click(no_wait_after=True)
        clicked += 1
    time.sleep(1.5)  # a meta refresh, a delayed handler or a lazy fetch would have fired by now

    state = page.evaluate(PAGE_STATE)
    report = {
        "payloads": len(PAYLOADS),
        "links and buttons clicked": clicked,
        "scripts run": int(state["pwned"] != "undefined" or state["pwnedInWindow"]),
        "dialogs": len(traffic.dialogs),
        "requests from the page": len([u for u, own in traffic.requests if own]),
        "of them outside the lab's origin": len(traffic.outside()),
        "new tabs opened by clicked links": len(popups),
        "refused (all in new tabs)": len(traffic.refused),
    }
    print("hostile content:", json.dumps(report))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chat.screenshot(path=str(ARTIFACTS / "hostile-content.png"))

    assert state["pwned"] == "undefined"
    assert state["pwnedInWindow"] is False
    assert traffic.dialogs == []
    assert traffic.outside() == []
    assert page.url.startswith(traffic.origin)  # no meta refresh, no same-tab navigation
    assert state["baseURI"] == base_before  # no <base href>
    # the page's own globals and ids are still its own (no DOM clobbering)
    assert state["getElementById"] == "function"
    assert state["app"] == "function"
    assert state["config"] == "SCRIPT"
    assert state["body"] is True
    assert state["cookie"] == "string"
    assert state["attributes"] is True
    assert (state["direction"], state["bodyDirection"]) == ("ltr", "ltr")
    # nothing that could run or fetch made it into a message
    assert state["handlers"] == []
    assert state["badHrefs"] == []
    assert state["forbidden"] == []
    assert state["idsOrNames"] == 0
    assert state["styles"] == 0
    # links the user clicked opened in a new tab, without a way back to this page, to http(s) only
    assert len(traffic.popups) == len(popups)  # no tab opened by anything but a click on a link
    for href, alone in popups:
        assert alone is not False, href
        assert href.startswith(("https://", "http://", "mailto:")), href
    for url in traffic.refused:
        assert url.startswith(("https://", "http://")), url

    # the chat still works, and odd characters round-trip without flipping anything outside their bubble
    for text in ODD_TEXTS:
        send(page, chat, text)
    last_users = chat.locator('[data-role="user"] .nbchat-content').evaluate_all(
        f"(els) => els.slice(-{len(ODD_TEXTS)}).map((el) => el.textContent)"
    )
    assert last_users == ODD_TEXTS
    directions = chat.evaluate(
        """(root) => ({
            root: getComputedStyle(root).direction,
            bars: [...root.querySelectorAll('.nbchat-msg-bar, .nbchat-meta')]
                .map((el) => getComputedStyle(el).direction),
            composer: getComputedStyle(root.querySelector('.nbchat-composer')).direction,
            isolated: [...root.querySelectorAll('.nbchat-content')].every((el) => el.getAttribute('dir') === 'auto'
                && getComputedStyle(el).unicodeBidi !== 'normal'),
        })"""
    )
    assert directions["root"] == "ltr"
    assert set(directions["bars"]) == {"ltr"}
    assert directions["composer"] == "ltr"
    assert directions["isolated"] is True
    assert page.evaluate(PAGE_STATE)["direction"] == "ltr"
    chat.screenshot(path=str(ARTIFACTS / "odd-characters.png"))


BIG = """\
import time, nbchat
PARA = "Lorem ipsum **dolor** sit amet, `code` consectetur [link](https://example.org) adipiscing elit.\\n\\n"
BIG_MD = (PARA * (1_000_000 // len(PARA) + 1))[:1_000_000]
def bot(message, history):
    return f"Got {len(message):,} characters."
chat = nbchat.Chat(bot)
chat"""

# record long tasks (main thread blocked > 50 ms) and when a condition first held, as epoch milliseconds
PERF = """() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
        .observe({ type: 'longtask' });
    window.__when = (test) => new Promise((resolve) => {
        const check = () => test() ? requestAnimationFrame(() => setTimeout(() =>
            resolve(performance.timeOrigin + performance.now()), 0)) : setTimeout(check, 5);
        check();
    });
}"""


def run_cell_code(page: Any, code: str) -> None:
    """Append a cell with ``code`` at the end of the notebook and run it."""
    page.evaluate(
        """(code) => {
            const panel = window.jupyterapp.shell.currentWidget;
            const nb = panel.content;
            nb.activeCellIndex = nb.widgets.length - 1;
            return window.jupyterapp.commands.execute('notebook:insert-cell-below').then(() => {
                nb.activeCell.model.sharedModel.setSource(code);
                return window.jupyterapp.commands.execute('notebook:run-cell');
            });
        }""",
        code,
    )


def test_1mb_messages_do_not_freeze_the_page(lab: Lab, page: Any) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(BIG)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab.root / "big.ipynb")
    open_notebook(lab, page, "big.ipynb")
    run_all_cells(page)
    chat = page.locator(".nbchat").first
    chat.wait_for()
    page.evaluate(PERF)

    # a 1 MB reply (set from Python) — timed from the kernel setting it to the last chunk painted
    run_cell_code(page, "sent_at = time.time()\nchat.messages = [{'role': 'user', 'content': 'big'}, "
                  "{'role': 'assistant', 'content': BIG_MD}]\nprint(f'SENT_AT={sent_at}')")  # fmt: skip
    first = page.evaluate(
        "() => window.__when(() => document.querySelector('.nbchat [data-role=assistant] .nbchat-chunks p'))"
    )
    done = page.evaluate(
        "() => window.__when(() => { const a = document.querySelector('.nbchat [data-role=assistant]');"
        " return a && a.querySelector('.nbchat-chunks p') && !a.querySelector('.nbchat-rendering'); })"
    )
    output = page.locator(".jp-OutputArea-output", has_text="SENT_AT=").last
    output.wait_for()
    sent_at = float(output.inner_text().split("SENT_AT=")[1].split()[0]) * 1000
    reply_tasks = page.evaluate(
        "() => { const t = window.__longTasks.slice(); window.__longTasks.length = 0; return t; }"
    )
    paragraphs = chat.locator("[data-role=assistant] .nbchat-content p").count()
    # still responsive: typing shows at once
    box = chat.get_by_label("Message", exact=True)
    started = time.perf_counter()
    box.type("still responsive")
    typing_ms = (time.perf_counter() - started) * 1000

    # a 1 MB paste, sent with Enter — timed from Enter to the user bubble painted
    box.evaluate(
        "(el) => { el.value = 'pasted text line\\n'.repeat(58824);"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    pasted = box.evaluate("(el) => el.value.length")
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))")
    box_tasks = page.evaluate(
        "() => { const t = window.__longTasks.slice(); window.__longTasks.length = 0; return t; }"
    )
    enter_at = page.evaluate("() => performance.timeOrigin + performance.now()")
    box.press("Enter")
    user_painted = page.evaluate(
        "() => window.__when(() => [...document.querySelectorAll('.nbchat [data-role=user] .nbchat-content')]"
        ".some((el) => el.querySelector('.nbchat-show-all')))"
    )
    page.wait_for_function(
        "(text) => document.querySelector('.nbchat').innerText.includes(text)", arg=f"Got {pasted:,} characters."
    )
    paste_tasks = page.evaluate("() => window.__longTasks.slice()")
    show_all = chat.locator(".nbchat-show-all")
    assert "Show all (1.0 MB)" in show_all.inner_text()

    figures = {
        "1 MB reply: kernel → first chunk painted (ms)": round(first - sent_at),
        "1 MB reply: kernel → all painted (ms)": round(done - sent_at),
        "1 MB reply: longest main-thread task (ms)": round(max(reply_tasks, default=0)),
        "1 MB paste: Enter → bubble painted (ms)": round(user_painted - enter_at),
        "1 MB paste: longest task putting it in the box (ms)": round(max(box_tasks, default=0)),
        "1 MB paste: longest task sending it (ms)": round(max(paste_tasks, default=0)),
        "typing 16 characters after both (ms)": round(typing_ms),
    }
    print("1 MB messages:", json.dumps(figures))
    assert pasted == 1_000_008
    assert paragraphs >= 9000  # the whole reply is there, as Markdown
    # no freeze: before chunked rendering, a 1 MB reply blocked the page ~2.7 s in one task on this machine; the
    # worst task left is mostly JupyterLab receiving the 1 MB message (limits with slack for a loaded machine)
    assert max(reply_tasks, default=0) < 1500
    assert max(box_tasks + paste_tasks, default=0) < 1500
    assert figures["1 MB reply: kernel → first chunk painted (ms)"] < 3000
