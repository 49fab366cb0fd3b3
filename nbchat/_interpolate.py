"""``%%chat`` interpolation: ``{name}``, ``{In[3]}``, ``{Out[3]}`` and ``{Err}`` in a prompt, like jupyter-ai's magics.

Plain values (``str``, numbers, ``bool``) are put into the text as they are, except a ``str`` or ``Path`` naming an
existing document file (``.pdf``, ``.docx``, ``.pptx``, ``.xlsx``, ``.html``, ``.md``, ``.txt``, ``.ipynb``), which
is attached as that document (see :mod:`nbchat.documents`); everything else (a DataFrame, a figure,
an image, an exception, a cell's input) becomes an attachment by the rules of :func:`nbchat._convert.to_attachment`
and the text names it. ``{{`` and ``}}`` stand for literal braces; braces around anything but a name, ``In[n]``,
``Out[n]`` or ``Err`` (``{'a': 1}``) stay as typed. Only names are looked up: nothing is evaluated as code.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from ._attachments import DEFAULT_TEXT_TOKENS, AttachmentError, text_attachment
from .documents import DOCUMENT_SUFFIXES

__all__ = ["interpolate", "last_error"]

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_REFERENCE = re.compile(r"^\s*(?:(In|Out)\[(\d+)\]|([A-Za-z_]\w*))\s*$")
_PLAIN = (str, int, float, bool)


def last_error() -> BaseException | None:
    """The exception the notebook showed last (``sys.last_exc`` on Python 3.12+, else ``sys.last_value``)."""
    return getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)


def interpolate(
    text: str, namespace: dict[str, Any], *, error: BaseException | None = None, tokens: int = DEFAULT_TEXT_TOKENS
) -> tuple[str, list[Any], list[str]]:
    """Replace the ``{...}`` fields of ``text``.

    Parameters
    ----------
    text : str
        The prompt as typed.
    namespace : dict
        The notebook's variables (``get_ipython().user_ns``), with ``In`` (list of cell sources) and ``Out``
        (dict of cell results) as IPython keeps them.
    error : BaseException, optional
        What ``{Err}`` stands for (default: :func:`last_error`).
    tokens : int, default 1500
        Token budget of a cell's input attached by ``{In[n]}``.

    Returns
    -------
    (str, list, list of str)
        The text, the objects to attach (for :func:`nbchat._convert.to_attachments`), and their names.

    Raises
    ------
    AttachmentError
        For a name that is not defined (the message says to write ``{{name}}`` for the text), ``In[n]``/``Out[n]``
        that does not exist, or ``{Err}`` when no error was raised.
    """
    objects: list[Any] = []
    names: list[str] = []

    def attach(value: Any, label: str) -> str:
        if isinstance(value, str) and _document_path(value):
            value = Path(value)
        elif isinstance(value, _PLAIN):
            return str(value)
        if label not in names:
            objects.append(value)
            names.append(label)
        return f"`{label}` (attached)"

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        field = match.group(1).strip()
        if field == "Err":
            exc = error if error is not None else last_error()
            if exc is None:
                msg = "{Err} stands for the last error, but no cell has raised one in this kernel yet."
                raise AttachmentError(msg)
            return attach(exc, "Err")
        ref = _REFERENCE.match(field)
        if ref is None:  # code or JSON in the prompt ({'a': 1}) stays as typed
            return token
        which, number, name = ref.groups()
        if which == "In":
            sources = namespace.get("In") or []
            if not 0 < int(number) < len(sources):
                msg = f"There is no cell input In[{number}] in this kernel."
                raise AttachmentError(msg)
            label = f"In[{number}]"
            code = text_attachment(sources[int(number)], label, media_type="text/x-python", tokens=tokens)
            return attach(code, label)
        if which == "Out":
            outputs = namespace.get("Out") or {}
            if int(number) not in outputs:
                msg = f"There is no cell output Out[{number}] in this kernel (the cell returned nothing)."
                raise AttachmentError(msg)
            return attach(outputs[int(number)], f"Out[{number}]")
        if name not in namespace:
            msg = f"{{{name}}}: no variable {name!r} is defined in this notebook; write {{{{{name}}}}} for the text."
            raise AttachmentError(msg)
        return attach(namespace[name], name)

    return _FIELD.sub(replace, text), objects, names


def _document_path(text: str) -> bool:
    """Whether ``text`` names an existing file with a document ending (``{paper}`` with ``paper = "x.pdf"``)."""
    if len(text) > 4096 or "\n" in text or Path(text).suffix.lower() not in DOCUMENT_SUFFIXES:
        return False
    try:
        return Path(text).expanduser().is_file()
    except OSError:
        return False
