"""Blind mode (an arena), votes and the results table of a :class:`~nbchat.Compare`.

A mixin of :class:`nbchat.Compare`, kept apart so the widget module stays about columns, turns and the browser.
While blind, column names are replaced by letters everywhere the browser or the notebook can see them (synced
traits, stats, status lines, :attr:`Compare.results`) until the user votes or presses "Reveal".
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any

import traitlets

from .._errors import MissingDependencyError
from ._columns import Column, Turn, letter, settings_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESULT_COLUMNS", "Arena"]

RESULT_COLUMNS = (
    "turn", "column", "model", "settings", "temperature", "max_new_tokens", "system_prompt", "prompt", "reply",
    "status", "error", "tokens", "ttft_s", "tokens_per_s", "duration_s", "vote",
)  # fmt: skip


class Arena(traitlets.HasTraits):
    """Methods of :class:`nbchat.Compare` for blind mode, votes and results.

    It owns the ``blind`` and ``revealed`` traits; everything else it reads is the widget's, declared here: the
    columns (``_cols``), the turn log (``_turn_log``), ``_state_lock``, ``shuffle``, and ``_find``/``_sync``. A
    ``HasTraits`` subclass so that traitlets binds its traits and ``@observe`` handlers.
    """

    blind = traitlets.Bool(False, help="arena mode: columns named A, B, ... until revealed").tag(sync=True)
    revealed = traitlets.Bool(False, help="blind mode: names shown again (after a vote or Reveal)").tag(sync=True)

    # the widget's state these methods work on (nbchat.compare._widget.Compare sets them in __init__)
    shuffle: bool
    _cols: list[Column]
    _turn_log: list[Turn]
    _state_lock: threading.RLock

    def _find(self, ref: Column | str | int) -> Column:
        """The column ``ref`` names (the widget's lookup)."""
        raise NotImplementedError

    def _sync(self) -> None:
        """Rebuild the synced state now (the widget's)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ blind mode and votes
    def vote(self, winner: Column | str | int, turn: int | None = None) -> None:
        """Record which answer of a turn was better, or ``"tie"``; reveals the names in blind mode.

        Parameters
        ----------
        winner : Column, name, letter, id or index, or "tie"
        turn : int, optional
            Turn number (1 is the first prompt); default: the latest turn.

        Raises
        ------
        ValueError
            If there is no such turn, it is still streaming, or ``winner`` did not answer in it.
        """
        with self._state_lock:
            if not self._turn_log:
                msg = "Nothing to vote on yet: send a prompt first."
                raise ValueError(msg)
            index = len(self._turn_log) if turn is None else int(turn)
            if not 1 <= index <= len(self._turn_log):
                msg = f"There is no turn {index}; turns go from 1 to {len(self._turn_log)}."
                raise ValueError(msg)
            record = self._turn_log[index - 1]
        if not record.done:
            msg = f"Turn {index} is still streaming; vote when every column has answered."
            raise ValueError(msg)
        if winner == "tie":
            choice = "tie"
        else:
            answered = {r.column.id: r.column for r in record.replies}
            col = answered.get(winner) if isinstance(winner, str) else None
            col = col or self._find_in(winner, list(answered.values()))
            choice = col.id
        with self._state_lock:
            record.vote = choice
        if self.blind:
            self.revealed = True
        self._sync()

    def _find_in(self, ref: Column | str | int, cols: list[Column]) -> Column:
        hidden = self._hidden()
        for col in cols:
            if ref is col or ref in (col.id, col.letter if hidden else col.name) or (not hidden and ref == col.letter):
                return col
        if isinstance(ref, int) and not isinstance(ref, bool):
            found = self._find(ref)
            if found in cols:
                return found
        names = ", ".join(repr(self._shown_name(c)) for c in cols)
        msg = f"{ref!r} did not answer in this turn; pick one of {names} or 'tie'."
        raise ValueError(msg)

    def reveal(self) -> None:
        """Show the model names (blind mode)."""
        self.revealed = True

    @property
    def votes(self) -> list[dict[str, Any]]:
        """One record per voted turn: ``turn``, ``prompt``, ``winner`` (a column name, or "tie"), ``columns``."""
        with self._state_lock:
            turns = [t for t in self._turn_log if t.vote is not None]
        out = []
        for t in turns:
            names = {r.column.id: self._shown_name(r.column) for r in t.replies}
            winner = "tie" if t.vote == "tie" else names.get(t.vote or "", t.vote)
            out.append({"turn": t.index, "prompt": t.prompt, "winner": winner, "columns": list(names.values())})
        return out

    def _hidden(self) -> bool:
        return bool(self.blind and not self.revealed)

    def _shown_name(self, col: Column) -> str:
        return col.letter if self._hidden() and col.letter else col.name

    @staticmethod
    def _redact(text: str, col: Column) -> str:
        """``text`` with the column's name, model and spec replaced by its letter."""
        spec = col.conversation.spec.get("spec") if isinstance(col.conversation.spec, dict) else None
        secrets_ = {col.name, col.conversation.backend.model, col.label, spec or ""}
        for word in sorted((w for w in secrets_ if w and len(w) > 1), key=len, reverse=True):
            text = text.replace(word, col.letter or "?")
        return text

    @traitlets.observe("blind")
    def _on_blind(self, change: dict[str, Any]) -> None:
        if change["new"]:
            with self._state_lock:
                if self.shuffle:
                    random.shuffle(self._cols)
                for i, col in enumerate(self._cols):
                    col.letter = letter(i)
            self.revealed = False
        self._sync()

    @traitlets.observe("revealed")
    def _on_revealed(self, change: dict[str, Any]) -> None:
        self._sync()

    # ------------------------------------------------------------------ results
    def records(self) -> list[dict[str, Any]]:
        """One dict per (turn, column), the rows of :attr:`results` (no pandas needed)."""
        hidden = self._hidden()
        with self._state_lock:
            turns = list(self._turn_log)
        rows = []
        for t in turns:
            for r in t.replies:
                m, stats = r.message, r.message.stats
                vote = t.vote if t.vote in (None, "tie") else "win" if t.vote == r.column.id else "loss"
                rows.append({
                    "turn": t.index,
                    "column": self._shown_name(r.column),
                    "model": "(hidden)" if hidden else r.model,
                    "settings": settings_text(r.settings, r.system_prompt),
                    "temperature": r.settings.temperature,
                    "max_new_tokens": r.settings.max_new_tokens,
                    "system_prompt": r.system_prompt,
                    "prompt": t.prompt,
                    "reply": m.content,
                    "status": m.status,
                    "error": self._redact(m.error, r.column) if hidden and m.error else m.error,
                    "tokens": stats.get("tokens"),
                    "ttft_s": stats.get("ttft_s"),
                    "tokens_per_s": stats.get("tokens_per_s"),
                    "duration_s": stats.get("duration_s"),
                    "vote": vote,
                })  # fmt: skip
        return rows

    @property
    def results(self) -> pd.DataFrame:
        """A pandas DataFrame, one row per (turn, column).

        Columns: ``turn``, ``column`` (name; its letter while blind), ``model`` ("(hidden)" while blind),
        ``settings`` (text), ``temperature``, ``max_new_tokens``, ``system_prompt``, ``prompt``, ``reply`` (partial
        text if stopped or failed), ``status`` (done, streaming, stopped, error, incomplete), ``error``, ``tokens``,
        ``ttft_s`` (seconds to first text), ``tokens_per_s``, ``duration_s``, ``vote`` (win, loss, tie or None).

        Raises
        ------
        MissingDependencyError
            If pandas is not installed (:meth:`records` gives the same rows as dicts).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            msg = "Compare.results needs pandas: pip install pandas (or use Compare.records() for plain dicts)."
            raise MissingDependencyError(msg) from exc
        return pd.DataFrame(self.records(), columns=list(RESULT_COLUMNS))
