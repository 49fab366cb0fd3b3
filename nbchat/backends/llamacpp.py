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

import functools
import json
import queue
import secrets
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

from .._errors import BackendError
from .._settings import GenerationSettings
from ._base import GenerationInfo, Message, Reasoning, ToolCallDelta
from ._gguf_tokens import SpecialTokens, common_prefix, gguf_metadata
from ._llama_base import (
    DEFAULT_MAX_CONTEXT,
    SMALL_MODEL_BYTES,
    EnginePackage,
    LlamaCppBase,
    RecentCache,
    SharedEngine,
    checked_gguf,
    decode_threads,
    physical_cores,
)
from ._llama_tools import call_schema, chunk_deltas, generic_messages, read_generic, tool_messages
from .harmony import template_is_harmony

__all__ = [  # the file checks and thread counts live in _llama_base; named here too, where they were first
    "DEFAULT_MAX_CONTEXT",
    "INSTALL_COMMAND",
    "SMALL_MODEL_BYTES",
    "XLLAMACPP",
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
_RENDER_CACHE_SIZE = 8  # chat-template renderings kept (see LlamaCppBackend._render)
_N_BATCH = 256  # prompt tokens per llama.cpp batch: Stop during a long prompt waits for one batch at most
_END = object()  # end of a request's chunks, in the queue between the request thread and the stream


XLLAMACPP = EnginePackage(
    module="xllamacpp",
    name="xllamacpp",
    install=INSTALL_COMMAND,
    missing=(
        "The llama.cpp backend needs the xllamacpp package (prebuilt llama.cpp, no compiler; nbchat depends on "
        f"it, so this install is incomplete):\n    {INSTALL_COMMAND}\nOr run the model with backend='transformers'."
    ),
)
"""The engine's package: prebuilt wheels of llama.cpp's server (no type information shipped)."""


def llama_cpp_available() -> bool:
    """True when ``xllamacpp`` is installed (checked without importing it: importing loads the library)."""
    return XLLAMACPP.available()


def require_xllamacpp() -> None:
    """Raise :class:`MissingDependencyError` with the install command when ``xllamacpp`` is not installed."""
    XLLAMACPP.require()


def import_xllamacpp() -> Any:
    """The ``xllamacpp`` module (see :meth:`EnginePackage.load` for the errors raised)."""
    return XLLAMACPP.load()


class _Server(SharedEngine):
    """One llama.cpp engine (an ``xllamacpp.Server`` with one slot of ``n_ctx`` tokens), listening on ``url``
    (127.0.0.1, for its chat template and tokenizer endpoints) behind the random API ``key`` it was started with."""

    def __init__(self, n_ctx: int, server: Any, url: str, key: str) -> None:
        super().__init__(n_ctx)
        self.server = server
        self.url = url
        self.key = key

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

    def close(self) -> None:
        """Stop the engine's loop (a request still running is left alone: see :class:`SharedEngine`)."""
        self.server = None  # xllamacpp.Server's destructor ends its loop thread


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly, never through a proxy


class LlamaCppBackend(LlamaCppBase[_Server]):
    """A GGUF chat model run in this kernel by llama.cpp's server engine (the ``xllamacpp`` package).

    Parameters, attributes and sharing: those of :class:`~nbchat.backends._llama_base.LlamaCppBase` (``source``,
    ``name``, ``n_ctx``, ``n_threads``, ``n_gpu_layers`` for a GPU build of xllamacpp, ``seed``, ``prefix_cache``,
    ``requantize``).

    Notes
    -----
    The engine renders the chat template and tokenizes (its ``/apply-template`` and ``/tokenize``), and streams a
    ``/v1/completions`` request; Stop is checked between tokens, and between batches of :data:`_N_BATCH` prompt
    tokens.
    """

    kind = "llama.cpp"
    package = XLLAMACPP
    tool_calls = True
    _tools: tuple[dict[str, Any], ...] = ()  # the tools of the last reply, rendered into later prompts too
    _tool_section: bool | None = None  # whether the chat template renders tools (asked of llama.cpp once)
    _special: SpecialTokens | None = None  # the vocabulary's special tokens (read by prepare)
    _head: int | None = None  # tokens /tokenize adds before a text (BOS); None: unknown, or it adds an EOS
    _progress_request = True  # ask llama.cpp for a chunk per prompt batch, so that Stop reaches a long prompt

    @functools.cached_property
    def _render_cache(self) -> RecentCache[str]:
        """``/apply-template`` body (JSON) -> prompt: a send renders the same messages twice (context window, then
        stream), 1.5-2.5 ms each for 9.5 kB."""
        return RecentCache(_RENDER_CACHE_SIZE)

    # ------------------------------------------------------------------ loading
    def _start(self, n_ctx: int) -> _Server:
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
        return _Server(n_ctx, server, url=str(server.listening_address).rstrip("/"), key=key)

    def _loaded(self, meta: dict[str, Any]) -> None:
        """Keep the vocabulary's special tokens and ask the engine what it adds before a text (see
        :meth:`_tokens_after`)."""
        self._special = SpecialTokens(meta["special_tokens"])
        self._head = self._added_tokens()

    # ------------------------------------------------------------------ prompts
    def _render(self, messages: list[Message], thinking: bool | None = None) -> str:
        """The prompt text: the GGUF's chat template applied to ``messages`` by llama.cpp, ending with the
        assistant's turn (the same rendering llama.cpp's server gives ``/v1/chat/completions``).

        ``thinking`` sets the template's ``enable_thinking`` where it reads one (see :mod:`nbchat.backends.thinking`).
        The tools of the last reply (:attr:`_tools`) are rendered too, by the template's tool section or, for a
        template without one, in the messages (:func:`~nbchat.backends._llama_tools.generic_messages`): a
        conversation keeps its tools, so the next prompt counted or prefilled is the one its reply will use.
        """
        tools = self._tools
        if tools and not self._renders_tools():
            messages, tools = generic_messages(messages, tools), ()
        body: dict[str, Any] = {"messages": tool_messages(messages)}
        if tools:
            body["tools"] = list(tools)
        if thinking is not None and self._takes_thinking:
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
        key = json.dumps(body, sort_keys=True)
        prompt = self._render_cache.get(key)
        if prompt is None:
            prompt = str(self._engine.post("/apply-template", body)["prompt"])
            self._render_cache.put(key, prompt)
        return prompt

    def _renders_tools(self) -> bool:
        """True when the chat template has a tool section: llama.cpp renders a message with a tool and without one
        differently (asked once per model)."""
        if self._tool_section is None:
            probe: dict[str, Any] = {"messages": [{"role": "user", "content": "?"}]}
            tool = {"type": "function", "function": {"name": "probe", "parameters": {"type": "object"}}}
            plain = self._engine.post("/apply-template", probe)["prompt"]
            self._tool_section = self._engine.post("/apply-template", {**probe, "tools": [tool]})["prompt"] != plain
        return self._tool_section

    def _text_tokens(self, text: str) -> list[int]:
        body = {"content": text, "add_special": False, "parse_special": False}
        return [int(t) for t in self._engine.post("/tokenize", body)["tokens"]]

    def _prompt_tokens(self, prompt: str, cached: list[tuple[str, list[int]]]) -> list[int]:
        """The prompt's tokens as llama.cpp's server tokenizes a prompt (special tokens parsed, BOS if the model
        wants one).

        A new prompt usually starts like one already tokenized (the next turn's start, prefilled while the user
        reads; the previous turn): then only its end after the last special token they share is sent to llama.cpp
        (see :meth:`SpecialTokens.split`). Its tokenizer reads ~2 MB/s: 5.6 ms for turn 11 of a ~2,000-token
        conversation, 0.4 ms for the new question and the template's tokens around it.
        """
        return self._tokens_after(cached, prompt) or self._post_tokenize(prompt, add_special=True)

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

    def _prefill(self, shared: _Server, tokens: list[int], cancel: threading.Event) -> int | None:
        """One greedy token after the prompt: llama.cpp evaluates the prompt into the slot's cache (its prompt cache:
        only the tokens after the common prefix), :data:`_N_BATCH` at a time; the sampled token is not evaluated, so
        the cache holds exactly the prompt."""
        request = {"prompt": tokens, "max_tokens": 1, "temperature": 0.0, "cache_prompt": True}
        done: dict[str, Any] = {}
        for chunk in _run(shared.server, request, cancel, self._progress_request):
            done = chunk
        timings = done.get("timings") or {}
        if not timings:
            return None
        return int(timings.get("cache_n", 0)) + int(timings.get("prompt_n", 0))

    # ------------------------------------------------------------------ generation
    def _request(
        self, messages: list[Message], tokens: list[int], settings: GenerationSettings, n_ctx: int
    ) -> dict[str, Any]:
        """The base request (:meth:`LlamaCppBase._request`) with the server's prompt cache and timings; ``stop``:
        llama.cpp holds back text that may start one, and never sends it. With tools, the JSON schema of a call
        where the reply is grammar-constrained (see :meth:`_tool_schema`)."""
        request = {
            **super()._request(messages, tokens, settings, n_ctx),
            "cache_prompt": self.prefix_cache,
            "timings_per_token": True,  # each chunk says how many tokens so far, also for a stopped reply
            "return_progress": self._progress_request,
        }
        schema = self._tool_schema(settings)
        if schema is not None:
            request["json_schema"] = schema  # llama.cpp makes it a grammar (tools/server/README.md)
        return request

    # ------------------------------------------------------------------ tools
    def _tool_schema(self, settings: GenerationSettings) -> dict[str, Any] | None:
        """The JSON schema the reply is constrained to (:func:`~nbchat.backends._llama_tools.call_schema`), or
        ``None`` when it is free: without tools, with ``tool_choice="none"``, and where the template has a tool
        section and no call is required (llama.cpp's own parser reads the calls, see :meth:`_stream_chat`)."""
        if not settings.tools or settings.tool_choice == "none":
            return None
        native = self._renders_tools()
        if native and settings.tool_choice != "required":
            return None
        return call_schema(settings.tools, required=settings.tool_choice == "required", wrapped=not native)

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """Stream the reply (see :meth:`LlamaCppBase.stream`); with ``settings.tools``, also the calls the model
        asks for, as :class:`~nbchat.backends.ToolCallDelta` items (see :mod:`nbchat.backends._llama_tools`): read
        by llama.cpp's chat parser as they are written where the chat template has a tool section, else (and for
        ``tool_choice="required"``) from a grammar-constrained JSON reply when it is complete.

        Raises
        ------
        BackendError
            As :meth:`LlamaCppBase.stream`.
        """
        self._tools = settings.tools
        if not settings.tools:
            yield from super().stream(messages, settings, info, cancel)
        elif self._tool_schema(settings) is not None:
            yield from self._stream_constrained(messages, settings, info, cancel)
        elif self._renders_tools():
            yield from self._stream_chat(messages, settings, info, cancel)
        else:  # no tool section, tool_choice "none": a plain reply to the prompt with the tools described
            yield from super().stream(messages, settings, info, cancel)

    def _stream_constrained(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """A grammar-constrained reply (:meth:`_tool_schema`), read when complete: a call, or the answer text."""
        parts: list[str] = []
        for piece in super().stream(messages, settings, info, cancel):
            if isinstance(piece, str):
                parts.append(piece)
            else:
                yield piece
        said = read_generic("".join(parts), wrapped=not self._renders_tools())
        if isinstance(said, ToolCallDelta):
            if info.finish_reason == "stop":
                info.finish_reason = "tool_calls"
            yield said
        elif said:
            yield said

    def _stream_chat(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """The reply through llama.cpp's chat-completions path: the template renders the tools and llama.cpp's
        parser for its format reads the calls as they stream (``delta.tool_calls``), the reasoning
        (``delta.reasoning_content``) and the answer. The prompt is the one :meth:`_render` gives, so the prompt
        cache reuses the previous round's tokens."""
        shared, _, request = self._prompt_request(messages, settings, info)
        del request["prompt"], request["return_progress"]
        request.update(messages=tool_messages(messages), tools=list(settings.tools))
        if settings.tool_choice is not None:
            request["tool_choice"] = settings.tool_choice
        if settings.parallel_tool_calls is not None:
            request["parallel_tool_calls"] = settings.parallel_tool_calls
        if settings.thinking is not None and self._takes_thinking:
            request["chat_template_kwargs"] = {"enable_thinking": settings.thinking}
        if not self._take_engine(shared, cancel):
            return
        try:
            yield from self._generate_chat(shared, request, info, cancel)
        finally:
            shared.lock.release()

    def _generate_chat(
        self, shared: _Server, request: dict[str, Any], info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """The chunk loop of a chat-completions request; runs holding the engine's lock."""
        timings: dict[str, Any] = {}
        finish = None
        try:
            for chunk in _run(shared.server, request, cancel, progress=False, chat=True):
                timings = chunk.get("timings") or timings
                for choice in (chunk.get("choices") or [])[:1]:
                    delta = choice.get("delta") or {}
                    if delta.get("reasoning_content"):
                        yield Reasoning(str(delta["reasoning_content"]))
                    yield from chunk_deltas(delta)
                    if delta.get("content"):
                        yield str(delta["content"])
                    finish = choice.get("finish_reason") or finish
        finally:
            info.completion_tokens = int(timings["predicted_n"]) if "predicted_n" in timings else None
            if self.prefix_cache and timings:
                info.cached_tokens = int(timings.get("cache_n", 0)) or None
            info.finish_reason = finish if finish in ("stop", "length", "tool_calls") else None

    def _generate(
        self, shared: _Server, request: dict[str, Any], info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str]:
        """The chunk loop of a ``/v1/completions`` request; runs holding the engine's lock."""
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


def _run(
    server: Any, request: dict[str, Any], cancel: threading.Event, progress: bool, *, chat: bool = False
) -> Iterator[dict[str, Any]]:
    """The chunks of one ``/v1/completions`` request (``/v1/chat/completions`` with ``chat``) to ``server``, as
    dicts, while it streams.

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
            (server.handle_chat_completions if chat else server.handle_completions)(body, on_chunk)
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
