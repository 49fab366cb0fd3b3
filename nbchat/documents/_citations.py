"""Citations: markers in a reply (``[reader.pdf p. 12]``) resolved to the exact passages the request sent.

:func:`resolve_citations` is run by the conversation when a reply ends; its result is the reply's
``stats["citations"]``, a list of plain dicts (JSON, synced to the widget and saved)::

    {"marker": "[reader.pdf p. 12]",   # as the reply wrote it: find this text in the reply to draw a chip
     "document": "reader.pdf", "sha256": "...", "locator": "p. 12", "page": 12 (None for a section),
     "passages": ["p12"],              # ids of the passages it points to
     "text": "...",                    # their text (what the chip opens)
     "verified": True,                 # those passages were sent with this request
     "reason": ""}                     # when not verified: "not sent" (the page exists but was not sent) or
                                       # "no such passage" (the document has no such page or section)
"""

from __future__ import annotations

import re
from typing import Any

from ._model import Document

__all__ = ["resolve_citations"]

_BRACKETS = re.compile(r"\[([^\[\]\n]{1,300})\](?!\()")  # [..] but not a Markdown link [text](url)
_LOCATOR = re.compile(r"(?:(pp?\.|pages?|slides?)\s*(\d+)|§\s*(\d+))(?:\s*,?\s*part\s*(\d+))?", re.IGNORECASE)


def resolve_citations(text: str, sent: list[tuple[Document, tuple[str, ...]]]) -> list[dict[str, Any]]:
    """The citations in reply ``text``, each resolved against the passages sent.

    Parameters
    ----------
    text : str
        The reply.
    sent : list of (Document, tuple of str)
        Each document of the request and the ids of its passages that were sent (a document sent by several
        messages may appear several times).

    Returns
    -------
    list of dict
        One per distinct marker, in the order they first appear (see the module docstring for the keys). A
        bracket without a page, slide or section (``[1]``, ``[sic]``) is not a citation and is left out.
    """
    documents: dict[str, Document] = {}
    sent_ids: dict[str, set[str]] = {}
    for document, ids in sent:
        documents.setdefault(document.sha256, document)
        sent_ids.setdefault(document.sha256, set()).update(ids)
    if not documents:
        return []
    names = sorted(documents.values(), key=lambda d: -len(d.name))
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for match in _BRACKETS.finditer(text):
        for piece in match.group(1).split(";"):
            lowered = piece.lower()
            doc: Document | None = next((d for d in names if d.name.lower() in lowered), None)
            if doc is None and len(documents) == 1:
                doc = next(iter(documents.values()))
            found = _LOCATOR.search(piece)
            if doc is None or found is None:
                continue
            marker = match.group(0) if ";" not in match.group(1) else f"[{piece.strip()}]"
            if marker in seen:
                continue
            seen.add(marker)
            out.append(_resolve(marker, doc, found, sent_ids[doc.sha256]))
    return out


def _resolve(marker: str, doc: Document, found: re.Match[str], sent: set[str]) -> dict[str, Any]:
    number = int(found.group(2) or found.group(3))
    part = int(found.group(4)) if found.group(4) else None
    candidates = [p for p in doc.passages if p.number == number and (part is None or p.part == part)]
    chosen = [p for p in candidates if p.id in sent]
    verified = bool(chosen)
    if not chosen:
        chosen = candidates[:1]
    first = chosen[0] if chosen else None
    reason = "" if verified else ("not sent" if candidates else "no such passage")
    locator = first.locator if first is not None and part is not None else _plain_locator(doc.unit, number)
    return {
        "marker": marker,
        "document": doc.name,
        "sha256": doc.sha256,
        "locator": locator,
        "page": None if doc.unit == "section" else number,
        "passages": [p.id for p in chosen],
        "text": "\n\n".join(p.text for p in chosen),
        "verified": verified,
        "reason": reason,
    }


def _plain_locator(unit: str, number: int) -> str:
    return {"page": f"p. {number}", "slide": f"slide {number}"}.get(unit, f"§{number}")
