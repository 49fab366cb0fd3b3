"""A room on ``nbchat web``: one shared engine for every visitor, a visitor limit, and a page that never sits blank.

``nbchat web`` (:mod:`nbchat._cli`) serves the chat through Voila: each browser tab gets its own kernel, so its own
conversation. This module holds what makes that work for a room of visitors:

- :class:`RoomEngine` — for a local model (the embedded one, a ``.gguf`` file) one llama.cpp server with parallel
  slots, started as ``nbchat serve`` (:mod:`nbchat._serve`) on 127.0.0.1; every visitor's kernel talks to it over
  HTTP, so no kernel loads a copy of the model or runs its own llama.cpp threads. Stopped with the page server.
- :class:`RoomKernelManager` — Voila's kernel manager with a visitor limit: past ``max_kernels`` kernels a new
  visitor gets a "the room is full, try again in a minute" page (HTTP 503) instead of a slow page for everybody.
- :func:`write_page_template` — a Voila template (the ``lab`` one, extended) that renders the chat once the page's
  widget manager has the chat's model (see :data:`PAGE_TEXTS` and ``docs/web.md``: the widget manager of
  ipywidgets gives up on a busy kernel after 4 s, and the page then showed "Error displaying widget: model not
  found"), and says so, in the page's language and with a Reload button, when the chat cannot start.
"""

from __future__ import annotations

import contextlib
import ctypes
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
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

__all__ = [
    "PAGE_TEXTS",
    "TEMPLATE_NAME",
    "RoomEngine",
    "RoomKernelManager",
    "die_with_parent",
    "engine_command",
    "shared_engine_spec",
    "voila_room_options",
    "write_page_template",
]

TEMPLATE_NAME = "nbchat-web"
"""The Voila template ``nbchat web`` writes (``--template=nbchat-web``), extending Voila's ``lab`` template."""

PAGE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "full.title": "The room is full",
        "full.body": (
            "Every place in this chat room is taken ({visitors} visitors). Try again in a minute: this page reloads "
            "by itself."
        ),
        "failed.title": "The chat could not start",
        "failed.body": (
            "This page could not show the chat. Reload the page to try again; if it fails again, the person running "
            "the page can read why in the output of `nbchat web`."
        ),
        "closed.title": "This page was closed",
        "closed.body": "The chat on this page stopped (it was idle for a long time, or the server restarted).",
        "reload": "Reload",
    },
    "zh": {
        "full.title": "聊天室已满",
        "full.body": "此聊天室的位置都已占满（{visitors} 位访客）。请一分钟后再试：本页会自动重新加载。",
        "failed.title": "聊天无法启动",
        "failed.body": (
            "此页面无法显示聊天。请重新加载页面再试；如果仍然失败，运行此页面的人可以在 `nbchat web` 的输出中查看原因。"
        ),
        "closed.title": "此页面已关闭",
        "closed.body": "此页面上的聊天已停止（长时间无操作，或服务器已重启）。",
        "reload": "重新加载",
    },
}
"""The page's own texts (room full, chat failed to start, page closed), in the languages of :data:`nbchat._i18n.LANGS`.

They are shown by the page around the widget, not by the widget, so they live here rather than in the widget's
catalogue; ``{visitors}`` is filled with the visitor limit.
"""

_PAGE_DIR = Path(__file__).parent / "web_page"


# ------------------------------------------------------------------------------------------------ the engine
def shared_engine_spec(spec: str | None, default_model: str | None = None) -> str | None:
    """What the room's shared llama.cpp engine serves for ``nbchat web MODEL``: ``"embedded"``, a ``.gguf`` path, or
    ``None`` when MODEL is not a local llama.cpp model (a server URL, an online source, a function: it is already one
    engine for everybody, or there is none).

    Parameters
    ----------
    spec : str or None
        MODEL as given on the command line; ``None`` for the default model.
    default_model : str or None
        The administrator's default model (``$NBCHAT_DEFAULT_MODEL``), used when ``spec`` is ``None``.

    Raises
    ------
    ValueError
        For any other local model (a Hugging Face hub id or directory, run by transformers): the message says how to
        serve it once for the room (``transformers serve --continuous-batching``) or to keep one copy per visitor
        (``--engine per-kernel``).
    """
    from ._spec import classify

    text = spec if spec is not None else (default_model or "embedded")
    form = classify(text)
    if form.kind == "embedded":
        return "embedded"
    if form.kind != "local":
        return None
    if text.lower().endswith(".gguf"):
        return str(Path(text).expanduser().resolve())
    msg = (
        f"{text!r} runs on transformers, and nbchat web starts a shared engine only for llama.cpp models (the "
        "embedded model, a .gguf file). Serve it once for the room and point the page at it:\n"
        f"    transformers serve --continuous-batching --port 8000   # then load {text} from the page's requests\n"
        f"    nbchat web http://127.0.0.1:8000/v1 --model {text}\n"
        "or give each visitor a copy of the model (memory and CPU per visitor): nbchat web ... --engine per-kernel"
    )
    raise ValueError(msg)


def engine_command(spec: str, port: int, slots: int, ctx_per_slot: int) -> list[str]:
    """``python -m nbchat serve`` on 127.0.0.1:``port`` with ``slots`` parallel slots (see :mod:`nbchat._serve`)."""
    return [
        sys.executable, "-m", "nbchat", "serve", spec, "--slots", str(slots), "--ctx-per-slot", str(ctx_per_slot),
        "--host", "127.0.0.1", "--port", str(port),
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
    """One llama.cpp server for the room: ``nbchat serve`` in a child process on 127.0.0.1.

    Parameters
    ----------
    spec : str
        ``"embedded"`` or the path of a ``.gguf`` file (:func:`shared_engine_spec`).
    slots : int
        Conversations decoded together (``nbchat serve --slots``).
    ctx_per_slot : int
        Context window of each slot in tokens (``nbchat serve --ctx-per-slot``).
    log : Path
        Where the engine's output goes.
    """

    def __init__(self, spec: str, slots: int, ctx_per_slot: int, log: Path) -> None:
        self.spec, self.slots, self.ctx_per_slot, self.log = spec, slots, ctx_per_slot, log
        self.port = _free_local_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL the visitors' kernels use, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def command(self) -> list[str]:
        """The command line that starts the engine."""
        return engine_command(self.spec, self.port, self.slots, self.ctx_per_slot)

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
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:  # llama.cpp's server answers 503 while it loads the model, 200 once it can serve
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return self.model_name()
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        self.stop()
        msg = f"the shared engine ({' '.join(self.command[2:])}) did not start:\n{tail}"
        raise RuntimeError(msg)

    def model_name(self) -> str:
        """The first model the engine lists (``GET /v1/models``), through the ``openai`` client."""
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
    try again in a minute", in the visitor's language, reloading itself. Places are freed when a visitor closes the
    tab (Voila shuts the kernel down) or when jupyter_server culls an idle kernel (``cull_idle_timeout``).
    """

    max_kernels = Integer(0, config=True, help="Most kernels (visitors) at once; 0: no limit.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # jupyter_server's __init__ is untyped
        self._starting = 0  # kernels being started: counted before the first await, so concurrent arrivals cannot pass

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]  # async, as jupyter_server's
        """Start a kernel for a new visitor, or refuse with HTTP 503 when the room is full.

        Raises
        ------
        tornado.web.HTTPError
            503 when ``max_kernels`` kernels are running or starting.
        """
        if kwargs.get("kernel_id") is None and self.max_kernels and len(self) + self._starting >= self.max_kernels:
            self.log.warning("nbchat web: the room is full (%d visitors); a visitor was turned away", self.max_kernels)
            raise web.HTTPError(503, reason="Room full")
        self._starting += 1
        try:
            return str(await super().start_kernel(*args, **kwargs))
        finally:
            self._starting -= 1


# ------------------------------------------------------------------------------------------------ the page
def write_page_template(root: Path, lang: str | None, visitors: int) -> Path:
    """Write the ``nbchat-web`` Voila template under ``root`` (a Jupyter data directory: pass it in ``JUPYTER_PATH``).

    Parameters
    ----------
    root : Path
        The directory; the template goes to ``root/voila/templates/nbchat-web``.
    lang : {"en", "zh"} or None
        The page's language (``--lang``); ``None``: the browser's languages, English for any other.
    visitors : int
        The visitor limit, shown on the "room is full" page.

    Returns
    -------
    Path
        The template's directory.
    """
    target = root / "voila" / "templates" / TEMPLATE_NAME
    shutil.copytree(_PAGE_DIR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    config = {"texts": PAGE_TEXTS, "lang": lang or "", "visitors": visitors}
    # </ cannot end the script element: the JSON is read by the page, never run as HTML
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    (target / "nbchat_texts.html").write_text(
        f'<script id="nbchat-page-config" type="application/json">{data}</script>\n', encoding="utf-8"
    )
    return target


def voila_room_options(max_visitors: int, idle_timeout_s: int) -> Sequence[str]:
    """The Voila options of a room: the template, the visitor limit and culling of idle visitors' kernels.

    ``idle_timeout_s`` 0 never culls. A kernel is culled after that long without any message, even while its tab is
    open (``cull_connected``): an idle visitor's place (and conversation) is given back; their page then says it was
    closed and offers a reload.
    """
    options = [
        f"--template={TEMPLATE_NAME}",
        f"--VoilaConfiguration.multi_kernel_manager_class={RoomKernelManager.__module__}.RoomKernelManager",
        f"--RoomKernelManager.max_kernels={max_visitors}",
    ]
    if idle_timeout_s:
        options += [
            f"--MappingKernelManager.cull_idle_timeout={idle_timeout_s}",
            f"--MappingKernelManager.cull_interval={max(10, min(60, idle_timeout_s // 4))}",
            "--MappingKernelManager.cull_connected=True",
        ]
    return options
