"""A room on ``nbchat web``: one shared engine for every visitor, a visitor limit, and a page that never sits blank.

``nbchat web`` (:mod:`nbchat._cli`) serves the chat through Voila: each browser tab gets its own kernel, so its own
conversation. This module holds what makes that work for a room of visitors:

- :class:`RoomEngine` — for a local model (the embedded one, a ``.gguf`` file) one llama.cpp server with parallel
  slots, started as ``nbchat serve`` (:mod:`nbchat._serve`) on 127.0.0.1; every visitor's kernel talks to it over
  HTTP, so no kernel loads a copy of the model or runs its own llama.cpp threads. Stopped with the page server.
- :class:`RoomKernelManager` — Voila's kernel manager with a visitor limit: past ``max_kernels`` kernels a new
  visitor gets a "the room is full, try again in a minute" page (HTTP 503) instead of a slow page for everybody.
- :func:`write_page_template` — the page, a Voila template (the ``lab`` one, extended). By default without Voila's
  front-end: one script (``js/web/``) connects to the visitor's kernel, restores the chat's widget once the kernel
  sent its state and renders it — a seventh of the scripts, so a room of visitors' browsers loads it in a fraction of
  the time, and no "Error displaying widget: model not found" (ipywidgets 8.1.9's race between ``get_model``'s 2 s
  polling and the restore, ``docs/web.md``, ``docs/upstream/voila-model-not-found.md``). ``--page voila`` serves
  Voila's own page, repairing that race. Either says so, in the page's language (:func:`page_texts`) and with a
  Reload button, when the chat cannot start or its kernel is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Integer

from ._i18n import LANGS, MESSAGES

__all__ = [
    "KV_BLOCK_TOKENS",
    "PAGES",
    "PAGE_KEYS",
    "PREHEAT_FILL_DELAY_S",
    "TEMPLATE_NAME",
    "EngineSpec",
    "RoomEngine",
    "RoomKernelManager",
    "die_with_parent",
    "engine_command",
    "engine_threads",
    "page_texts",
    "preheat_pool_size",
    "shared_engine_spec",
    "voila_room_options",
    "write_page_template",
]

TEMPLATE_NAME = "nbchat-web"
"""The Voila template ``nbchat web`` writes (``--template=nbchat-web``), extending Voila's ``lab`` template."""

PAGES = ("nbchat", "voila")
"""The pages ``nbchat web --page`` serves. ``nbchat`` (the default): Voila's page without Voila's front-end — one
script (``nbchat/static/web.js``, built from ``js/web/``, 0.8 MB) connects to the visitor's kernel and renders the
chat. ``voila``: Voila's own JupyterLab page (5.3 MB of scripts, every installed labextension), with
``nbchat/static/voila_page.js`` (``js/web/voila_page.ts``) repairing ipywidgets' "model not found" race."""

PAGE_KEYS = ("full.title", "full.body", "failed.title", "failed.body", "closed.title", "closed.body", "reload")
"""The page's own texts (room full, chat failed to start, page closed, the Reload button): keys ``web.<key>`` of
nbchat's one catalogue, ``nbchat/i18n.json`` (:mod:`nbchat._i18n`). They are shown by the page around the widget, not
by the widget; ``{visitors}`` in ``full.body`` is filled by the page with the visitor limit."""


def page_texts() -> dict[str, dict[str, str]]:
    """The page's texts in every language of :data:`nbchat._i18n.LANGS`, ``{lang: {key: text}}`` for the keys of
    :data:`PAGE_KEYS`, read from ``nbchat/i18n.json`` (the ``web.`` keys); ``{visitors}`` is left for the page to fill.
    """
    return {lang: {key: MESSAGES[lang][f"web.{key}"] for key in PAGE_KEYS} for lang in LANGS}


_PAGE_DIR = Path(__file__).parent / "web_page"


# ------------------------------------------------------------------------------------------------ the engine
@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """What the room's shared engine runs (:func:`shared_engine_spec`).

    Attributes
    ----------
    engine : {"llama.cpp", "transformers"}
        ``"llama.cpp"``: ``nbchat serve`` (llama.cpp's server, parallel slots); ``"transformers"``: ``transformers
        serve --continuous-batching`` (paged attention, continuous batching).
    model : str
        ``"embedded"`` or a ``.gguf`` path (llama.cpp); a model directory or Hugging Face hub id (transformers), which
        is also the model's name in the engine's requests.
    """

    engine: Literal["llama.cpp", "transformers"]
    model: str


KV_BLOCK_TOKENS = 32
"""Tokens per KV-cache block of ``transformers serve --continuous-batching`` (``--cb-block-size``)."""


def shared_engine_spec(spec: str | None, default_model: str | None = None) -> EngineSpec | None:
    """What the room's shared engine serves for ``nbchat web MODEL``, or ``None`` when MODEL is not a local model (a
    server URL, an online source, a function: it is already one engine for everybody, or there is none).

    Parameters
    ----------
    spec : str or None
        MODEL as given on the command line; ``None`` for the default model.
    default_model : str or None
        The administrator's default model (``$NBCHAT_DEFAULT_MODEL``), used when ``spec`` is ``None``.

    Returns
    -------
    EngineSpec or None
        llama.cpp for the embedded model and ``.gguf`` files; transformers for a model directory, a name found in a
        ``$NBCHAT_MODEL_PATH`` directory (given to the engine as that directory) or a Hugging Face hub id (the engine
        loads it from the Hugging Face cache, or downloads it).
    """
    from ._spec import classify
    from .backends._resolve import MODEL_PATH_VAR

    text = spec if spec is not None else (default_model or "embedded")
    form = classify(text)
    if form.kind == "embedded":
        return EngineSpec("llama.cpp", "embedded")
    if form.kind != "local":
        return None
    if text.lower().endswith(".gguf"):
        return EngineSpec("llama.cpp", str(Path(text).expanduser().resolve()))
    path = Path(text).expanduser()
    if path.is_dir():
        return EngineSpec("transformers", str(path.resolve()))
    for folder in filter(None, os.environ.get(MODEL_PATH_VAR, "").split(os.pathsep)):
        if (Path(folder).expanduser() / text).is_dir():
            return EngineSpec("transformers", str((Path(folder).expanduser() / text).resolve()))
    return EngineSpec("transformers", text)


def engine_threads(spec: EngineSpec) -> int:
    """llama.cpp threads for the room's engine: one for a small model (the embedded one, a ``.gguf`` under
    :data:`nbchat.backends.llamacpp.SMALL_MODEL_BYTES`), else the physical cores less one.

    The engine shares the machine with the page server (Voila and one kernel per visitor): llama.cpp's threads meet
    after every layer and spin while they wait, so one that loses its core to a kernel holds up the others. Measured
    on 2 cores with other work running (load average 3): the embedded model with 8 slots answered one 16-token
    question in 4.8-6.6 s on two threads and 0.3-0.4 s on one, eight at once in 29-37 s against 2.9-3.2 s
    (docs/web.md). ``nbchat serve`` alone keeps its own default (the physical cores).
    """
    from .backends.llamacpp import SMALL_MODEL_BYTES, physical_cores

    if spec.model == "embedded":
        return 1
    with contextlib.suppress(OSError):
        if Path(spec.model).stat().st_size < SMALL_MODEL_BYTES:
            return 1
    return max(1, physical_cores() - 1)


def engine_command(spec: EngineSpec, port: int, slots: int, ctx_per_slot: int, threads: int | None = None) -> list[str]:
    """The command line of the room's engine on 127.0.0.1:``port``, for ``slots`` conversations of ``ctx_per_slot``
    tokens each; ``threads``: llama.cpp's threads (default :func:`engine_threads`; not used by transformers).

    llama.cpp: ``python -m nbchat serve MODEL --slots --ctx-per-slot --threads`` (:mod:`nbchat._serve`;
    :func:`engine_threads`). transformers:
    ``transformers serve MODEL --continuous-batching`` with a KV cache of ``slots × ctx_per_slot`` tokens
    (``--cb-num-blocks`` blocks of :data:`KV_BLOCK_TOKENS`): without that bound, transformers sizes the cache from the
    device's memory, 14 GB of RSS for a one-layer test model on CPU (measured, transformers 5.24; docs/web.md).
    """
    if spec.engine == "llama.cpp":
        return [
            sys.executable, "-m", "nbchat", "serve", spec.model, "--slots", str(slots), "--ctx-per-slot",
            str(ctx_per_slot), "--threads", str(threads or engine_threads(spec)), "--host", "127.0.0.1", "--port",
            str(port),
        ]  # fmt: skip
    cli = Path(sys.executable).with_name("transformers")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "transformers.cli.transformers"]
    blocks = -(-slots * ctx_per_slot // KV_BLOCK_TOKENS)
    return [
        *command, "serve", spec.model, "--continuous-batching", "--cb-block-size", str(KV_BLOCK_TOKENS),
        "--cb-num-blocks", str(blocks), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def _free_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """In a child process (``preexec_fn``): receive SIGTERM when the parent dies, even by SIGKILL (Linux only).

    Ctrl+C and SIGTERM already stop the children in order; this covers a parent that is killed outright, so
    neither the engine nor Voila (and its kernels) is left behind.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RoomEngine:
    """One engine for the room in a child process on 127.0.0.1: ``nbchat serve`` (llama.cpp) or ``transformers serve
    --continuous-batching`` (:func:`engine_command`).

    Parameters
    ----------
    spec : EngineSpec
        The engine and its model (:func:`shared_engine_spec`).
    slots : int
        Conversations decoded together (llama.cpp's slots; for transformers, the KV cache holds this many contexts).
    ctx_per_slot : int
        Context window of each conversation in tokens.
    log : Path
        Where the engine's output goes.
    threads : int or None, default None
        llama.cpp's threads; ``None``: :func:`engine_threads`.
    """

    def __init__(self, spec: EngineSpec, slots: int, ctx_per_slot: int, log: Path, threads: int | None = None) -> None:
        self.spec, self.slots, self.ctx_per_slot, self.log, self.threads = spec, slots, ctx_per_slot, log, threads
        self.port = _free_local_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL the visitors' kernels use, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def command(self) -> list[str]:
        """The command line that starts the engine."""
        return engine_command(self.spec, self.port, self.slots, self.ctx_per_slot, self.threads)

    def start(self, timeout: float = 300) -> str:
        """Start the engine and wait (at most ``timeout`` seconds) until it has loaded the model.

        Returns
        -------
        str
            The model's name on the engine (``/v1/models``), for ``nbchat.Chat(url, model=...)``.

        Raises
        ------
        RuntimeError
            If the engine exits or does not answer ``/health`` with 200 in time; the message ends with its output.
        """
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}  # transformers: the tokenizer's threads stay quiet
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=die_with_parent,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:  # llama.cpp's server answers 503 while it loads the model, 200 once it can serve (transformers
                # serve answers once it has loaded its model)
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return self.model_name()
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        self.stop()
        msg = f"the shared engine ({' '.join(self.command)}) did not start:\n{tail}"
        raise RuntimeError(msg)

    def model_name(self) -> str:
        """The model's name in requests: for transformers the model it was started with (requests must name it so);
        for llama.cpp the first model the engine lists (``GET /v1/models``, through the ``openai`` client)."""
        if self.spec.engine == "transformers":
            return self.spec.model
        import openai

        client = openai.OpenAI(base_url=self.url, api_key="none", timeout=10)
        return str(client.models.list().data[0].id)

    def stop(self, timeout: float = 15) -> None:
        """Stop the engine (SIGINT, as Ctrl+C; SIGKILL after ``timeout`` seconds); no-op if it is not running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


# ------------------------------------------------------------------------------------------------ the visitor limit
class RoomKernelManager(AsyncMappingKernelManager):
    """Voila's kernel manager (jupyter_server's), with a visitor limit: one kernel per visitor, at most ``max_kernels``.

    A visitor past the limit gets HTTP 503, which Voila renders with the template's ``503.html``: "the room is full,
    try again in a minute", in the visitor's language, reloading itself. Places are freed when a visitor has left —
    their page's kernel WebSocket closed and none opened again for ``left_after`` seconds (a closed or reloaded tab;
    Voila's own page asks for the shutdown as the tab closes, but Voila 0.5.13 refuses that request, HTTP 403 "'_xsrf'
    argument missing", voila-dashboards/voila#1458) — or when jupyter_server culls an idle kernel
    (``cull_idle_timeout``).

    With Voila's preheated kernels (``--preheat_kernel=True``, :func:`voila_room_options`), Voila's factory
    (``voila/voila_kernel_manager.py``, ``voila_kernel_manager_factory``) subclasses this manager with a pool of
    kernels that have already run the notebook. Those waiting kernels are not visitors: they do not count against
    ``max_kernels`` (the pool adds at most its size), and a visitor who would take one from a full room gets the same
    503. Voila keeps the waiting kernels from being culled; each is given to one visitor only.
    """

    max_kernels = Integer(0, config=True, help="Most kernels (visitors) at once; 0: no limit.")
    left_after = Float(
        20.0,
        config=True,
        help="Seconds after a visitor's last kernel WebSocket closed (none opened again) before their kernel is shut "
        "down; 0: never (only culling frees the place).",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # jupyter_server's __init__ is untyped
        self._starting = 0  # kernels being started: counted before the first await, so concurrent arrivals cannot pass
        self._pooled: set[str] = set()  # preheated kernels no visitor has taken yet
        self._open: dict[str, int] = {}  # kernel id → its pages' open WebSockets
        self._leaving: set[asyncio.Future[None]] = set()  # shutdowns of kernels whose visitor left

    def notify_connect(self, kernel_id: str) -> None:
        """A page opened a WebSocket to ``kernel_id`` (jupyter_server's kernel channels handler calls this)."""
        super().notify_connect(kernel_id)  # type: ignore[no-untyped-call]  # jupyter_server's, untyped
        self._open[kernel_id] = self._open.get(kernel_id, 0) + 1

    def notify_disconnect(self, kernel_id: str) -> None:
        """A page's WebSocket to ``kernel_id`` closed: when it was the last one, the visitor has left unless a page
        connects again within ``left_after`` seconds (a reconnection after a network blip)."""
        super().notify_disconnect(kernel_id)  # type: ignore[no-untyped-call]  # jupyter_server's, untyped
        self._open[kernel_id] = max(0, self._open.get(kernel_id, 0) - 1)
        if self._open[kernel_id] == 0 and self.left_after > 0:
            asyncio.get_running_loop().call_later(self.left_after, self._shut_down_if_left, kernel_id)

    def _shut_down_if_left(self, kernel_id: str) -> None:
        if self._open.get(kernel_id) == 0 and kernel_id in self and kernel_id not in self._pooled:
            self.log.info("nbchat web: a visitor left (page closed %.0f s ago); their kernel %s is shut down",
                          self.left_after, kernel_id)  # fmt: skip
            task = asyncio.ensure_future(self.shutdown_kernel(kernel_id))
            self._leaving.add(task)  # kept until done: the loop holds only a weak reference to a task
            task.add_done_callback(self._leaving.discard)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Keep the visitor limit on the preheated path: Voila's pool subclass hands a kernel to a visitor in its own
        ``get_rendered_notebook`` (called by ``VoilaHandler.get`` instead of ``start_kernel``), which comes first in
        the subclass's method order; it is wrapped here so the room is checked before a kernel is taken, and
        ``get_pool_size`` (which picks that path) counts only the kernels that are ready."""
        super().__init_subclass__(**kwargs)
        take = cls.__dict__.get("get_rendered_notebook")
        if take is None:
            return

        def get_pool_size(self: RoomKernelManager, notebook_name: str) -> int:
            # only kernels that have run the page: Voila's own count includes kernels still waiting for their
            # ``fill_delay`` or starting, and a visitor handed one of those would wait for it (up to the delay)
            # instead of getting a kernel started at once (the handler's other path)
            pool = getattr(self, "_pools", {}).get(notebook_name, [])  # voila 0.5.13: a list of asyncio tasks
            return sum(task.done() and not task.cancelled() and task.exception() is None for task in pool)

        async def get_rendered_notebook(self: RoomKernelManager, *args: Any, **kw: Any) -> Any:
            self._admit()
            name = kw.get("notebook_name", args[0] if args else None)
            with contextlib.suppress(AttributeError, KeyError):  # the ready kernels first: Voila takes the first
                self._pools[name].sort(key=lambda task: not task.done())  # type: ignore[attr-defined]
            self._starting += 1  # a visitor taking a kernel from the pool: counted until it is theirs
            try:
                render_task, rendered_cache, kernel_id = await take(self, *args, **kw)
            finally:
                self._starting -= 1
            self._pooled.discard(kernel_id)
            # a visitor's kernel now, and cullable: its last activity was the notebook's run when it was preheated,
            # maybe longer ago than --idle-timeout, so the next cull would close it before the page connects
            kernel = self.get_kernel(kernel_id)
            kernel.last_activity = datetime.datetime.now(datetime.timezone.utc)  # type: ignore[attr-defined]  # set by jupyter_server's manager
            return render_task, rendered_cache, kernel_id

        get_rendered_notebook.__doc__ = take.__doc__
        cls.get_rendered_notebook = get_rendered_notebook  # type: ignore[attr-defined]
        cls.get_pool_size = get_pool_size  # type: ignore[attr-defined]

    @property
    def visitors(self) -> int:
        """Visitors' kernels running or being started (the preheated kernels waiting in the pool are not counted)."""
        return len(self) - len(self._pooled & set(self.list_kernel_ids())) + self._starting

    def _admit(self) -> None:
        if self.max_kernels and self.visitors >= self.max_kernels:
            self.log.warning("nbchat web: the room is full (%d visitors); a visitor was turned away", self.max_kernels)
            raise web.HTTPError(503, reason="Room full")

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]  # async, as jupyter_server's
        """Start a kernel for a new visitor, or refuse with HTTP 503 when the room is full; a kernel for Voila's pool
        of preheated kernels (its environment says ``VOILA_PREHEAT=True``) is started without a visitor's place.

        Raises
        ------
        tornado.web.HTTPError
            503 when ``max_kernels`` visitors' kernels are running or starting.
        """
        if kwargs.get("kernel_id") is not None:  # a restart
            return str(await super().start_kernel(*args, **kwargs))
        if kwargs.get("env", {}).get("VOILA_PREHEAT") == "True":
            kernel_id = str(await super().start_kernel(*args, **kwargs))
            self._pooled.add(kernel_id)
            return kernel_id
        self._admit()
        self._starting += 1
        try:
            return str(await super().start_kernel(*args, **kwargs))
        finally:
            self._starting -= 1

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Shut a kernel down (a visitor left, was culled, or Voila stops) and forget it if it was preheated."""
        self._pooled.discard(kernel_id)
        self._open.pop(kernel_id, None)
        await super().shutdown_kernel(kernel_id, *args, **kwargs)  # type: ignore[no-untyped-call]  # jupyter_server's, untyped


# ------------------------------------------------------------------------------------------------ the page
def write_page_template(root: Path, lang: str | None, visitors: int, page: str = "nbchat") -> Path:
    """Write the ``nbchat-web`` Voila template under ``root`` (a Jupyter data directory: pass it in ``JUPYTER_PATH``).

    Parameters
    ----------
    root : Path
        The directory; the template goes to ``root/voila/templates/nbchat-web``.
    lang : {"en", "zh"} or None
        The page's language (``--lang``); ``None``: the browser's languages, English for any other.
    visitors : int
        The visitor limit, shown on the "room is full" page.
    page : {"nbchat", "voila"}, default "nbchat"
        Which page (:data:`PAGES`, ``--page``).

    Returns
    -------
    Path
        The template's directory.

    Raises
    ------
    ValueError
        ``page`` is not one of :data:`PAGES`.
    FileNotFoundError
        The page's script (``nbchat/static/web.js``, or ``voila_page.js`` for Voila's page) was not built (a source
        checkout without ``npm run build``).
    """
    if page not in PAGES:
        msg = f"page {page!r}: choose one of {', '.join(PAGES)}"
        raise ValueError(msg)
    target = root / "voila" / "templates" / TEMPLATE_NAME
    shutil.copytree(_PAGE_DIR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    if page == "voila":
        (target / "voila_page.html.j2").replace(target / "index.html.j2")
    script = _PAGE_DIR.parent / "static" / ("voila_page.js" if page == "voila" else "web.js")
    if not script.is_file():
        msg = f"nbchat web's page script {script} is missing: build the front-end (npm run build)"
        raise FileNotFoundError(msg)
    (target / "static").mkdir(exist_ok=True)
    shutil.copyfile(script, target / "static" / script.name)
    config = {"texts": page_texts(), "lang": lang or "", "visitors": visitors}
    # </ cannot end the script element: the JSON is read by the page, never run as HTML
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    (target / "nbchat_texts.html").write_text(
        f'<script id="nbchat-page-config" type="application/json">{data}</script>\n', encoding="utf-8"
    )
    return target


PREHEAT_FILL_DELAY_S = 60
"""Seconds Voila waits before it starts a kernel for the pool again after a visitor took one (``fill_delay``)."""


def preheat_pool_size(slots: int, max_visitors: int) -> int:
    """The default number of preheated kernels (``--preheat``): one per slot, the visitors who can be answered at the
    same moment, and never more than the visitor limit (``max_visitors`` 0: no limit). Each waiting kernel holds about
    200 MB (docs/web.md), so the pool is not sized from the visitor limit, which defaults to 4 per slot."""
    return min(slots, max_visitors) if max_visitors else slots


def voila_room_options(max_visitors: int, idle_timeout_s: int, preheat: int = 0) -> Sequence[str]:
    """The Voila options of a room: the template, the visitor limit, culling of idle visitors' kernels, and the pool of
    preheated kernels.

    ``idle_timeout_s`` 0 never culls. A kernel is culled after that long without any message, even while its tab is
    open (``cull_connected``): an idle visitor's place (and conversation) is given back; their page then says it was
    closed and offers a reload. ``preheat`` > 0 keeps that many kernels that have already run the notebook
    (Voila's ``--preheat_kernel=True``, ``--VoilaConfiguration.default_pool_size``): a visitor's page then needs no
    kernel start and no notebook run; 0 starts each visitor's kernel when they arrive.
    """
    options = [
        f"--template={TEMPLATE_NAME}",
        f"--VoilaConfiguration.multi_kernel_manager_class={RoomKernelManager.__module__}.RoomKernelManager",
        f"--RoomKernelManager.max_kernels={max_visitors}",
    ]
    if preheat:
        options += [
            "--preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={preheat}",
            # Voila starts a kernel for the pool this long after one is taken (its default: 1 s): a wave of visitors
            # arriving together first gets its pages and replies, then the pool is filled again
            f"--VoilaKernelManager.fill_delay={PREHEAT_FILL_DELAY_S}",
        ]
    if idle_timeout_s:
        options += [
            f"--MappingKernelManager.cull_idle_timeout={idle_timeout_s}",
            f"--MappingKernelManager.cull_interval={max(10, min(60, idle_timeout_s // 4))}",
            "--MappingKernelManager.cull_connected=True",
        ]
    return options
