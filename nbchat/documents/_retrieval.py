"""Which passages of long documents answer a question: BM25 (bm25s) by default, embeddings when asked.

BM25 is lexical (words in common, weighted by rarity), runs offline in milliseconds, and needs no model: bm25s
(MIT; sparse-matrix scoring, ~0.1 ms per query on 1,000 passages, against ~10 ms for rank-bm25, whose last release
is from 2022; see ``python -m benchmarks --only documents``). Embeddings (any OpenAI-compatible ``/v1/embeddings``
through the ``openai`` client) find passages that say the same thing in other words; vectors of a document's
passages are computed once per model and kept for the session.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any

from .._errors import MissingDependencyError
from ._model import Document, DocumentError, Passage

__all__ = ["Embedder", "Hit", "rank_passages"]

_CACHE_SIZE = 32  # indexes (BM25) or vectors (embeddings) of this many document sets kept per process
_BATCH = 64  # passages per /v1/embeddings request


@dataclasses.dataclass(frozen=True)
class Hit:
    """One retrieved passage: its document, the passage, and its score (higher is more relevant)."""

    document: Document
    passage: Passage
    score: float


class _LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_or_make(self, key: Any, make: Any) -> Any:
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = make()
        with self.lock:
            self[key] = value
            while len(self) > self.size:
                self.popitem(last=False)
        return value


_indexes = _LRU(_CACHE_SIZE)


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        msg = "Searching long documents needs bm25s: pip install 'nbchat[documents]' (then restart the kernel)."
        raise MissingDependencyError(msg) from exc
    return bm25s


def _tokens(bm25s: Any, texts: list[str]) -> list[list[str]]:
    out = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    return [list(t) for t in out]


def rank_passages(documents: list[Document], question: str, k: int, *, embedder: Embedder | None = None) -> list[Hit]:
    """The ``k`` passages of ``documents`` most relevant to ``question``, best first.

    Parameters
    ----------
    documents : list of Document
        Searched together (one index over all their passages, cached per set of documents).
    question : str
        The user's message.
    k : int
        How many passages at most.
    embedder : Embedder, optional
        Rank by cosine similarity of embeddings instead of BM25.

    Returns
    -------
    list of Hit
        At most ``k``; passages that share no word with the question (BM25 score 0) are left out, so a question
        with no word in common gets the first passages of each document instead (its opening usually says what
        it is about).
    """
    pool = [(d, p) for d in documents for p in d.passages]
    if not pool or k < 1:
        return []
    if embedder is not None:
        scores = embedder.scores(documents, question)
    else:
        bm25s = _bm25s()
        key = tuple(d.sha256 for d in documents)

        def build() -> Any:
            retriever = bm25s.BM25()
            retriever.index(_tokens(bm25s, [p.text for _, p in pool]), show_progress=False)
            return retriever

        retriever = _indexes.get_or_make(key, build)
        query = _tokens(bm25s, [question])[0]
        scores = [float(s) for s in retriever.get_scores(query)] if query else [0.0] * len(pool)
    order = sorted(range(len(pool)), key=lambda i: (-scores[i], i))
    hits = [Hit(pool[i][0], pool[i][1], scores[i]) for i in order[:k] if scores[i] > 0]
    if not hits:  # nothing in common: the opening of each document
        firsts = [Hit(d, d.passages[0], 0.0) for d in documents if d.passages]
        hits = firsts[:k]
    return hits


class Embedder:
    """Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint, through the ``openai`` client.

    Parameters
    ----------
    model : str
        The embedding model's name on the server (``"text-embedding-3-small"``, ``"nomic-embed-text"``, ...).
    base_url : str, optional
        The server (``"http://127.0.0.1:8080/v1"`` for llama.cpp's ``llama-server --embeddings``); default:
        ``$OPENAI_BASE_URL`` or OpenAI's.
    api_key : str, optional
        Default: ``$OPENAI_API_KEY``, or ``"none"`` for a local server. Kept on this object only: never saved,
        shown or sent to the browser.
    client : openai.OpenAI, optional
        A client to use instead (``base_url``/``api_key`` are then ignored).

    Raises
    ------
    MissingDependencyError
        If the ``openai`` package is not installed (``pip install 'nbchat[openai]'``).
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 client: Any = None) -> None:  # fmt: skip
        self.model = model
        if client is None:
            try:
                import openai
            except ImportError as exc:
                msg = "Embeddings need the openai package: pip install 'nbchat[openai]'."
                raise MissingDependencyError(msg) from exc
            import os

            key = api_key or os.environ.get("OPENAI_API_KEY") or ("none" if base_url else None)
            client = openai.OpenAI(base_url=base_url, api_key=key)
        self._client = client
        self._vectors = _LRU(_CACHE_SIZE)

    def __repr__(self) -> str:
        return f"Embedder({self.model!r})"  # never the key

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (requests of at most 64 texts).

        Raises
        ------
        DocumentError
            If the server refuses or answers something else than one vector per text.
        """
        out: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            batch = texts[start : start + _BATCH]
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except Exception as exc:  # openai.APIError and connection errors: say which model and why
                msg = f"The embedding model {self.model!r} failed: {type(exc).__name__}: {str(exc)[:200]}"
                raise DocumentError(msg) from exc
            data = sorted(response.data, key=lambda e: e.index)
            if len(data) != len(batch):
                msg = f"The embedding model {self.model!r} returned {len(data)} vectors for {len(batch)} texts."
                raise DocumentError(msg)
            out += [list(e.embedding) for e in data]
        return out

    def scores(self, documents: list[Document], question: str) -> list[float]:
        """Cosine similarity of ``question`` to every passage of ``documents``, in order."""
        import numpy as np

        def vectors(doc: Document) -> Any:
            matrix = np.asarray(self.embed([p.text for p in doc.passages]), dtype=np.float32)
            return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)

        matrices = [self._vectors.get_or_make(d.sha256, lambda d=d: vectors(d)) for d in documents]
        query = np.asarray(self.embed([question])[0], dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        # shift so that every score is > 0 (rank_passages drops score 0 as "nothing in common")
        return [float(s) + 2.0 for m in matrices for s in m @ query]
