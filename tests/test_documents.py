"""Documents as attachments (#27): conversion of real files made here, limits, whole vs relevant, citations, saving."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

pytest.importorskip("pypdfium2")
pytest.importorskip("markitdown")
pytest.importorskip("bm25s")
pytest.importorskip("fpdf")

from nbchat import Conversation
from nbchat._attachments import AttachmentError
from nbchat._uploads import BrowserAttachments
from nbchat.backends.callable import CallableBackend
from nbchat.documents import DocumentError, DocumentSettings, convert, rank_passages
from tests import document_files as files


def echo_backend(seen: list[list[dict]], reply: str = "ok", window: int | None = None) -> CallableBackend:
    def answer(messages: list[dict]) -> str:
        seen.append(messages)
        return reply

    backend = CallableBackend(answer)
    if window is not None:
        backend.context_window = window
    return backend


def prompt_text(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m["content"]
        parts.append(content if isinstance(content, str) else " ".join(p.get("text", "") for p in content))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- conversion
def test_pdf_keeps_pages_and_table_text() -> None:
    doc = convert(files.report_pdf(12), "reader.pdf")
    assert (doc.unit, doc.pages, doc.media_type) == ("page", 12, "application/pdf")
    assert [p.number for p in doc.passages] == list(range(1, 13))
    page2 = doc.passages[1]
    assert files.fact(2)[1] in page2.text
    assert "Osmium" in page2.text
    assert "22.59" in page2.text
    assert doc.marker(page2) == "[reader.pdf p. 2]"


def test_office_and_web_files_keep_headings_tables_and_slides() -> None:
    word = convert(files.docx_bytes(), "handbook.docx")
    assert word.unit == "section"
    assert any(p.heading == "Equipment" and "15000 rpm" in p.text and "| Centrifuge | 12 |" in p.text
               for p in word.passages)  # fmt: skip
    deck = convert(files.pptx_bytes(), "course.pptx")
    assert deck.unit == "slide"
    assert [p.number for p in deck.passages] == [1, 2, 3]
    assert "14 March" in deck.passages[1].text
    assert deck.marker(deck.passages[1]) == "[course.pptx slide 2]"
    assert "Exam" in deck.passages[2].text
    assert "60%" in deck.passages[2].text
    book = convert(files.xlsx_bytes(), "budget.xlsx")
    assert {p.heading for p in book.passages} == {"Budget", "Staff"}
    assert "Microscope" in book.passages[0].text
    page = convert(files.html_bytes(), "museum.html")
    text = "\n".join(p.text for p in page.passages)
    assert "closed on Tuesdays" in text
    assert "| Adult | 12 EUR |" in text
    assert "alert" not in text


def test_markdown_text_and_notebooks_are_cut_at_headings() -> None:
    md = convert(b"# Intro\nHello.\n\n```\n# not a heading\n```\n## Details\nMore.", "notes.md")
    assert [(p.locator, p.heading) for p in md.passages] == [("§1", "Intro"), ("§2", "Details")]
    assert "# not a heading" in md.passages[0].text
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Setup\nInstall things."},
                    {"cell_type": "code", "metadata": {}, "source": "print(42)", "outputs": [],
                     "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    doc = convert(json.dumps(nb).encode(), "lesson.ipynb")
    assert "print(42)" in "\n".join(p.text for p in doc.passages)


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (lambda: b"", "empty.pdf", "is empty (0 bytes)"),
        (files.scanned_pdf, "scan.pdf", "no text layer"),
        (files.encrypted_pdf, "minutes.pdf", "is encrypted"),
        (lambda: files.report_pdf(3)[:700], "cut.pdf", "not a readable PDF"),
        (lambda: b"\x00\x01 definitely not a zip", "broken.docx", "not a readable Word file"),
        (files.zip_bomb_docx, "bomb.docx", "would expand to"),
        (lambda: b"\xff\xfe\x00 binary", "notes.txt", "not UTF-8 text"),
        (lambda: b"data", "archive.tar", "not a document nbchat can read"),
    ],
)
def test_bad_files_get_clear_errors(make, name: str, expected: str) -> None:
    with pytest.raises(DocumentError, match=re.escape(expected)) as info:
        convert(make(), name)
    assert name in str(info.value)


def test_a_zip_bomb_over_the_total_is_refused_before_any_converter_runs(monkeypatch) -> None:
    import markitdown

    monkeypatch.setattr(markitdown.MarkItDown, "convert_stream", lambda *a, **k: pytest.fail("converter ran"))
    with pytest.raises(DocumentError, match="would expand to 256 MiB"):
        convert(files.zip_bomb_docx(256), "bomb.docx")


def test_page_limits_from_the_policy(monkeypatch) -> None:
    data = files.report_pdf(500, table=False, filler=0)
    pages = []
    doc = convert(data, "long.pdf", progress=lambda done, total: pages.append((done, total)))
    assert doc.pages == 500
    assert pages[-1] == (500, 500)
    assert len(pages) == 501
    monkeypatch.setenv("NBCHAT_MAX_DOCUMENT_PAGES", "100")
    with pytest.raises(DocumentError, match="has 500 pages, over the 100 allowed"):
        convert(data, "long.pdf")
    monkeypatch.setenv("NBCHAT_MAX_ATTACHMENT_MB", "0.001")
    with pytest.raises(DocumentError, match=re.escape("over the 0.001 MiB allowed")):
        convert(files.report_pdf(2), "small.pdf")


def test_a_pdf_with_some_scanned_pages_says_which() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in (files.report_pdf(2), files.scanned_pdf(1)):
        for page in PdfReader(__import__("io").BytesIO(data)).pages:
            writer.add_page(page)
    buf = __import__("io").BytesIO()
    writer.write(buf)
    doc = convert(buf.getvalue(), "mixed.pdf")
    assert doc.pages == 3
    assert len(doc.passages) == 2
    assert doc.note.startswith("page 3 has no text layer")


# ---------------------------------------------------------------------------------------------- attaching
def test_every_attachment_path_takes_documents(tmp_path: Path) -> None:
    path = tmp_path / "reader.pdf"
    path.write_bytes(files.report_pdf(3))
    seen: list[list[dict]] = []
    conv = Conversation(echo_backend(seen), prepare="now")
    conv.ask("What is on page 2?", attachments=[path])
    conv.ask("And as bytes?", attachments=[files.docx_bytes()])
    user = conv.history[0]
    assert user.attachments[0].kind == "document"
    assert user.attachments[0].mode == "whole"
    assert "[reader.pdf p. 2]" in prompt_text(seen[0])
    assert files.fact(2)[1] in prompt_text(seen[0])
    assert "15000 rpm" in prompt_text(seen[1])
    uploads = BrowserAttachments({})
    answer = uploads.upload({"token": "t1", "name": "course.pptx", "media_type": ""}, [files.pptx_bytes()])
    assert answer["attachment"]["kind"] == "document"
    assert answer["attachment"]["document"]["unit"] == "slide"
    broken = uploads.upload({"token": "t2", "name": "x.pdf", "media_type": "application/pdf"}, [b"%PDF-1.7 junk"])
    assert "not a readable PDF" in broken["error"]
    assert "t2" not in uploads.uploads
    with pytest.raises(AttachmentError, match="has no text layer"):
        conv.send("scan?", attachments=[files.scanned_pdf()])
    assert len(conv.history) == 4  # nothing added for the refused one


def test_upload_with_notify_converts_off_the_main_thread_with_progress() -> None:
    uploads = BrowserAttachments({})
    said: list[dict] = []
    done = threading.Event()
    threads: set[str] = set()

    def notify(message: dict) -> None:
        threads.add(threading.current_thread().name)
        said.append(message)
        if message["kind"] == "attached":
            done.set()

    data = files.report_pdf(60, table=False, filler=0)
    first = uploads.upload_with_progress({"token": "t", "name": "long.pdf"}, [data], notify)
    assert first == {"kind": "attach-progress", "token": "t", "name": "long.pdf", "done": 0, "total": None}
    assert done.wait(30)
    progress = [m for m in said if m["kind"] == "attach-progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 60
    assert len(progress) >= 10
    assert said[-1]["attachment"]["document"]["pages"] == 60
    assert "t" in uploads.uploads
    assert threads == {"nbchat-document"}


def test_magic_and_interpolation_attach_a_path(tmp_path: Path) -> None:
    from nbchat._interpolate import interpolate

    path = tmp_path / "handbook.docx"
    path.write_bytes(files.docx_bytes())
    namespace = {"doc": path, "name": str(path), "word": "handbook.docx"}
    text, objects, names = interpolate("Where is the eye-wash? {doc} {name} {word}", namespace)
    conv = Conversation(echo_backend([]), prepare="now")
    parts = conv.make_attachments(objects, names)
    assert text == "Where is the eye-wash? `doc` (attached) `name` (attached) handbook.docx"  # not a file here
    assert [(a.kind, a.name) for a in parts] == [("document", "doc"), ("document", "name")]


# ---------------------------------------------------------------------------------------------- whole or relevant
def test_a_document_that_fits_goes_whole_else_relevant_passages() -> None:
    data = files.report_pdf(12)
    seen: list[list[dict]] = []
    conv = Conversation(echo_backend(seen, window=4096), prepare="now")  # budget 2048 tokens; the PDF is ~4,000
    question, answer, _ = files.fact(7)
    conv.ask(question, attachments=[data])
    sent = conv.history[0].attachments[0]
    assert sent.mode == "relevant"
    assert "p7" in sent.passages
    assert len(sent.passages) == 5
    assert "relevant: 5 of 12 passages" in sent.note
    assert "2,048 tokens = 50% of the 4,096-token" in sent.note
    assert answer in prompt_text(seen[0])
    assert files.fact(11)[1] not in prompt_text(seen[0])
    conv.ask(question, attachments=[data], documents="whole")
    assert conv.history[2].attachments[0].mode == "whole"
    assert files.fact(11)[1] in prompt_text(seen[1])
    conv.documents.mode = "relevant"
    small = files.report_pdf(2)
    conv.ask("Tell me", attachments=[small])
    assert conv.history[4].attachments[0].mode == "relevant"


def test_later_questions_search_earlier_documents_again() -> None:
    seen: list[list[dict]] = []
    conv = Conversation(echo_backend(seen, window=4096), prepare="now", use_history=False)
    conv.ask(files.fact(3)[0], attachments=[files.report_pdf(12)])
    conv.ask(files.fact(9)[0])
    follow = conv.history[2].attachments
    assert follow
    assert follow[0].mode == "relevant"
    assert "p9" in follow[0].passages
    assert "from an earlier message" in follow[0].note
    assert files.fact(9)[1] in prompt_text(seen[1])


def test_recall_at_5_on_the_fixed_question_set() -> None:
    doc = convert(files.report_pdf(12), "reader.pdf")
    found = [p for p, (q, _, _) in enumerate(files.FACTS, start=1)
             if p in [h.passage.number for h in rank_passages([doc], q, 5)]]  # fmt: skip
    assert len(found) == len(files.FACTS)


def test_embeddings_rank_through_an_openai_client() -> None:
    class Vectors:  # the shape of openai's CreateEmbeddingResponse: .data[i].embedding / .index
        def __init__(self, rows: list[list[float]]) -> None:
            self.data = [type("E", (), {"embedding": r, "index": i})() for i, r in enumerate(rows)]

    class Client:
        def __init__(self) -> None:
            self.embeddings = self
            self.calls = 0

        def create(self, *, model: str, input: list[str]) -> Vectors:
            self.calls += 1
            return Vectors([[1.0, 0.0] if "volcano" in t.lower() else [0.0, 1.0] for t in input])

    client = Client()
    settings = DocumentSettings(mode="relevant", top_k=1)
    settings.use_embeddings("toy-embed", client=client)
    doc = convert(files.report_pdf(12), "reader.pdf")
    hits = rank_passages([doc], "Tell me about volcanoes", 1, embedder=settings.embedder())
    assert hits[0].passage.number == 1  # page 1 is the volcanoes chapter
    rank_passages([doc], "volcano again", 1, embedder=settings.embedder())
    assert client.calls == 3  # the passages once, then one call per question


# ---------------------------------------------------------------------------------------------- citations
def test_citations_resolve_to_the_passages_sent() -> None:
    question, answer, _ = files.fact(7)
    reply = f"The code is {answer} [reader.pdf p. 7]. See also [reader.pdf p. 11] and [reader.pdf p. 99] [1]."
    conv = Conversation(echo_backend([], reply, window=4096), prepare="now")
    conv.ask(
        question,
        attachments=[(files.report_pdf(12))],
    )
    citations = conv.history[-1].stats["citations"]
    by_marker = {c["marker"]: c for c in citations}
    assert list(by_marker) == ["[reader.pdf p. 7]", "[reader.pdf p. 11]", "[reader.pdf p. 99]"]
    seven = by_marker["[reader.pdf p. 7]"]
    assert seven["verified"]
    assert seven["page"] == 7
    assert answer in seven["text"]
    assert seven["passages"] == ["p7"]
    sent = set(conv.history[0].attachments[0].passages)
    assert by_marker["[reader.pdf p. 11]"]["verified"] == ("p11" in sent)
    assert by_marker["[reader.pdf p. 99]"] | {} == {**by_marker["[reader.pdf p. 99]"], "verified": False,
                                                    "reason": "no such passage", "text": ""}  # fmt: skip
    markdown = conv.to_markdown(html=False)
    assert "[reader.pdf p. 7] ✓" in markdown
    assert "[reader.pdf p. 99] unverified (no such passage)" in markdown


# ---------------------------------------------------------------------------------------------- saving, readers
def test_saved_conversations_keep_each_document_once_and_cite_after_reload(tmp_path: Path) -> None:
    data = files.report_pdf(12)
    conv = Conversation(echo_backend([], "It is [reader.pdf p. 4].", window=4096), prepare="now")
    conv.ask(files.fact(4)[0], attachments=[data])
    conv.ask("And again?", attachments=[data])
    path = conv.save(tmp_path / "chat.json")
    saved = json.loads(path.read_text())
    assert list(saved["documents"]) == [conv.history[0].attachments[0].sha256]
    assert all(a["kind"] != "document" or "text" not in a or a["text"] == ""
               for m in saved["messages"] for a in m["attachments"])  # fmt: skip
    seen: list[list[dict]] = []
    loaded = Conversation.load(path, echo_backend(seen, "Still [reader.pdf p. 4].", window=4096), prepare="now")
    first = loaded.history[0].attachments[0]
    assert first.passages == conv.history[0].attachments[0].passages
    assert first.document is not None
    loaded.ask("Once more")
    assert loaded.history[-1].stats["citations"][0]["verified"] is True
    saved["documents"][first.sha256]["passages"][0]["text"] = 5
    (tmp_path / "bad.json").write_text(json.dumps(saved))
    with pytest.raises(Exception, match="invalid passage"):
        Conversation.load(tmp_path / "bad.json", echo_backend([]), prepare="now")


def test_course_reader_is_searched_and_can_be_switched_off(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "week1.pdf").write_bytes(files.report_pdf(12))
    (folder / "slides.pptx").write_bytes(files.pptx_bytes())
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    monkeypatch.setenv("NBCHAT_COURSE_READER", str(folder))
    seen: list[list[dict]] = []
    conv = Conversation(echo_backend(seen), prepare="now")
    docs, problems = conv.documents.reader()
    assert sorted(d.name for d in docs) == ["slides.pptx", "week1.pdf"]
    assert "broken.pdf" in problems[0]
    conv.ask("When is the project deadline?")
    reader = conv.history[0].attachments
    assert reader
    assert reader[0].name == "slides.pptx"
    assert "course reader" in reader[0].note
    assert "14 March" in prompt_text(seen[0])
    conv.documents.course_reader = False
    conv.ask("When is the project deadline?")
    assert conv.history[2].attachments == []
    assert seen[1][-1]["content"] == "When is the project deadline?"
