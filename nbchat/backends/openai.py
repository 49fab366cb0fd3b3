"""OpenAI-compatible chat servers (vLLM, FastChat, ``transformers serve``, ...) and online APIs, via ``openai``."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from .._errors import BackendError, MissingDependencyError
from .._redact import redacting_logger
from .._settings import GenerationSettings
from .._spec import endpoint_of
from ._base import Backend, GenerationInfo, Message, ProgressCallback, Reasoning, StopSequenceFilter, ToolCallDelta
from ._http import (
    ConnectionTracker,
    connection_failure,
    mentions_secret,
    redact,
    retry_after_seconds,
    root_cause,
    secret_values,
    server_detail,
    strip_credentials_off_origin,
    url_secrets,
    without_password,
)
from .sources import SOURCES, Source, get_source, server_key, source_credentials

__all__ = ["OpenAIBackend"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record

PLACEHOLDER_KEY = "not-needed"
"""Sent to servers that need no key (local servers ignore it; the ``openai`` client insists on one)."""

_MAX_SERVER_STOPS = 4  # the OpenAI API takes at most 4 stop sequences; the rest are cut locally


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        msg = "OpenAI-compatible servers and online sources need the openai package: pip install 'nbchat[openai]'"
        raise MissingDependencyError(msg) from exc
    return openai


class OpenAIBackend(Backend):
    """Chat through an OpenAI-compatible ``/v1/chat/completions`` endpoint, streaming.

    Parameters
    ----------
    model : str, optional
        Model name as the server knows it. Default: the source's default model for ``source=``; for a plain
        server, the first model its ``GET /models`` lists (asked in :meth:`prepare`).
    base_url : str, optional
        Endpoint ending in the API version, e.g. ``"http://127.0.0.1:8000/v1"``. Required unless ``source`` or
        ``client`` is given; for a source it overrides the preset (as does ``$NBCHAT_<SOURCE>_BASE_URL``).
    api_key : str, optional
        Default, for a source: ``$NBCHAT_<SOURCE>_API_KEY`` or the source's own variables (e.g.
        ``$MOONSHOT_API_KEY``), from the environment, else from the nearest ``.env`` file. For a plain server:
        ``$NBCHAT_API_KEY``, else the placeholder ``"not-needed"`` (local servers ignore it). ``$OPENAI_API_KEY``
        is deliberately not used for servers you name by URL: it would send your OpenAI key to that host. Where
        a key may go is decided by :func:`nbchat.backends.sources.source_credentials` and
        :func:`~nbchat.backends.sources.server_key`: a key from the environment or ``.env`` never goes to a base
        URL from a less trusted place. Kept in a private attribute; never shown by ``repr``, :meth:`describe` or
        error messages, and dropped from any request redirected to another host.
    client : openai.OpenAI, optional
        A client you already have; ``base_url``, ``api_key`` and ``timeout`` are then its own. Replies are
        requested through a copy with ``max_retries=0`` (the conversation retries; see ``max_retries``).
    source : str or Source, optional
        An online source from :data:`nbchat.backends.sources.SOURCES` (``"openai"``, ``"kimi"``, ...).
    timeout : float, default 60.0
        Seconds to wait for the server (connect, and between streamed chunks).
    max_retries : int, default 0
        Silent retries inside the ``openai`` client, for ``GET /models`` only. Replies are never retried by the
        client: the conversation retries them itself (``Conversation(retries=2)``), only before any text arrived,
        and shows the wait in the chat; client retries on top would multiply the attempts.
    context_window : int, optional
        Prompt plus reply limit in tokens, if you know it; ``None`` (unknown) by default.
    headers : dict, optional
        Extra HTTP headers for every request (their values are kept out of messages, like the key).
    extra_body : dict, optional
        Extra JSON fields for every request (e.g. ``{"top_k": 20}`` for vLLM).
    origin : {"code", "environment", "file", "browser"}, default "code"
        Where ``base_url`` (or the spec that gave it) came from: a conversation file or a widget message never
        receives a key from the environment or ``.env`` (see :data:`nbchat.backends.sources.ORIGINS`).
    send_reasoning : bool, default False
        Send earlier replies' reasoning back as ``reasoning_content`` in the history. Off by default: the model
        makers advise against it, and DeepSeek's API rejects such a request (400). Only for a model that wants it.
    tokenizer : str, os.PathLike, object or callable, optional
        Counts tokens where the server reports no usage (FastChat): the served model's directory or hub id (its
        tokenizer is loaded with transformers from local files, at the first count), an object with
        ``encode(text) -> list`` (a Hugging Face tokenizer), or a callable ``text -> int``. Without one, such
        counts are estimated (one streamed chunk = one token) and marked so in the stats.

    Raises
    ------
    MissingDependencyError
        If the ``openai`` package is missing (``pip install 'nbchat[openai]'``).
    BackendError
        For a source: no API key found (the message names the variables and ``.env``), unknown source, no
        model given where the source has no default (doubao), or a key that would go to a base URL set in a less
        trusted place than the key (the message says how to pass both).

    Notes
    -----
    Stop closes the HTTP response, also while waiting for the first chunk, so the server sees the client leave.
    Token counts come from the server's ``usage`` (asked for with ``stream_options.include_usage``; a request is
    sent again without it only if the server rejects that field with a 400 that names it).

    Reasoning streams in ``delta.reasoning_content`` (DeepSeek, Qwen/DashScope, Kimi, GLM, llama.cpp's server with
    ``--reasoning-format``) or ``delta.reasoning`` (vLLM, SGLang, OpenRouter); both become :class:`Reasoning`
    deltas, and ``usage.completion_tokens_details.reasoning_tokens`` the reply's thinking tokens.

    ``thinking=`` (``GenerationSettings.thinking``) is sent as the source's own switch (see
    :attr:`nbchat.backends.sources.Source.thinking`); to a plain server (vLLM, SGLang, llama.cpp's server) as
    ``chat_template_kwargs: {"enable_thinking": ...}``, which they hand to the model's chat template.

    Tools (``settings.tools``, set by a conversation with ``tools=``) are sent as ``tools``, with ``tool_choice`` and
    ``parallel_tool_calls`` when set; the calls stream back in ``delta.tool_calls`` and are yielded as
    :class:`~nbchat.backends.ToolCallDelta` items (finish reason ``"tool_calls"``). Whether a plain server's model
    can call tools is unknown until it answers (vLLM needs ``--enable-auto-tool-choice``; a server that cannot says
    so in a 400, shown in the chat).

    A structured reply (``settings.response_format``, from ``Conversation.ask(..., schema=)``) is sent as
    ``response_format`` as it is (OpenAI, vLLM, SGLang and llama.cpp's server constrain the reply to the schema);
    a server that ignores it is caught when the reply is validated.
    """

    kind = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        source: str | Source | None = None,
        timeout: float = 60.0,
        max_retries: int = 0,
        context_window: int | None = None,
        headers: dict[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        origin: str = "code",
        send_reasoning: bool = False,
        tokenizer: Any = None,
    ) -> None:
        openai = _import_openai()
        self.send_reasoning = bool(send_reasoning)
        self._tokenizer = tokenizer
        source_ = get_source(source) if isinstance(source, str) else source
        self.thinking_switch = (
            source_.thinking_help
            if source_ is not None
            else "chat_template_kwargs.enable_thinking (vLLM, SGLang, llama.cpp's server hand it to the chat template)"
        )
        self.source: Source | None = get_source(source) if isinstance(source, str) else source
        self._extra_body = dict(extra_body or {})
        self._tracker = ConnectionTracker(_cancelled_error)
        self._stream_options = True
        self._own_client = client is None
        self.timeout: float | None = timeout
        if client is not None:
            self._client = client
            self.base_url = str(client.base_url).rstrip("/")
            self._api_key = getattr(client, "api_key", None)
            limit = getattr(client, "timeout", timeout)  # a number or an httpx.Timeout
            self.timeout = limit if isinstance(limit, (int, float)) else getattr(limit, "read", None)
        else:
            if self.source is not None:
                model = model or self.source.default_model
                if not model:
                    msg = f"{self.source.title} has no default model. {self.source.model_hint}"
                    raise BackendError(msg)
                base_url, api_key = source_credentials(self.source, base_url=base_url, api_key=api_key, origin=origin)
            elif not base_url:
                msg = "OpenAIBackend needs base_url= (e.g. 'http://127.0.0.1:8000/v1'), source= or client=."
                raise BackendError(msg)
            else:
                api_key = server_key(api_key, origin)
            if api_key is None:
                api_key = PLACEHOLDER_KEY
            self.base_url = base_url.rstrip("/")
            self._api_key = api_key
            # a redirect to another host gets no credentials (httpx itself drops only Authorization)
            guard = strip_credentials_off_origin(self.base_url, headers)
            http = openai.DefaultHttpxClient(event_hooks={"request": [guard, self._tracker.hook]})
            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=api_key,
                timeout=timeout,
                max_retries=max_retries,
                default_headers=headers,
                http_client=http,
            )
        # replies go through a copy without the client's own retries (the conversation retries, and shows it)
        with_options = getattr(self._client, "with_options", None)
        self._stream_client = with_options(max_retries=0) if callable(with_options) else self._client
        secrets = (self._api_key, *url_secrets(self.base_url), *(headers or {}).values())
        self._secrets = secret_values(v for v in secrets if v != PLACEHOLDER_KEY)
        self._model_given = bool(model)
        self.model = model or urlparse(self.base_url).hostname or self.base_url  # replaced in prepare()
        self.context_window = context_window
        # images: known for a source's listed models; unknown (None: sent, the server decides) for other servers
        self.image_input = self.source.sees_images(model) if self.source is not None else None
        self.tool_calls = True if self.source is not None else None  # online sources take tools; servers: unknown
        self.json_schema = None  # response_format is sent; whether the server honours it shows in the reply

    # ------------------------------------------------------------------ loading
    def list_models(self) -> list[str]:
        """Model ids the server lists at ``GET {base_url}/models``.

        Raises
        ------
        BackendError
            If the server cannot be reached or refuses (the message says what to do).
        """
        openai = _import_openai()
        try:
            return [m.id for m in self._client.models.list()]
        except openai.APIError as exc:
            raise self._explain(exc) from (None if mentions_secret(exc, self._secrets) else exc)

    def prepare(self, progress: ProgressCallback | None = None) -> None:
        """Without a model name, take the first model the server lists (see :meth:`list_models`).

        Raises
        ------
        BackendError
            If the server does not list any (``transformers serve`` before 5.24 answered 500 there without a Hugging
            Face cache directory); the message asks for ``model=``.
        """
        if self._model_given:
            return
        openai = _import_openai()
        if progress:
            progress(f"asking {without_password(self.base_url)} which model it serves…", None)
        ask = f"Pass the model name: nbchat.Chat({without_password(self.base_url)!r}, model='...')."
        try:
            models = [m.id for m in self._client.models.list()]
        except openai.APIStatusError as exc:
            msg = (
                f"No model given, and GET {self.base_url}/models answered HTTP {exc.status_code} "
                f"({server_detail(exc)}). {ask} (Some servers cannot list their models: `transformers serve` "
                "before 5.24 answered 500 there without a Hugging Face cache directory.)"
            )
            raise BackendError(redact(msg, self._secrets)) from None
        except openai.APIError as exc:
            raise self._explain(exc) from (None if mentions_secret(exc, self._secrets) else exc)
        if not models:
            msg = redact(f"No model given, and {self.base_url}/models lists none. {ask}", self._secrets)
            raise BackendError(msg)
        self.model, self._model_given = models[0], True

    # ------------------------------------------------------------------ generation
    def _request(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo | None = None
    ) -> dict[str, Any]:
        tokens_field = self.source.tokens_field if self.source else "max_tokens"
        extra = dict(self._extra_body)
        params: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if tokens_field == "max_new_tokens":
            extra[tokens_field] = settings.max_new_tokens
        else:
            params[tokens_field] = settings.max_new_tokens
        if not settings.greedy:
            params["temperature"] = settings.temperature
            if settings.top_p < 1.0:
                params["top_p"] = settings.top_p
        elif self.source is None or self.source.zero_temperature:
            params["temperature"] = 0.0
        if settings.stop:
            params["stop"] = list(settings.stop[:_MAX_SERVER_STOPS])
        if settings.tools:  # the OpenAI API's function tools; a request without tools sends none of these keys
            params["tools"] = list(settings.tools)
            if settings.tool_choice is not None:
                params["tool_choice"] = settings.tool_choice
            if settings.parallel_tool_calls is not None:
                params["parallel_tool_calls"] = settings.parallel_tool_calls
        if settings.response_format is not None:  # a structured reply: OpenAI's json_schema response format
            params["response_format"] = settings.response_format
        if settings.thinking is not None:
            notice = self._thinking_switch(params, extra, settings.thinking)
            if notice and info is not None:
                info.notice = notice
        if extra:
            params["extra_body"] = extra
        return params

    def _thinking_switch(self, params: dict[str, Any], extra: dict[str, Any], on: bool) -> str | None:
        """Put ``thinking=on`` into the request the way this source or server understands it; a notice if it can't."""
        switch = self.source.thinking if self.source else "chat_template_kwargs"
        where = self.source.title if self.source else self.base_url
        if switch == "chat_template_kwargs":
            kwargs = dict(extra.get("chat_template_kwargs") or {})
            kwargs.setdefault("enable_thinking", on)
            extra["chat_template_kwargs"] = kwargs
        elif switch == "enable_thinking":
            extra.setdefault("enable_thinking", on)
        elif switch == "thinking_type":
            extra.setdefault("thinking", {"type": "enabled" if on else "disabled"})
        elif switch == "reasoning_effort":
            params["reasoning_effort"] = "high" if on else "low"
        elif switch.startswith("model:"):  # "model:<thinking model>|<plain model>" (DeepSeek)
            thinker, plain = switch.removeprefix("model:").split("|")
            if params["model"] not in (thinker, plain):
                return (
                    f"thinking={on} was not applied: on {where} it means choosing {thinker!r} (on) or {plain!r} "
                    f"(off), and this chat uses {params['model']!r}."
                )
            params["model"] = thinker if on else plain
        else:
            return f"thinking={on} was not applied: {where} has no switch for thinking; the model decides."
        return None

    def _open(self, params: dict[str, Any]) -> Any:
        openai = _import_openai()
        client = self._stream_client
        if self._stream_options:
            try:
                return client.chat.completions.create(**params, stream_options={"include_usage": True})
            except openai.BadRequestError as exc:
                # only a 400 about that option (older servers); a wrong model or a long prompt is a real error
                if not _about_stream_options(exc):
                    raise
                logger.debug("%s rejected stream_options; retrying without", without_password(self.base_url))
                self._stream_options = False
        return client.chat.completions.create(**params)

    def count_text_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` with ``tokenizer=`` if one was given, else ``None``."""
        tokenizer = self._tokenizer
        if tokenizer is None:
            return None
        if isinstance(tokenizer, (str, os.PathLike)):
            from transformers import AutoTokenizer  # only for a tokenizer named by path or hub id

            tokenizer = self._tokenizer = AutoTokenizer.from_pretrained(os.fspath(tokenizer), local_files_only=True)
        if hasattr(tokenizer, "encode"):
            return len(tokenizer.encode(text))
        return int(tokenizer(text))

    def stream(
        self, messages: list[Message], settings: GenerationSettings, info: GenerationInfo, cancel: threading.Event
    ) -> Iterator[str | Reasoning | ToolCallDelta]:
        """Stream a chat completion (see :meth:`Backend.stream`).

        Raises
        ------
        BackendError
            Connection refused or broken, timeout, 401/403 (key), 404 (model), 429 (rate limit), 5xx, or an error
            event mid-stream; the message says what to do and never contains the key.
        """
        openai = _import_openai()
        if not self._model_given:
            self.prepare()
        params = self._request(messages, settings, info)
        self._tracker.cancel = cancel
        current: list[Any] = [None]
        finished = threading.Event()

        def watch() -> None:  # Stop while the stream thread is blocked in a read: shut the socket down
            while not finished.is_set():
                if cancel.wait(0.05):
                    self._abort(current[0])
                    return

        threading.Thread(target=watch, name="nbchat-openai-stop", daemon=True).start()
        stop = StopSequenceFilter(settings.stop)
        finish: str | None = None
        progress = {"chunks": 0, "text": 0}  # what arrived (counts): the error message depends on it
        counted = {"answer": 0, "reasoning": 0}  # chunks with text: the estimate where the server reports no usage
        answer: list[str] = []
        try:
            current[0] = stream = self._open(params)
            if cancel.is_set():
                self._abort(stream)
                return
            with stream:
                for chunk in stream:
                    progress["chunks"] += 1
                    if chunk.usage is not None:
                        _record_usage(chunk.usage, info)
                    for choice in chunk.choices[:1]:
                        thought = _reasoning_of(choice.delta)
                        if thought:
                            progress["text"] += 1
                            counted["reasoning"] += 1
                            yield Reasoning(thought)
                        for call in _tool_calls_of(choice.delta):
                            progress["text"] += 1
                            yield call
                        delta = getattr(choice.delta, "content", None) if choice.delta else None
                        if delta:
                            progress["text"] += 1
                            counted["answer"] += 1
                            answer.append(delta)
                            out = stop.feed(delta)
                            if out:
                                yield out
                        if choice.finish_reason:
                            finish = choice.finish_reason
                    if stop.stopped:
                        finish = "stop"
                        break
                    if cancel.is_set():
                        return
            if not progress["chunks"] and not cancel.is_set():
                self._check_content_type(stream)
            tail = stop.flush()
            if tail:
                yield tail
            info.finish_reason = finish
        except openai.OpenAIError as exc:
            if cancel.is_set():
                return
            raise self._explain(exc, current[0] is not None, progress["text"] > 0) from (
                None if mentions_secret(exc, self._secrets) else exc
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # a chunk that is not what the API says
            if cancel.is_set():
                return
            raise BackendError.from_key(
                "py.err.malformedKept" if progress["text"] else "py.err.malformed",
                {"where": self._where(), "problem": f"{type(exc).__name__}: {exc}"},
                clean=lambda value: redact(value, self._secrets),
                brief="malformed stream",
            ) from None
        finally:
            finished.set()
            self._tracker.cancel = None
            if info.completion_tokens is None and (counted["answer"] or counted["reasoning"]):
                self._count_without_usage(info, "".join(answer), counted)
            if info.reasoning_tokens is None and counted["reasoning"] and self._tokenizer is None:
                info.reasoning_tokens, info.reasoning_tokens_estimated = counted["reasoning"], True

    def _count_without_usage(self, info: GenerationInfo, answer: str, counted: dict[str, int]) -> None:
        """A server that reported no usage (FastChat): count with ``tokenizer=``, else estimate from the chunks."""
        tokens = None
        try:
            tokens = self.count_text_tokens(answer)
        except Exception:  # a broken tokenizer must not fail the reply; the estimate is used
            logger.debug("tokenizer= failed", exc_info=True)
        if tokens is not None:
            info.completion_tokens = tokens  # reasoning is counted from its text by the controller
            return
        info.completion_tokens = counted["answer"] + counted["reasoning"]
        info.tokens_estimated = True

    def _check_content_type(self, stream: Any) -> None:
        """An empty stream that was no event stream at all (a proxy's HTML page, JSON): say so."""
        response = getattr(stream, "response", None)
        kind = str(getattr(response, "headers", {}).get("content-type", "")) if response is not None else ""
        if kind and not kind.startswith("text/event-stream"):
            params = {"where": self._where(), "kind": kind.split(";")[0]}
            raise BackendError.from_key("py.err.notStream", params, clean=lambda value: redact(value, self._secrets))

    def _abort(self, stream: Any) -> None:
        self._tracker.abort(getattr(stream, "response", None))
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    # ------------------------------------------------------------------ errors
    def _where(self) -> str:
        url = without_password(self.base_url)
        return f"{self.source.title} ({url})" if self.source else url

    def _explain(self, exc: BaseException, answered: bool = False, text: bool = False) -> BackendError:
        """A :class:`BackendError` saying what happened and what to do, with secrets removed from its text and its
        parameters; its ``key`` gives the text in the catalogue, so a widget shows it in its own language.

        ``answered``: the server had sent its response headers; ``text``: part of the reply had arrived (then the
        message says the partial reply is kept, and nothing is retried).
        """
        openai = _import_openai()
        where = self._where()
        detail = server_detail(exc)
        status = getattr(exc, "status_code", None)
        headers = getattr(getattr(exc, "response", None), "headers", None)
        wait = retry_after_seconds(headers) if status is not None else None
        params: dict[str, Any]
        retryable, brief = False, None
        # a "<name>_key" parameter: the view fills {<name>} from that catalogue key in its language
        if self.source:
            key_vars = " / ".join(self.source.all_key_vars())
            key_help = {"help": f"Check the key in {key_vars} (environment or .env).", "vars": key_vars}
            key_help["help_key"] = "py.err.keyHelpSource"
        else:
            key_help = {"help": "Check api_key= (or $NBCHAT_API_KEY).", "help_key": "py.err.keyHelpServer"}
        if isinstance(exc, openai.APITimeoutError):
            key = ("py.err.timeoutMid" if text else "py.err.timeoutFirst") if answered else "py.err.timeout"
            if isinstance(self.timeout, (int, float)):
                params = {"where": where, "seconds": f"{self.timeout:g}", "limit": f"{self.timeout:g} s"}
                params["limit_key"] = "py.err.limitSeconds"
            else:
                params = {"where": where, "limit": "the timeout", "limit_key": "py.err.limitUnknown"}
        elif isinstance(exc, openai.APIConnectionError):
            kind = connection_failure(exc)
            params = {"where": where, "cause": root_cause(exc)}
            if kind == "dns":
                key = "py.err.dns"
                params["host"] = repr(urlparse(self.base_url).hostname or self.base_url)
            elif answered and text:
                key = "py.err.broke"
            elif answered:
                key = "py.err.closed"
                retryable, brief = True, "connection lost"
            else:
                key = "py.err.connect"
                retryable = kind in ("refused", "reset")
                brief = "connection refused" if kind == "refused" else "connection failed"
        elif isinstance(exc, openai.AuthenticationError):
            key, params = "py.err.401", {"where": where, "detail": detail, **key_help}
        elif isinstance(exc, openai.PermissionDeniedError):
            key, params = "py.err.403", {"where": where, "model": repr(self.model), "detail": detail, **key_help}
        elif isinstance(exc, openai.NotFoundError):
            key = "py.err.404"
            params = {"where": where, "model": repr(self.model), "detail": detail, "base_url": self.base_url}
        elif isinstance(exc, openai.RateLimitError):
            params = {"where": where, "detail": detail}
            if wait is None:
                key = "py.err.429"
            else:
                key, params["wait"] = "py.err.429wait", f"{wait:.0f}"
                retryable, brief = True, "server busy (429)"
        elif isinstance(exc, openai.InternalServerError) or (status is not None and status >= 500):
            names = {502: "bad gateway", 503: "server unavailable", 504: "gateway timeout"}
            key, params = "py.err.5xx", {"where": where, "status": status, "detail": detail}
            if status in names:
                key = "py.err.gateway"
                retryable, brief = True, f"{names[status]} ({status})"
        elif isinstance(exc, openai.BadRequestError):
            key, params = "py.err.400", {"where": where, "detail": detail}
        elif status is not None:
            key, params = "py.err.http", {"where": where, "status": status, "detail": detail}
        else:
            key = "py.err.eventKept" if text else "py.err.event"
            params = {"where": where, "detail": detail.rstrip(".")}
        return BackendError.from_key(
            key,
            params,
            clean=lambda value: redact(value, self._secrets),
            retryable=retryable and not text,
            retry_after=wait if retryable else None,
            brief=brief,
        )

    def policy_identities(self) -> list[str]:
        """The normal form of the URL the client really sends to, and ``<source>:<model>`` only when that is the
        source's own official endpoint (so ``openai:*`` never admits ``base_url=`` pointed elsewhere)."""
        url = str(getattr(self._client, "base_url", self.base_url))
        try:
            here = str(endpoint_of(url))
        except ValueError:
            return [url]
        official = SOURCES.get(self.source.name) if self.source else None
        if official is not None and here == str(endpoint_of(official.base_url)):
            return [f"{official.name}:{self.model}", here]
        return [here]

    def describe(self) -> dict[str, Any]:
        """Backend, model, context window, base URL and source name; never the key."""
        out = {**super().describe(), "base_url": without_password(self.base_url)}
        if self.source:
            out["source"] = self.source.name
        return out

    def close(self) -> None:
        """Close the HTTP client (only if this backend created it)."""
        if self._own_client:
            self._client.close()


_CANCELLED: list[type[Exception]] = []


def _cancelled_error() -> Exception:
    """An ``openai.OpenAIError`` (the client re-raises those without retrying) for requests after Stop."""
    if not _CANCELLED:
        _CANCELLED.append(type("StoppedByUser", (_import_openai().OpenAIError,), {}))
    return _CANCELLED[0]("stopped by the user")


def _record_usage(usage: Any, info: GenerationInfo) -> None:
    info.prompt_tokens = getattr(usage, "prompt_tokens", None)
    info.completion_tokens = getattr(usage, "completion_tokens", None)
    details = getattr(usage, "prompt_tokens_details", None)
    if details is not None and getattr(details, "cached_tokens", None) is not None:
        info.cached_tokens = details.cached_tokens
    completion = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(completion, "reasoning_tokens", None) if completion is not None else None
    if isinstance(reasoning, int) and reasoning > 0:
        info.reasoning_tokens = reasoning


def _reasoning_of(delta: Any) -> str | None:
    """The reasoning text of a chunk's delta: ``reasoning_content`` (DeepSeek, DashScope, Kimi, GLM, llama.cpp's
    server) or ``reasoning`` (vLLM >= 0.10, SGLang, OpenRouter); extra fields the ``openai`` types keep as attributes.
    """
    if delta is None:
        return None
    for name in ("reasoning_content", "reasoning"):
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _tool_calls_of(delta: Any) -> list[ToolCallDelta]:
    """The pieces of tool calls in a chunk's delta (``delta.tool_calls``: openai-python's
    ``ChoiceDeltaToolCall`` with ``index``, ``id``, ``function.name``, ``function.arguments``, each optional but
    ``index``)."""
    calls = getattr(delta, "tool_calls", None) if delta is not None else None
    out = []
    for call in calls or ():
        function = getattr(call, "function", None)
        out.append(
            ToolCallDelta(
                index=int(getattr(call, "index", 0) or 0),
                id=getattr(call, "id", None) or "",
                name=getattr(function, "name", None) or "",
                arguments=getattr(function, "arguments", None) or "",
            )
        )
    return out


def _about_stream_options(exc: BaseException) -> bool:
    """True when a 400 names ``stream_options`` / ``include_usage`` (a server that does not know that field)."""
    text = f"{server_detail(exc)} {getattr(exc, 'message', '')} {getattr(exc, 'body', '')}".lower()
    return "stream_options" in text or "include_usage" in text
