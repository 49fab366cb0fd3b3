"""Documents as attachments: PDF, Word, PowerPoint, Excel, HTML, Markdown, text and notebooks, sent whole or as the
passages relevant to each question, with citations resolved to the exact passages sent.

Needs the ``documents`` extra: ``pip install 'nbchat[documents]'`` (pypdfium2, markitdown, bm25s).
"""

from __future__ import annotations

from ._citations import resolve_citations
from ._extract import (
    DOCUMENT_SUFFIXES,
    Limits,
    MissingDocumentSupportError,
    Progress,
    convert,
    document_format,
    policy_limits,
)
from ._model import Document, DocumentError, Passage
from ._reader import reader_documents
from ._retrieval import Embedder, Hit, rank_passages
from ._settings import MODES, DocumentSettings, cite_reply

__all__ = [
    "DOCUMENT_SUFFIXES",
    "MODES",
    "Document",
    "DocumentError",
    "DocumentSettings",
    "Embedder",
    "Hit",
    "Limits",
    "MissingDocumentSupportError",
    "Passage",
    "Progress",
    "cite_reply",
    "convert",
    "document_format",
    "policy_limits",
    "rank_passages",
    "reader_documents",
    "resolve_citations",
]
