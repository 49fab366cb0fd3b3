"""Files → :class:`~nbchat.documents.Document`: PDF, Word, PowerPoint, Excel, HTML, Markdown, text, notebooks.

Which library converts what (compared in ``python -m benchmarks --only documents``; see the README there):

- PDF: pypdfium2 (Apache-2.0/BSD-3, Chrome's PDFium; ~4x pypdf's pages/s and ~20x pdfminer.six's on generated
  reports), one passage group per page so citations name pages. No OCR: a page without a text layer is named in
  the document's note, and a PDF with none at all is refused with a message that says so.
- DOCX, PPTX, XLSX, HTML, .ipynb: markitdown (MIT, Microsoft), which keeps headings, lists and tables as Markdown
  and numbers slides (``<!-- Slide number: 3 -->``); sheets and headings become sections.
- Markdown and plain text: read as UTF-8, cut at Markdown headings.

Limits (an administrator's policy lowers them, see :class:`Limits`): file size, pages, characters of text, and for
Office files (ZIP archives) the size the archive expands to, so a small file cannot expand to gigabytes (a "zip
bomb") before any converter sees it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import io
import math
import re
import threading
import zipfile
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from .._errors import MissingDependencyError
from ._model import Block, Document, DocumentError, split_blocks

__all__ = [
    "DOCUMENT_SUFFIXES",
    "Limits",
    "MissingDocumentSupportError",
    "Progress",
    "convert",
    "document_format",
    "policy_limits",
]

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: pages (or steps) converted so far and how many there are (``None``: unknown)."""

DOCUMENT_SUFFIXES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".ipynb": "application/x-ipynb+json",
}
"""File name endings converted as documents, with the media type each is recorded under."""
_BY_MEDIA = {v: k for k, v in reversed(DOCUMENT_SUFFIXES.items())}
_ZIP_FORMATS = {".docx": "word/", ".pptx": "ppt/", ".xlsx": "xl/"}
_WHAT = {".docx": "Word", ".pptx": "PowerPoint", ".xlsx": "Excel", ".html": "HTML", ".htm": "HTML",
         ".ipynb": "notebook"}  # fmt: skip
_SLIDE = re.compile(r"^<!-- Slide number: (\d+) -->\s*$", re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


_converters: dict[str, Any] = {}
_converter_lock = threading.Lock()


class MissingDocumentSupportError(DocumentError, MissingDependencyError):
    """The package that converts this kind of document is not installed; the message says how to install it."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one document may be; an administrator's policy lowers them (``max_attachment_mb``,
    ``max_document_pages``, see :mod:`nbchat._policy`).

    Attributes
    ----------
    max_bytes : int, default 50 MiB
        Size of the file.
    max_pages : int, default 2000
        Pages of a PDF or slides of a deck.
    max_chars : int, default 8,000,000
        Characters of extracted text (about 2 million tokens).
    max_unzipped : int, default 200 MiB
        What an Office file (a ZIP archive) may expand to, summed over its members.
    max_ratio : int, default 200
        Largest expansion of one ZIP member (uncompressed / compressed size); text compresses about 5-20x.
    """

    max_bytes: int = 50 * 2**20
    max_pages: int = 2000
    max_chars: int = 8_000_000
    max_unzipped: int = 200 * 2**20
    max_ratio: int = 200


def document_format(name: str, media_type: str = "", data: bytes = b"") -> str | None:
    """The document suffix (``".pdf"``, ``".docx"``, ...) that ``name``, ``media_type`` or the bytes say, or
    ``None`` when it is not a document nbchat converts.

    The bytes win over the name for PDF (``%PDF-``): a PDF called ``paper.bin`` is still a PDF.
    """
    if data[:5] == b"%PDF-":
        return ".pdf"
    suffix = PurePath(name).suffix.lower()
    if suffix in DOCUMENT_SUFFIXES:
        return suffix
    by_media = _BY_MEDIA.get(media_type.split(";")[0].strip().lower())
    if by_media is None and data[:4] == b"PK\x03\x04":  # an Office file without a name: its parts say which
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        return next((fmt for fmt, part in _ZIP_FORMATS.items() if any(n.startswith(part) for n in names)), None)
    return by_media


def convert(data: bytes, name: str, media_type: str = "", *, progress: Progress | None = None,
            limits: Limits | None = None) -> Document:  # fmt: skip
    """Convert a document's bytes to a :class:`Document` of passages.

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        Its file name (the folder is dropped); the ending picks the converter unless the bytes say PDF.
    media_type : str, optional
        Used when ``name`` has no known ending (a pasted file).
    progress : callable, optional
        ``progress(done, total)`` after each page of a PDF, and at the start and end of other formats; called from
        the thread that converts.
    limits : Limits, optional
        Default: :class:`Limits` lowered by the administrator's policy.

    Returns
    -------
    Document

    Raises
    ------
    DocumentError
        Naming the file and what to do: empty (0 bytes), an unknown format, corrupt, encrypted, over a limit, a
        PDF without any text layer (scanned: nbchat does no OCR), an archive that would expand too much.
    MissingDocumentSupportError
        When the converter's package is not installed (``pip install 'nbchat[documents]'``).
    """
    name = PurePath(name).name or "document"
    limits = limits or policy_limits()
    if not data:
        msg = f"{name} is empty (0 bytes); nothing to attach."
        raise DocumentError(msg)
    if len(data) > limits.max_bytes:
        msg = (f"{name} is {len(data) / 2**20:.3g} MiB, over the {limits.max_bytes / 2**20:.3g} MiB allowed for a "
               "document.")  # fmt: skip
        raise DocumentError(msg)
    fmt = document_format(name, media_type, data)
    if fmt is None:
        known = ", ".join(sorted(DOCUMENT_SUFFIXES))
        msg = f"{name}: not a document nbchat can read (it reads {known})."
        raise DocumentError(msg)
    report = progress or (lambda _done, _total: None)
    if fmt == ".pdf":
        unit, blocks, pages, converter, note = _pdf(data, name, limits, report)
    elif fmt in (".md", ".markdown", ".txt"):
        text = _utf8(data, name)
        report(0, 1)
        unit, blocks, pages, converter, note = "section", _sections(text, markdown=fmt != ".txt"), 0, "text", ""
        report(1, 1)
    else:
        unit, blocks, pages, converter, note = _markitdown(data, name, fmt, limits, report)
    chars = sum(len(b.text) for b in blocks)
    if chars > limits.max_chars:
        msg = (f"{name} has {chars:,} characters of text, over the {limits.max_chars:,} allowed; attach the part "
               "you are asking about.")  # fmt: skip
        raise DocumentError(msg)
    passages = split_blocks(blocks, unit)
    if not passages:
        msg = f"{name} has no text to send ({converter} found none)."
        raise DocumentError(msg)
    return Document(name, DOCUMENT_SUFFIXES[fmt], hashlib.sha256(data).hexdigest(), unit, passages,
                    pages or len(blocks), len(data), converter, note)  # fmt: skip


def policy_limits() -> Limits:
    """:class:`Limits` lowered by the administrator's policy (``max_attachment_mb``, ``max_document_pages``)."""
    from .._policy import current_policy

    policy = current_policy()
    base = Limits()
    size = base.max_bytes
    if policy.max_attachment_mb is not None:
        size = min(size, math.ceil(policy.max_attachment_mb * 2**20))
    pages = base.max_pages
    if policy.max_document_pages is not None:
        pages = min(pages, policy.max_document_pages)
    return dataclasses.replace(base, max_bytes=size, max_pages=pages)


def _version(package: str) -> str:
    try:
        return f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - imported, so installed
        return package


def _missing(what: str, package: str, exc: ImportError) -> MissingDocumentSupportError:
    msg = (f"Attaching {what} files needs the package {package!r}, which is not installed: "
           "pip install 'nbchat[documents]' (then restart the kernel).")  # fmt: skip
    err = MissingDocumentSupportError(msg)
    err.__cause__ = exc
    return err


# ---------------------------------------------------------------------------------------------- PDF
_Converted = tuple[str, list[Block], int, str, str]  # unit, blocks, pages, converter, note


def _pdf(data: bytes, name: str, limits: Limits, report: Progress) -> _Converted:
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        raise _missing("PDF", "pypdfium2", exc) from exc
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            msg = f"{name} is encrypted (it needs a password); nbchat cannot read it. Save an unprotected copy."
        else:
            msg = f"{name} is not a readable PDF (corrupt or cut off): {exc}."
        raise DocumentError(msg) from exc
    try:
        count = len(pdf)
        if count > limits.max_pages:
            msg = f"{name} has {count} pages, over the {limits.max_pages} allowed; attach the chapter you need."
            raise DocumentError(msg)
        blocks, empty, chars = [], [], 0
        report(0, count)
        for n in range(count):
            page = pdf[n]
            try:
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
                finally:
                    textpage.close()
            finally:
                page.close()
            text = text.replace("\x00", "").strip()
            chars += len(text)
            if chars > limits.max_chars:
                msg = (f"{name} has more than {limits.max_chars:,} characters of text; attach the part you are "
                       "asking about.")  # fmt: skip
                raise DocumentError(msg)
            if text:
                blocks.append(Block(n + 1, text))
            else:
                empty.append(n + 1)
            report(n + 1, count)
    finally:
        pdf.close()
    if not blocks:
        pages = f"{count} page{'s' if count != 1 else ''}"
        msg = (f"{name} has no text layer ({pages} of images only: a scan?). nbchat does no OCR: run OCR first "
               "(e.g. ocrmypdf), or show its pages as images to a model that sees.")  # fmt: skip
        raise DocumentError(msg)
    note = f"{_ranges(empty)} ha{'s' if len(empty) == 1 else 've'} no text layer (scanned?); no OCR" if empty else ""
    return "page", blocks, count, _version("pypdfium2"), note


def _ranges(pages: list[int]) -> str:
    spans: list[str] = []
    start = prev = pages[0]
    for p in [*pages[1:], -1]:
        if p != prev + 1:
            spans.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = p
        prev = p
    return ("page " if len(pages) == 1 else "pages ") + ", ".join(spans)


# ---------------------------------------------------------------------------------------------- markitdown
def _check_zip(data: bytes, name: str, fmt: str, limits: Limits) -> None:
    """Refuse a ZIP-based Office file that is not one, or that expands beyond the limits (a zip bomb).

    Python's zipfile never returns more than a member's declared size, so checking the declared sizes bounds what
    any converter can inflate.
    """
    what = _WHAT[fmt]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        msg = f"{name} is not a readable {what} file (corrupt, or not a {fmt} file): {exc}."
        raise DocumentError(msg) from exc
    if not any(m.filename.startswith(_ZIP_FORMATS[fmt]) for m in members):
        msg = f"{name} is a ZIP archive but not a {what} file (it has no {_ZIP_FORMATS[fmt]} part)."
        raise DocumentError(msg)
    total = sum(m.file_size for m in members)
    worst = max(members, key=lambda m: m.file_size / max(m.compress_size, 1))
    ratio = worst.file_size / max(worst.compress_size, 1)
    if total > limits.max_unzipped or (ratio > limits.max_ratio and worst.file_size > 2**20):
        msg = (f"{name} would expand to {total / 2**20:,.0f} MiB ({worst.filename} by {ratio:,.0f}x); nbchat "
               f"refuses it (at most {limits.max_unzipped / 2**20:g} MiB, {limits.max_ratio}x): a damaged or "
               "malicious file.")  # fmt: skip
        raise DocumentError(msg)


def _markitdown(data: bytes, name: str, fmt: str, limits: Limits, report: Progress) -> _Converted:
    if fmt in _ZIP_FORMATS:
        _check_zip(data, name, fmt, limits)
    try:
        from markitdown import MarkItDown, StreamInfo
    except ImportError as exc:
        raise _missing(_WHAT[fmt], "markitdown", exc) from exc
    report(0, None)
    info = StreamInfo(extension=fmt, mimetype=DOCUMENT_SUFFIXES[fmt], filename=name)
    try:
        result = _converter(MarkItDown).convert_stream(io.BytesIO(data), stream_info=info)
    except ImportError as exc:  # markitdown's optional parts: mammoth, python-pptx, openpyxl+pandas
        raise _missing(_WHAT[fmt], str(getattr(exc, "name", None) or "markitdown[docx,pptx,xlsx]"), exc) from exc
    except Exception as exc:  # markitdown wraps a converter's failure (corrupt file) in its own exceptions
        cause = exc.__cause__ or exc
        if isinstance(cause, ImportError) or "dependencies" in str(exc).lower():
            raise _missing(_WHAT[fmt], "markitdown[docx,pptx,xlsx]", ImportError(str(exc))) from exc
        msg = f"{name} is not a readable {_WHAT[fmt]} file: {type(cause).__name__}: {str(cause)[:200]}"
        raise DocumentError(msg) from exc
    text = result.text_content or ""
    if fmt == ".pptx":
        blocks = _slides(text)
        unit = "slide"
        if len(blocks) > limits.max_pages:
            msg = f"{name} has {len(blocks)} slides, over the {limits.max_pages} allowed."
            raise DocumentError(msg)
    else:
        blocks, unit = _sections(text, markdown=True), "section"
    report(1, 1)
    return unit, blocks, len(blocks), _version("markitdown"), ""


def _converter(factory: Any) -> Any:
    """One MarkItDown per process (building one takes ~0.2 s); its ``convert_stream`` keeps no state between calls."""
    with _converter_lock:
        if "markitdown" not in _converters:
            _converters["markitdown"] = factory(enable_plugins=False)
        return _converters["markitdown"]


def _slides(text: str) -> list[Block]:
    """markitdown's slide text, cut at its ``<!-- Slide number: N -->`` comments."""
    marks = list(_SLIDE.finditer(text))
    blocks = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[mark.end() : end].strip()
        title = next((h.group(2) for line in body.splitlines() if (h := _HEADING.match(line))), "")
        blocks.append(Block(int(mark.group(1)), body, title))
    return blocks or [Block(1, text)]


def _sections(text: str, *, markdown: bool) -> list[Block]:
    """Markdown cut before each heading (outside code fences): one block per section, numbered from 1."""
    if not markdown:
        return [Block(1, text)]
    blocks: list[Block] = []
    heading, fenced = "", False
    lines: list[str] = []
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        found = None if fenced else _HEADING.match(line)
        if found and any(x.strip() for x in lines):
            blocks.append(Block(len(blocks) + 1, "\n".join(lines).strip(), heading))
            lines = []
        if found:
            heading = found.group(2)
        lines.append(line)
    if any(x.strip() for x in lines):
        blocks.append(Block(len(blocks) + 1, "\n".join(lines).strip(), heading))
    return blocks


def _utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 or attach it as PDF."
        raise DocumentError(msg) from exc
