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
from typing import Any

__all__ = ["LANGS", "MESSAGES", "error_notice", "normalize_lang", "notice", "status_text", "text"]

LANGS = ("en", "zh")
"""Languages with a complete catalogue: English, Simplified Chinese."""

MESSAGES: dict[str, dict[str, str]] = json.loads(files("nbchat").joinpath("i18n.json").read_text(encoding="utf-8"))
"""The catalogue, ``{lang: {key: text}}``: ``nbchat/i18n.json``, the one file the browser bundle imports too
(``js/i18n.ts``), shipped in the wheel beside this module."""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TOOL_STATUS = re.compile(r"(?P<what>waiting for approval of|running) (?P<name>.+)…")
_RETRYING = re.compile(r"(?P<brief>.+): retrying in (?P<seconds>[\d.]+) s… \((?P<n>\d+)/(?P<of>\d+)\)")


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


def status_text(status: str, text_now: str, model: str, device: str | None) -> dict[str, Any]:
    """The key and parameters of a conversation's status line when it is one of the standard ones, else ``{}``.

    ``text_now`` is ``Conversation.status_text``; a progress line from a backend (``"downloading … 40%"``) or an
    error stays as written (it has no key, the view shows it as is).
    """
    if status == "loading" and text_now == f"loading {model}…":
        return {"key": "py.status.loading", "params": {"model": model}}
    if status == "ready" and text_now == "ready":
        return {"key": "py.status.ready", "params": {}}
    if status == "ready" and device and text_now == f"ready · {device}":
        return {"key": "py.status.readyOn", "params": {"device": device}}
    if status == "generating" and text_now == f"generating with {model}…":
        return {"key": "py.status.generating", "params": {"model": model}}
    failed = f"Could not load {model}: "  # nbchat._conversation's status line when loading failed
    if status == "error" and text_now.startswith(failed):
        return {"key": "py.status.loadFailed", "params": {"model": model, "error": text_now[len(failed) :]}}
    tool = _TOOL_STATUS.fullmatch(text_now) if status == "generating" else None
    if tool is not None:  # nbchat.tools._loop's line while a call waits for approval or runs
        key = "py.status.toolWaiting" if tool["what"] == "waiting for approval of" else "py.status.toolRunning"
        return {"key": key, "params": {"name": tool["name"]}}
    retry = _RETRYING.fullmatch(text_now)
    if retry is not None:  # nbchat._generation.run_reply's line while it waits to send again
        return {"key": "py.status.retrying", "params": retry.groupdict()}
    return {}
