"""Structured replies: ``Conversation.ask(prompt, schema=Model)`` returns a validated object instead of text.

The schema travels as ``GenerationSettings.response_format`` in the OpenAI API's shape (Chat Completions,
``response_format``: ``{"type": "json_schema", "json_schema": {"name", "description"?, "schema", "strict"}}``,
https://platform.openai.com/docs/api-reference/chat/create#chat-create-response_format, and the Structured Outputs
guide https://platform.openai.com/docs/guides/structured-outputs). Each backend turns it into what its engine
enforces: OpenAI-compatible servers get it as it is; both llama.cpp engines a grammar made from the schema; a
backend that cannot constrain its output is refused before sending (transformers), or, where nothing is known (a
callable, TGI), its reply is validated like any other.

The reply is checked here, after it ended: a pydantic model validates it (``model_validate_json``), a JSON-schema
dict through ``jsonschema``. A reply that does not fit (a server that ignores the schema), or that was cut by
``max_new_tokens`` before its JSON closed, ends as an error whose raw text is kept in the history. A reply that fits
is kept as a fenced, indented ```json block, so every view (the widget, Markdown, the static transcript) shows it
as formatted JSON, and ``ask`` returns the object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from ._errors import GenerationError, NbchatError
from ._messages import ChatMessage
from ._settings import GenerationSettings

__all__ = [
    "StructuredReplies",
    "StructuredReplyError",
    "check_reply",
    "no_schema_message",
    "parse_reply",
    "response_format",
    "schema_of",
]

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)
_NAME = re.compile(r"[^A-Za-z0-9_-]")


class StructuredReplyError(GenerationError):
    """A reply asked for with ``schema=`` does not fit it (not JSON, a value of the wrong type, a missing field), or
    ``max_new_tokens`` ended it before its JSON was complete. The reply's raw text is kept in the history and here.

    Attributes
    ----------
    text : str
        The reply's raw text (also ``partial``).
    """

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message, partial=text)
        self.text = text


def _is_model(schema: Any) -> bool:
    return isinstance(schema, type) and hasattr(schema, "model_json_schema") and hasattr(schema, "model_validate_json")


def response_format(schema: Any) -> dict[str, Any]:
    """The OpenAI ``response_format`` for ``schema``: ``{"type": "json_schema", "json_schema": {"name", "schema",
    "strict": True}}`` (plus ``description`` from a model's docstring).

    Parameters
    ----------
    schema : pydantic model class or dict
        A ``pydantic.BaseModel`` subclass (its JSON schema in OpenAI's strict form: every property required,
        ``additionalProperties: false``, as the ``openai`` SDK's ``parse()`` sends it), or a JSON schema as a dict
        (sent as written; its ``title`` names it).

    Raises
    ------
    NbchatError
        If ``schema`` is neither, or the dict is not a JSON schema of an object or array.
    """
    if _is_model(schema):
        try:  # the openai SDK's own conversion for client.chat.completions.parse(response_format=Model)
            from openai.lib._pydantic import to_strict_json_schema

            body = dict(to_strict_json_schema(schema))
        except ImportError:  # openai is optional: pydantic's schema as it is
            body = dict(schema.model_json_schema())
        name = schema.__name__
        description = (schema.__doc__ or "").strip()
    elif isinstance(schema, dict):
        if not isinstance(schema.get("type"), str) and not any(k in schema for k in ("properties", "anyOf", "$ref")):
            msg = f"schema= must be a JSON schema (with a 'type' or 'properties'), got {json.dumps(schema)[:200]}."
            raise NbchatError(msg)
        body = dict(schema)
        name = str(schema.get("title") or "reply")
        description = str(schema.get("description") or "")
    else:
        msg = f"schema= must be a pydantic model class or a JSON-schema dict, got {type(schema).__name__}."
        raise NbchatError(msg)
    spec: dict[str, Any] = {"name": _NAME.sub("_", name)[:64] or "reply", "schema": body, "strict": True}
    if description:
        spec["description"] = description[:1000]
    return {"type": "json_schema", "json_schema": spec}


def schema_of(settings_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema inside a ``response_format`` (``None`` without one)."""
    if not settings_format or settings_format.get("type") != "json_schema":
        return None
    spec = settings_format.get("json_schema") or {}
    schema = spec.get("schema")
    return schema if isinstance(schema, dict) else None


def _unfenced(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text


def parse_reply(text: str, schema: Any) -> Any:
    """The reply ``text`` as an object of ``schema``: a pydantic instance for a model, the JSON value for a dict.

    A ```json fence around the text is taken off first (nbchat keeps a valid reply that way).

    Raises
    ------
    StructuredReplyError
        If the text is not JSON or does not fit the schema; the message names each problem, ``text`` is the raw
        reply.
    """
    raw = _unfenced(text).strip()
    if _is_model(schema):
        import pydantic

        try:
            return schema.model_validate_json(raw)
        except pydantic.ValidationError as exc:
            problems = "; ".join(_problem(e) for e in exc.errors(include_url=False)[:10])
            msg = f"The reply does not fit {schema.__name__}: {problems}. Its raw text is kept in the history."
            raise StructuredReplyError(msg, text) from None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        msg = f"The reply is not JSON ({exc}). Its raw text is kept in the history."
        raise StructuredReplyError(msg, text) from None
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        problems = "; ".join(f"{'.'.join(map(str, e.path)) or 'reply'}: {e.message}"[:300] for e in errors[:10])
        msg = f"The reply does not fit the schema: {problems}. Its raw text is kept in the history."
        raise StructuredReplyError(msg, text)
    return value


def check_reply(text: str, finish_reason: str | None, schema: Any, max_new_tokens: int) -> str:
    """Check a finished reply against ``schema`` (a pydantic model or a JSON-schema dict); return the text to keep:
    the JSON, indented, in a ```json fence.

    Raises
    ------
    StructuredReplyError
        If ``max_new_tokens`` cut the reply (``finish_reason == "length"``) before its JSON was complete, or the text
        does not fit the schema.
    """
    try:
        value = parse_reply(text, schema)
    except StructuredReplyError:
        if finish_reason == "length":
            msg = (
                f"The reply reached max_new_tokens ({max_new_tokens}) before its JSON was complete. Raise "
                "max_new_tokens, or ask for less (a smaller schema). Its text is kept in the history."
            )
            raise StructuredReplyError(msg, text) from None
        raise
    if _is_model(schema):
        value = json.loads(value.model_dump_json())
    return "```json\n" + json.dumps(value, ensure_ascii=False, indent=2) + "\n```"


def no_schema_message(backend: Any) -> str:
    """Why ``backend`` refuses ``schema=``, and which backends take it."""
    return (
        f"{backend.model} ({backend.kind}) cannot hold a reply to a JSON schema, so nothing was sent. Structured "
        "replies work with llama.cpp (the embedded model, .gguf files: a grammar made from the schema) and "
        "OpenAI-compatible servers and sources (response_format). Ask without schema= here, or use one of those."
    )


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "reply"
    return f"{where}: {error.get('msg', 'invalid')}"


class _Outcome(Protocol):  # nbchat._generation.ReplyOutcome, as far as a structured reply changes it
    status: str
    error: str | None
    stats: dict[str, Any]


class _Stream(Protocol):  # nbchat._reply.StreamingReply, as far as a structured reply reads and sets it
    message: ChatMessage
    settings: GenerationSettings

    @property
    def text(self) -> str: ...

    def set_text(self, text: str) -> None: ...


class StructuredReplies:
    """A conversation's structured replies: the ``schema=`` of each, by reply id, from sending to the result.

    The schemas stay in memory (a pydantic model is a class, not data): a reply is checked against its own when
    it ends, and regenerated with it. The conversation calls :meth:`check` before it adds a message,
    :meth:`request` when the reply starts, :meth:`finish` when it ended and :meth:`result` in ``ask``.
    """

    def __init__(self) -> None:
        self._by_reply: dict[str, Any] = {}

    def schema(self, reply_id: str) -> Any:
        """The schema the reply ``reply_id`` was asked with, or ``None`` for a plain reply."""
        return self._by_reply.get(reply_id)

    def clear(self) -> None:
        """Forget every schema (the conversation was cleared)."""
        self._by_reply.clear()

    @staticmethod
    def check(schema: Any, backend: Any) -> None:
        """Refuse ``schema`` before anything is sent: not a pydantic model or JSON schema, or ``backend`` cannot
        hold a reply to one (its ``json_schema`` is ``False``).

        Raises
        ------
        NbchatError
            Saying which backends take a schema.
        """
        if schema is not None:
            response_format(schema)
            if backend.json_schema is False:
                raise NbchatError(no_schema_message(backend))

    def request(self, reply: ChatMessage, settings: GenerationSettings, schema: Any) -> GenerationSettings:
        """The settings of ``reply``'s request: with ``response_format`` from ``schema`` (recorded for the reply,
        and named in ``reply.stats["schema"]``), or ``settings`` as they are when ``schema`` is ``None``."""
        if schema is None:
            return settings
        fmt = response_format(schema)
        reply.stats["schema"] = fmt["json_schema"]["name"]
        self._by_reply[reply.id] = schema
        return settings.replace(response_format=fmt)

    def finish(self, outcome: _Outcome, stream: _Stream) -> None:
        """Check a reply that ended ``"done"`` against its schema: keep it as formatted JSON, or turn ``outcome``
        into an error (``stats["schema_error"]``) whose raw text stays in the reply. Plain replies: nothing."""
        schema = self._by_reply.get(stream.message.id)
        if schema is None or outcome.status != "done":
            return
        try:
            finish = outcome.stats.get("finish_reason")
            stream.set_text(check_reply(stream.text, finish, schema, stream.settings.max_new_tokens))
        except StructuredReplyError as exc:
            outcome.status, outcome.error = "error", str(exc)
            outcome.stats["schema_error"] = True

    @staticmethod
    def result(future: Future[ChatMessage], wait: Callable[[], str], schema: Any) -> Any:
        """What ``ask`` returns: ``wait()``'s reply text, or with ``schema`` the validated object.

        Raises
        ------
        StructuredReplyError
            When the reply did not fit ``schema`` (its raw text in ``error.text``).
        GenerationError
            As ``wait()``, for a reply that failed otherwise.
        """
        if schema is None:
            return wait()
        try:
            reply_text = wait()
        except GenerationError as exc:
            if future.result().stats.get("schema_error"):
                raise StructuredReplyError(str(exc), future.result().content) from None
            raise
        return parse_reply(reply_text, schema)
