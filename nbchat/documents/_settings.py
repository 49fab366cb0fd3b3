"""How a conversation sends documents: whole when they fit a budget, else the passages relevant to each question.

A :class:`DocumentSettings` belongs to each :class:`~nbchat.Conversation` (``conversation.documents``). When a
message is sent, :meth:`DocumentSettings.prepare` decides for each document it carries whether it goes whole or as
its most relevant passages, and records the decision on the message's attachment (``mode``, ``passages``) together
with the budget that led to it (its ``note``). Documents attached earlier in the chat that went as passages, and the
course reader (policy ``course_reader``), are searched again for every new question.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from .._attachments import Attachment
from ._citations import resolve_citations
from ._model import Document
from ._reader import reader_documents
from ._retrieval import Embedder, rank_passages

__all__ = ["FALLBACK_WINDOW", "MODES", "DocumentSettings", "cite_reply"]

MODES = ("auto", "whole", "relevant")
FALLBACK_WINDOW = 8192
"""Context window assumed for the budget when the backend does not say (many online sources)."""
_MARKER_TOKENS = 6  # estimated tokens of one passage marker and its line break
_READER = "course reader"  # the note of passages from the course reader (not searched again when it is off)


@dataclasses.dataclass
class DocumentSettings:
    """A conversation's document settings (``Conversation(documents=...)``, ``conversation.documents``).

    Attributes
    ----------
    mode : {"auto", "whole", "relevant"}, default "auto"
        ``auto``: a document goes whole when it fits the budget, else its relevant passages. ``whole`` or
        ``relevant`` force one way for every message (``send(..., documents="whole")`` for one message).
    budget : float, default 0.5
        Fraction of the model's context window that documents sent whole may fill (estimated tokens).
    top_k : int, default 5
        Passages sent per question when documents go as relevant passages.
    embedding_model : str or None, default None
        Rank passages with this embedding model (OpenAI-compatible ``/v1/embeddings``) instead of BM25.
    embedding_base_url : str or None
        The embedding server (default: OpenAI's, or ``$OPENAI_BASE_URL``).
    course_reader : bool, default True
        Search the administrator's course reader (policy ``course_reader``) with each question; ``False``
        switches it off for this chat.
    """

    mode: Literal["auto", "whole", "relevant"] = "auto"
    budget: float = 0.5
    top_k: int = 5
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    course_reader: bool = True
    _embedder: Embedder | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            msg = f"documents mode must be one of {', '.join(MODES)}, got {self.mode!r}."
            raise ValueError(msg)
        if not 0.0 < float(self.budget) <= 1.0:
            msg = f"documents budget is a fraction of the context window in (0, 1], got {self.budget!r}."
            raise ValueError(msg)
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            msg = f"documents top_k must be a whole number >= 1, got {self.top_k!r}."
            raise ValueError(msg)

    @classmethod
    def coerce(cls, value: Any) -> DocumentSettings:
        """``None`` (defaults), a mode string, a dict of attributes, or a :class:`DocumentSettings` itself.

        Raises
        ------
        ValueError, TypeError
            For an unknown mode or attribute, or a value out of range.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(mode=value)  # type: ignore[arg-type]
        if isinstance(value, dict):
            return cls(**value)
        msg = f"documents= takes a mode ({', '.join(MODES)}), a dict of settings or a DocumentSettings, got {value!r}."
        raise TypeError(msg)

    def use_embeddings(self, model: str | None, *, base_url: str | None = None, api_key: str | None = None,
                       client: Any = None) -> None:  # fmt: skip
        """Rank passages with an embedding model (``None``: back to BM25). ``api_key`` stays on this object."""
        self.embedding_model, self.embedding_base_url = model, base_url
        self._embedder = Embedder(model, base_url=base_url, api_key=api_key, client=client) if model else None

    def embedder(self) -> Embedder | None:
        """The embedder for :attr:`embedding_model` (made at first use), or ``None`` for BM25."""
        if self.embedding_model and (self._embedder is None or self._embedder.model != self.embedding_model):
            self._embedder = Embedder(self.embedding_model, base_url=self.embedding_base_url)
        return self._embedder if self.embedding_model else None

    def budget_tokens(self, window: int | None) -> tuple[int, int]:
        """(budget, window) in tokens: :attr:`budget` of ``window`` (or of :data:`FALLBACK_WINDOW`)."""
        window = window or FALLBACK_WINDOW
        return int(window * self.budget), window

    def reader(self) -> tuple[list[Document], list[str]]:
        """The course reader's documents in force for this chat (none when switched off), and its problems."""
        from .._policy import current_policy

        paths = current_policy().course_reader
        if not self.course_reader or not paths:
            return [], []
        return reader_documents(paths)

    # ------------------------------------------------------------------ deciding
    def prepare(self, question: str, parts: list[Attachment], earlier: list[Any], window: int | None,
                mode: str | None = None) -> list[Attachment]:  # fmt: skip
        """The attachments a new message sends: its documents decided (whole or relevant), then passages of earlier
        documents and of the course reader relevant to ``question``.

        Parameters
        ----------
        question : str
            The message's text.
        parts : list of Attachment
            The message's attachments as made (documents with ``mode == ""``).
        earlier : list of ChatMessage
            The conversation so far (the branch the message continues).
        window : int or None
            The model's context window in tokens (``Backend.context_window``).
        mode : {"auto", "whole", "relevant"}, optional
            For this message only; default :attr:`mode`.

        Returns
        -------
        list of Attachment
            ``parts`` with each new document's ``mode``, ``passages`` and ``note`` set, then one "relevant"
            document attachment for each earlier or course-reader document with passages relevant to ``question``.
        """
        mode = mode or self.mode
        if mode not in MODES:
            msg = f"documents must be one of {', '.join(MODES)}, got {mode!r}."
            raise ValueError(msg)
        budget, window = self.budget_tokens(window)
        share = f"{budget:,} tokens = {self.budget:.0%} of the {window:,}-token context window"
        new = [a for a in parts if a.kind == "document" and a.document is not None and not a.mode]
        whole: set[int] = set()
        if mode == "whole":
            whole = {id(a) for a in new}
        elif mode == "auto":
            used = 0
            for a in sorted(new, key=lambda a: _tokens(a.document)):
                cost = _tokens(a.document)
                if used + cost <= budget:
                    whole.add(id(a))
                    used += cost
        out: list[Attachment] = []
        for a in parts:
            if a not in new:
                out.append(a)
                continue
            doc = a.document
            assert doc is not None
            if id(a) in whole:
                over = "" if _tokens(doc) <= budget else "; over the budget: sent whole because asked"
                note = f"whole: ~{_tokens(doc):,} tokens (budget {share}){over}"
                out.append(_decided(a, "whole", tuple(p.id for p in doc.passages), note))
            else:
                hits = rank_passages([doc], question, self.top_k, embedder=self.embedder())
                ids = _in_order(doc, [h.passage.id for h in hits])
                why = "asked" if mode == "relevant" else f"~{_tokens(doc):,} tokens, over the budget of {share}"
                note = f"relevant: {len(ids)} of {len(doc.passages)} passages ({why})"
                out.append(_decided(a, "relevant", ids, note))
        out += self._follow_up(question, out, earlier)
        return out

    def _follow_up(self, question: str, parts: list[Attachment], earlier: list[Any]) -> list[Attachment]:
        """Passages relevant to ``question`` from earlier documents sent as passages and from the course reader."""
        if not question.strip():
            return []
        here = {a.sha256 for a in parts if a.kind == "document"}
        searched: dict[str, tuple[Document, str]] = {}
        for message in earlier:
            for a in getattr(message, "attachments", []):
                if (
                    a.kind == "document"
                    and a.mode == "relevant"
                    and a.document is not None
                    and a.sha256 not in here
                    and not a.note.startswith(_READER)
                ):
                    searched.setdefault(a.sha256, (a.document, "from an earlier message"))
        for doc in self.reader()[0]:
            if doc.sha256 not in here:
                searched.setdefault(doc.sha256, (doc, _READER))
        if not searched:
            return []
        docs = [d for d, _ in searched.values()]
        hits = rank_passages(docs, question, self.top_k, embedder=self.embedder())
        out = []
        for sha, (doc, origin) in searched.items():
            ids = _in_order(doc, [h.passage.id for h in hits if h.document.sha256 == sha])
            if ids:
                note = f"{origin}; relevant: {len(ids)} of {len(doc.passages)} passages"
                base = Attachment("document", doc.media_type, doc.name, doc.sha256, document=doc)
                out.append(_decided(base, "relevant", ids, note))
        return out


def _tokens(doc: Document | None) -> int:
    """Estimated tokens of a document sent whole, markers included."""
    return 0 if doc is None else doc.tokens + _MARKER_TOKENS * len(doc.passages)


def _in_order(doc: Document, ids: list[str]) -> tuple[str, ...]:
    wanted = set(ids)
    return tuple(p.id for p in doc.passages if p.id in wanted)


def _decided(a: Attachment, mode: str, ids: tuple[str, ...], note: str) -> Attachment:
    text = "; ".join(t for t in (a.note, note) if t)
    return dataclasses.replace(a, mode=mode, passages=ids, note=text)


def cite_reply(reply: Any, sent: list[Any]) -> None:
    """Set ``reply.stats["citations"]`` (see :mod:`nbchat.documents._citations`) when the request sent documents.

    Parameters
    ----------
    reply : ChatMessage
        The finished (or stopped) reply; its ``content`` is searched for markers.
    sent : list of ChatMessage
        The messages of its request (``Conversation.request_of``'s ``sent``).
    """
    pairs = [
        (a.document, a.passages)
        for m in sent
        for a in getattr(m, "attachments", [])
        if a.kind == "document" and a.document is not None
    ]
    if pairs:
        reply.stats["citations"] = resolve_citations(reply.content, pairs)
