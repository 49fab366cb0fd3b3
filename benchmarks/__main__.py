"""Run the benchmarks and print one table: ``python -m benchmarks [--quick] [--json PATH] [--only SECTION ...]``."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ._report import Figure, print_table, write_json

SECTIONS = (
    "bundle",
    "transport",
    "compare",
    "local",
    "llamacpp",
    "weights",
    "start",
    "classroom",
    "server",
    "reasoning",
    "mcp",
    "structured",
    "tools",
    "browser",
    "web",
    "notebook",
    "cells",
    "documents",
    "tools_local",
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter replies (CI)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/latest.json"))
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    runs = 1 if args.quick else 5
    started = time.perf_counter()
    figures: list[Figure] = []
    if "bundle" in args.only:
        from .bundle import bundle_figures

        figures += bundle_figures()
    if "transport" in args.only:
        from .transport import memory_figures, traffic_figures

        figures += traffic_figures(1000 if args.quick else 4000)
        figures += memory_figures(100 if args.quick else 1000)
    if "compare" in args.only:
        from .compare import compare_figures

        figures += compare_figures(runs)
    if "local" in args.only:
        from .local import throughput_figures

        figures += throughput_figures(runs, 24 if args.quick else 96)
    if "server" in args.only:
        from .server import import_figure, server_figures

        figures += import_figure(runs)
        figures += server_figures(runs, 24 if args.quick else 96)
    if "reasoning" in args.only:
        from .reasoning import reasoning_figures

        figures += reasoning_figures(runs)
    if "mcp" in args.only:  # MCP round trips (stdio, HTTP) beside a Python tool's own run
        from .mcp import mcp_figures

        figures += mcp_figures(runs, 20 if args.quick else 100)
    if "structured" in args.only:  # the embedded model's decode speed under a JSON-schema grammar
        from .mcp import structured_figures

        figures += structured_figures(runs, 48 if args.quick else 96)
    if "tools" in args.only:  # nbchat's own time per round of tool calls (no model, no function time)
        from .tools import tools_figures

        figures += tools_figures(runs)
    if "llamacpp" in args.only:
        from .llamacpp import llamacpp_figures

        figures += llamacpp_figures(runs, 48 if args.quick else 96)
    if "weights" in args.only:  # the shipped Q4_1 file beside re-quantizations of it: speed and quality
        from .weights import weights_figures

        figures += weights_figures(runs, 48 if args.quick else 96)
    if "start" in args.only:
        from .local import start_figures

        figures += start_figures(1 if args.quick else 3)
    if "classroom" in args.only:  # nbchat serve (llama.cpp's server) with parallel slots, N students at once
        from .classroom import classroom_figures

        figures += classroom_figures(args.quick)
    if "documents" in args.only:  # PDF/Word extraction per library, BM25, recall@5, TTFT whole vs retrieved
        from .documents import documents_figures

        figures += documents_figures(args.quick)
    if "browser" in args.only:  # JupyterLab in headless Chromium (the test set-up installs both)
        from .browser import browser_figures

        figures += browser_figures(args.quick)
    if "web" in args.only:  # nbchat web for a room: real browsers arriving together (headless Chromium, 127.0.0.1)
        from .web import web_figures

        figures += web_figures(args.quick)
    if "notebook" in args.only:  # the notebook context: built from a real IPython shell's history
        from .notebook import context_figures

        figures += context_figures(runs)
    if "cells" in args.only:  # code blocks → cells: Insert below's click → new cell painted (JupyterLab, Chromium)
        from .cells import cells_figures

        figures += cells_figures(args.quick)
    if "tools_local" in args.only:  # tool calls on the embedded model (llama.cpp): calls right, tokens per round
        from .tools_local import tools_local_figures

        figures += tools_local_figures()
    print_table(figures)
    write_json(figures, args.json, {"quick": args.quick, "seconds": round(time.perf_counter() - started, 1)})
    print(f"\nwritten to {args.json} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
