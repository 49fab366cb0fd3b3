"""Backends: where replies come from. One module per kind; :func:`resolve_backend` picks one from a model spec."""

from __future__ import annotations

from ._base import (
    Backend,
    Delta,
    GenerationInfo,
    Message,
    ProgressCallback,
    Reasoning,
    StopSequenceFilter,
    ToolCallDelta,
)
from ._resolve import resolve_backend

__all__ = [
    "Backend",
    "Delta",
    "GenerationInfo",
    "Message",
    "ProgressCallback",
    "Reasoning",
    "StopSequenceFilter",
    "ToolCallDelta",
    "resolve_backend",
]
