"""``nbchat serve``: start llama.cpp's own server (from ``xllamacpp``) on a GGUF file, for a class on one engine.

Nothing here serves requests: llama.cpp's server does (C++, an OpenAI-compatible ``/v1`` API, continuous batching
over ``--slots`` parallel slots, each with its own key/value cache of ``--ctx-per-slot`` tokens). This module only
chooses its flags, starts it, prints the URL to give nbchat, and keeps it running until Ctrl+C::

    nbchat serve --slots 8                      # the embedded model, 8 students at a time, on 127.0.0.1:8080
    nbchat serve /models/qwen2.5-1.5b-instruct-q4_k_m.gguf --slots 16 --ctx-per-slot 4096 --host 0.0.0.0

and in each student's notebook ``nbchat.Chat("http://HOST:8080/v1")``. ``--api-key-env NAME`` requires the key in
``$NAME`` (students get it through the environment or a ``.env`` file, never in a notebook). docs/jupyterhub.md
sizes the slots for a class. The embedded model is served from its Q8_0 copy (``--requantize``, made once and cached,
see :mod:`nbchat.backends._requantize`): with several students in each batch, llama.cpp's batched kernel decodes
~1.3x the tokens/s of the shipped Q4_1 file (8 students on 2 cores: 244-278 instead of 180-210 tok/s in all).
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import Any

__all__ = ["add_serve_parser", "engine_params", "run_serve"]

DEFAULT_PORT = 8080  # llama-server's default


def add_serve_parser(sub: Any) -> None:
    """Add the ``serve`` subcommand to ``nbchat``'s subparsers ``sub``."""
    serve = sub.add_parser(
        "serve",
        help="start llama.cpp's server on a GGUF file (parallel slots, for a class) and print its URL",
        description=(
            "Start llama.cpp's own OpenAI-compatible server (the xllamacpp package) on MODEL, a .gguf file "
            "(default: the embedded model), with SLOTS conversations decoded together (continuous batching), and "
            "print the URL to pass to nbchat.Chat. Runs until Ctrl+C."
        ),
    )
    serve.add_argument("spec", nargs="?", metavar="MODEL", help="a .gguf file (default: the embedded model)")
    serve.add_argument("--slots", type=int, default=4, help="conversations decoded at the same time (default 4)")
    serve.add_argument(
        "--ctx-per-slot", type=int, default=4096, metavar="N", help="context window of each slot (default 4096)"
    )
    serve.add_argument("--threads", type=int, help="CPU threads (default: the physical cores)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    serve.add_argument("--port", "-p", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--name", help="the model's name in /v1/models (default: the file name without .gguf)")
    serve.add_argument("--api-key-env", metavar="NAME", help="require the API key in $NAME")
    serve.add_argument(
        "--requantize",
        choices=["Q8_0", "none"],
        help=(
            "serve a copy of MODEL re-quantized to Q8_0, made once and cached: a batched kernel, ~1.3x the tokens/s "
            "with 8 students (default for the embedded model; 'none' for the file as it is, the default for others)"
        ),
    )
    serve.add_argument("--gpu-layers", type=int, default=0, metavar="N", help="layers on a GPU (GPU builds; -1: all)")


def engine_params(args: argparse.Namespace) -> Any:
    """The ``xllamacpp.CommonParams`` for ``args`` (the model file resolved, slots and context set).

    Raises
    ------
    ValueError
        If ``--slots`` or ``--ctx-per-slot`` is not positive, or ``--api-key-env`` names an empty variable.
    ModelNotFoundError
        If the model file does not exist (or the embedded model is not installed).
    MissingDependencyError
        If xllamacpp is not installed.
    """
    from ._embedded import EMBEDDED_MODEL_NAME, embedded_gguf_path
    from ._errors import ModelNotFoundError
    from .backends._llama_base import physical_cores
    from .backends._requantize import engine_gguf
    from .backends.llamacpp import import_xllamacpp

    if args.slots < 1 or args.ctx_per_slot < 64:
        msg = f"--slots must be at least 1 and --ctx-per-slot at least 64, got {args.slots} and {args.ctx_per_slot}."
        raise ValueError(msg)
    if args.spec in (None, "embedded"):
        path, name = embedded_gguf_path(), args.name or EMBEDDED_MODEL_NAME
    else:
        path = Path(args.spec).expanduser()
        if not path.is_file() or path.suffix.lower() != ".gguf":
            msg = f"nbchat serve runs a .gguf file; {args.spec!r} is not one. Pass the path of a .gguf file."
            raise ModelNotFoundError(msg)
        name = args.name or path.stem
    xllamacpp = import_xllamacpp()
    # see nbchat.backends._requantize: batches of students share each matrix product
    requantize = args.requantize or ("Q8_0" if args.spec in (None, "embedded") else "none")
    weights = None if requantize == "none" else requantize
    path = engine_gguf(path, weights, progress=lambda text: print(text, flush=True))
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {name}
    params.n_parallel = args.slots
    params.n_ctx = args.slots * args.ctx_per_slot  # llama.cpp splits n_ctx evenly between the slots
    params.cont_batching = True
    threads = args.threads or physical_cores()
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
    params.n_gpu_layers = args.gpu_layers
    params.hostnames = [args.host]
    params.port = args.port
    params.fit_params = False  # the context as asked (fitting is for GPU memory)
    params.endpoint_slots = False  # /slots would show every student's prompt to anyone who can reach the port
    params.endpoint_metrics = True  # Prometheus /metrics: tokens/s, requests waiting, for the administrator
    params.verbosity = 0  # errors and warnings only
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "")
        if not key:
            msg = f"--api-key-env {args.api_key_env}: the environment variable {args.api_key_env} is empty or unset."
            raise ValueError(msg)
        params.api_keys = [key]
    return params


def run_serve(args: argparse.Namespace) -> int:
    """Start the engine, print its URL, serve until Ctrl+C, then end the process (exit status 0).

    Raises
    ------
    BackendError
        If llama.cpp cannot start (the port is taken, the file cannot be loaded).
    """
    from ._errors import BackendError
    from .backends.llamacpp import import_xllamacpp

    params = engine_params(args)
    xllamacpp = import_xllamacpp()
    started = time.perf_counter()
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as exc:
        msg = f"llama.cpp could not start on {args.host}:{args.port} with {Path(params.model.path).name}: {exc}"
        raise BackendError(msg) from exc
    url = f"{server.listening_address.rstrip('/')}/v1"
    name = next(iter(params.model_alias))
    print(f"llama.cpp serves {name} at {url}  ({args.slots} slots × {args.ctx_per_slot} tokens, "
          f"{params.cpuparams.n_threads} threads; started in {time.perf_counter() - started:.1f} s)")  # fmt: skip
    key_note = f', api_key=os.environ["{args.api_key_env}"]' if args.api_key_env else ""
    print(f'In a notebook:  nbchat.Chat("{url}"{key_note})')
    print("Ctrl+C stops it.", flush=True)
    # SIGINT stops it even when it was started in the background: such a process inherits SIGINT ignored and Python
    # leaves it so, and then `nbchat web` (which stops its engine with SIGINT) waited out its grace period and killed it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nllama.cpp stopped.", flush=True)
    # Exit without running the engine's destructor: it holds the GIL while it joins llama.cpp's threads, and xllamacpp
    # 2026.10 can wait forever on its HTTP thread there (seen when a server is freed soon after it started). The
    # system closes the port and frees the memory.
    os._exit(0)
