"""The cost of the notebook context (``Chat(context="notebook")``): building it from a kernel's history of 50 cells.

A real IPython shell runs 50 cells (code, results, two errors); the figure is the time to read them back
(``In``/``Out`` and the recorded outputs), redact them and fit them in the default budget — what each message
sent with the context, and each cell run while the chip is shown, costs.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time

from ._report import Figure

CELLS = 50


def context_figures(runs: int) -> list[Figure]:
    """p50 and p95 of building the context of a 50-cell notebook (ms), within 1/4 of a 32k window."""
    from IPython.core.interactiveshell import InteractiveShell

    from nbchat._notebook import CellRecorder, build_context, cells_from_shell, default_budget

    shell = InteractiveShell.instance()
    recorder = CellRecorder.install(shell)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for i in range(CELLS):
            code = f"values_{i} = [x * {i} for x in range(200)]\nsum(values_{i})  # cell {i}"
            if i % 25 == 24:
                code = f"values_{i - 1}[1000]"  # an IndexError: its report is recorded
            shell.run_cell(code, store_history=True)
    budget = default_budget(32_768)
    times = []
    for _ in range(max(20, runs * 10)):
        started = time.perf_counter()
        context = build_context(cells_from_shell(shell, recorder.outputs), budget)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    note = f"{len(context.cells)} cells, {context.tokens} tokens, budget {budget}"
    p50 = statistics.median(times)
    return [
        Figure(f"notebook context of {CELLS} cells, p50", p50, "ms", goal="< 50 ms", met=p50 < 50, note=note),
        Figure(f"notebook context of {CELLS} cells, p95", p95, "ms", goal="< 50 ms", met=p95 < 50, note=note),
    ]
