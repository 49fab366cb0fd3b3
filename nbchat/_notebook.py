"""The notebook as the chat sees it: recent cells for a message's context, and the error of a failing cell.

Read from the kernel's own history, so it works in every host that runs an IPython kernel (JupyterLab, Notebook 7,
Voila, VS Code): a cell's code is IPython's ``In[n]``, its result is ``Out[n]``, and a failing cell's error is what
IPython's ``post_run_cell`` event reports (``result.error_in_exec``), recorded by :class:`CellRecorder` from the
moment a chat asks for it. Printed text (stdout/stderr) is **not** included: IPython keeps no copy of it, and
capturing it would mean wrapping the kernel's output streams in every host (they belong to the kernel and to other
widgets, such as ``ipywidgets.Output``). A cell's result is recorded as its ``text/plain`` representation at the
time it ran; cells that ran before the recorder was installed get theirs from ``Out`` when the context is built.

Everything that goes out is redacted first (:func:`nbchat._redact.redact_secrets`): credentials in URLs, values of
the environment's credential variables, and string literals assigned to names like ``api_key``.
"""

from __future__ import annotations

import dataclasses
import sysconfig
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._attachments import Attachment, approx_tokens, text_attachment, truncate_to_tokens
from ._redact import environment_secrets, redact_secrets

__all__ = [
    "CONTEXT_FRACTION",
    "DEFAULT_CONTEXT_TOKENS",
    "OUTPUT_TOKENS",
    "CellRecorder",
    "NotebookCell",
    "NotebookContext",
    "build_context",
    "cells_from_shell",
    "default_budget",
    "error_report",
    "user_frames",
]

CONTEXT_FRACTION = 0.25
"""The default budget of the notebook context: this fraction of the model's context window."""
DEFAULT_CONTEXT_TOKENS = 1024
"""The default budget when the model does not say its context window (estimated tokens)."""
OUTPUT_TOKENS = 200
"""The most of one cell's output sent (estimated tokens); longer outputs are cut with a marker."""
CONTEXT_NAME = "notebook"
"""The attachment's name (shown in the message's bubble and before the text in the prompt)."""


@dataclasses.dataclass(frozen=True)
class NotebookCell:
    """One executed cell: its execution count, its code and the text of its output (result or error)."""

    number: int
    code: str
    output: str = ""


@dataclasses.dataclass(frozen=True)
class NotebookContext:
    """What a message carries about the notebook.

    Attributes
    ----------
    cells : tuple of NotebookCell
        The cells sent, newest first, as sent (redacted, outputs cut).
    text : str
        Exactly the text sent (the attachment's text; the chip shows it).
    tokens : int
        Estimated tokens of ``text`` (characters / 4, as for every attachment).
    budget : int
        The budget it was built within (estimated tokens).
    """

    cells: tuple[NotebookCell, ...]
    text: str
    tokens: int
    budget: int

    @property
    def span(self) -> tuple[int, int] | None:
        """``(first, last)`` execution counts of the cells sent, or ``None`` when there are none."""
        if not self.cells:
            return None
        numbers = [c.number for c in self.cells]
        return min(numbers), max(numbers)

    def chip(self) -> dict[str, Any]:
        """The chip's state: ``{"first", "last", "cells", "tokens", "text"}`` (``first``/``last`` None when empty)."""
        span = self.span
        return {
            "first": span[0] if span else None,
            "last": span[1] if span else None,
            "cells": len(self.cells),
            "tokens": self.tokens,
            "text": self.text,
        }

    def attachment(self) -> Attachment | None:
        """The text attachment a message carries (``None`` when no cell fits): its text is :attr:`text`."""
        if not self.cells:
            return None
        span = self.span
        note = f"cells {span[0]}–{span[1]}" if span else ""
        return text_attachment(self.text, CONTEXT_NAME, media_type="text/x-python", tokens=self.tokens + 1, note=note)


def default_budget(context_window: int | None) -> int:
    """:data:`CONTEXT_FRACTION` of ``context_window`` (tokens), else :data:`DEFAULT_CONTEXT_TOKENS`."""
    if context_window and context_window > 0:
        return max(64, int(context_window * CONTEXT_FRACTION))
    return DEFAULT_CONTEXT_TOKENS


def _cell_text(cell: NotebookCell) -> str:
    out = f"# In [{cell.number}]:\n{cell.code.rstrip()}\n"
    if cell.output.strip():
        out += f"# Out [{cell.number}]:\n{cell.output.rstrip()}\n"
    return out


def build_context(cells: Iterable[NotebookCell], budget: int, *, output_tokens: int = OUTPUT_TOKENS) -> NotebookContext:
    """The newest cells that fit in ``budget`` tokens, newest first, redacted, each output cut to ``output_tokens``.

    Parameters
    ----------
    cells : iterable of NotebookCell
        Executed cells in any order (sorted here by execution count); empty cells are skipped.
    budget : int
        Estimated tokens (characters / 4) the whole text may take. Cells are added newest first while they fit;
        when even the newest does not fit alone, it is sent cut to the budget (with a marker).
    output_tokens : int, default OUTPUT_TOKENS
        The most of one output kept; a longer one is cut (head and tail kept, ``… N characters left out …``).

    Returns
    -------
    NotebookContext
    """
    kept: list[NotebookCell] = []
    parts: list[str] = []
    used = 0
    secrets = environment_secrets()
    for cell in sorted(cells, key=lambda c: c.number, reverse=True):
        if not cell.code.strip():
            continue
        output, _ = truncate_to_tokens(redact_secrets(cell.output, secrets), output_tokens)
        clean = NotebookCell(cell.number, redact_secrets(cell.code, secrets), output)
        text = _cell_text(clean)
        cost = approx_tokens(("\n" if parts else "") + text)
        if used + cost > budget:
            if not parts:  # the newest cell alone is over the budget: send what fits of it
                text, _ = truncate_to_tokens(text, max(1, budget))
                kept.append(clean)
                parts.append(text)
            break
        kept.append(clean)
        parts.append(text)
        used += cost
    text = "\n".join(parts)
    return NotebookContext(tuple(kept), text, approx_tokens(text), budget)


def _plain_text(shell: Any, obj: Any) -> str:
    """``obj`` as the notebook shows it in plain text (IPython's ``text/plain`` formatter), never raising.

    Only that formatter: the whole display formatter would call an object's ``_ipython_display_``, which displays
    it again (a widget would appear twice)."""
    try:
        return str(shell.display_formatter.formatters["text/plain"](obj))
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break the chat
        return f"<{type(obj).__name__}>"


_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths().get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)


def user_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback in the user's own code (cells, their own files), not in libraries."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if not str(Path(f.filename).resolve()).startswith(_LIBRARY_DIRS)]
    return mine or frames[-1:]


def error_report(exc: BaseException) -> str:
    """``Type: message`` and the user's frames of ``exc``'s traceback, redacted (the text the chat is sent)."""
    lines = ["Traceback (most recent call last, user frames only):"]
    lines += [line.rstrip("\n") for line in traceback.format_list(user_frames(exc))]
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)]
    return redact_secrets("\n".join(lines))


class CellRecorder:
    """Records each cell's output text as it runs (IPython's ``post_run_cell`` event), for the notebook context.

    Install with :meth:`install` (idempotent, one per shell); :attr:`outputs` maps execution counts to text: the
    result's ``text/plain`` or the error's report (:func:`error_report`).
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.outputs: dict[int, str] = {}
        self.errors: dict[int, BaseException] = {}

    @classmethod
    def install(cls, shell: Any) -> CellRecorder:
        """The shell's recorder, registered on its ``post_run_cell`` event the first time."""
        recorder: CellRecorder | None = getattr(shell, "_nbchat_cell_recorder", None)
        if recorder is None:
            recorder = cls(shell)
            shell.events.register("post_run_cell", recorder.post_run_cell)
            shell._nbchat_cell_recorder = recorder
        return recorder

    def post_run_cell(self, result: Any) -> None:
        """IPython's event: keep the result's text or the error's report under the cell's execution count."""
        count = getattr(result, "execution_count", None)
        if not isinstance(count, int):
            return
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        if isinstance(error, BaseException):
            self.errors[count] = error
            self.outputs[count] = error_report(error)
        elif getattr(result, "result", None) is not None:
            self.outputs[count] = _plain_text(self.shell, result.result)


def cells_from_shell(shell: Any, recorded: Mapping[int, str] | None = None, *, last: int = 200) -> list[NotebookCell]:
    """The executed cells of ``shell`` (IPython's ``In``/``Out``), at most the ``last`` ones.

    Parameters
    ----------
    shell : IPython.core.interactiveshell.InteractiveShell
    recorded : mapping of int to str, optional
        Output texts recorded as the cells ran (:attr:`CellRecorder.outputs`); else ``Out``'s ``text/plain``.
    last : int, default 200
        How many of the most recent cells to read at most (each is formatted, so older ones cost time).
    """
    inputs = shell.user_ns.get("In") or shell.history_manager.input_hist_parsed
    results = shell.user_ns.get("Out") or {}
    recorded = recorded or {}
    cells = []
    for number in range(max(1, len(inputs) - last), len(inputs)):
        code = inputs[number]
        if number in recorded:
            output = recorded[number]
        elif number in results:
            output = _plain_text(shell, results[number])
        else:
            output = ""
        cells.append(NotebookCell(number, code, output))
    return cells
