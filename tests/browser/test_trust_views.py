"""Model text in the views outside the widget, and code that is hard to highlight, in a real JupyterLab (Chromium).

- ``%%chat`` output (the reply, an error's text, the footer with the model's name from the server) and the static
  transcript the widget leaves in saved notebooks, with the whole hostile corpus (tests/hostile_payloads.json), as
  output of cells the user ran (JupyterLab trusts those: its sanitizer does not run): no script runs, nothing is
  fetched from outside the lab's origin, no element that could run or fetch is in the outputs.
- A 50 kB pathological code fence (the issue's ``cpp`` fence of ``"a " * 24500``, and 250 lines of long
  identifiers) streamed into the widget and into Compare: the longest main-thread task stays under 200 ms.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from .conftest import ARTIFACTS, Lab
from .lab import open_notebook, run_all, write_notebook
from .test_hostile_content import PAYLOADS, PAYLOADS_FILE, Traffic

pytestmark = pytest.mark.browser

VIEWS = """\
import json
import nbchat
from nbchat.testing import FakeBackend

PAYLOADS = json.load(open("hostile_payloads.json", encoding="utf-8"))
hostile = FakeBackend(model='<img src=x onerror="window.__pwned=100">')  # the model's name, as a server reports it
for p in PAYLOADS:
    hostile.enqueue([p["text"]])
hostile.enqueue(["<b>partial</b>"], error=RuntimeError("<script>window.__pwned=101</script>"))
get_ipython().run_line_magic("load_ext", "nbchat")"""
# JupyterLab shows at most 50 outputs of a cell: 30 replies per cell, the error last
ASK = """\
for p in (PAYLOADS + [{"text": "the error"}])[{start}:{start} + 30]:
    get_ipython().run_cell_magic("chat", "-m hostile", p["text"][:200])"""
ASKS = [ASK.replace("{start}", str(start)) for start in range(0, len(PAYLOADS) + 1, 30)]

TRANSCRIPT = """\
chat = nbchat.Chat(lambda message, history: message, system_prompt="<img src=x onerror=window.__pwned=102>")
for p in PAYLOADS:
    if len(p["text"]) < 1000:
        chat.ask(p["text"])
data, _ = chat._repr_mimebundle_()
display({"text/html": data["text/html"]}, raw=True)  # what a viewer without the widget shows"""

OUTPUT_STATE = """() => {
    const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
    const inside = outputs.flatMap((o) => [...o.querySelectorAll('*')]);
    return {
        pwned: typeof window.__pwned,
        outputs: outputs.length,
        elements: inside.length,
        handlers: inside.flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith('on'))
            .map((a) => el.tagName + ' ' + a.name)),
        forbidden: inside.filter((el) => el.matches(
            'script,style,img,svg,math,iframe,frame,object,embed,form,input,textarea,select,base,meta,link,video,'
            + 'audio,source,template,noscript,marquee,details,x-widget,button')).map((el) => el.tagName),
        badHrefs: inside.filter((el) => el.tagName === 'A' && el.hasAttribute('href')
            && !/^(https?:|mailto:)/i.test(el.getAttribute('href'))).map((el) => el.getAttribute('href')),
        payloadText: outputs.some((o) => o.textContent.includes('window.__pwned=1;alert(1)')),
    };
}"""


def test_chat_magic_and_static_transcript_render_inert(lab: Lab, page: Any) -> None:
    shutil.copy(PAYLOADS_FILE, lab.root / PAYLOADS_FILE.name)
    traffic = Traffic(page, lab)
    open_notebook(lab, page, write_notebook(lab, "trust-views.ipynb", VIEWS, *ASKS, TRANSCRIPT))
    run_all(page)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-OutputArea-output .nbchat-static').length >= n", arg=len(PAYLOADS) + 2
    )
    page.wait_for_timeout(1500)  # a lazy fetch, a delayed handler or a math typesetter would have acted by now
    state = page.evaluate(OUTPUT_STATE)
    report = {
        "payloads": len(PAYLOADS),
        "outputs": state["outputs"],
        "elements checked": state["elements"],
        "scripts run": int(state["pwned"] != "undefined"),
        "requests outside the origin": len(traffic.outside()),
    }
    print("%%chat and transcript:", json.dumps(report))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trust-views.png"))
    assert state["payloadText"]  # the payloads are there, as text
    assert state["pwned"] == "undefined"
    assert traffic.dialogs == []
    assert traffic.outside() == []
    assert state["handlers"] == []
    assert state["forbidden"] == []
    assert state["badHrefs"] == []


FENCES = """\
import time
import nbchat

FENCES = [
    "```cpp\\n" + "a " * 24500 + "\\n```",                                     # the issue's 8-second fence
    "```java\\n" + ("int f" + "x" * 150 + "(int a) { return a; }\\n") * 290 + "```",  # long identifiers, ~50 kB
    "```cpp\\nint a;\\n```\\n```java\\nint b;\\n```",  # small: the grammars compiled before measuring
]

def streamer(message, history):
    text = FENCES[int(message)]
    step = max(1, len(text) // 60)
    for i in range(0, len(text), step):
        yield text[i:i + step]
        time.sleep(0.02)

chat = nbchat.Chat(streamer)
cmp = nbchat.Compare([streamer, streamer])
display(chat, cmp)"""

LONG_TASKS = """() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
        .observe({ type: 'longtask' });
}"""


DONE = """(n) => [...document.querySelectorAll('[data-role=assistant]')]
    .filter((m) => m.dataset.status && m.dataset.status !== 'streaming').length >= n"""


def test_a_pathological_code_fence_never_blocks_the_page(lab: Lab, page: Any) -> None:
    open_notebook(lab, page, write_notebook(lab, "fences.ipynb", FENCES))
    run_all(page)
    page.locator(".nbchat-compare-columns").first.wait_for()
    page.evaluate(LONG_TASKS)
    done = 0

    def run(code: str, replies: int) -> float:
        """Send (Python ``code`` in the kernel), wait for every reply; the longest main-thread task meanwhile."""
        nonlocal done
        page.evaluate("() => { window.__longTasks.length = 0; }")
        page.evaluate(
            "(code) => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            ".requestExecute({ code }).done",
            code,
        )
        done += replies
        page.wait_for_function(DONE, arg=done, timeout=120_000, polling=100)
        page.wait_for_timeout(500)  # the last render and paint
        return max(page.evaluate("() => window.__longTasks"), default=0)

    # highlight.js compiles a grammar once per page (nbchat does it while the page is idle): not measured here
    run("chat.send_message('2')", 1)
    longest = {}
    for n in ("0", "1"):
        for where, code, replies in (
            ("chat", f"chat.send_message({n!r})", 1),
            ("compare", f"cmp.send_message({n!r})", 2),
        ):
            # the lower of two runs: load on the machine only ever adds to a task's duration
            longest[f"{where}, fence {n}"] = round(min(run(code, replies), run(code, replies)))
    print("longest main-thread task while streaming a 50 kB fence (ms):", json.dumps(longest))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pathological-fence.png"))
    texts = page.locator("[data-role=assistant] pre code").evaluate_all("(els) => els.map((e) => e.textContent.length)")
    assert len([t for t in texts if t > 45_000]) == 12  # every character of every reply is there
    assert max(longest.values()) < 200
