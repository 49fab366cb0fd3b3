"""Figures, medians and the printed table."""

from __future__ import annotations

import dataclasses
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbchat._environment import environment


@dataclasses.dataclass
class Figure:
    """One row: what was measured, its value, the reference measured in the same run, and the goal."""

    name: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_name: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""
    paired_ratio: float | None = None
    """Median of per-run ratios (each run beside the reference run next to it); shown as the ratio when given."""

    @property
    def ratio(self) -> float | None:
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.value is None or not self.reference:
            return None
        return self.value / self.reference


def median_of(runs: int, fn: Callable[[], float]) -> float:
    """Median of ``runs`` calls of ``fn``."""
    return statistics.median(fn() for _ in range(runs))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def print_table(figures: list[Figure]) -> None:
    rows = [("figure", "value", "unit", "reference", "ratio", "goal", "met")]
    for f in figures:
        met = "–" if f.met is None else ("yes" if f.met else "NO")
        ref = f"{_fmt(f.reference)} ({f.reference_name})" if f.reference is not None else "–"
        ratio = "–" if f.ratio is None else f"{f.ratio:.3f}"
        rows.append((f.name, _fmt(f.value), f.unit, ref, ratio, f.goal, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for f in figures:
        if f.note:
            print(f"* {f.name}: {f.note}")


def write_json(figures: list[Figure], path: Path, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), **meta},
        "packages": environment(),  # the versions measured: a figure means little without them
        "figures": [{**dataclasses.asdict(f), "ratio": f.ratio} for f in figures],
    }
    path.write_text(json.dumps(data, indent=2))


def stop_latency(chat: Any, runs: int) -> float:
    """Median seconds from ``chat.stop()`` (pressed ~20 characters into a long reply) to the worker finishing."""
    stops = []
    conv = chat.conversation
    conv.settings = conv.settings.replace(max_new_tokens=400)
    for _ in range(runs):
        chat.clear()
        future = chat.send_message("Tell me everything about elephants.")
        while len((conv.partial_reply() or ("", ""))[1]) < 20:
            time.sleep(0.002)
        started = time.perf_counter()
        chat.stop()
        future.result()
        stops.append(time.perf_counter() - started)
    return statistics.median(stops)
