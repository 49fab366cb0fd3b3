"""A room on ``nbchat web``: N visitors in real browsers arriving together, on one shared engine or a model per kernel.

Each configuration starts ``python -m nbchat web`` (the embedded model, greedy, ``max_new`` tokens) on 127.0.0.1 with
``--engine shared`` (one llama.cpp server, ``--slots`` = visitors) or ``--engine per-kernel`` (the old design: each
visitor's kernel loads its own copy of the model). N headless Chromium contexts (separate browser sessions) open the
page at the same moment; then, once every page that works is ready, each sends a short question at the same moment.

Measured: the slowest page ready (navigation → the chat says "ready"), each reply (Enter → reply done), pages that
never showed a working chat (broken), and the memory of the whole server (RSS of the ``nbchat web`` process tree:
Voila, every kernel, the engine) after the replies.

Two floors are measured in the same run, since the browsers and the engine share the server's two cores here: the
same number of browser sessions opening an empty page (what the harness itself costs: Chromium's contexts and
renderer processes), and the same number of replies asked of the engine alone (``nbchat serve``, one thread, as the
room runs it; no page, no kernel, no browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nbchat.backends.llamacpp import physical_cores

from ._report import Figure
from .browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
PAGE_TIMEOUT_S = 120  # a page not ready by then counts as broken
REPLY_TIMEOUT_S = 240
REPAIR_TIMEOUT_S = 30  # a page showing ipywidgets' "Error displaying widget" gets this long to be repaired
QUESTIONS = ["What do elephants eat?", "Why is the sky blue?", "Name three birds.", "What is rain?",
             "Describe the savanna.", "How do bees make honey?", "What is a lion?", "Why do leaves fall?"]  # fmt: skip


def tree_rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and all its descendants, in MB (psutil)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


class WebServer:
    """``python -m nbchat web`` in its own process group on 127.0.0.1; :meth:`stop` is Ctrl+C."""

    def __init__(
        self, engine: str, slots: int, max_new: int, log: Path, extra: tuple[str, ...] = (), preheated: bool = False
    ) -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        command = [sys.executable, "-m", "nbchat", "web", "--engine", engine, "--slots", str(slots),
                   "--max-new-tokens", str(max_new), "--temperature", "0", "--max-visitors", "0", *extra]  # fmt: skip
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(command, stdout=self._out, stderr=subprocess.STDOUT, env=env, cwd=log.parent,
                                        stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.process.poll() is None:
            text = log.read_text(errors="replace")
            match = re.search(r"http://127\.0\.0\.1:\d+/", text)
            # a room is started before its visitors come: with preheated kernels, wait until the pool is filled
            if match and (not preheated or "preheated for the next visitors" in text):
                self.url = match.group(0)
                return
            time.sleep(0.3)
        self.stop()
        msg = f"nbchat web did not start:\n{log.read_text(errors='replace')[-3000:]}"
        raise RuntimeError(msg)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._out.close()
        return int(self.process.returncode)


async def _visitor(browser: Any, url: str, start_at: float) -> dict[str, Any]:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    result: dict[str, Any] = {"context": context, "page": page, "ready_s": None, "broken": False, "why": "",
                              "served_s": None, "repaired": False}  # fmt: skip
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    started = time.monotonic()
    try:
        await page.goto(url, timeout=PAGE_TIMEOUT_S * 1000)
        await page.wait_for_function(
            "() => document.querySelector('.nbchat')?.dataset.status === 'ready'"
            " || document.getElementById('nbchat-page-notice')"
            " || [...document.querySelectorAll('.jupyter-widgets')].some((e) => e.textContent.startsWith('Error'))",
            timeout=PAGE_TIMEOUT_S * 1000,
        )
        ready = await page.evaluate("() => document.querySelector('.nbchat')?.dataset.status === 'ready'")
        if not ready and not await page.evaluate("() => document.getElementById('nbchat-page-notice')"):
            # ipywidgets' renderer gave up ("Error displaying widget"): Voila's page repairs it (js/web/voila_page.ts)
            # or says so; the visitor sees whichever comes, so that is what counts
            result["repaired"] = True
            with contextlib.suppress(Exception):
                await page.wait_for_function(
                    "() => document.querySelector('.nbchat')?.dataset.status === 'ready'"
                    " || document.getElementById('nbchat-page-notice')",
                    timeout=REPAIR_TIMEOUT_S * 1000,
                )
            ready = await page.evaluate("() => document.querySelector('.nbchat')?.dataset.status === 'ready'")
        if ready:
            result["ready_s"] = time.monotonic() - started
            # the server's part: navigation → the page's HTML fully received (Voila streams it while it runs the
            # notebook, or at once from a preheated kernel); the rest is the browser's (scripts, widgets' restore)
            result["served_s"] = await page.evaluate(
                "() => performance.getEntriesByType('navigation')[0].responseEnd / 1000"
            )
        else:
            result["broken"] = True
            notice = await page.evaluate("() => document.getElementById('nbchat-page-notice')?.dataset.kind || ''")
            result["why"] = f"notice {notice}" if notice else "widget error, not repaired"
    except Exception:  # noqa: BLE001  (a timeout or a crashed page: a broken page, counted)
        result["broken"], result["why"] = True, f"not ready in {PAGE_TIMEOUT_S} s"
    return result


async def _ask(page: Any, question: str, start_at: float) -> tuple[float, float | None, float | None] | None:
    chat = page.locator(".nbchat").first
    box = chat.get_by_label("Message", exact=True)
    try:
        await box.fill(question, timeout=PAGE_TIMEOUT_S * 1000)
    except Exception:  # noqa: BLE001  (the page lost its chat after it was ready: counted as a missing reply)
        state = await page.evaluate(
            "() => [document.getElementById('nbchat-page-notice')?.dataset.kind || 'no notice',"
            " document.querySelector('.nbchat')?.dataset.status || 'no chat']"
        )
        print(f"  a ready page could not ask (notice, chat status: {state})", flush=True)
        return None
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    started = time.monotonic()
    await box.press("Enter")
    try:
        await page.wait_for_function(
            "() => document.querySelectorAll('.nbchat [data-role=assistant][data-status=done]').length > 0",
            timeout=REPLY_TIMEOUT_S * 1000,
        )
    except Exception:  # noqa: BLE001  (no reply in time: counted as missing)
        return None
    seen = time.monotonic() - started
    # the kernel's own figures for the reply (ReplyStats, shown under it): TTFT in the line, the duration in its title
    stats = page.locator(".nbchat [data-role=assistant][data-status=done] .nbchat-stats").first
    line, title = await stats.text_content() or "", await stats.get_attribute("title") or ""
    ttft = re.search(r"TTFT ([\d.]+) s", line)
    total = re.search(r"([\d.]+) s in total", title)
    return seen, float(ttft.group(1)) if ttft else None, float(total.group(1)) if total else None


async def room_run(url: str, visitors: int) -> dict[str, Any]:
    """``visitors`` browser sessions open ``url`` together, then ask together; page-ready and reply seconds."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            start_at = time.monotonic() + 1.0 + 0.2 * visitors  # every context made before the first goto
            arrivals = await asyncio.gather(*(_visitor(browser, url, start_at) for _ in range(visitors)))
            working = [a for a in arrivals if not a["broken"]]
            ask_at = time.monotonic() + 1.0
            replies = await asyncio.gather(
                *(_ask(a["page"], QUESTIONS[i % len(QUESTIONS)], ask_at) for i, a in enumerate(working))
            )
            for arrival in arrivals:
                await arrival["page"].close(run_before_unload=True)  # Voila shuts the kernel down
                await arrival["context"].close()
        finally:
            await browser.close()
    return {
        "ready": [a["ready_s"] for a in arrivals if a["ready_s"] is not None],
        "served": [a["served_s"] for a in arrivals if a["served_s"] is not None],
        "repaired": sum(a["repaired"] and not a["broken"] for a in arrivals),
        "broken": sum(a["broken"] for a in arrivals),
        "why": [a["why"] for a in arrivals if a["broken"]],
        "replies": [r[0] for r in replies if r is not None],
        "ttft": [r[1] for r in replies if r is not None and r[1] is not None],
        "kernel": [r[2] for r in replies if r is not None and r[2] is not None],
        "missing": sum(r is None for r in replies),
    }


DESIGNS = {
    # nbchat web's default: one engine, a pool of preheated kernels (one per slot), nbchat's own page
    "preheated": ("shared", ()),
    "voila-page": ("shared", ("--page", "voila")),  # the same room with Voila's JupyterLab page (the default before)
    "cold": ("shared", ("--preheat", "0")),  # one engine, each visitor's kernel started when they arrive
    # the room before preheating, the engine's thread count (llama.cpp on every physical core) and nbchat's page
    "before": ("shared", ("--preheat", "0", "--threads", str(physical_cores()), "--page", "voila")),
    # the design the issue measured: a model in each visitor's kernel, Voila's page
    "per-kernel": ("per-kernel", ("--preheat", "0", "--page", "voila")),
}
"""The room designs compared: name → (``--engine``, extra options of ``nbchat web``)."""


async def _empty_pages(url: str, visitors: int) -> float:
    """``visitors`` browser sessions open ``url`` (an empty page) together, as :func:`room_run` opens the chat:
    the slowest load (navigation → the page's marker), in seconds."""
    from playwright.async_api import async_playwright

    async def one(browser: Any, start_at: float) -> float:
        context = await browser.new_context(viewport={"width": 1000, "height": 800})
        page = await context.new_page()
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        started = time.monotonic()
        await page.goto(url, timeout=PAGE_TIMEOUT_S * 1000)
        await page.wait_for_selector("#ready", state="attached", timeout=PAGE_TIMEOUT_S * 1000)
        took = time.monotonic() - started
        await context.close()
        return took

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            start_at = time.monotonic() + 1.0 + 0.2 * visitors
            return max(await asyncio.gather(*(one(browser, start_at) for _ in range(visitors))))
        finally:
            await browser.close()


def empty_page_floor(visitors: int, runs: int) -> float:
    """The harness's own floor: the median over ``runs`` of the slowest of ``visitors`` browser sessions opening an
    empty page (a marker element and one line of script) from a local HTTP server (Python's ``http.server``)."""
    import functools
    import http.server
    import threading

    with tempfile.TemporaryDirectory(prefix="nbchat-bench-empty-") as tmp:
        Path(tmp, "index.html").write_text(
            "<!doctype html><title>empty</title><div id=page></div>"
            "<script>document.getElementById('page').id = 'ready'</script>",
            encoding="utf-8",
        )

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=tmp))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            return statistics.median(asyncio.run(_empty_pages(url, visitors)) for _ in range(runs))
        finally:
            server.shutdown()


def engine_floor(visitors: int, max_new: int) -> tuple[float, float]:
    """The engine's own floor: ``nbchat serve`` as the room starts it (the embedded model, ``visitors`` slots, one
    thread) answering ``visitors`` questions sent together, ``max_new`` tokens each, greedy, through the ``openai``
    client: (slowest reply, reply alone) in seconds, each on a fresh engine (no prompt in its cache)."""
    from nbchat._web import RoomEngine, shared_engine_spec

    async def ask(url: str, model: str, questions: list[str]) -> float:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=url, api_key="none")

        async def one(question: str) -> float:
            started = time.monotonic()
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": question}], max_tokens=max_new, temperature=0
            )
            return time.monotonic() - started

        try:
            return max(await asyncio.gather(*(one(q) for q in questions)))
        finally:
            await client.close()

    spec = shared_engine_spec("embedded")
    assert spec is not None
    took = []
    for count in (visitors, 1):
        with tempfile.TemporaryDirectory(prefix="nbchat-bench-engine-") as tmp:
            engine = RoomEngine(spec, visitors, 4096, Path(tmp) / "engine.log", None)
            model = engine.start()
            try:
                took.append(asyncio.run(ask(engine.url, model, [QUESTIONS[i % len(QUESTIONS)] for i in range(count)])))
            finally:
                engine.stop()
    return took[0], took[1]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


def measure(design: str, visitors: int, runs: int, max_new: int) -> dict[str, Any]:
    """``runs`` arrivals of ``visitors`` on a fresh ``nbchat web`` of ``design`` (:data:`DESIGNS`) each; merged
    figures."""
    engine, extra = DESIGNS[design]
    ready, replies, broken, missing, rss, loads, why = [], [], [], 0, [], [], []
    ttft, kernel, served, repaired = [], [], [], 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="nbchat-bench-web-") as tmp:
            server = WebServer(engine, max(visitors, 1), max_new, Path(tmp) / "web.log", extra,
                               preheated=design == "preheated")  # fmt: skip
            try:
                loads.append(os.getloadavg()[0])
                run = asyncio.run(room_run(server.url, visitors))
                # the kernels of the pages just closed may still be shutting down: RSS measured with them
                rss.append(tree_rss_mb(server.process.pid))
            finally:
                server.stop()
        ready.append(max(run["ready"], default=float("nan")))
        served.append(max(run["served"], default=float("nan")))
        replies += run["replies"]
        ttft += run["ttft"]
        kernel += run["kernel"]
        broken.append(run["broken"])
        why += run["why"]
        missing += run["missing"]
        repaired += run["repaired"]
        print(f"  {design}, {visitors} visitors, run {len(broken)}/{runs}: slowest page ready {ready[-1]:.1f} s "
              f"(served {served[-1]:.1f} s), "
              f"replies (page) {', '.join(f'{r:.1f}' for r in sorted(run['replies']))} s, (kernel) "
              f"{', '.join(f'{r:.1f}' for r in sorted(run['kernel']))} s, "
              f"broken {run['broken']} {run['why'] or ''} (repaired {run['repaired']}), server {rss[-1]:.0f} MB, "
              f"load average {loads[-1]:.1f}", flush=True)  # fmt: skip
    finite = [x for x in ready if x == x]  # runs where at least one page became ready (NaN: none did)
    served_finite = [x for x in served if x == x]
    return {"slowest_ready": statistics.median(finite) if finite else float("nan"), "ready_runs": ready,
            "slowest_served": statistics.median(served_finite) if served_finite else float("nan"),
            "p50": statistics.median(replies) if replies else float("nan"), "p95": _p95(replies),
            "kernel_p50": statistics.median(kernel) if kernel else float("nan"), "kernel_p95": _p95(kernel),
            "ttft_p95": _p95(ttft), "broken": sum(broken), "repaired": repaired, "broken_runs": broken,
            "missing": missing, "runs": runs, "rss_mb": max(rss), "load": (min(loads), max(loads)),
            "why": {reason: why.count(reason) for reason in sorted(set(why))}}  # fmt: skip


def _counts(quick: bool) -> tuple[int, ...]:
    """Visitor counts: ``$NBCHAT_BENCH_WEB_VISITORS`` (comma-separated, e.g. ``1,4,8``), else 1, 4 (``--quick``) or
    1, 4, 8."""
    text = os.environ.get("NBCHAT_BENCH_WEB_VISITORS", "")
    counts = tuple(sorted({int(n) for n in text.split(",") if n.strip()})) if text else ((1, 4) if quick else (1, 4, 8))
    if not counts or min(counts) < 1:
        msg = f"NBCHAT_BENCH_WEB_VISITORS={text!r}: give visitor counts of at least 1, e.g. 1,4,8"
        raise ValueError(msg)
    return counts


def _designs(quick: bool) -> tuple[str, ...]:
    """Designs compared: ``$NBCHAT_BENCH_WEB_DESIGNS`` (comma-separated names of :data:`DESIGNS`), else all, or
    ``preheated`` beside ``per-kernel`` (the design the issue measured) with ``--quick``."""
    text = os.environ.get("NBCHAT_BENCH_WEB_DESIGNS", "")
    every = ("preheated", "per-kernel") if quick else tuple(DESIGNS)
    names = tuple(n.strip() for n in text.split(",") if n.strip()) if text else every
    unknown = [n for n in names if n not in DESIGNS]
    if unknown or "preheated" not in names:
        msg = f"NBCHAT_BENCH_WEB_DESIGNS={text!r}: give names of {', '.join(DESIGNS)}, preheated (the default) first"
        raise ValueError(msg)
    return names


def web_figures(quick: bool) -> list[Figure]:
    """Visitors arriving together (:func:`_counts`) on each room design (:func:`_designs`), in one run.

    The largest count runs ``$NBCHAT_BENCH_WEB_RUNS`` times on the default design (preheated kernels, one engine,
    nbchat's page; default 5, 1 with ``--quick``; the issue's goal is 0 broken pages in 20 runs of 8) and
    ``$NBCHAT_BENCH_WEB_BASELINE_RUNS`` times on each other design (default 1); every other row runs once. The goals
    (page ready ≤ 2×, reply p95 ≤ 3× a lone visitor's) are judged for the largest count when 1 visitor is measured too.
    Replies are given twice: as the visitor sees them (Enter → the reply shown done, browser included) and as the
    kernel measured them (its ``ReplyStats``: request → last token), since in a real room the browsers run on the
    visitors' machines, not on the server. Beside them, the two floors (:func:`empty_page_floor`,
    :func:`engine_floor`).
    """
    max_new = 16 if quick else 32
    counts = _counts(quick)
    designs = _designs(quick)
    repeats = int(os.environ.get("NBCHAT_BENCH_WEB_RUNS", "1" if quick else "5"))
    baseline_repeats = int(os.environ.get("NBCHAT_BENCH_WEB_BASELINE_RUNS", "1"))
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for n in counts:  # the designs side by side for each count, so they share the machine's load
        for design in designs:
            runs = (repeats if design == "preheated" else baseline_repeats) if n == max(counts) and n > 1 else 1
            results[design, n] = measure(design, n, runs, max_new)
            print(design, n, results[design, n], flush=True)
    floors = {n: empty_page_floor(n, 3) for n in counts}  # the harness, beside the rooms on the same load
    engine_many, engine_one = engine_floor(max(counts), max_new)
    print(f"floors: empty pages {floors}; engine: {max(counts)} replies {engine_many:.2f} s, 1 {engine_one:.2f} s",
          flush=True)  # fmt: skip
    lone = results.get(("preheated", 1))
    base = next((d for d in designs if d != "preheated"), None)
    figures = []
    for n in counts:
        s = results["preheated", n]
        k = results[base, n] if base else None

        def other(key: str, k: dict[str, Any] | None = k) -> float | None:
            return k[key] if k else None

        judged = lone is not None and n == max(counts) and n > 1
        ready_note = ", ".join(f"{x:.1f}" if x == x else "no page ready" for x in s["ready_runs"])
        load = f"load average {s['load'][0]:.1f}–{s['load'][1]:.1f}"
        rest = "; ".join(
            f"{d}: page ready {results[d, n]['slowest_ready']:.1f} s, reply p50/p95 {results[d, n]['p50']:.1f}/"
            f"{results[d, n]['p95']:.1f} s (kernel {results[d, n]['kernel_p50']:.1f}/{results[d, n]['kernel_p95']:.1f}"
            f" s), broken {results[d, n]['broken']} of {n * results[d, n]['runs']}, {results[d, n]['rss_mb']:.0f} MB"
            for d in designs if d != "preheated"
        )  # fmt: skip
        figures.append(Figure(
            f"web: {n} visitors arriving together, slowest page ready", s["slowest_ready"], "s",
            other("slowest_ready"), base or "", "≤ 2× a lone visitor's" if judged else "",
            (s["slowest_ready"] <= 2 * lone["slowest_ready"] and s["broken"] == 0) if judged and lone else None,
            note=f"preheated kernels, one engine ({n} slots); median of {s['runs']} runs (slowest of each: "
                 f"{ready_note} s)" + (f"; lone visitor {lone['slowest_ready']:.1f} s" if lone else "")
                 + f"; {load}; {rest}"))  # fmt: skip
        figures.append(Figure(
            f"web: {n} browser sessions opening an empty page together (the harness's floor)", floors[n], "s", None,
            "", "", None,
            note=f"median of 3 runs' slowest; 1 session: {floors[min(counts)]:.2f} s. The browsers run on the "
                 "server's two cores here (on the visitors' machines in a real room): page ready for the chat cannot "
                 "be under this"))  # fmt: skip
        figures.append(Figure(
            f"web: {n} visitors arriving together, slowest page served", s["slowest_served"], "s",
            other("slowest_served"), base or "", "", None,
            note="the server's part of page ready: navigation → the page's HTML fully received (median of the runs' "
                 "slowest); the rest is the browser's, on the visitor's machine in a real room"))  # fmt: skip
        figures.append(Figure(
            f"web: {n} visitors asking together, reply p95", s["p95"], "s", other("p95"), base or "",
            "≤ 3× a lone visitor's" if judged else "",
            (s["p95"] <= 3 * lone["p95"] and not s["missing"] and not s["broken"]) if judged and lone else None,
            note=f"Enter → reply shown done, {max_new} tokens, greedy; p50 {s['p50']:.1f} s; replies missing "
                 f"{s['missing']}"))  # fmt: skip
        if n == max(counts):
            figures.append(Figure(
                f"web: {n} replies at once on the engine alone (the engine's floor)", engine_many, "s", None, "", "",
                None,
                note=f"nbchat serve as the room runs it (the embedded model, {n} slots, one thread), {max_new} tokens "
                     f"greedy, no page, kernel or browser; one reply alone {engine_one:.2f} s "
                     f"({engine_many / engine_one:.1f}×): the slots are decoded in one batch on one core"))  # fmt: skip
        figures.append(Figure(
            f"web: {n} visitors asking together, reply p95 in the kernel", s["kernel_p95"], "s",
            other("kernel_p95"), base or "", "", None,
            note=f"the kernel's ReplyStats (request → last token, no browser): p50 {s['kernel_p50']:.1f} s, "
                 f"TTFT p95 {s['ttft_p95']:.1f} s"))  # fmt: skip
        figures.append(Figure(
            f"web: {n} visitors, broken pages", s["broken"], "pages", other("broken"), base or "",
            "0" if n == max(counts) else "", s["broken"] == 0 if n == max(counts) else None,
            note=f"of {n * s['runs']} pages in {s['runs']} runs (per run: {', '.join(map(str, s['broken_runs']))}; "
                 f"{s['why'] or 'none'}); repaired by the page: {s['repaired']}"))  # fmt: skip
        figures.append(Figure(
            f"web: {n} visitors, server memory (process tree RSS)", s["rss_mb"], "MB", other("rss_mb"), base or "",
            "", None,
            note="largest of the runs: nbchat web, Voila, all kernels (pool too), engine"))  # fmt: skip
    return figures
