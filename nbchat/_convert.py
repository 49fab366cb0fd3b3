"""Python objects → attachments: figures, images, arrays, files and bytes become images; DataFrames become a summary.

One function, :func:`to_attachment`, used by ``ask(..., attachments=[...])``, ``%%chat`` interpolation and the
widget's ``@name``. Libraries (Pillow, matplotlib, pandas, polars, numpy, IPython) are only used when the object
comes from them, and never imported for an object that does not.
"""

from __future__ import annotations

import io
import os
import traceback
from pathlib import Path
from typing import Any

from ._attachments import (
    DEFAULT_MAX_SIDE,
    DEFAULT_TEXT_TOKENS,
    Attachment,
    AttachmentError,
    document_attachment,
    image_attachment,
    text_attachment,
    truncate_to_tokens,
)
from .documents import DocumentError, convert, document_format, policy_limits

__all__ = [
    "describe_type",
    "format_exception",
    "notebook_names",
    "summarize_frame",
    "to_attachment",
    "to_attachments",
]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}
_TEXT_MEDIA = {".csv": "text/csv", ".md": "text/markdown", ".json": "application/json", ".py": "text/x-python"}
_MAX_FILE_BYTES = 20 * 2**20  # a file bigger than this is not read (images are downscaled, texts cut anyway)
_HEAD_TAIL_ROWS = 5


def to_attachments(objects: Any, *, max_side: int = DEFAULT_MAX_SIDE, tokens: int = DEFAULT_TEXT_TOKENS,
                   names: list[str] | None = None) -> list[Attachment]:  # fmt: skip
    """:func:`to_attachment` of each object of a list (a single object is a list of one)."""
    if objects is None:
        return []
    items = list(objects) if isinstance(objects, (list, tuple)) else [objects]
    out = []
    for n, obj in enumerate(items):
        name = names[n] if names and n < len(names) and names[n] else None
        out.append(to_attachment(obj, name=name, max_side=max_side, tokens=tokens))
    return out


def notebook_names(objects: Any) -> list[str] | None:
    """For each object, the name of a notebook variable holding it (``""`` if none); ``None`` outside IPython.

    Strings and numbers are never looked up (many variables may hold the same small value).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    if shell is None or objects is None:
        return None
    items = list(objects) if isinstance(objects, (list, tuple)) else [objects]
    namespace = [(k, v) for k, v in shell.user_ns.items() if not k.startswith("_") and k not in ("In", "Out")]
    plain = (str, bytes, int, float, bool, type(None))
    return ["" if isinstance(obj, plain) else next((k for k, v in namespace if v is obj), "") for obj in items]


def to_attachment(
    obj: Any, *, name: str | None = None, max_side: int = DEFAULT_MAX_SIDE, tokens: int = DEFAULT_TEXT_TOKENS
) -> Attachment:
    """Turn a Python object into an :class:`~nbchat._attachments.Attachment`.

    Parameters
    ----------
    obj : object
        - :class:`Attachment`: kept as it is.
        - matplotlib ``Figure`` (or ``Axes``: its figure), PIL ``Image``, numpy array of shape (H, W) or
          (H, W, 3|4) with dtype uint8, ``IPython.display.Image`` with data, ``bytes`` of a PNG/JPEG/WebP/GIF,
          a path (``str`` or ``Path``) to such a file → an image, downscaled to ``max_side``.
        - a path to a document (PDF, DOCX, PPTX, XLSX, HTML, Markdown, ``.txt``, ``.ipynb``), or ``bytes`` of a
          PDF or Office file → a document (see :mod:`nbchat.documents`): sent whole when it fits the
          conversation's budget, else as the passages relevant to each question.
        - a path to any other file → its text (UTF-8), cut to ``tokens``.
        - pandas or polars ``DataFrame``/``Series`` → a summary: shape, column dtypes, first and last rows.
        - an exception → its formatted traceback.
        - anything else → its ``repr``, cut to ``tokens``.
    name : str, optional
        Shown in the bubble and the prompt; default: the file name, ``"figure"``, ``"image"``, the type's name.
    max_side : int, default 1024
        Longer side of images in pixels after downscaling.
    tokens : int, default 1500
        Token budget of a text attachment (estimated as characters / 4).

    Returns
    -------
    Attachment

    Raises
    ------
    AttachmentError
        For a path that does not exist, unreadable or unsupported image data, an IPython ``Image`` that is only a
        URL (nothing is fetched), a numpy array that is not an image, or a file over 20 MiB.
    """
    if isinstance(obj, Attachment):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return _from_path(Path(obj), name, max_side, tokens)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        if document_format(name or "", "", raw) is not None:
            return _document(raw, name or "document")
        return image_attachment(raw, name or "image", max_side=max_side)
    if isinstance(obj, BaseException):
        return text_attachment(format_exception(obj), name or type(obj).__name__, tokens=tokens, note="traceback")
    module = type(obj).__module__.split(".")[0]
    if module == "matplotlib":
        return _from_figure(obj, name, max_side)
    if module == "PIL":
        buf = io.BytesIO()
        image = obj if obj.mode in ("RGB", "RGBA", "L", "LA", "P") else obj.convert("RGB")
        image.save(buf, format="PNG")
        return image_attachment(buf.getvalue(), name or "image", max_side=max_side)
    if module == "numpy" and hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return _from_array(obj, name, max_side)
    if module == "IPython" and type(obj).__name__ == "Image":
        data = getattr(obj, "data", None)
        if not isinstance(data, bytes):
            msg = "This IPython.display.Image has no image data (only a URL); nbchat fetches nothing: pass a file."
            raise AttachmentError(msg)
        return image_attachment(data, name or "image", max_side=max_side)
    if module in ("pandas", "polars") and type(obj).__name__ in ("DataFrame", "Series"):
        label = name or type(obj).__name__
        return text_attachment(summarize_frame(obj, tokens), label, tokens=tokens, note=f"{module} summary")
    text, _ = truncate_to_tokens(repr(obj), tokens)
    return text_attachment(text, name or type(obj).__name__, tokens=tokens, note="repr")


def _from_path(path: Path, name: str | None, max_side: int, tokens: int) -> Attachment:
    path = path.expanduser()
    try:
        found = path.is_file()
    except OSError:  # e.g. a long text passed by mistake: "file name too long"
        found = False
    if not found:
        msg = f"No file {str(path)!r} to attach. To attach text, pass it as a file or put it in the message."
        raise AttachmentError(msg)
    is_document = document_format(path.name) is not None
    limit = policy_limits().max_bytes if is_document else _MAX_FILE_BYTES
    if path.stat().st_size > limit:
        msg = f"{path.name} is larger than {limit / 2**20:g} MiB; attach a smaller file or a summary."
        raise AttachmentError(msg)
    data = path.read_bytes()
    label = name or path.name  # the file name only: the directory never travels
    if is_document or document_format(path.name, "", data[:8]) is not None:  # a PDF by its bytes, whatever its name
        return _document(data, path.name, label)
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        return image_attachment(data, label, max_side=max_side)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{path.name} is neither an image (PNG, JPEG, WebP, GIF) nor UTF-8 text; it cannot be attached."
        raise AttachmentError(msg) from exc
    media = _TEXT_MEDIA.get(path.suffix.lower(), "text/plain")
    return text_attachment(text, label, media_type=media, tokens=tokens)


def _document(data: bytes, file_name: str, label: str | None = None) -> Attachment:
    """A document attachment (conversion errors become :class:`AttachmentError`, whose message they keep)."""
    try:
        doc = convert(data, file_name)
    except DocumentError as exc:
        if isinstance(exc, ImportError):
            raise
        raise AttachmentError(str(exc)) from exc
    return document_attachment(doc, name=label)


def _from_figure(obj: Any, name: str | None, max_side: int) -> Attachment:
    figure = getattr(obj, "figure", None) if not hasattr(obj, "savefig") else obj
    if figure is None or not hasattr(figure, "savefig"):
        msg = f"Cannot attach a matplotlib {type(obj).__name__}; attach its figure (plt.gcf())."
        raise AttachmentError(msg)
    buf = io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight")
    return image_attachment(buf.getvalue(), name or "figure", max_side=max_side)


def _from_array(array: Any, name: str | None, max_side: int) -> Attachment:
    shape, kind = tuple(array.shape), str(array.dtype)
    if kind != "uint8" or not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (3, 4))):
        msg = (
            f"A numpy array attaches as an image only with shape (H, W), (H, W, 3) or (H, W, 4) and dtype uint8; "
            f"this one is {shape} {kind}. Convert it (e.g. (a * 255).astype('uint8')) or attach a plot of it."
        )
        raise AttachmentError(msg)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return image_attachment(buf.getvalue(), name or "array", max_side=max_side)


def format_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` as Python prints it (chained exceptions included)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


def summarize_frame(frame: Any, tokens: int = DEFAULT_TEXT_TOKENS) -> str:
    """A compact text summary of a pandas or polars DataFrame/Series within about ``tokens`` tokens.

    Shape, column names with dtypes, then the first and last rows (fewer rows and narrower cells until it fits).
    """
    shape = tuple(frame.shape)
    kind = f"{type(frame).__module__.split('.')[0]}.{type(frame).__name__}"
    if hasattr(frame, "dtypes") and hasattr(frame, "columns"):
        dtypes = [f"{c}: {t}" for c, t in zip(frame.columns, list(frame.dtypes), strict=False)]
    else:
        dtypes = [f"{getattr(frame, 'name', None)}: {frame.dtype}"]
    header = f"{kind}, shape {shape}\ncolumns: " + ", ".join(dtypes)
    header, _ = truncate_to_tokens(header, max(1, tokens // 3))
    rows = len(frame)
    for n in (_HEAD_TAIL_ROWS, 3, 1):
        if rows <= 2 * n:
            table = _table(frame, rows)
        else:
            table = _table(frame.head(n), n) + f"\n… {rows - 2 * n} rows …\n" + _table(frame.tail(n), n)
        text = f"{header}\n{table}"
        if len(text) <= tokens * 4:
            return text
    return truncate_to_tokens(text, tokens)[0]


def _table(frame: Any, rows: int) -> str:
    if type(frame).__module__.startswith("pandas"):
        if hasattr(frame, "columns"):
            return str(frame.to_string(max_rows=max(rows, 1), max_colwidth=40))
        return str(frame.to_string(max_rows=max(rows, 1)))
    return str(frame)  # polars prints a compact table of its own


def describe_type(obj: Any) -> str:
    """A short type label for ``@name`` completion: ``DataFrame 100×3``, ``Figure``, ``ndarray (64, 64, 3)``."""
    label = type(obj).__name__
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(s, int) for s in shape):
        label += " " + "×".join(str(s) for s in shape) if len(shape) == 2 else f" {shape}"
    return label
