"""Attachments: the typed parts a user message carries besides its text (images, text, documents).

An :class:`Attachment` is a small frozen record. An image keeps its (downscaled) bytes in memory and a thumbnail
data URL; the bytes never go into the widget's synced state (thumbnails only) and are written once per
conversation file, keyed by their SHA-256 (content-addressed). Text attachments (a DataFrame summary, a
traceback, a text file) keep their text, cut to a token budget. Documents (PDF, Word, slides, web pages, ...: see
:mod:`nbchat.documents`) keep their converted passages once per conversation file, keyed by the SHA-256 of the
original file, and record which passages a message sent (``mode`` "whole" or "relevant", ``passages``).

How a message with attachments is sent (see :meth:`nbchat.ChatMessage.to_openai`): OpenAI chat-completion content
parts, ``{"type": "text", "text": ...}`` and ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,
..."}}`` (the format of ``openai.types.chat.ChatCompletionContentPartImageParam``); for a model without image input
the text attachments are appended to the message text instead.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import re
from typing import TYPE_CHECKING, Any, Literal

from ._errors import NbchatError
from ._i18n import keyed, keyed_text

if TYPE_CHECKING:
    from .documents._model import Document

__all__ = [
    "DEFAULT_MAX_SIDE",
    "DEFAULT_TEXT_TOKENS",
    "IMAGE_TYPES",
    "THUMBNAIL_SIDE",
    "Attachment",
    "AttachmentError",
    "approx_tokens",
    "attachment_from_dict",
    "document_attachment",
    "image_attachment",
    "text_attachment",
    "truncate_to_tokens",
]

DEFAULT_MAX_SIDE = 1024
"""Images are downscaled so that their longer side is at most this many pixels (``Conversation(image_max_side=)``)."""
THUMBNAIL_SIDE = 96
"""Longer side of the thumbnail shown in the user's bubble, in pixels (the only image data in widget state)."""
DEFAULT_TEXT_TOKENS = 1500
"""Token budget of one text attachment (``Conversation(attachment_tokens=)``), estimated as characters / 4."""
CHARS_PER_TOKEN = 4  # the usual estimate for English text and code with BPE tokenizers
MAX_PIXELS = 64_000_000  # an image with more pixels is refused before it is decoded (a small file can expand hugely)
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
"""Image formats accepted (Pillow's format name → media type); a GIF is sent as its first frame, as PNG."""


_THUMBNAIL = re.compile(r"data:image/(jpeg|png|webp|gif);base64,[A-Za-z0-9+/]+=*")  # what nbchat makes, nothing else


class AttachmentError(NbchatError, ValueError):
    """An attachment cannot be made or sent (unknown kind, unreadable image, too large, model without image input).

    The message says what to do; nothing is added to the conversation.

    Attributes
    ----------
    key : str or None
        The message's key in the UI catalogue (``nbchat/i18n.json``) when it has one (see :meth:`from_key`), so a
        widget shows it in its own language; ``None``: shown as written.
    params : dict of str to str
        The placeholders of ``key``'s text.
    """

    key: str | None = None
    params: dict[str, str] = {}  # noqa: RUF012 - a class default, replaced per instance by from_key

    @classmethod
    def from_key(cls, key: str, **params: Any) -> AttachmentError:
        """The error whose message is the English catalogue text of ``key`` filled with ``params``.

        Raises
        ------
        KeyError
            For a key that is not in the catalogue (a bug in nbchat).
        """
        line = keyed(key, **params)
        error = cls(keyed_text(line))
        error.key, error.params = line["key"], line["params"]
        return error


@dataclasses.dataclass(frozen=True)
class Attachment:
    """One part of a user message besides its text.

    Attributes
    ----------
    kind : {"image", "text", "document"}
        An image (sent as an image part), text (a summary, a traceback, a file's text), or a converted document
        (its passages with citation markers, see :mod:`nbchat.documents`).
    media_type : str
        ``image/png``, ``image/jpeg``, ``image/webp`` or ``text/plain``, ``text/csv``, ...
    name : str
        What the user calls it: the variable name, the file name, ``"figure"``, ``"error"``.
    sha256 : str
        Hex SHA-256 of the bytes (images) or of the UTF-8 text: the key under which a saved file stores an image.
    text : str
        The text of a text attachment (already cut to the token budget); ``""`` for images.
    width, height : int or None
        Pixel size of an image as sent (after downscaling).
    thumbnail : str
        ``data:image/jpeg;base64,...`` of at most :data:`THUMBNAIL_SIDE` pixels, for the widget; ``""`` for text.
    note : str
        What was done to it (``"downscaled from 3000×2000"``, ``"cut to ~1500 tokens"``), shown in Details.
    data : bytes
        The image bytes sent to the model; never part of :meth:`to_dict` (saved files store them once, by hash).
    mode : {"", "whole", "relevant"}
        For a document: sent whole, or only the passages most relevant to the question; ``""`` until the
        conversation decides (when the message is sent: :meth:`nbchat.documents.DocumentSettings.prepare`).
    passages : tuple of str
        For a document: the ids of the passages this message sent (all of them when ``mode == "whole"``).
    document : Document or None
        The converted document; never part of :meth:`to_dict` (saved files store it once, by ``sha256``).
    """

    kind: Literal["image", "text", "document"]
    media_type: str
    name: str
    sha256: str
    text: str = ""
    width: int | None = None
    height: int | None = None
    thumbnail: str = ""
    note: str = ""
    data: bytes = dataclasses.field(default=b"", repr=False, compare=False)
    mode: str = ""
    passages: tuple[str, ...] = ()
    document: Document | None = dataclasses.field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The record without the image bytes or the document's passages (widget state and the message part of
        saved files). A document's record also has ``"document"``: ``{"unit", "pages", "passages" (how many in
        all), "tokens" (estimated, whole), "converter"}``."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("data", "document")}
        out["passages"] = list(self.passages)
        if self.document is not None:
            doc = self.document
            out["document"] = {"unit": doc.unit, "pages": doc.pages, "passages": len(doc.passages),
                               "tokens": doc.tokens, "converter": doc.converter}  # fmt: skip
        return out

    def data_url(self) -> str:
        """``data:<media type>;base64,<bytes>`` of an image."""
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def as_text(self) -> str:
        """How a text attachment reads inside a prompt: its name, then its text in a fence."""
        if self.kind == "image":
            return f"[image {self.name}, {self.width}×{self.height}]"
        if self.kind == "document":
            return self._document_text()
        fence = "```"
        while fence in self.text:
            fence += "`"
        return f"{self.name} ({self.media_type}):\n{fence}\n{self.text}\n{fence}"

    def _document_text(self) -> str:
        doc = self.document
        if doc is None:  # pragma: no cover - documents are always rebuilt with their passages
            return f"[document {self.name}]"
        chosen = self.passages or tuple(p.id for p in doc.passages)
        body = doc.render(chosen)
        fence = "```"
        while fence in body:
            fence += "`"
        if self.mode == "relevant":
            what = f"the {len(chosen)} passages of {len(doc.passages)} most relevant to the question"
        else:
            what = "the whole document"
        example = doc.marker(doc.passages[0]) if doc.passages else "[name p. 1]"
        return (
            f"{self.name} ({self.media_type}; {what}). Each passage starts with its marker, such as {example}; "
            f"cite the marker after each statement that uses it.\n{fence}\n{body}\n{fence}"
        )

    def to_part(self) -> dict[str, Any]:
        """The OpenAI chat-completion content part: ``text`` for text, ``image_url`` with a data URL for images."""
        if self.kind == "image":
            return {"type": "image_url", "image_url": {"url": self.data_url()}}
        return {"type": "text", "text": self.as_text()}


def attachment_from_dict(raw: Any, blobs: dict[str, bytes], documents: dict[str, Document] | None = None) -> Attachment:
    """Rebuild an attachment saved by :meth:`Attachment.to_dict`; ``blobs`` maps SHA-256 to image bytes and
    ``documents`` SHA-256 to converted documents.

    Raises
    ------
    AttachmentError
        If a field is missing or of the wrong type, an image's bytes are not in ``blobs`` (or do not match), or a
        document is not in ``documents`` (or names passages it does not have).
    """
    fields = {"kind", "media_type", "name", "sha256", "text", "width", "height", "thumbnail", "note", "mode"}
    if not isinstance(raw, dict) or raw.get("kind") not in ("image", "text", "document"):
        msg = f"an attachment must be an object with kind 'image', 'text' or 'document', got {str(raw)[:80]!r}."
        raise AttachmentError(msg)
    strings = ("media_type", "name", "sha256", "text", "thumbnail", "note", "mode")
    if any(not isinstance(raw.get(k, ""), str) for k in strings) or any(
        raw.get(k) is not None and (not isinstance(raw.get(k), int) or isinstance(raw.get(k), bool))
        for k in ("width", "height")
    ):
        msg = f"attachment {raw.get('name')!r} has a field of the wrong type."
        raise AttachmentError(msg)
    if raw.get("thumbnail") and not _THUMBNAIL.fullmatch(raw["thumbnail"]):  # a file must not smuggle in a URL
        msg = f"attachment {raw.get('name')!r} has a thumbnail that is not a base64 image data URL."
        raise AttachmentError(msg)
    values = {k: raw[k] for k in fields if k in raw}
    data = b""
    if raw["kind"] == "image":
        data = blobs.get(raw.get("sha256", ""), b"")
        if not data or hashlib.sha256(data).hexdigest() != raw.get("sha256"):
            msg = f"the bytes of image {raw.get('name')!r} are missing from the file or do not match its hash."
            raise AttachmentError(msg)
    if raw["kind"] == "document":
        doc = (documents or {}).get(raw.get("sha256", ""))
        ids = raw.get("passages", [])
        if doc is None:
            msg = f"the text of document {raw.get('name')!r} is missing from the file."
            raise AttachmentError(msg)
        if not isinstance(ids, list) or not all(isinstance(i, str) and doc.passage(i) for i in ids):
            msg = f"document {raw.get('name')!r} names passages it does not have."
            raise AttachmentError(msg)
        return Attachment(**values, passages=tuple(ids), document=doc)
    return Attachment(**values, data=data)


def document_attachment(document: Document, *, name: str | None = None, note: str = "") -> Attachment:
    """A document attachment; whether it goes whole or as its relevant passages is decided when it is sent.

    Parameters
    ----------
    document : Document
        From :func:`nbchat.documents.convert`.
    name : str, optional
        Default: the document's file name.
    note : str, optional
        Added to the document's own note (e.g. pages without a text layer).
    """
    text = "; ".join(t for t in (document.note, note) if t)
    return Attachment("document", document.media_type, name or document.name, document.sha256, note=text,
                      document=document)  # fmt: skip


# ---------------------------------------------------------------------------------------------- making them
def approx_tokens(text: str) -> int:
    """Estimated tokens of ``text``: characters / :data:`CHARS_PER_TOKEN`, rounded up (no tokenizer needed)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def truncate_to_tokens(text: str, tokens: int) -> tuple[str, bool]:
    """``text`` cut to about ``tokens`` tokens (head and tail kept, the middle marked), and whether it was cut."""
    limit = max(1, tokens) * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text, False
    marker = f"\n… {len(text) - limit} characters left out …\n"
    keep = max(0, limit - len(marker))
    head = keep * 2 // 3
    return text[:head] + marker + text[len(text) - (keep - head) :], True


def text_attachment(text: str, name: str, *, media_type: str = "text/plain", tokens: int = DEFAULT_TEXT_TOKENS,
                    note: str = "") -> Attachment:  # fmt: skip
    """A text attachment, cut to about ``tokens`` tokens (see :func:`truncate_to_tokens`).

    Parameters
    ----------
    text : str
        The text (a summary, a traceback, a file's content).
    name : str
        Shown in the bubble and before the text in the prompt.
    media_type : str, default "text/plain"
    tokens : int, default DEFAULT_TEXT_TOKENS
        Budget in estimated tokens (characters / 4).
    note : str, optional
        What was done to make it (``"DataFrame summary"``).
    """
    cut, was_cut = truncate_to_tokens(text, tokens)
    if was_cut:
        note = f"{note + '; ' if note else ''}cut to ~{tokens} tokens"
    return Attachment("text", media_type, name, hashlib.sha256(cut.encode()).hexdigest(), text=cut, note=note)


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a dependency
        from ._errors import MissingDependencyError

        msg = "Image attachments need Pillow: pip install pillow"
        raise MissingDependencyError(msg) from exc
    return Image


def image_attachment(data: bytes, name: str, *, max_side: int = DEFAULT_MAX_SIDE, note: str = "") -> Attachment:
    """An image attachment from encoded image bytes (PNG, JPEG, WebP or GIF), downscaled to ``max_side``.

    Parameters
    ----------
    data : bytes
        The encoded image.
    name : str
        Shown in the bubble and Details.
    max_side : int, default DEFAULT_MAX_SIDE (1024)
        Longer side in pixels after downscaling (Pillow, Lanczos); smaller images keep their bytes unchanged.

    Raises
    ------
    AttachmentError
        If the bytes are not an image of an accepted format (the message lists them), or are too large to decode.
    """
    pil = _pil()
    try:
        with pil.open(io.BytesIO(data)) as img:
            fmt = img.format
            if fmt not in IMAGE_TYPES:
                msg = f"{name}: {fmt or 'this'} images are not accepted; use PNG, JPEG, WebP or GIF."
                raise AttachmentError(msg)
            width, height = img.size
            if width * height > MAX_PIXELS:
                limit = f"{MAX_PIXELS:,}"
                msg = f"{name} has {width}×{height} pixels, over the {limit} accepted; attach a smaller image."
                raise AttachmentError(msg)
            img.load()
            scale = min(1.0, max_side / max(width, height))
            if scale < 1.0 or fmt == "GIF":
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                out_img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
                out_img = out_img.resize(size, pil.Resampling.LANCZOS) if size != img.size else out_img
                keep = fmt if fmt in ("JPEG", "WEBP") else "PNG"
                if keep == "JPEG" and out_img.mode != "RGB":
                    out_img = out_img.convert("RGB")
                buf = io.BytesIO()
                out_img.save(buf, format=keep, **({"quality": 90} if keep in ("JPEG", "WEBP") else {}))
                data, fmt = buf.getvalue(), keep
                if size != (width, height):
                    note = f"{note + '; ' if note else ''}downscaled from {width}×{height}"
                width, height = size
                img = out_img
            thumb = _thumbnail(img, pil)
    except AttachmentError:
        raise
    except (OSError, ValueError, pil.DecompressionBombError) as exc:
        msg = f"{name} is not a readable image (PNG, JPEG, WebP or GIF): {exc}"
        raise AttachmentError(msg) from exc
    media_type = IMAGE_TYPES[fmt]
    return Attachment("image", media_type, name, hashlib.sha256(data).hexdigest(), width=width, height=height,
                      thumbnail=thumb, note=note, data=data)  # fmt: skip


def _thumbnail(img: Any, pil: Any) -> str:
    small = img.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), pil.Resampling.LANCZOS)
    if small.mode != "RGB":  # JPEG has no alpha: flatten onto white
        background = pil.new("RGB", small.size, "white")
        rgba = small.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        small = background
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
