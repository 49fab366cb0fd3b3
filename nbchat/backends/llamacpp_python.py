"""Local GGUF models run by llama.cpp through llama-cpp-python (optional: it compiles llama.cpp when installed).

nbchat's default llama.cpp engine is :mod:`nbchat.backends.llamacpp` (prebuilt ``xllamacpp`` wheels). This one,
``backend="llama-cpp-python"``, runs the same GGUF files through llama-cpp-python's ``Llama`` where that package is
installed and ``xllamacpp`` is not (or when asked for by name).

On a CPU, decoding one token reads every weight once, so its speed is bounded by memory bandwidth divided by the
bytes of the weights. A 4-bit GGUF file is about a sixth of the float32 weights transformers computes with, and
llama.cpp reads it as is, so the same model decodes several times faster here than through transformers.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from .._errors import BackendError
from ._base import GenerationInfo, Message, StopSequenceFilter
from ._llama_base import EnginePackage, LlamaCppBase, SharedEngine
from .harmony import template_is_harmony
from .thinking import template_with_thinking

__all__ = [
    "INSTALL_COMMAND",
    "LLAMA_CPP_PYTHON",
    "LlamaCppPythonBackend",
    "llama_cpp_python_available",
    "require_llama_cpp_python",
]


# The portable build: the default native build (-march=native, AVX-512, AMX) compiles on some virtual machines
# and then crashes at the first generated token; AVX2 kernels are as fast for decoding, which is bandwidth-bound.
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF"
INSTALL_COMMAND = f"CMAKE_ARGS=\"{CMAKE_ARGS}\" pip install 'nbchat[llama-cpp-python]'"
_PREFILL_CHUNK = 4  # tokens per llama.cpp call when prefilling a draft: a sent question waits for one chunk at most


LLAMA_CPP_PYTHON = EnginePackage(
    module="llama_cpp",
    name="llama-cpp-python",
    install=INSTALL_COMMAND,
    missing=(
        "backend='llama-cpp-python' needs llama-cpp-python, which compiles llama.cpp when installed "
        f"(about 5 to 10 minutes on 2 cores):\n    {INSTALL_COMMAND}\n"
        "The CMAKE_ARGS build portable CPU kernels (the default native build can crash on virtual machines). "
        "Or use nbchat's default llama.cpp engine, backend='llama.cpp' (prebuilt xllamacpp, no compiler)."
    ),
)
"""The engine's package: llama-cpp-python, compiled when installed."""


def llama_cpp_python_available() -> bool:
    """True when llama-cpp-python is installed (checked without importing it: importing loads the library)."""
    return LLAMA_CPP_PYTHON.available()


def require_llama_cpp_python() -> None:
    """Raise :class:`MissingDependencyError` with the install command when llama-cpp-python is not installed."""
    LLAMA_CPP_PYTHON.require()


class _Model(SharedEngine):
    """One loaded ``llama_cpp.Llama`` (model and context)."""

    def __init__(self, llm: Any) -> None:
        super().__init__(int(llm.n_ctx()))
        self.llm = llm

    def close(self) -> None:
        """Free the model while llama_cpp is still importable (``Llama.__del__`` at interpreter teardown fails
        noisily)."""
        with contextlib.suppress(Exception):
            self.llm.close()


class LlamaCppPythonBackend(LlamaCppBase[_Model]):
    """A GGUF chat model run in this kernel by llama.cpp through llama-cpp-python.

    Parameters, attributes and sharing: those of :class:`~nbchat.backends._llama_base.LlamaCppBase` (``source``,
    ``name``, ``n_ctx``, ``n_threads``, ``n_gpu_layers`` for a GPU build of llama-cpp-python, ``seed``,
    ``prefix_cache``, ``requantize``).

    Notes
    -----
    The chat template is rendered by llama-cpp-python's ``Jinja2ChatFormatter`` and the reply generated token by
    token with ``Llama.generate``; Stop is checked between tokens.

    No tool calls (``tool_calls = False``: a conversation with ``tools=`` refuses before sending and names the
    backends that can): llama-cpp-python reads calls only with its own chat handlers (``chatml-function-calling``,
    functionary), which replace the GGUF's chat template and its tool format, and has no parser for the formats
    models write (Hermes/Qwen ``<tool_call>``, Llama 3.x, Mistral, harmony). nbchat's default engine,
    ``backend="llama.cpp"`` (xllamacpp), has llama.cpp's own parsers and grammars for them.
    """

    kind = "llama-cpp-python"
    package = LLAMA_CPP_PYTHON
    tool_calls = False  # see the class notes
    _formatter: Any = None  # llama_cpp's Jinja2ChatFormatter for the file's chat template (read by prepare)
    _thinking_formatters: dict[bool, Any]  # enable_thinking True/False, for templates that take it
    _bos_text = ""
    _add_bos = False

    # ------------------------------------------------------------------ loading
    def _start(self, n_ctx: int) -> _Model:
        """A ``llama_cpp.Llama`` for this file (memory-mapped: loading reads only the header, ~0.2 s)."""
        llama_cpp = LLAMA_CPP_PYTHON.load()
        try:
            llm = llama_cpp.Llama(
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
        return _Model(llm)

    def _loaded(self, meta: dict[str, Any]) -> None:
        """Build the chat template's formatters with the vocabulary's BOS and EOS texts."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self._engine.llm
        template = str(self._template)
        bos, eos = llm.token_bos(), llm.token_eos()
        self._bos_text = llm._model.token_get_text(bos) if bos >= 0 else ""
        eos_text = llm._model.token_get_text(eos) if eos >= 0 else ""
        self._formatter = Jinja2ChatFormatter(template, eos_token=eos_text, bos_token=self._bos_text)
        if self._takes_thinking:  # llama.cpp's formatter takes no extra variables: one per setting
            self._thinking_formatters = {
                on: Jinja2ChatFormatter(
                    template_with_thinking(template, on), eos_token=eos_text, bos_token=self._bos_text
                )
                for on in (True, False)
            }
        self._add_bos = bos >= 0 and bool(llm._model.add_bos_token())

    # ------------------------------------------------------------------ prompts
    def _render(self, messages: list[Message], thinking: bool | None = None) -> str:
        """The prompt text: the GGUF's chat template applied to ``messages`` by llama-cpp-python's formatter,
        ending with the assistant's turn; ``thinking`` sets the template's ``enable_thinking`` where it reads one."""
        use = self._thinking_formatters[thinking] if thinking is not None and self._takes_thinking else self._formatter
        return str(use(messages=messages).prompt)

    def _text_tokens(self, text: str) -> list[int]:
        return list(self._engine.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt_tokens(self, prompt: str, cached: list[tuple[str, list[int]]]) -> list[int]:
        """The prompt's tokens with llama-cpp-python's tokenizer (~7 ms for 2,000 tokens; ``cached`` is not used)."""
        # BOS only when the model wants one and the template did not write it (as llama.cpp's server does)
        add_bos = self._add_bos and not (self._bos_text and prompt.startswith(self._bos_text))
        return list(self._engine.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))

    def _prefill(self, shared: _Model, tokens: list[int], cancel: threading.Event) -> int | None:
        """Evaluate the tokens after the prefix already in the context, :data:`_PREFILL_CHUNK` at a time."""
        llm = shared.llm
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

    # ------------------------------------------------------------------ generation
    def _generate(
        self, shared: _Model, request: dict[str, Any], info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str]:
        """The token loop of ``Llama.generate`` on the request's fields; runs holding the model's lock."""
        llama_cpp = LLAMA_CPP_PYTHON.load()
        llm = shared.llm
        tokens, max_new = request["prompt"], request["max_tokens"]
        if not self.prefix_cache:
            llm.reset()
        cached = _reused_prefix(llm, tokens)
        info.cached_tokens = cached or None
        llm.set_seed(request["seed"])
        # llama-cpp-python's names for the request's sampling fields (temp, not temperature)
        sampling = {"temp": request["temperature"]}
        sampling.update({name: request[name] for name in ("top_p", "top_k", "min_p") if name in request})
        is_eog = _eog_check(llama_cpp, llm)
        harmony = template_is_harmony(self._template)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # a character may span tokens
        stop = StopSequenceFilter(request["stop"])
        count, finish = 0, None
        if "json_schema" in request:  # a structured reply: llama.cpp's grammar from the JSON schema
            sampling["grammar"] = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(request["json_schema"]),
                                                                           verbose=False)  # fmt: skip
        generator = llm.generate(tokens, typical_p=1.0, repeat_penalty=request["repeat_penalty"], **sampling)
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
