"""Text Generation Inference (TGI) servers through their native ``/generate_stream`` protocol.

Two ways in: a ``"tgi:http://host:8080"`` URL (spoken to with ``huggingface_hub.InferenceClient``, a dependency
of transformers), or the client object of the Gradio/Falcon lesson, ``text_generation.Client`` (or
``AsyncClient``, or a ``huggingface_hub.InferenceClient``), used as it is, headers and timeout included.

The native protocol takes one prompt string, so messages are written out with a prompt format
(:mod:`nbchat.backends.prompt_formats`). ``text-generation`` is optional and pins ``huggingface-hub<1.0``;
install it without its pins: ``pip install aiohttp && pip install --no-deps text-generation``.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from .._errors import BackendError, MissingDependencyError
from .._redact import redacting_logger
from .._settings import GenerationSettings
from .._spec import endpoint_of
from ._aio import Stopped, iterate_async
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning, StopSequenceFilter
from ._http import (
    connection_failure,
    mentions_secret,
    redact,
    secret_values,
    strip_credentials_off_origin,
    without_password,
)
from .prompt_formats import resolve_prompt_format
from .thinking import ThinkSplitter, prompt_opens_think

__all__ = ["TGIBackend", "is_tgi_client"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record

_FINISH = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


def is_tgi_client(obj: Any) -> bool:
    """True for ``text_generation.Client``/``AsyncClient`` and ``huggingface_hub.(Async)InferenceClient`` objects."""
    module = type(obj).__module__ or ""
    if module.startswith("text_generation"):
        return hasattr(obj, "generate_stream")
    return module.startswith("huggingface_hub") and hasattr(obj, "text_generation")


class TGIBackend(Backend):
    """Chat with a TGI server (or a Hugging Face Inference Endpoint running TGI), token by token.

    Parameters
    ----------
    target : str or client
        The server URL (``"http://127.0.0.1:8080"``; a leading ``"tgi:"`` is accepted), or a
        ``text_generation.Client`` / ``AsyncClient`` or ``huggingface_hub.InferenceClient`` /
        ``AsyncInferenceClient`` you already made (an async hub client is copied for each reply).
    prompt_format : str, callable or PromptFormat, default "falcon"
        How messages become the prompt: ``"falcon"`` (``System:/User:/Assistant:``, the lesson's), ``"chatml"``,
        a Jinja chat template, or ``fn(messages) -> str``. Its stop sequences are added to the chat's own.
    token : str, optional
        Hugging Face token for Inference Endpoints (URL form only). Not read implicitly: a token saved by
        ``hf auth login`` is never sent to a URL you name unless you pass it.
    headers : dict, optional
        Extra HTTP headers (URL form only; a client object keeps its own).
    timeout : float, default 120.0
        Seconds to wait for the server (URL form only).
    name : str, optional
        Model name shown in the widget. Default: ``model_id`` from the server's ``GET /info``, else the host.

    Raises
    ------
    MissingDependencyError
        URL form without ``huggingface_hub``.
    ValueError, TypeError
        For an unknown prompt format.

    Notes
    -----
    TGI refuses ``temperature=0``: greedy requests send ``do_sample=False`` and no temperature; ``top_p`` is sent
    only below 1. TGI includes stop sequences in the streamed tokens; they are cut from the reply here. Stop
    takes effect between tokens (an ``AsyncClient`` stream is cancelled at once).
    """

    kind = "tgi"

    def __init__(
        self,
        target: Any,
        *,
        prompt_format: Any = "falcon",
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 120.0,
        name: str | None = None,
    ) -> None:
        self.format = resolve_prompt_format(prompt_format)
        self._token = token
        self._headers = dict(headers or {})
        self._timeout = timeout
        if isinstance(target, str):
            self.url = target.removeprefix("tgi:").rstrip("/")
            if urlparse(self.url).scheme not in ("http", "https"):
                msg = f"TGI needs an http(s) URL such as 'tgi:http://127.0.0.1:8080', got {target!r}."
                raise ValueError(msg)
            self._client: Any = None
            _import_hub()
        elif is_tgi_client(target):
            self._client = target
            self.url = str(getattr(target, "base_url", None) or getattr(target, "model", "") or "").rstrip("/")
        else:
            msg = f"TGIBackend takes a URL or a text_generation Client/AsyncClient, got {type(target).__name__}."
            raise TypeError(msg)
        self._secrets = secret_values([token, *self._headers.values(), *_client_headers(self._client).values()])
        self._named = name is not None
        self.model = name or urlparse(self.url).netloc or "tgi"

    # ------------------------------------------------------------------ loading
    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Read model id and token limit from ``GET /info`` (best effort: failures only leave them unknown)."""
        import httpx  # huggingface_hub's own HTTP library

        headers = {**_client_headers(self._client), **self._headers}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        guard = strip_credentials_off_origin(self.url, headers)  # a redirect to another host gets no credentials
        try:
            with httpx.Client(
                follow_redirects=True, timeout=min(self._timeout, 10.0), event_hooks={"request": [guard]}
            ) as http:
                response = http.get(f"{self.url}/info", headers=headers)
                response.raise_for_status()
                info = response.json()
        except Exception:
            logger.debug("no model info from %s/info", without_password(self.url), exc_info=True)
            return
        if not isinstance(info, dict):
            return
        if not self._named and info.get("model_id"):
            self.model = str(info["model_id"])
        if info.get("max_total_tokens"):
            self.context_window = int(info["max_total_tokens"])

    # ------------------------------------------------------------------ generation
    def render(self, messages: list[Message]) -> str:
        """The prompt sent for ``messages`` (see ``prompt_format``)."""
        return self.format.render(messages)

    def _call(self, prompt: str, settings: GenerationSettings, stops: list[str]) -> tuple[Any, Any]:
        """Start generation: (an iterator, or a coroutine function giving an async iterator; async cleanup)."""
        sampling: dict[str, Any] = {"do_sample": not settings.greedy}
        if not settings.greedy:
            sampling["temperature"] = settings.temperature
            if settings.top_p < 1.0:
                sampling["top_p"] = settings.top_p
        kwargs = {"max_new_tokens": settings.max_new_tokens, **sampling}
        client = self._client
        if client is None or type(client).__name__ == "AsyncInferenceClient":
            # huggingface_hub's async client, so that Stop can cancel at once; a fresh one per reply, because its
            # connections belong to this reply's event loop
            from huggingface_hub import AsyncInferenceClient

            if client is None:
                # authorization=None keeps huggingface_hub from sending a saved token to this URL
                auth: dict[str, str | None] = {"authorization": f"Bearer {self._token}" if self._token else None}
                headers: dict[str, str | None] = {**self._headers, **auth}
                # huggingface_hub's annotation says dict[str, str]; None is how a caller removes a header there
                hub = AsyncInferenceClient(base_url=self.url, headers=headers, timeout=self._timeout)  # type: ignore[arg-type]
            else:
                hub = AsyncInferenceClient(
                    model=client.model, token=client.token, headers=dict(client.headers), timeout=client.timeout
                )

            async def start() -> Any:
                return await hub.text_generation(prompt, stream=True, details=True, stop=stops, **kwargs)

            return start, hub.close
        if type(client).__module__.startswith("huggingface_hub"):
            events = client.text_generation(prompt, stream=True, details=True, stop=stops, **kwargs)
        else:
            events = client.generate_stream(prompt, stop_sequences=stops, **kwargs)
        if inspect.isawaitable(events) or hasattr(events, "__anext__"):  # AsyncClient, AsyncInferenceClient

            async def start_async() -> Any:
                return (await events) if inspect.isawaitable(events) else events

            return start_async, None
        return events, None

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning]:
        """Stream tokens from ``generate_stream`` (see :meth:`Backend.stream`); ``<think>`` blocks become reasoning.

        Raises
        ------
        BackendError
            Connection refused, HTTP errors, validation errors (422) and error events mid-stream, with what to do.
        """
        prompt = self.render(messages)
        info.prompt = prompt
        if settings.thinking is not None:
            info.notice = (
                f"thinking={settings.thinking} was not applied: TGI takes a raw prompt, and nbchat's prompt formats "
                "have no thinking switch; the model decides."
            )
        stops = list(dict.fromkeys([*settings.stop, *self.format.stop]))
        stop = StopSequenceFilter(stops)
        splitter = ThinkSplitter(opened=prompt_opens_think(prompt))
        events: Any = None
        started = False
        try:
            events, cleanup = self._call(prompt, settings, stops)
            if callable(events):
                events = iterate_async(events, cancel, cleanup)
            for event in events:
                if cancel.is_set():
                    return
                token = event.token
                text = "" if token.special else token.text
                if not started and text:
                    text, started = text.lstrip(" "), True  # the prompt ends in "Assistant:", the reply in " ..."
                out = stop.feed(text) if text else ""
                if out:
                    yield from splitter.feed(out)
                if event.details is not None:
                    reason = getattr(event.details.finish_reason, "value", event.details.finish_reason)
                    info.finish_reason = _FINISH.get(str(reason), str(reason))
                    info.completion_tokens = event.details.generated_tokens
                if stop.stopped:
                    info.finish_reason = "stop"
                    break
            yield from splitter.feed(stop.flush())
            yield from splitter.flush()
        except Stopped:
            return
        except Exception as exc:  # noqa: BLE001 - every client error becomes a BackendError with advice
            if cancel.is_set():
                return
            status = getattr(getattr(exc, "response", None), "status_code", None)
            busy = status in (502, 503, 504) or type(exc).__name__ in ("OverloadedError", "ShardNotReadyError")
            refused = connection_failure(exc) == "refused"
            brief = "connection refused" if refused else f"server busy ({status})" if status else "server busy"
            raise BackendError(self._explain(exc), retryable=not started and (busy or refused), brief=brief) from (
                None if mentions_secret(exc, self._secrets) else exc
            )
        finally:
            if events is not None and hasattr(events, "close"):
                with contextlib.suppress(Exception):
                    events.close()

    def _explain(self, exc: BaseException) -> str:
        """What went wrong and what to do, from the client's exception; secrets removed."""
        name = type(exc).__name__
        detail = str(exc) or name
        status = getattr(getattr(exc, "response", None), "status_code", None)
        where = f"TGI at {self.url}"
        if name in ("ValidationError", "BadRequestError") or status == 422:
            msg = (
                f"{where} rejected the request: {detail}. Lower max_new_tokens, or clear the chat/turn history "
                "off if the prompt is too long (prompt + max_new_tokens must fit the server's max_total_tokens)."
            )
        elif name in ("OverloadedError", "RateLimitExceededError") or status == 429:
            msg = f"{where} is overloaded or rate-limiting ({detail}). Wait a moment and send again."
        elif name in ("ShardNotReadyError", "ShardTimeoutError") or status in (503, 504):
            msg = f"{where} is not ready or timed out ({detail}); the model may still be loading. Send again soon."
        elif name in ("GenerationError", "IncompleteGenerationError", "UnknownError"):
            msg = f"{where} failed while generating: {detail}. Send again; if it persists, check the server's log."
        elif name == "NotFoundError" or status == 404:
            msg = f"Nothing at {self.url} (404: {detail}). Check the URL: it is the server's root, without a path."
        elif status in (401, 403):
            msg = f"{where} refused the credentials (HTTP {status}). Check token= or the Authorization header."
        elif "timeout" in name.lower() or "timed out" in detail.lower():
            msg = f"{where} did not answer in time ({detail}). Send again, or pass a longer timeout."
        elif isinstance(exc, (ConnectionError, OSError)) or "connect" in name.lower() or "connection" in detail.lower():
            msg = (
                f"Could not reach or lost {where} ({name}: {detail}). Check that the server is running and the URL "
                "is right, then send again; any partial reply is kept."
            )
        else:
            msg = f"{where} failed: {name}: {detail}"
        return redact(msg, self._secrets)

    def policy_identities(self) -> list[str]:
        """``tgi:`` and the normal form of the server URL requests go to (see :func:`nbchat._spec.endpoint_of`)."""
        try:
            return [f"tgi:{endpoint_of(self.url)}"]
        except ValueError:  # a client object with a model id instead of a URL (huggingface_hub's hosted inference)
            return [f"tgi:{self.url}"]

    def describe(self) -> dict[str, Any]:
        """Backend, model, context window, server URL and prompt format; never tokens or headers."""
        return {**super().describe(), "url": self.url, "prompt_format": self.format.name}


def _import_hub() -> None:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError as exc:
        msg = "TGI URLs need huggingface_hub: pip install huggingface_hub"
        raise MissingDependencyError(msg) from exc


def _client_headers(client: Any) -> dict[str, str]:
    headers = getattr(client, "headers", None) if client is not None else None
    return {k: str(v) for k, v in (headers or {}).items() if v is not None}
