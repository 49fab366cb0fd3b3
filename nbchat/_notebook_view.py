"""What a :class:`~nbchat.Chat` does with the notebook it sits in: the notebook context of each message (on request),
and receiving a failing cell's error from an *Ask the chat* button (:mod:`nbchat._explain`).

A mixin of the Chat widget (its own traits and routes, so the widget file only names it). The context is built by
:mod:`nbchat._notebook` from the kernel's history; the chip above the message box shows ``context_preview``, which
is exactly the attachment the next message carries.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import weakref
from typing import Any

import traitlets

from ._attachments import Attachment, approx_tokens
from ._notebook import CellRecorder, NotebookContext, build_context, cells_from_shell, default_budget
from ._policy import current_policy

__all__ = ["NotebookActions", "last_chat"]

logger = logging.getLogger(__name__)

_CONTEXT_MODES = ("off", "notebook")
_chats: list[weakref.ReferenceType[Any]] = []  # the chats of this kernel, in the order last displayed
_draft_ids = itertools.count(1)


def remember_chat(chat: Any) -> None:
    """Note ``chat`` as the last one displayed (where *Ask the chat* sends an error)."""
    _chats[:] = [r for r in _chats if r() is not None and r() is not chat]
    _chats.append(weakref.ref(chat))


def last_chat() -> Any | None:
    """The chat displayed last in this kernel and not closed, or ``None``."""
    for ref in reversed(_chats):
        chat = ref()
        if chat is not None and getattr(chat, "comm", None) is not None:
            return chat
    return None


def _shell() -> Any | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


class NotebookActions(traitlets.HasTraits):
    """The notebook context (``context="notebook"``) and the *Ask the chat* drafts of a Chat."""

    notebook_context = traitlets.Enum(
        _CONTEXT_MODES, "off", help='"notebook": each message carries the recent cells (code and output text)'
    ).tag(sync=True)
    context_budget = traitlets.Int(0, help="tokens the notebook context may take; 0: a quarter of the window").tag(
        sync=True
    )
    context_preview = traitlets.Dict(help="the chip: first, last, cells, tokens, text (exactly what is sent)").tag(
        sync=True
    )
    context_allowed = traitlets.Bool(True, help="False when the administrator's policy switched it off").tag(sync=True)
    ask_draft = traitlets.Dict(help="an error sent by Ask the chat: id, code, error, kind (the box is filled)").tag(
        sync=True
    )

    _context_off_once = False
    _recorder: CellRecorder | None = None

    def _init_notebook(self, context: str | None, context_tokens: int | None) -> None:
        """Set the notebook context from ``Chat(context=..., context_tokens=...)``, within the policy.

        Raises
        ------
        ValueError
            For a ``context`` other than ``None``, ``"off"`` or ``"notebook"``, or ``context_tokens`` < 1.
        """
        if context not in (None, *_CONTEXT_MODES):
            msg = f'context={context!r}: use context="notebook" (the recent cells with each message) or "off".'
            raise ValueError(msg)
        if context_tokens is not None and context_tokens < 1:
            msg = f"context_tokens={context_tokens!r}: the notebook context's budget is a number of tokens >= 1."
            raise ValueError(msg)
        self.context_allowed = current_policy().notebook_context
        if context_tokens:
            self.context_budget = context_tokens
        if context == "notebook":
            self.notebook_context = "notebook"  # refuses (a notice, "off") when the policy says no
        remember_chat(self)

    # ------------------------------------------------------------------ the context
    def context_budget_tokens(self) -> int:
        """The budget in force: ``context_budget`` or a quarter of the model's window, within the policy's cap."""
        window = self.conversation.backend.context_window  # type: ignore[attr-defined]
        budget = self.context_budget or default_budget(int(window) if window else None)
        cap = current_policy().max_notebook_context_tokens
        return min(budget, cap) if cap is not None else budget

    def notebook_context_now(self) -> NotebookContext:
        """The context the next message would carry (built now from the kernel's history)."""
        shell = _shell()
        if shell is None:
            return build_context([], self.context_budget_tokens())
        recorded = self._recorder.outputs if self._recorder is not None else None
        return build_context(cells_from_shell(shell, recorded), self.context_budget_tokens())

    def refresh_context(self) -> dict[str, Any]:
        """Rebuild the chip (``context_preview``); ``{}`` while the context is off. Returns it."""
        if self.notebook_context != "notebook":
            self.context_preview = {}
            return {}
        context = self.notebook_context_now()
        part = context.attachment()
        sent = part.as_text() if part is not None else ""
        self.context_preview = {**context.chip(), "text": sent, "tokens": approx_tokens(sent)}
        return dict(self.context_preview)

    def _context_parts(self) -> list[Attachment]:
        """The notebook context attachment the message being sent carries (none when off or removed once)."""
        if self.notebook_context != "notebook" or self._context_off_once or not current_policy().notebook_context:
            return []
        part = self.notebook_context_now().attachment()
        return [part] if part is not None else []

    def _with_context(self, attachments: Any) -> Any:
        """``attachments`` (an object, a list or None) plus the notebook context, when on."""
        parts = self._context_parts()
        if not parts:
            return attachments
        if attachments is None:
            return parts
        items = list(attachments) if isinstance(attachments, (list, tuple)) else [attachments]
        return [*items, *parts]

    def _after_cell(self, result: Any) -> None:
        """IPython's ``post_run_cell``: the chip follows the notebook."""
        if self.notebook_context == "notebook":
            try:
                self.refresh_context()
            except Exception:  # a cell's repr must never break the notebook
                logger.debug("nbchat could not refresh the notebook context", exc_info=True)

    @traitlets.validate("notebook_context")
    def _valid_context(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value == "notebook" and not current_policy().notebook_context:
            contact = current_policy().admin_contact
            msg = f"The notebook context is switched off by the administrator's policy (ask {contact})."
            raise traitlets.TraitError(msg)
        return value

    @traitlets.observe("notebook_context", "context_budget")
    def _on_context(self, change: dict[str, Any]) -> None:
        shell = _shell()
        if self.notebook_context == "notebook" and shell is not None and self._recorder is None:
            self._recorder = CellRecorder.install(shell)
            shell.events.register("post_run_cell", self._after_cell)
        self.refresh_context()

    def _submit(self, request: Any) -> None:
        """The message box's Send; ``context: false`` (the chip removed) sends this one message without it."""
        self._context_off_once = request.get("context") is False
        try:
            super()._submit(request)  # type: ignore[misc]
        finally:
            self._context_off_once = False

    # ------------------------------------------------------------------ Ask the chat
    def receive_error(self, code: str, error: str, kind: str) -> None:
        """Put a failing cell's ``code`` and ``error`` report in the message box (the user edits, then sends)."""
        self.ask_draft = {"id": next(_draft_ids), "code": code, "error": error, "kind": kind}

    def _stop_notebook(self) -> None:
        shell = _shell()
        if shell is not None and self._recorder is not None:
            with contextlib.suppress(ValueError):  # already unregistered
                shell.events.unregister("post_run_cell", self._after_cell)
