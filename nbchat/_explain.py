"""*Ask the chat* under a failing cell: :func:`explain_errors` and its button.

After each cell that raised, IPython's ``post_run_cell`` event displays a small button under the traceback (an
anywidget, so it works wherever widgets do). Its click, and only its click, puts the error (type, message, the
traceback's user frames, redacted) and the cell's code into the message box of the notebook's chat: the chat
displayed last, or a new :class:`~nbchat.Chat` shown right under the button when there is none. The user edits the
text and sends it; nothing is sent by itself.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets  # type: ignore[import-untyped]  # no stubs; VBox holds the button and a new chat
import traitlets

from ._notebook import error_report
from ._notebook_view import last_chat
from ._policy import PolicyWarning, current_policy
from ._redact import redact_secrets

__all__ = ["AskButton", "explain_errors"]

logger = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"


class AskButton(anywidget.AnyWidget):
    """The *Ask the chat* button of one failing cell.

    Parameters
    ----------
    code : str
        The failing cell's code (redacted here).
    error : str
        The error's report (:func:`nbchat._notebook.error_report`: type, message, user frames; redacted).
    kind : str
        The exception's type name (shown in the starter text).
    lang : str, default ""
        The button's language; ``""``: the administrator's, else the browser's.
    """

    _esm = _STATIC / "ask.js"
    _css = _STATIC / "ask.css"
    lang = traitlets.Unicode("").tag(sync=True)
    kind = traitlets.Unicode("").tag(sync=True)
    sent = traitlets.Bool(False).tag(sync=True)

    def __init__(self, code: str, error: str, kind: str, *, lang: str = "") -> None:
        super().__init__(lang=lang or current_policy().lang, kind=kind)
        self.code = redact_secrets(code)
        self.error = error
        self.box: ipywidgets.VBox | None = None  # set by show(): where a new chat appears when there is none
        self.on_msg(self._on_message)

    def show(self) -> ipywidgets.VBox:
        """The button in a box that can take a new chat under it (what the hook displays)."""
        self.box = ipywidgets.VBox([self])
        return self.box

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("kind") != "ask":
            return
        self.ask()

    def ask(self) -> Any:
        """Put the error in the last chat's message box (a new chat under the button when none); returns the chat."""
        chat = last_chat()
        if chat is None:
            # nbchat.Chat by name: _widget imports this module (Chat(explain_errors=True)), so not statically here
            chat = importlib.import_module("nbchat").Chat()
            if self.box is not None:
                self.box.children = (*self.box.children, chat)
        chat.receive_error(self.code, self.error, self.kind)
        self.sent = True
        return chat


class _Hook:
    """IPython ``post_run_cell`` callback that displays an :class:`AskButton` under each error."""

    def __init__(self, shell: Any, lang: str) -> None:
        self.shell = shell
        self.lang = lang

    def __call__(self, result: Any) -> None:
        error = getattr(result, "error_in_exec", None)
        if not isinstance(error, BaseException) or isinstance(error, KeyboardInterrupt):
            return
        if not current_policy().explain_errors:
            return
        from IPython.display import display

        info = getattr(result, "info", None)
        code = str(getattr(info, "raw_cell", "") or "")
        try:
            display(AskButton(code, error_report(error), type(error).__name__, lang=self.lang).show())
        except Exception:  # the button must never break the notebook
            logger.debug("nbchat could not show Ask the chat", exc_info=True)


_installed: dict[int, _Hook] = {}


def explain_errors(on: bool = True, *, lang: str = "") -> bool:
    """Show an *Ask the chat* button under every failing cell's traceback (``on=False``: stop).

    A click puts the error (type, message, the traceback's frames in the user's own code, secrets redacted) and the
    failing cell's code into the message box of the chat displayed last in this notebook, or of a new chat shown
    under the button when none is; the user edits the text and sends it. Off by default; also
    ``Chat(explain_errors=True)``.

    Parameters
    ----------
    on : bool, default True
        Start (True) or stop (False) showing the buttons.
    lang : {"", "en", "zh"}, default ""
        The button's language; ``""``: the administrator's ``$NBCHAT_LANG``, else the browser's.

    Returns
    -------
    bool
        Whether the buttons are shown from now on: False outside IPython, or when the administrator's policy
        switched them off (``$NBCHAT_EXPLAIN_ERRORS=off``, for assessed courses; a :class:`PolicyWarning` says so).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    if shell is None:
        return False
    hook = _installed.pop(id(shell), None)
    if hook is not None:
        shell.events.unregister("post_run_cell", hook)
    if not on:
        return False
    if not current_policy().explain_errors:
        contact = current_policy().admin_contact
        msg = f"Ask the chat is switched off by the administrator's policy (ask {contact})."
        warnings.warn(msg, PolicyWarning, stacklevel=2)
        return False
    hook = _Hook(shell, lang)
    shell.events.register("post_run_cell", hook)
    _installed[id(shell)] = hook
    return True
