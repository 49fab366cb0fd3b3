"""Model text outside the widget (``%%chat`` output, the static transcript of saved notebooks, nbconvert's HTML
export) carries no markup of its own: every hostile payload (tests/hostile_payloads.json) comes out as text.

The HTML is parsed (Python's html.parser) and every element and attribute is checked against what nbchat itself
writes: no element that runs or fetches anything, no event handler, no link other than http(s)/mailto.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbchat
from nbchat._static_html import markdown_html, reply_bundle
from nbchat.testing import FakeBackend, RecordingComm

PAYLOADS = json.loads((Path(__file__).parent / "hostile_payloads.json").read_text(encoding="utf-8"))
# every element markdown-it (html off) and nbchat's own wrapper can produce
ALLOWED_TAGS = {
    "div", "p", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s", "sub",
}  # fmt: skip
ALLOWED_ATTRS = {"class", "href", "title", "start", "style"}


class Elements(HTMLParser):
    """Every (tag, attributes) in a document; with ``inside``, only those within elements of that class."""

    def __init__(self, inside: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self._inside, self._depth, self._stack = inside, 0, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        opened = self._inside is not None and self._inside in classes
        if self._inside is None or self._depth > 0:
            self.found.append((tag, dict(attrs)))
        if tag not in ("br", "hr", "img", "input", "meta", "link"):
            self._stack.append(opened)
            self._depth += opened

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("br", "hr", "img", "input", "meta", "link") and self._stack:
            self._depth -= self._stack.pop()


def assert_inert(html: str, *, inside: str | None = None) -> int:
    """Fail on any element or attribute that could run code or fetch something; returns the elements checked."""
    parser = Elements(inside)
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, (tag, attrs)
        assert set(attrs) <= ALLOWED_ATTRS, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        href = (attrs.get("href") or "").strip().lower()
        assert not href or href.startswith(("http:", "https:", "mailto:")), (tag, attrs)
    return len(parser.found)


@pytest.mark.parametrize("payload", PAYLOADS, ids=[p["name"] for p in PAYLOADS])
def test_every_payload_renders_inert(payload: dict[str, str]) -> None:
    assert_inert(markdown_html(payload["text"]))
    assert_inert(reply_bundle(payload["text"], f"<b onmouseover=x>{payload['text'][:40]}</b> · 3 tokens")["text/html"])


def test_markdown_still_renders() -> None:
    html = markdown_html("**bold**, `code`, [a link](https://example.org), ![chart](https://x.example/p.png)\n\n- item")
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.org">a link</a>' in html
    assert "chart (image not loaded)" in html
    assert "x.example" not in html  # the image's address is not even written
    assert "<li>item</li>" in html
    assert "&lt;script&gt;" in markdown_html("<script>alert(1)</script>")


@pytest.fixture
def shell() -> Any:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbchat")
    yield ip
    ip.run_line_magic("reload_ext", "nbchat")


def test_chat_magic_output_error_and_footer_are_inert(shell: InteractiveShell) -> None:
    fake = FakeBackend(model='<img src=x onerror="window.__pwned=1">')  # the model's name comes from the server
    for payload in PAYLOADS:
        fake.enqueue([payload["text"]])
    fake.enqueue(["<b>partial</b>"], error=RuntimeError("<script>window.__pwned=2</script>"))
    shell.user_ns["hostile"] = fake
    outputs = []
    for _ in range(len(PAYLOADS) + 1):
        with capture_output() as out:
            shell.run_cell_magic("chat", "-m hostile", "hi")
        outputs += [o.data for o in out.outputs]
    assert outputs
    for data in outputs:
        assert "text/markdown" not in data
        assert_inert(data["text/html"])
    assert "&lt;script&gt;window.__pwned=2" in outputs[-1]["text/html"]  # the error is shown, as text


def test_static_transcript_and_nbconvert_export_are_inert(comms: list[RecordingComm], tmp_path: Path) -> None:
    from nbconvert import HTMLExporter

    fake = FakeBackend()
    small = [p for p in PAYLOADS if len(p["text"]) < 1000]  # all of them fit in the transcript's 32,000 characters
    for payload in small:
        fake.enqueue([payload["text"]])
    chat = nbchat.Chat(fake, system_prompt="<img src=x onerror=alert(0)>")
    for payload in small:
        chat.ask(payload["text"][:200])  # the user's text is hostile too
    data, metadata = chat._repr_mimebundle_()
    assert "text/markdown" not in data
    assert assert_inert(data["text/html"]) > len(small)

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("chat")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
    magic = nbformat.v4.new_code_cell("%%chat\nhi")
    magic.outputs = [
        nbformat.v4.new_output("display_data", data=reply_bundle(p["text"], "m · 1 tok")) for p in PAYLOADS
    ]
    nb.cells = [cell, magic]
    path = tmp_path / "hostile.ipynb"
    nbformat.write(nb, path)
    exported, _ = HTMLExporter().from_filename(str(path))
    checked = assert_inert(exported, inside="jp-OutputArea-output")
    assert checked > 2 * len(PAYLOADS)  # the outputs were found and checked
    assert "window.__pwned" in exported  # ... and the payloads are in them, as text


def test_nbchats_own_words_follow_the_language() -> None:
    html = markdown_html("![chart](https://example.com/x.png)", "zh")
    assert "chart（图片未加载）" in html
    assert "https://example.com" not in html
    bundle = reply_bundle("answer", thoughts="hmm", lang="zh")
    assert "<summary>思考过程</summary>" in bundle["text/html"]
    assert "<summary>Thoughts</summary>" in reply_bundle("answer", thoughts="hmm")["text/html"]
