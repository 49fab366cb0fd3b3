"""The widgets' language and the texts Python writes into them (notices, status), in English and Simplified Chinese.

Which language a view shows is decided in this order: ``Chat(lang=...)`` / ``Compare(lang=...)``; the administrator's
setting (``$NBCHAT_LANG`` or ``lang`` in the ``$NBCHAT_CONFIG`` file, see :mod:`nbchat._policy`); else the browser
(JupyterLab's language setting when it chose one, else the browser's languages). The browser's catalogue is
the same file, ``nbchat/i18n.json`` (imported by ``js/i18n.ts``), so a notice sent with its ``key`` is shown in the
view's language even when only the browser knows that language.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any, TypedDict

__all__ = ["LANGS", "MESSAGES", "Keyed", "error_notice", "keyed", "keyed_text", "normalize_lang", "notice", "text"]

LANGS = ("en", "zh")
"""Languages with a complete catalogue: English, Simplified Chinese."""

MESSAGES: dict[str, dict[str, str]] = json.loads(files("nbchat").joinpath("i18n.json").read_text(encoding="utf-8"))
"""The catalogue, ``{lang: {key: text}}``: ``nbchat/i18n.json``, the one file the browser bundle imports too
(``js/i18n.ts``), shipped in the wheel beside this module."""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Keyed(TypedDict):
    """A text as a catalogue key and its parameters (strings), e.g. ``{"key": "py.status.ready", "params": {}}``:
    what a status line, a notice or an error sends so the view shows it in its own language."""

    key: str
    params: dict[str, str]


def keyed(key: str, **params: Any) -> Keyed:
    """``{"key": key, "params": {...}}`` with each parameter as a string; :func:`text` gives its words.

    Raises
    ------
    KeyError
        For a key that is not in the English catalogue (a bug in nbchat).
    """
    if key not in MESSAGES["en"]:
        raise KeyError(key)
    return {"key": key, "params": {k: str(v) for k, v in params.items()}}


def normalize_lang(value: str | None) -> str | None:
    """``"zh-CN"``, ``"zh_Hans"``, ``"ZH"`` → ``"zh"``; ``"en-GB"`` → ``"en"``; ``""``, ``"auto"`` → ``""``.

    Returns
    -------
    str or None
        A language of :data:`LANGS`, ``""`` (let the browser decide), or ``None`` for a language nbchat does not
        speak.
    """
    tag = (value or "").strip().lower()
    if tag in ("", "auto"):
        return ""
    base = tag.replace("_", "-").split("-")[0]
    return base if base in LANGS else None


def keyed_text(line: Keyed, lang: str = "") -> str:
    """The words of a keyed text (:func:`keyed`) in ``lang`` (English by default): :func:`text` of its key."""
    return text(line["key"], lang, **line["params"])


def text(key: str, lang: str = "", **params: Any) -> str:
    """The text of ``key`` in ``lang`` (English when ``lang`` is ``""`` or unknown), placeholders filled.

    A parameter ``<name>_key`` that names a catalogue key fills ``{<name>}`` with that key's text in ``lang`` (its
    own placeholders from the same parameters), in the order given, as the browser does (``I18n.fromKernel``); so
    ``{"help": "Check api_key=...", "help_key": "py.err.keyHelpServer"}`` is shown in the view's language.

    Raises
    ------
    KeyError
        For a key that is in neither catalogue (a bug in nbchat).
    """
    table = MESSAGES.get(lang) or MESSAGES["en"]
    values = {k: str(v) for k, v in params.items()}
    for name, value in list(values.items()):
        if name.endswith("_key") and value in MESSAGES["en"]:
            values[name[: -len("_key")]] = _fill(table.get(value) or MESSAGES["en"][value], values)
    return _fill(table.get(key) or MESSAGES["en"][key], values)


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{name}`` of ``values`` filled; unknown placeholders stay as written (as in the
    browser), so a text never fails for a parameter it lacks."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def notice(level: str, key: str, lang: str = "", **params: Any) -> dict[str, Any]:
    """A ``{"kind": "notice"}`` message for the browser: its text in ``lang``, and the key to show it in the view's.

    ``params`` are sent as strings; the browser fills them into its own catalogue's text for ``key``.
    """
    shown = {k: str(v) for k, v in params.items()}
    return {"kind": "notice", "level": level, "text": text(key, lang, **shown), "key": key, "params": shown}


def error_notice(error: BaseException, lang: str = "", *, fallback: str | None = None) -> dict[str, Any]:
    """A warning notice for an error met while handling a browser message (a model that could not be added, a
    missing API key): keyed (:func:`notice`) when the error has a catalogue key (``BackendError.key`` and
    ``params``), else ``fallback`` (default ``str(error)``) as written."""
    key, params = getattr(error, "key", None), getattr(error, "params", None)
    if isinstance(key, str) and key in MESSAGES["en"] and isinstance(params, dict):
        return notice("warning", key, lang, **params)
    return {"kind": "notice", "level": "warning", "text": str(error) if fallback is None else fallback}
