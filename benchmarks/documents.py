"""Documents (#27): extraction speed per library, BM25 libraries, recall@5, memory, and TTFT whole vs retrieved.

Every file is generated here (tests/document_files.py): a report PDF with one unique fact per page, so the page
holding each answer is known. Libraries compared (each skipped with a note when not installed):

- PDF text: pypdfium2 (chosen), pypdf, pdfminer.six — pages per second over the same PDF.
- Word: markitdown (chosen: headings and tables as Markdown) vs python-docx paragraphs (text only, no tables).
- BM25: bm25s (chosen) vs rank-bm25 — milliseconds per query and recall@5 on the fixed question set.
"""

from __future__ import annotations

import io
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from ._report import Figure

QUESTION_PAGES = (1, 7, 23, 42, 77, 99, 128, 150, 199, 233, 271, 300)
"""Pages of the fixed question set (one question per page, answered only there)."""


def _rate(pages: int, fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return pages / statistics.median(times)


def extraction_figures(data: bytes, pages: int, runs: int) -> list[Figure]:
    """Pages per second of each PDF library over ``data``, and markitdown vs python-docx on a Word file."""
    out: list[Figure] = []

    def pdfium() -> None:
        import pypdfium2

        pdf = pypdfium2.PdfDocument(data)
        for page in pdf:
            page.get_textpage().get_text_range()
        pdf.close()

    def pypdf() -> None:
        from pypdf import PdfReader

        for page in PdfReader(io.BytesIO(data)).pages:
            page.extract_text()

    def pdfminer() -> None:
        from pdfminer.high_level import extract_pages

        for _ in extract_pages(io.BytesIO(data)):
            pass

    chosen: float | None = None
    for name, fn, module in (("pypdfium2", pdfium, "pypdfium2"), ("pypdf", pypdf, "pypdf"),
                             ("pdfminer.six", pdfminer, "pdfminer")):  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            out.append(Figure(f"PDF text, {name}", None, "pages/s", note="not installed"))
            continue
        rate = _rate(pages, fn, 1 if name == "pdfminer.six" else runs)
        chosen = rate if name == "pypdfium2" else chosen
        out.append(Figure(f"PDF text, {name}", rate, "pages/s", reference=None if name == "pypdfium2" else chosen,
                          reference_name="pypdfium2", note=f"{pages}-page report"))  # fmt: skip
    from nbchat.documents import convert
    from tests.document_files import docx_bytes

    word = docx_bytes()
    start = time.perf_counter()
    doc = convert(word, "handbook.docx")
    markitdown_ms = (time.perf_counter() - start) * 1000
    out.append(Figure("Word file, markitdown (first, with imports)", markitdown_ms, "ms",
                      note=f"{len(doc.passages)} sections, tables kept as Markdown"))  # fmt: skip
    warm = statistics.median(_timed(lambda: convert(word, "handbook.docx"), runs))
    out.append(Figure("Word file, markitdown", warm * 1000, "ms", note="headings + tables"))
    try:
        import docx

        plain = statistics.median(_timed(lambda: [p.text for p in docx.Document(io.BytesIO(word)).paragraphs], runs))
        out.append(Figure("Word file, python-docx paragraphs", plain * 1000, "ms", reference=warm * 1000,
                          reference_name="markitdown", note="text only: tables lost"))  # fmt: skip
    except ImportError:
        out.append(Figure("Word file, python-docx paragraphs", None, "ms", note="not installed"))
    return out


def _timed(fn: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def retrieval_figures(doc: Any, runs: int) -> list[Figure]:
    """ms per query and recall@5 for bm25s (nbchat's path) and rank-bm25 over the same passages."""
    from nbchat.documents import rank_passages
    from tests.document_files import fact

    questions = [(p, fact(p)[0]) for p in QUESTION_PAGES if p <= doc.pages]
    rank_passages([doc], "warm up the index", 5)
    start = time.perf_counter()
    found = 0
    for _ in range(runs):
        found = sum(p in [h.passage.number for h in rank_passages([doc], q, 5)] for p, q in questions)
    per_query = (time.perf_counter() - start) * 1000 / (runs * len(questions))
    out = [
        Figure(
            "recall@5, bm25s",
            found / len(questions),
            "",
            goal=">= 0.9",
            met=found / len(questions) >= 0.9,
            note=f"{len(questions)} questions, {len(doc.passages)} passages",
        ),
        Figure("BM25 query, bm25s", per_query, "ms"),
    ]
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        return [*out, Figure("BM25 query, rank-bm25", None, "ms", note="not installed")]
    import bm25s

    def tokens(texts: list[str]) -> list[list[str]]:
        return [list(t) for t in bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)]

    index = BM25Okapi(tokens([p.text for p in doc.passages]))
    start = time.perf_counter()
    hits = 0
    for p, q in questions:
        scores = index.get_scores(tokens([q])[0])
        best = sorted(range(len(scores)), key=lambda i: -scores[i])[:5]
        hits += p in [doc.passages[i].number for i in best]
    per = (time.perf_counter() - start) * 1000 / len(questions)
    return [*out, Figure("BM25 query, rank-bm25", per, "ms", reference=per_query, reference_name="bm25s",
                         note=f"recall@5 {hits / len(questions):.2f}")]  # fmt: skip


def memory_figure(data: bytes) -> Figure:
    """Peak Python memory while converting ``data`` (tracemalloc: PDFium's own C memory is not counted)."""
    from nbchat.documents import convert

    tracemalloc.start()
    doc = convert(data, "reader.pdf")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return Figure("convert 300-page PDF, peak Python memory", peak / 2**20, "MiB",
                  note=f"{doc.chars / 1e6:.2f} M characters kept")  # fmt: skip


def upload_figure(data: bytes) -> Figure:
    """The widget's upload of a 300-page PDF: how long the kernel's main thread is held (the handler returns once the
    worker thread started) beside the conversion it used to wait for, and the progress messages the chip gets."""
    import threading

    from nbchat._uploads import BrowserAttachments

    sent: list[dict[str, Any]] = []
    done = threading.Event()

    def notify(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["kind"] == "attached":
            done.set()

    request = {"token": "t", "name": "reader.pdf", "media_type": "application/pdf"}
    start = time.perf_counter()
    BrowserAttachments({}).upload_with_progress(request, [data], notify)
    held = time.perf_counter() - start
    done.wait(600)
    converted = time.perf_counter() - start
    progress = sum(m["kind"] == "attach-progress" for m in sent)
    return Figure("upload 300-page PDF in the widget, kernel main thread held", held * 1000, "ms",
                  reference=converted * 1000, reference_name="conversion (worker thread)",
                  note=f"{progress} attach-progress messages, then attached")  # fmt: skip


def ttft_figures(big: bytes, small: bytes, runs: int) -> list[Figure]:
    """TTFT on the embedded model: a 6-page PDF whole vs as relevant passages, and the 300-page PDF retrieved."""
    import nbchat
    from tests.document_files import fact

    conv = nbchat.Conversation(prepare="now", max_new_tokens=8, temperature=0)
    window = conv.backend.context_window
    out = []
    for label, data, mode in (("6-page PDF whole", small, "whole"), ("6-page PDF relevant", small, "relevant"),
                              ("300-page PDF relevant", big, "relevant")):  # fmt: skip
        ttfts = []
        for n in range(runs):
            conv.clear()
            conv.ask(fact(2 + n)[0], attachments=[data], documents=mode)
            ttfts.append(conv.history[-1].stats.get("ttft_s") or float("nan"))
        prompt = conv.history[-1].stats.get("prompt_tokens")
        out.append(Figure(f"TTFT, {label}", statistics.median(ttfts), "s",
                          note=f"embedded SmolLM2, {prompt} prompt tokens, window {window}"))  # fmt: skip
    from nbchat.documents import convert

    whole = convert(big, "reader.pdf").tokens
    out.append(Figure("300-page PDF whole, estimated tokens", whole, "tokens",
                      note=f"over the {window}-token window: 'auto' sends relevant passages"))  # fmt: skip
    conv.close()
    return out


def documents_figures(quick: bool) -> list[Figure]:
    """The documents section of ``python -m benchmarks``."""
    from nbchat.documents import convert
    from tests.document_files import report_pdf

    runs = 1 if quick else 3
    pages = 60 if quick else 300
    big = report_pdf(300, table=False, filler=4)
    sample = big if not quick else report_pdf(pages, table=False, filler=4)
    figures = extraction_figures(sample, pages, runs)
    figures += retrieval_figures(convert(big, "reader.pdf"), runs)
    figures.append(memory_figure(big))
    figures.append(upload_figure(big))
    figures += ttft_figures(big, report_pdf(6), runs)
    return figures
