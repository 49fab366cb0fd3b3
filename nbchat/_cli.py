"""``nbchat web``: a chat page for any model, served by Voila (a notebook rendered as a web app).

LazyLLM's ``WebModule(chat, port=...).start().wait()`` wraps any callable in a web client; this does the same from
a shell::

    nbchat web                                          # the embedded model (or the administrator's default)
    nbchat web http://127.0.0.1:8000/v1 --model NAME    # an OpenAI-compatible server
    nbchat web openai:gpt-4o-mini                       # an online source (key from the environment or .env)
    nbchat web mybot:respond                            # a Python function fn(message, history), module:function
    nbchat web bots/echo.py:respond                     # ... or file.py:function
    nbchat web --lang zh --prompt "什么是大语言模型？" --feedback ratings.jsonl   # a class's page

It writes a one-cell notebook that shows ``nbchat.Chat(MODEL, ...)`` into a temporary directory, runs Voila on
``--port`` or the first free port in 20500-20799, prints the URL, and runs until Ctrl+C, then stops Voila and
removes the directory. The generated notebook never holds a key: keys reach the model from the environment
(or a ``.env`` file in the directory ``nbchat web`` was started from), as they do in a notebook.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._environment import environment
from ._i18n import normalize_lang

if TYPE_CHECKING:
    from ._web import EngineSpec

__all__ = ["PORT_RANGE", "build_parser", "find_free_port", "main", "notebook_code", "voila_command", "write_notebook"]

PORT_RANGE = (20500, 20799)  # LazyLLM's WebModule takes its port from the same range
_CALLABLE = re.compile(r"^(?P<target>.+\.py|[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
_NOT_MODULES = {"http", "https", "tgi", "file"}
_START_TIMEOUT_S = 120


class CliError(Exception):
    """A problem with the command line; printed without a traceback."""


# ------------------------------------------------------------------------------------------------ arguments
def build_parser() -> argparse.ArgumentParser:
    """The ``nbchat`` argument parser (subcommands ``web`` and ``serve``)."""
    parser = argparse.ArgumentParser(
        prog="nbchat", description="Chat with any LLM: in a notebook (import nbchat), or as a web page (nbchat web)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    web = sub.add_parser(
        "web",
        help="serve a chat page for a model (through Voila) and print its URL",
        description=(
            "Serve a chat page for MODEL through Voila and print its URL; runs until Ctrl+C. MODEL is anything "
            "nbchat.Chat takes as a string (a local model, a server URL, 'openai:gpt-4o-mini', 'tgi:URL', "
            "'embedded'), or module:function / file.py:function for a Python function fn(message, history). "
            "Without MODEL: the administrator's default ($NBCHAT_DEFAULT_MODEL), else the embedded model. "
            "API keys come from the environment or a .env file, never from the command line."
        ),
    )
    web.add_argument("spec", nargs="?", metavar="MODEL", help="what answers (see above)")
    web.add_argument("--model", "-m", metavar="NAME", help="the model's name on a server or online source")
    web.add_argument(
        "--port", "-p", type=int, help=f"port (default: the first free one in {PORT_RANGE[0]}-{PORT_RANGE[1]})"
    )
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    web.add_argument("--system", metavar="TEXT", help="system message")
    web.add_argument("--max-new-tokens", type=int, metavar="N", help="reply length limit in tokens")
    web.add_argument("--temperature", type=float, metavar="T", help="sampling temperature, 0 = greedy")
    web.add_argument(
        "--no-use-history",
        action="store_true",
        help="send each question alone, without earlier turns (use_history=False)",
    )
    web.add_argument("--no-history", action="store_true", help=argparse.SUPPRESS)  # the old name, for one release
    web.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="TEXT",
        help="a starter prompt shown as a card on the empty page (repeat for several; {…} marks a part to complete)",
    )
    web.add_argument(
        "--lang", choices=["en", "zh", "auto"], help="page language (default: $NBCHAT_LANG, else the browser's)"
    )
    web.add_argument(
        "--feedback",
        metavar="FILE.jsonl",
        help="append each rating given on the page (thumbs up/down, comment) as one JSON line to this file",
    )
    web.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option, e.g. -o prompt_format=falcon -o device=cpu (values are Python literals or text)",
    )
    web.add_argument("--title", default="nbchat", help="page title (default: nbchat)")
    web.add_argument("--theme", choices=["light", "dark"], default="light", help="page theme")
    web.add_argument(
        "--engine",
        choices=["shared", "per-kernel"],
        default="shared",
        help=(
            "for a local model: 'shared' (default) starts one engine that every visitor's kernel talks to (llama.cpp's "
            "server with --slots parallel slots for the embedded model and .gguf files; transformers serve "
            "--continuous-batching for a model directory or hub id); 'per-kernel' loads a copy of the model in each "
            "visitor's kernel (the old design, for comparison)"
        ),
    )
    web.add_argument(
        "--slots", type=int, default=4, metavar="N", help="replies the shared engine generates at once (default 4)"
    )
    web.add_argument(
        "--ctx-per-slot", type=int, default=4096, metavar="N", help="context window of each slot (default 4096)"
    )
    web.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="llama.cpp threads of the shared engine (default: 1 for a small model, else the physical cores less one)",
    )
    web.add_argument(
        "--max-visitors",
        type=int,
        metavar="N",
        help="visitors at once (one kernel each); past it a 'the room is full' page (default: 4 per slot; 0: no limit)",
    )
    web.add_argument(
        "--idle-timeout",
        type=float,
        default=30,
        metavar="MINUTES",
        help="close a visitor's kernel after this long without activity, freeing its place (default 30; 0: never)",
    )
    web.add_argument(
        "--preheat",
        type=int,
        metavar="N",
        help=(
            "kernels that have already run the page, waiting for the next visitors (Voila's preheated kernels, about "
            "200 MB each): a visitor's page is ready without a kernel start (default: one per slot, at most "
            "--max-visitors; 0: off, each visitor's kernel starts when they arrive)"
        ),
    )
    web.add_argument(
        "--page",
        choices=["nbchat", "voila"],
        default="nbchat",
        help=(
            "the page: nbchat's own (default; 0.8 MB of scripts) or Voila's JupyterLab page (5.3 MB, every installed "
            "labextension)"
        ),
    )
    web.add_argument("--verbose", action="store_true", help="show Voila's log")
    web.add_argument("--dry-run", action="store_true", help="print the notebook code and the Voila command, then exit")
    env = sub.add_parser(
        "env",
        help="print the versions of Python and of the packages nbchat runs on (for bug reports)",
        description="Print Python, the platform and the installed version of each package nbchat's behaviour "
        "depends on (engines, widget stack, clients); 'not installed' where one is missing.",
    )
    env.add_argument("--json", action="store_true", help="one JSON object instead of aligned lines")
    from ._serve import add_serve_parser

    add_serve_parser(sub)
    return parser


def backend_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["prompt_format=falcon", "timeout=30"]`` → ``{"prompt_format": "falcon", "timeout": 30}``.

    Raises
    ------
    CliError
        For an item without ``=`` or a key that is not a Python identifier, and for ``api_key`` (keys belong in
        the environment: the generated notebook is a file).
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            msg = f"--option {pair!r}: write KEY=VALUE, e.g. -o prompt_format=falcon"
            raise CliError(msg)
        if key in ("api_key", "token", "headers"):
            msg = (
                f"--option {key}=...: keys are not taken on the command line (they would be written into a file "
                "and shell history). Set them in the environment or a .env file, e.g. NBCHAT_API_KEY or "
                "OPENAI_API_KEY."
            )
            raise CliError(msg)
        try:
            value: Any = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        out[key] = value
    return out


def split_callable(spec: str, cwd: Path) -> tuple[str, str, str] | None:
    """``("module" | "file", target, attribute)`` if ``spec`` names a Python function, else ``None`` (a model spec).

    ``module:function`` (a module importable from ``cwd`` or ``sys.path``) or ``path/file.py:function``. Source
    names (``openai:...``), URLs and ``tgi:`` are model specs, as is anything naming an existing file or directory.

    Raises
    ------
    CliError
        If it looks like ``module:function`` but neither such a module nor a source of that name exists.
    """
    from .backends.sources import SOURCES

    match = _CALLABLE.match(spec.strip())
    if match is None or (cwd / Path(spec).expanduser()).exists():
        return None
    target, attr = match.group("target"), match.group("attr")
    if target.lower() in SOURCES or target.lower() in _NOT_MODULES:
        return None
    if target.endswith(".py"):
        path = (cwd / target).expanduser().resolve()
        if not path.is_file():
            msg = f"{target} (for {spec!r}) is not a file in {cwd}."
            raise CliError(msg)
        return "file", str(path), attr
    sys.path.insert(0, str(cwd))
    try:
        found = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        found = None
    finally:
        sys.path.remove(str(cwd))
    if found is None:
        msg = (
            f"{spec!r}: no module {target!r} in {cwd} or on sys.path, and {target!r} is not an online source "
            f"({', '.join(SOURCES)}). For a function write module:function or file.py:function; for a server "
            "its URL (http://host:port/v1)."
        )
        raise CliError(msg)
    return "module", target, attr


# ------------------------------------------------------------------------------------------------ the notebook
def notebook_code(args: argparse.Namespace, cwd: Path) -> str:
    """The code cell of the generated notebook: ``nbchat.Chat(MODEL, ...)`` and its display.

    Only the options given on the command line are passed, so nbchat's defaults and an administrator's policy
    apply to the rest. Every value is written with ``repr``: a valid Python literal whatever it holds.
    """
    lines = [
        "# Written by `nbchat web`; removed when it stops.",
        "import os",
        "import sys",
        "",
        f"os.chdir({str(cwd)!r})  # relative paths and .env files as where `nbchat web` was started",
        f"sys.path.insert(0, {str(cwd)!r})",
        "import nbchat",
    ]
    target = split_callable(args.spec, cwd) if args.spec else None
    arguments: list[str] = []
    engine_url = getattr(args, "engine_url", None)
    if engine_url:  # the room's shared engine (nbchat._web.RoomEngine): every visitor's kernel talks to it
        arguments += [repr(engine_url), f"model={args.engine_model!r}"]
    elif target is not None:
        kind, where, attr = target
        if kind == "module":
            first, _, rest = attr.partition(".")
            lines += ["", f"from {where} import {first} as model"]
            if rest:
                lines.append(f"model = model.{rest}")
        else:
            lines += ["import runpy", "", f"model = runpy.run_path({where!r})"]
            first, _, rest = attr.partition(".")
            lines.append(f"model = model[{first!r}]" + (f".{rest}" if rest else ""))
        arguments.append("model")
        if args.model:
            arguments.append(f"name={args.model!r}")
    elif args.spec:
        arguments.append(repr(args.spec))
        if args.model:
            arguments.append(f"model={args.model!r}")
    elif args.model:
        arguments.append(f"model={args.model!r}")
    if args.system:
        arguments.append(f"system_prompt={args.system!r}")
    if args.max_new_tokens is not None:
        arguments.append(f"max_new_tokens={args.max_new_tokens!r}")
    if args.temperature is not None:
        arguments.append(f"temperature={args.temperature!r}")
    if args.no_history:
        warnings.warn("--no-history is deprecated: use --no-use-history.", DeprecationWarning, stacklevel=2)
    if args.no_use_history or args.no_history:
        arguments.append("use_history=False")
    if args.prompt:
        arguments.append(f"prompts={list(args.prompt)!r}")
    if args.lang:
        arguments.append(f"lang={args.lang!r}")
    arguments += [f"{k}={v!r}" for k, v in backend_options(args.option).items()]
    setup = [f"chat = nbchat.Chat({', '.join(arguments)})"]
    if args.system:  # the operator's system message: visitors cannot change it from the page
        setup.append('chat.page_settings = chat.page_settings - {"system_prompt"}')
    cap = _operator_token_cap(args.max_new_tokens)
    if cap is not None:  # the operator's reply limit is a cap (the administrator's policy): visitors cannot raise it
        lines.insert(lines.index("import nbchat"), f"os.environ['NBCHAT_MAX_NEW_TOKENS'] = {str(cap)!r}")
    if args.feedback:  # each rating given on the page, appended as a JSON line
        path = (cwd / Path(args.feedback).expanduser()).resolve()
        setup.append(f"chat.on_feedback(nbchat.FeedbackLog({str(path)!r}))  # --feedback")
    lines += [
        "",
        "try:",
        *(f"    {line}" for line in setup),
        "except Exception as exc:  # visitors see a short error; the traceback goes to the log of `nbchat web`",
        "    import traceback",
        "",
        "    traceback.print_exc(file=sys.__stderr__)",
        "    print(f'The chat could not start: {type(exc).__name__}. See the log of `nbchat web`.')",
        "    chat = None",
        "chat",
    ]
    return "\n".join(lines) + "\n"


def _operator_token_cap(requested: int | None) -> int | None:
    """``--max-new-tokens``, lowered to an administrator's cap if one is in force (never raising it)."""
    if requested is None:
        return None
    from ._errors import NbchatError
    from ._policy import current_policy

    try:
        admin = current_policy().max_new_tokens
    except NbchatError:  # an invalid policy: the kernel reports it when the chat starts
        return requested
    return requested if admin is None else min(requested, admin)


def write_notebook(args: argparse.Namespace, directory: Path, cwd: Path) -> Path:
    """Write the one-cell notebook into ``directory``; its name (the page title) comes from ``--title``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(notebook_code(args, cwd))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["title"] = args.title
    name = re.sub(r"[^\w\- ]+", "", args.title).strip() or "nbchat"
    path = directory / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------------------------------------------ serving
def find_free_port(host: str = "127.0.0.1", start: int = PORT_RANGE[0], end: int = PORT_RANGE[1]) -> int:
    """The first port in ``start..end`` (inclusive) that ``host`` can listen on.

    Raises
    ------
    CliError
        If every port in the range is taken.
    """
    for port in range(start, end + 1):
        if port_is_free(host, port):
            return port
    msg = f"No free port in {start}-{end} on {host}; pass --port."
    raise CliError(msg)


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name == "posix":  # as servers do: a port whose old connections linger in TIME_WAIT is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def voila_command(notebook: Path, host: str, port: int, theme: str = "light", room: Sequence[str] = ()) -> list[str]:
    """The Voila command line that serves ``notebook`` (code hidden, errors shown, exactly this port); ``room``: the
    options of :func:`nbchat._web.voila_room_options` (page template, visitor limit, culling)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.port_retries=0",  # the printed URL must be the one served
        f"--theme={theme}",
        "--strip_sources=True",
        "--show_tracebacks=False",  # visitors see a short error; tracebacks stay in the log
        *room,
    ]


def page_url(host: str, port: int) -> str:
    """The URL to print: ``localhost`` stands in for the wildcard addresses."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    address = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"Voila exited with status {proc.returncode} before serving"
            raise CliError(msg)
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
            return  # a connection only: a request to / would start a kernel (and load a model) for nobody
        time.sleep(0.2)
    msg = f"Voila did not listen on port {port} within {timeout:.0f} s"
    raise CliError(msg)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # Voila shuts its kernels down on SIGTERM
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def serve(args: argparse.Namespace) -> int:
    """Run ``nbchat web``: write the notebook, start Voila, print the URL, wait for Ctrl+C, clean up."""
    if importlib.util.find_spec("voila") is None:
        msg = "nbchat web needs Voila: pip install voila"
        raise CliError(msg)
    cwd = Path.cwd()
    if args.port is not None:
        if not 0 < args.port < 65536:
            msg = f"--port {args.port} is not a port number."
            raise CliError(msg)
        if not port_is_free(args.host, args.port):
            msg = f"Port {args.port} on {args.host} is in use; leave out --port to take a free one in 20500-20799."
            raise CliError(msg)
        port = args.port
    else:
        port = find_free_port(args.host)
    from ._web import RoomEngine, die_with_parent, preheat_pool_size, voila_room_options, write_page_template

    engine_spec = _engine_spec(args, cwd)
    visitors = args.max_visitors if args.max_visitors is not None else 4 * args.slots
    preheat = args.preheat if args.preheat is not None else preheat_pool_size(args.slots, visitors)
    if args.threads is not None and args.threads < 1:
        msg = "--threads must be at least 1."
        raise CliError(msg)
    if args.slots < 1 or visitors < 0 or args.idle_timeout < 0 or preheat < 0:
        msg = "--slots must be at least 1; --max-visitors, --idle-timeout, --preheat cannot be negative."
        raise CliError(msg)
    workdir = Path(tempfile.mkdtemp(prefix="nbchat-web-"))
    engine = None
    try:
        if engine_spec is not None:
            engine = RoomEngine(engine_spec, args.slots, args.ctx_per_slot, workdir / "engine.log", args.threads)
            if args.dry_run:
                print(" ".join(engine.command))
                args.engine_url, args.engine_model = engine.url, "MODEL"
            else:
                what = "llama.cpp" if engine_spec.engine == "llama.cpp" else "transformers serve --continuous-batching"
                print(f"nbchat web: starting one engine for the room ({what}, {args.slots} slots)…", flush=True)
                try:
                    args.engine_url, args.engine_model = engine.url, engine.start()
                except RuntimeError as exc:
                    raise CliError(str(exc)) from None
        notebook = write_notebook(args, workdir, cwd)
        try:
            write_page_template(workdir / "jupyter", normalize_lang(args.lang) or None, visitors, args.page)
        except FileNotFoundError as exc:
            raise CliError(str(exc)) from None
        room = voila_room_options(visitors, round(args.idle_timeout * 60), preheat)
        command = voila_command(notebook, args.host, port, args.theme, room)
        if args.dry_run:
            print(notebook_code(args, cwd))
            print(" ".join(command))
            return 0
        log_path = workdir / "voila.log"
        jupyter_path = os.pathsep.join(p for p in (str(workdir / "jupyter"), os.environ.get("JUPYTER_PATH")) if p)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command,
                cwd=workdir,
                env={**os.environ, "JUPYTER_PATH": jupyter_path},  # the page template (nbchat._web)
                stdin=subprocess.DEVNULL,
                stdout=None if args.verbose else log,
                stderr=subprocess.STDOUT if not args.verbose else None,
                start_new_session=True,  # Ctrl+C reaches this process only; Voila gets a clean SIGTERM
                preexec_fn=die_with_parent,
            )
            # Ctrl+C and SIGTERM stop Voila; SIGINT explicitly: a process started in the background by a shell
            # inherits SIGINT ignored, and Python then leaves it ignored
            previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                try:
                    _wait_for_port(args.host, port, proc, _START_TIMEOUT_S)
                except CliError as exc:
                    tail = log_path.read_text(errors="replace").splitlines()[-20:]
                    raise CliError(f"{exc}:\n" + "\n".join(tail)) from None
                url = page_url(args.host, port)
                what = args.spec or "the default model"
                print(f"nbchat web: chat with {what} at\n\n    {url}\n", flush=True)
                if args.host not in ("127.0.0.1", "localhost", "::1"):
                    print(f"Listening on {args.host}: anyone who can reach this port can chat.", flush=True)
                print("Press Ctrl+C to stop.", flush=True)
                if preheat and not args.verbose:
                    threading.Thread(target=_say_when_preheated, args=(log_path, proc, preheat), daemon=True).start()
                status = proc.wait()
                if status != 0:
                    print(f"Voila stopped with status {status}; its log:", file=sys.stderr)
                    print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
                    return 1
                return 0
            except KeyboardInterrupt:
                print("\nstopping…", flush=True)
                return 0
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                _stop(proc)
    finally:
        if engine is not None:
            engine.stop()  # after Voila: its kernels have closed their connections
        shutil.rmtree(workdir, ignore_errors=True)


def _say_when_preheated(log_path: Path, proc: subprocess.Popen[bytes], preheat: int) -> None:
    """Print one line once Voila's log says its pool of preheated kernels is filled (``voila_kernel_manager.py``:
    "Kernel pool of ... is filled with N kernel(s)"); give up when Voila stops or after :data:`_START_TIMEOUT_S`."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        if "is filled with" in log_path.read_text(errors="replace"):
            print(f"nbchat web: {preheat} pages preheated for the next visitors.", flush=True)
            return
        time.sleep(0.5)


def _engine_spec(args: argparse.Namespace, cwd: Path) -> EngineSpec | None:
    """What the room's shared engine serves (:func:`nbchat._web.shared_engine_spec`), or ``None`` for no engine."""
    from ._errors import NbchatError
    from ._policy import current_policy
    from ._web import shared_engine_spec

    if args.engine != "shared" or (args.spec and split_callable(args.spec, cwd) is not None):
        return None
    try:
        default = current_policy().default_model
    except NbchatError:  # an invalid policy: the kernel reports it when the chat starts
        default = None
    return shared_engine_spec(args.spec, default)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("nbchat")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def print_environment(as_json: bool = False) -> None:
    """``nbchat env``: the versions :func:`nbchat._environment.environment` reads, one per line (or as JSON)."""
    versions = environment()
    if as_json:
        print(json.dumps(versions, indent=2))
        return
    width = max(map(len, versions))
    for name, version in versions.items():
        print(f"{name:<{width}}  {version or 'not installed'}")


def _serve_engine(args: argparse.Namespace) -> int:
    """``nbchat serve``: llama.cpp's server for a class (see :mod:`nbchat._serve`); errors printed, status 2."""
    from ._errors import NbchatError
    from ._serve import run_serve

    try:
        return run_serve(args)
    except (NbchatError, ValueError) as exc:
        print(f"nbchat serve: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nbchat`` command (and ``python -m nbchat``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "env":
        print_environment(as_json=args.json)
        return 0
    if args.command == "serve":
        return _serve_engine(args)
    if args.command != "web":
        parser.print_help()
        return 2
    try:
        backend_options(args.option)  # refuse bad options before anything starts
        if args.spec:
            split_callable(args.spec, Path.cwd())
        return serve(args)
    except CliError as exc:
        print(f"nbchat web: {exc}", file=sys.stderr)
        return 2
