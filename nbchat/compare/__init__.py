"""Compare models side by side: the :class:`Compare` widget, its columns, blind mode (an arena) and results.

``nbchat.Compare`` is the same class. The family in one folder: ``_columns`` (plain data: columns, turns, settings,
the specs that make columns), ``_arena`` (blind mode, votes, results) and ``_widget`` (the widget); the view
plumbing it shares with :class:`nbchat.Chat` is :mod:`nbchat._view`.
"""

from __future__ import annotations

from ._arena import RESULT_COLUMNS
from ._columns import Column
from ._widget import Compare

__all__ = ["RESULT_COLUMNS", "Column", "Compare"]
