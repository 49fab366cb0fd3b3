"""Attachments that come from a widget's message box: uploaded files (paste, drop, Attach) and ``@name`` variables.

Shared by :class:`nbchat.Chat` and :class:`nbchat.Compare`. The browser sends a file's bytes in a custom message
with one buffer (``{"kind": "attach", "token", "name", "media_type"}``); the kernel converts it (downscale,
thumbnail), keeps it under its token until the message is sent, and answers ``{"kind": "attached", "token",
"attachment" | "error"}``. ``{"kind": "complete", "prefix"}`` is answered with the notebook's variables.
"""

from __future__ import annotations

import re
import threading
import types
import uuid
from collections.abc import Callable
from typing import Any

from ._attachments import (
    DEFAULT_MAX_SIDE,
    DEFAULT_TEXT_TOKENS,
    Attachment,
    AttachmentError,
    document_attachment,
    image_attachment,
    text_attachment,
)
from ._errors import NbchatError
from ._policy import current_policy
from .documents import DocumentError, convert, document_format

__all__ = ["BrowserAttachments", "thumbnails_for"]

UPLOAD_MAX_BYTES = 20 * 2**20  # a pasted or dropped file larger than this is refused (the browser checks too)
MAX_UPLOADS = 64  # attachments uploaded but not sent yet, kept per widget; the oldest go first
COMPLETIONS = 20  # @name suggestions sent per request
_REFERENCE = re.compile(r"(?<![\w@])@([A-Za-z_]\w*)")  # @name in a message: attach that variable
_HIDDEN_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})


def _visible(name: str, namespace: dict[str, Any]) -> bool:
    """A user's variable: not private, not IPython's, not a module, function or class."""
    if name.startswith("_") or name in _HIDDEN_NAMES or name not in namespace:
        return False
    value = namespace[name]
    return not isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))


class BrowserAttachments:
    """The uploads of one widget not sent yet, and where ``@name`` looks up variables.

    Parameters
    ----------
    namespace : dict, optional
        Where ``@name`` finds variables; default: the notebook's (``get_ipython().user_ns``), read at each use.

    Attributes
    ----------
    uploads : dict of str to Attachment
        Converted uploads by the browser's token, until sent or removed (at most 64; the oldest go first).
    """

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.namespace = namespace
        self.uploads: dict[str, Attachment] = {}

    # ------------------------------------------------------------------ uploads
    def upload(self, content: dict[str, Any], buffers: Any, *, max_side: int = DEFAULT_MAX_SIDE,
               tokens: int = DEFAULT_TEXT_TOKENS) -> dict[str, Any]:  # fmt: skip
        """Convert one uploaded file and keep it; returns the ``attached`` answer for the browser (a document is
        converted before this returns: :meth:`upload_with_progress` converts it in the background)."""
        return self.upload_with_progress(content, buffers, None, max_side=max_side, tokens=tokens)

    def upload_with_progress(self, content: dict[str, Any], buffers: Any,
                             notify: Callable[[dict[str, Any]], None] | None, *, max_side: int = DEFAULT_MAX_SIDE,
                             tokens: int = DEFAULT_TEXT_TOKENS) -> dict[str, Any]:  # fmt: skip
        """Convert one uploaded file and keep it; returns the ``attached`` answer for the browser.

        An image (``media_type`` ``image/*``) is downscaled to ``max_side``; a document (PDF, DOCX, PPTX, XLSX,
        HTML, Markdown, ``.txt``, ``.ipynb``, by name, media type or bytes) is converted to passages (see
        :mod:`nbchat.documents`); anything else must be UTF-8 text (cut to ``tokens``). Empty, too large (20 MiB,
        or the administrator's cap) or unreadable files get ``{"error": ...}`` instead of ``{"attachment": ...}``.

        With ``notify`` (the widget's ``send``), a document is converted in a background thread, off the kernel's
        main thread: this returns ``{"kind": "attach-progress", "token", "name", "done": 0, "total": None}`` at
        once, ``notify`` gets one such message per page converted (``done`` of ``total`` pages; ``total`` None
        when unknown) and then the ``attached`` answer. Without it the document is converted before returning.
        """
        name = str(content.get("name") or "pasted")[:200]
        token = str(content.get("token") or uuid.uuid4().hex)[:64]
        data = bytes(buffers[0]) if buffers else b""
        media_type = str(content.get("media_type") or "")
        try:
            if not data:
                raise AttachmentError.from_key("py.attach.empty", name=name)
            if len(data) > UPLOAD_MAX_BYTES:
                raise AttachmentError.from_key("py.attach.tooLarge", name=name, mib=UPLOAD_MAX_BYTES // 2**20)
            current_policy().check_attachments(1, [len(data)])
            if notify is not None and not media_type.startswith("image/") and document_format(name, media_type, data):
                threading.Thread(target=self._convert_document, args=(token, name, media_type, data, notify),
                                 name="nbchat-document", daemon=True).start()  # fmt: skip
                return _progress(token, name, 0, None)
            attachment = _convert(name, media_type, data, max_side, tokens)
        except (NbchatError, ValueError) as exc:
            return _failed(token, exc)
        return self._keep(token, attachment)

    def _keep(self, token: str, attachment: Attachment) -> dict[str, Any]:
        while len(self.uploads) >= MAX_UPLOADS:
            self.uploads.pop(next(iter(self.uploads)))
        self.uploads[token] = attachment
        return {"kind": "attached", "token": token, "attachment": attachment.to_dict()}

    def _convert_document(self, token: str, name: str, media_type: str, data: bytes,
                          notify: Callable[[dict[str, Any]], None]) -> None:  # fmt: skip
        """Worker thread: convert, report progress (at most every 5% of pages), then the ``attached`` answer."""
        last = [-1.0]

        def progress(done: int, total: int | None) -> None:
            fraction = done / total if total else 0.0
            if total is None or done == total or fraction - last[0] >= 0.05:
                last[0] = fraction
                notify(_progress(token, name, done, total))

        try:
            answer = self._keep(token, document_attachment(convert(data, name, media_type, progress=progress)))
        except (NbchatError, ValueError) as exc:
            answer = _failed(token, exc)
        except Exception as exc:  # noqa: BLE001 - a converter's bug must not leave the browser waiting: say so
            answer = _failed(
                token, AttachmentError.from_key("py.attach.crashed", name=name, error=f"{type(exc).__name__}: {exc}")
            )
        notify(answer)

    def forget(self, tokens: Any) -> None:
        """Drop the uploads named by ``tokens`` (sent, or removed from the tray)."""
        for token in _tokens(tokens):
            self.uploads.pop(token, None)

    def pending(self, tokens: Any) -> list[dict[str, Any]]:
        """The uploads named by ``tokens`` as the browser puts them back in its tray (a refused message)."""
        return [{"token": t, **self.uploads[t].to_dict()} for t in _tokens(tokens) if t in self.uploads]

    def collect(self, text: str, tokens: Any, make: Callable[[list[Any], list[str]], list[Attachment]]) -> list[Any]:
        """What a message sends: the uploads named by ``tokens``, then each ``@name`` variable of ``text``
        converted by ``make(objects, names)`` (a conversation's :meth:`~nbchat.Conversation.make_attachments`)."""
        uploads = [self.uploads[t] for t in _tokens(tokens) if t in self.uploads]
        objects, names = self.references(text)
        return uploads + make(objects, names)

    # ------------------------------------------------------------------ @name
    def scope(self) -> dict[str, Any]:
        """The namespace ``@name`` reads (the notebook's unless one was given)."""
        if self.namespace is not None:
            return self.namespace
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            return {}
        shell = get_ipython()
        return shell.user_ns if shell is not None else {}

    def references(self, text: str) -> tuple[list[Any], list[str]]:
        """The variables named ``@name`` in ``text`` (each once; unknown names stay plain text).

        ``@Err`` is the last error shown (unless a variable is called ``Err``).

        Raises
        ------
        AttachmentError
            For ``@Err`` when no error was raised yet.
        """
        from ._interpolate import last_error

        namespace, objects, names = self.scope(), [], []
        for name in _REFERENCE.findall(text):
            if name in names:
                continue
            if name == "Err" and "Err" not in namespace:
                error = last_error()
                if error is None:
                    raise AttachmentError.from_key("py.attach.noErr")
                objects.append(error)
            elif _visible(name, namespace):
                objects.append(namespace[name])
            else:
                continue
            names.append(name)
        return objects, names

    def completions(self, prefix: str) -> list[dict[str, str]]:
        """Variables whose name starts with ``prefix`` (then those containing it), with a short type label."""
        from ._convert import describe_type
        from ._interpolate import last_error

        namespace, lowered = self.scope(), prefix.lower()
        names = [n for n in namespace if _visible(n, namespace) and lowered in n.lower()]
        names.sort(key=lambda n: (not n.lower().startswith(lowered), n.lower()))
        items = [{"name": n, "type": describe_type(namespace[n])} for n in names[:COMPLETIONS]]
        error = last_error()
        if error is not None and "err".startswith(lowered) and "Err" not in namespace:
            items.insert(0, {"name": "Err", "type": f"last error: {type(error).__name__}"})
        return items[:COMPLETIONS]


def _tokens(tokens: Any) -> list[str]:
    return [t for t in tokens if isinstance(t, str)] if isinstance(tokens, list) else []


def _failed(token: str, error: Exception) -> dict[str, Any]:
    """The ``attached`` answer for a file that could not be attached: the error's text, and its catalogue key."""
    key, params = getattr(error, "key", None), getattr(error, "params", None)
    keyed_error = {"error_i18n": {"key": key, "params": params}} if isinstance(key, str) and params is not None else {}
    return {"kind": "attached", "token": token, "error": str(error), **keyed_error}


def _progress(token: str, name: str, done: int, total: int | None) -> dict[str, Any]:
    return {"kind": "attach-progress", "token": token, "name": name, "done": done, "total": total}


def _convert(name: str, media_type: str, data: bytes, max_side: int, tokens: int) -> Attachment:
    if media_type.startswith("image/"):
        return image_attachment(data, name, max_side=max_side)
    if document_format(name, media_type, data) is not None:
        try:
            return document_attachment(convert(data, name, media_type))
        except DocumentError as exc:
            if isinstance(exc, ImportError):
                raise
            raise AttachmentError(str(exc)) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttachmentError.from_key("py.attach.notText", name=name) from exc
    return text_attachment(text, name, media_type=media_type or "text/plain", tokens=tokens)


def thumbnails_for(data: dict[str, Any] | None, attachments: list[Attachment]) -> dict[str, Any] | None:
    """Provenance for the browser: each image part's data URL replaced by the thumbnail of the attachment it came
    from (one of ``attachments``), so Details shows the image without sending its bytes."""
    if data is None:
        return None
    known = {a.data_url(): a for a in attachments if a.kind == "image"}
    messages = []
    for m in data.get("messages", []):
        if isinstance(m.get("content"), list):
            parts = []
            for p in m["content"]:
                if p.get("type") == "image_url":
                    a = known.get(p["image_url"]["url"])
                    label = f"{a.name}, {a.width}×{a.height}" if a else "image"
                    parts.append({"type": "image", "name": label, "thumbnail": a.thumbnail if a else ""})
                else:
                    parts.append(p)
            m = {**m, "content": parts}
        messages.append(m)
    return {**data, "messages": messages}
