"""A converted document as nbchat keeps it: its passages (page or section, text) and their citation markers.

A :class:`Document` is what a PDF, Word file, slide deck, spreadsheet, web page, Markdown or text file or notebook
becomes (see :mod:`nbchat.documents._extract`): a tuple of :class:`Passage`, each at most about
:data:`PASSAGE_CHARS` characters, cut at page, slide, sheet or heading boundaries first and paragraphs second. It is
immutable and JSON-serialisable (:meth:`Document.to_dict`), so a saved conversation keeps each document once, by
the SHA-256 of its original bytes, and a reloaded chat cites the same pages without the original file.

A passage's marker, e.g. ``[reader.pdf p. 12]``, ``[reader.pdf p. 12, part 2]``, ``[slides.pptx slide 3]`` or
``[notes.docx §4]``, is how it is shown to the model and how the model cites it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .._errors import NbchatError

__all__ = [
    "CHARS_PER_TOKEN",
    "PASSAGE_CHARS",
    "Block",
    "Document",
    "DocumentError",
    "Passage",
    "split_blocks",
]

PASSAGE_CHARS = 1600
"""Longest passage in characters (about 400 tokens): a page or section longer than this is cut at paragraphs."""
CHARS_PER_TOKEN = 4  # the estimate nbchat uses for text without a tokenizer (see nbchat._attachments)
_LOCATORS = {"page": "p.", "slide": "slide", "section": "§"}


class DocumentError(NbchatError, ValueError):
    """A document cannot be converted, kept or searched: the message names the file and says what to do.

    Raised for an unknown or unsupported format, an empty, corrupt or encrypted file, a file over a limit (size,
    pages, a compressed file that would expand too much), or a missing optional package (then it is also a
    :class:`~nbchat.MissingDependencyError`: see :class:`MissingDocumentSupportError`).
    """


@dataclasses.dataclass(frozen=True)
class Block:
    """One page, slide, sheet or section as a converter gives it, before it is cut into passages.

    Attributes
    ----------
    number : int
        1-based page, slide or section number.
    text : str
        Its text (Markdown for converted Office and HTML files: headings, tables).
    heading : str
        The section's heading or sheet name (``""`` for a PDF page).
    """

    number: int
    text: str
    heading: str = ""


@dataclasses.dataclass(frozen=True)
class Passage:
    """One piece of a document: what is sent to the model and what a citation points to.

    Attributes
    ----------
    id : str
        Unique within its document: ``"p12"``, ``"p12.2"`` (second part of page 12), ``"s4"``.
    unit : {"page", "slide", "section"}
        What ``number`` counts.
    number : int
        1-based page, slide or section number.
    part : int
        1 for the first (often only) passage of its page or section, 2, 3, ... for the next.
    heading : str
        The heading or sheet name of its section, ``""`` if none.
    text : str
        The passage's text.
    """

    id: str
    unit: str
    number: int
    part: int
    heading: str
    text: str

    @property
    def locator(self) -> str:
        """``"p. 12"``, ``"p. 12, part 2"``, ``"slide 3"``, ``"§4"``: where the passage is, for people and markers."""
        sep = "" if self.unit == "section" else " "
        where = f"{_LOCATORS[self.unit]}{sep}{self.number}"
        return where if self.part == 1 else f"{where}, part {self.part}"

    @property
    def page(self) -> int | None:
        """The page or slide number, ``None`` for a section of a document without pages."""
        return None if self.unit == "section" else self.number


@dataclasses.dataclass(frozen=True)
class Document:
    """A converted document.

    Attributes
    ----------
    name : str
        The file name (never its folder), used in markers.
    media_type : str
        ``application/pdf``, ``text/markdown``, ... of the original file.
    sha256 : str
        Hex SHA-256 of the original bytes: the key under which saved conversations keep it.
    unit : {"page", "slide", "section"}
        How its passages are numbered.
    passages : tuple of Passage
        In document order.
    pages : int
        Pages, slides or sections in the original (a PDF page without text has no passage but counts here).
    size : int
        Bytes of the original file.
    converter : str
        The library that converted it, with its version (``"pypdfium2 5.15.2"``).
    note : str
        What a reader should know (``"pages 3-5 have no text layer (scanned?); nbchat does no OCR"``).
    """

    name: str
    media_type: str
    sha256: str
    unit: str
    passages: tuple[Passage, ...]
    pages: int
    size: int
    converter: str
    note: str = ""

    @property
    def chars(self) -> int:
        """Characters of text in all passages."""
        return sum(len(p.text) for p in self.passages)

    @property
    def tokens(self) -> int:
        """Estimated tokens of the whole text (characters / 4), without markers."""
        return -(-self.chars // CHARS_PER_TOKEN)

    def passage(self, passage_id: str) -> Passage | None:
        """The passage with ``passage_id``, or ``None``."""
        return self._index().get(passage_id)

    def _index(self) -> dict[str, Passage]:
        index: dict[str, Passage] | None = self.__dict__.get("_by_id")
        if index is None:
            index = {p.id: p for p in self.passages}
            object.__setattr__(self, "_by_id", index)
        return index

    def marker(self, passage: Passage) -> str:
        """``[reader.pdf p. 12]``: how ``passage`` is labelled in the prompt and cited in a reply."""
        return f"[{self.name} {passage.locator}]"

    def render(self, passage_ids: tuple[str, ...] | None = None) -> str:
        """The text sent to the model: each passage (all, or those of ``passage_ids`` in document order) after its
        marker, separated by blank lines."""
        chosen = self.passages if passage_ids is None else [p for p in self.passages if p.id in set(passage_ids)]
        return "\n\n".join(f"{self.marker(p)}\n{p.text}" for p in chosen)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (saved conversations' ``"documents"`` entry)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "passages"}
        out["passages"] = [dataclasses.asdict(p) for p in self.passages]
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> Document:
        """Rebuild a document saved by :meth:`to_dict`, checking every field.

        Raises
        ------
        DocumentError
            If a field is missing or of the wrong type.
        """
        strings = ("name", "media_type", "sha256", "unit", "converter", "note")
        ok = (
            isinstance(raw, dict)
            and all(isinstance(raw.get(k, ""), str) for k in strings)
            and raw.get("unit") in _LOCATORS
            and all(isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool) for k in ("pages", "size"))
            and isinstance(raw.get("passages"), list)
            and re.fullmatch(r"[0-9a-f]{64}", str(raw.get("sha256"))) is not None
        )
        if not ok:
            msg = f"a saved document has a missing or invalid field: {str(raw)[:120]!r}."
            raise DocumentError(msg)
        passages = []
        for p in raw["passages"]:
            if not (
                isinstance(p, dict)
                and all(isinstance(p.get(k), str) for k in ("id", "heading", "text"))
                and p.get("unit") == raw["unit"]
                and all(isinstance(p.get(k), int) and not isinstance(p.get(k), bool) for k in ("number", "part"))
            ):
                msg = f"document {raw['name']!r} has an invalid passage: {str(p)[:120]!r}."
                raise DocumentError(msg)
            passages.append(Passage(p["id"], p["unit"], p["number"], p["part"], p["heading"], p["text"]))
        fields = {k: raw[k] for k in (*strings, "pages", "size")}
        return cls(**fields, passages=tuple(passages))


def split_blocks(blocks: list[Block], unit: str, limit: int = PASSAGE_CHARS) -> tuple[Passage, ...]:
    """Cut ``blocks`` into passages of at most ``limit`` characters: whole blocks when they fit, else at blank
    lines, then at line ends, then anywhere. Blocks with no text give no passage.

    Parameters
    ----------
    blocks : list of Block
        Pages, slides or sections in order.
    unit : {"page", "slide", "section"}
        What a block's ``number`` counts.
    limit : int, default PASSAGE_CHARS
        Longest passage in characters.
    """
    prefix = {"page": "p", "slide": "p", "section": "s"}[unit]
    out: list[Passage] = []
    for block in blocks:
        text = block.text.strip()
        if not text:
            continue
        for part, piece in enumerate(_pieces(text, limit), start=1):
            pid = f"{prefix}{block.number}" + (f".{part}" if part > 1 else "")
            out.append(Passage(pid, unit, block.number, part, block.heading, piece))
    return tuple(out)


def _pieces(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for unit in _units(text, limit):
        joiner = "\n\n" if current else ""
        if len(current) + len(joiner) + len(unit) <= limit:
            current += joiner + unit
        else:
            if current:
                pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return pieces


def _units(text: str, limit: int) -> list[str]:
    """Paragraphs, each cut at line ends (then anywhere) when longer than ``limit``."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if len(para) <= limit:
            out += [para] if para else []
            continue
        line_buf = ""
        for line in para.splitlines():
            while len(line) > limit:
                cut = line.rfind(" ", 0, limit)
                cut = cut if cut > limit // 2 else limit
                if line_buf:
                    out.append(line_buf)
                    line_buf = ""
                out.append(line[:cut].strip())
                line = line[cut:].strip()
            if len(line_buf) + len(line) + 1 > limit:
                out.append(line_buf)
                line_buf = line
            else:
                line_buf = f"{line_buf}\n{line}" if line_buf else line
        if line_buf:
            out.append(line_buf)
    return out
