"""The view layer every widget shares (:class:`~nbchat.Chat`, :class:`~nbchat.Compare`): the typed protocol with
the browser, token-delta batching, message state, the synced-state thread and typed dispatch of browser messages.

Kernel → browser: synced traits (committed messages, settings, status) and custom messages (:class:`DeltaMessage`,
:class:`SyncMessage`, :class:`NoticeMessage`, ...). Browser → kernel: custom messages with a ``kind``, dispatched
through a table of :class:`Route` s, each a ``TypedDict`` that the message is checked against and a handler that
takes it. The TypedDicts here and the TypeScript types in ``js/types.ts``/``js/compare/types.ts`` are checked
against one schema, ``js/protocol.json``, by ``tests/test_protocol.py`` and ``js/__tests__/protocol.test.ts``.

A new message kind: its ``TypedDict`` here and a row in :data:`CHAT_ACCEPTS` (or ``..._SENDS``, ``COMPARE_...``),
a :class:`Route` in the widget's table, the entry in ``js/protocol.json``, and the member of the TypeScript union;
the two protocol tests name whatever is missing.

Conversations call their listeners from the thread that made a change, sometimes while holding their lock
(``send`` announces the question and the reply placeholder under it). A widget's listener therefore never builds
widget state: it batches deltas (:class:`DeltaBatcher`) and asks its :class:`StateSync` for a rebuild, which runs
in a thread of its own, so nothing waits on two locks at once and a long history never stalls the first tokens.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import io
import logging
import threading
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, TypedDict, TypeVar, Union

from ._attachments import Attachment
from ._messages import ChatMessage

__all__ = [
    "CHAT_ACCEPTS",
    "CHAT_SENDS",
    "COMPARE_ACCEPTS",
    "COMPARE_SENDS",
    "DELTA_INTERVAL_S",
    "RECORDS",
    "TOOL_PREVIEW_SIDE",
    "AddRequest",
    "ApproveRequest",
    "AttachProgressMessage",
    "AttachRequest",
    "AttachedMessage",
    "BranchRequest",
    "CodeMessage",
    "ColumnApproveRequest",
    "ColumnDeltaMessage",
    "ColumnRequest",
    "ColumnStopRequest",
    "ColumnSyncMessage",
    "CompleteRequest",
    "CompletionsMessage",
    "DeltaBatcher",
    "DeltaMessage",
    "EditRequest",
    "ExportMessage",
    "ExportRequest",
    "FeedbackRequest",
    "FlagRequest",
    "MessageRequest",
    "MessageState",
    "MoveRequest",
    "NoticeMessage",
    "PlainRequest",
    "ProtocolError",
    "ProvenanceMessage",
    "ReplyStats",
    "Route",
    "SettingsRequest",
    "StateSync",
    "SubmitRequest",
    "SyncMessage",
    "TextRequest",
    "TokenRequest",
    "VoteRequest",
    "check_request",
    "dispatch",
    "message_state",
    "notice",
    "tool_preview",
]

logger = logging.getLogger(__name__)

DELTA_INTERVAL_S = 1 / 30  # at most ~30 delta messages per second per widget (per column in a Compare)
SYNC_IDLE_S = 2.0  # a sync thread ends after this long without work (started again on demand)


# ---------------------------------------------------------------------------------------------- kernel → browser
class MessageState(TypedDict):
    """A committed message as the browser gets it (``ChatMessage.to_dict()`` without ``created``).

    Chat adds ``branch`` and ``in_context``; Compare adds ``turn``.
    """

    id: str
    parent: str | None
    role: Literal["user", "assistant"]
    content: str
    reasoning: str  # the model's thinking before its answer ("" if none)
    status: Literal["done", "streaming", "stopped", "error", "incomplete"]
    error: str | None
    error_i18n: dict[str, Any] | None  # the error's catalogue key and params ({"key", "params"}), or None
    stats: ReplyStats
    pinned: bool
    excluded: bool
    attachments: list[dict[str, Any]]  # Attachment.to_dict(): kind, media_type, name, thumbnail, ... (no bytes)
    feedback: dict[str, Any] | None  # a rating of an answer: rating ("up", "down" or None), comment, time; or None
    tool_rounds: list[dict[str, Any]]  # ToolRound.to_dict() each: text, reasoning, calls (nbchat/tools/_calls.py)


class ReplyStats(TypedDict, total=False):
    """``ChatMessage.stats`` as the browser gets it: what :func:`nbchat._generation.run_reply` measured, plus
    ``left_out`` (messages not sent to fit the context window) and the ``backend``/``model`` that answered."""

    tokens: int | None
    prompt_tokens: int | None
    cached_tokens: int | None
    ttft_s: float | None
    tokens_per_s: float | None
    duration_s: float | None
    finish_reason: str | None
    retries: int
    backend: str
    model: str
    left_out: int
    first_answer_s: float | None  # a reply with reasoning: seconds to the first answer text
    thinking_s: float | None
    thinking_tokens: int | None
    thinking_tokens_estimated: bool
    tokens_estimated: bool  # the server reported no usage: ``tokens`` is an estimate
    notice: str  # something to know that is not an error (e.g. ``thinking=`` not applied)
    tool_rounds: int  # a turn with tools: rounds of calls (nbchat/tools/_loop.py)
    tool_calls: int  # calls the model asked for in the turn (beyond the cap too)
    citations: list[dict[str, Any]]  # documents: markers resolved to the passages sent (nbchat/documents/_citations.py)


class _DeltaRequired(TypedDict):
    kind: Literal["delta"]
    id: str
    text: str


class DeltaMessage(_DeltaRequired, total=False):
    """Text appended to the streaming message ``id`` (batched: at most one per :data:`DELTA_INTERVAL_S`), and
    ``reasoning`` appended to its thinking."""

    reasoning: str


class SyncMessage(TypedDict):
    """The whole text (and ``reasoning``) so far of the streaming message ``id``, for a view opened mid-stream."""

    kind: Literal["sync"]
    id: str
    text: str
    reasoning: str


class ColumnDeltaMessage(DeltaMessage):
    """Compare: a :class:`DeltaMessage` of the column ``column`` (its id)."""

    column: str


class ColumnSyncMessage(SyncMessage):
    """Compare: a :class:`SyncMessage` of the column ``column`` (its id)."""

    column: str


class _NoticeRequired(TypedDict):
    kind: Literal["notice"]
    level: Literal["info", "warning", "error"]
    text: str


class NoticeMessage(_NoticeRequired, total=False):
    """Something the user should read (a refused setting, a busy conversation); ``restore`` goes back into the
    message box with ``attachments`` in its tray (a question that could not be sent)."""

    restore: str
    attachments: list[dict[str, Any]]
    key: str  # the text's key in the UI catalogue (nbchat/_i18n.py, js/i18n.ts): shown in the view's language
    params: dict[str, str]  # its placeholders


class _AttachedRequired(TypedDict):
    kind: Literal["attached"]
    token: str


class AttachedMessage(_AttachedRequired, total=False):
    """The answer to an :class:`AttachRequest`: the converted ``attachment`` (thumbnail, no bytes), or ``error``
    (with ``error_i18n``, its catalogue key and params, when it has one)."""

    attachment: dict[str, Any]
    error: str
    error_i18n: dict[str, Any]


class AttachProgressMessage(TypedDict):
    """A document being converted off the kernel's main thread: ``done`` of ``total`` pages (``total`` None while
    unknown). Sent at once for a document, then at most every 5% of its pages, before its :class:`AttachedMessage`
    (see :meth:`nbchat._uploads.BrowserAttachments.upload_with_progress`)."""

    kind: Literal["attach-progress"]
    token: str
    name: str
    done: int
    total: int | None


class CompletionsMessage(TypedDict):
    """The answer to a :class:`CompleteRequest`: the notebook variables whose names start with its prefix."""

    kind: Literal["completions"]
    request: int
    items: list[dict[str, str]]


class ProvenanceMessage(TypedDict):
    """The answer to a :class:`MessageRequest` of kind ``provenance``: ``Conversation.request_of(id)``, or None
    for a message no request of this kernel produced (loaded or hand-set)."""

    kind: Literal["provenance"]
    id: str
    data: dict[str, Any] | None


class ExportMessage(TypedDict):
    """The answer to an :class:`ExportRequest`: the Markdown transcript or the conversation file, and a file name."""

    kind: Literal["export"]
    format: Literal["markdown", "json"]
    text: str
    filename: str


class CodeMessage(TypedDict):
    """The answer to a :class:`MessageRequest` of kind ``code``: ``Conversation.request_code(id)``."""

    kind: Literal["code"]
    id: str
    code: str


def notice(
    text: str,
    *,
    level: Literal["info", "warning", "error"] = "warning",
    restore: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> NoticeMessage:
    """A :class:`NoticeMessage` (a warning unless ``level`` says otherwise)."""
    message = NoticeMessage(kind="notice", level=level, text=text)
    if restore is not None:
        message["restore"] = restore
    if attachments is not None:
        message["attachments"] = attachments
    return message


def message_state(m: ChatMessage) -> MessageState:
    """What the browser needs of a message: every field but the creation time (it would churn synced state).

    An image a tool returned (a figure, a PIL image) also gets ``preview``: a JPEG data URL of at most
    :data:`TOOL_PREVIEW_SIDE` pixels, shown in the call's card (the 96-pixel ``thumbnail`` is too small to read a
    figure).
    """
    state = m.to_dict()
    del state["created"]
    # strict=False: the worker may append a round meanwhile (it shows at the next rebuild)
    for round_, saved in zip(m.tool_rounds, state["tool_rounds"], strict=False):
        for call, record in zip(round_.calls, saved["calls"], strict=False):
            for attachment, part in zip(call.result_attachments, record["result_attachments"], strict=False):
                if attachment.kind == "image":
                    part["preview"] = tool_preview(attachment)
    return typing.cast(MessageState, state)


TOOL_PREVIEW_SIDE = 480
"""Longer side (pixels) of the picture of a tool's image result in its card."""


@functools.lru_cache(maxsize=64)
def tool_preview(attachment: Attachment) -> str:
    """``data:image/jpeg;base64,...`` of ``attachment`` (an image) at most :data:`TOOL_PREVIEW_SIDE` pixels (made
    once per image); its ``thumbnail`` when it has no bytes (loaded without them) or they cannot be read."""
    if not attachment.data:
        return attachment.thumbnail
    try:
        from PIL import Image

        with Image.open(io.BytesIO(attachment.data)) as img:
            small = img.convert("RGBA")
            small.thumbnail((TOOL_PREVIEW_SIDE, TOOL_PREVIEW_SIDE), Image.Resampling.LANCZOS)
            flat = Image.new("RGB", small.size, "white")  # JPEG has no alpha: onto white, as thumbnails are
            flat.paste(small, mask=small.getchannel("A"))
            buf = io.BytesIO()
            flat.save(buf, format="JPEG", quality=80)
    except (ImportError, OSError, ValueError):
        return attachment.thumbnail
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class DeltaBatcher:
    """Coalesce text deltas into at most one custom message per ``interval`` seconds (plus a trailing flush).

    Reasoning deltas travel in the same message, as ``"reasoning"`` beside ``"text"``.

    Parameters
    ----------
    send : callable
        Called with each :class:`DeltaMessage` (from the adding thread or a timer thread).
    interval : float, default :data:`DELTA_INTERVAL_S`
        Seconds between two messages.
    """

    def __init__(self, send: Callable[[DeltaMessage], None], interval: float = DELTA_INTERVAL_S) -> None:
        self._send = send
        self._interval = interval
        self._lock = threading.Lock()
        self._id: str | None = None
        self._parts: list[str] = []
        self._thoughts: list[str] = []
        self._last = 0.0
        self._timer: threading.Timer | None = None

    def add(self, message_id: str, text: str, *, reasoning: bool = False) -> None:
        """Queue ``text`` (of the reply, or of its ``reasoning``) for the message ``message_id`` (a new id first
        sends what was queued for the old one)."""
        with self._lock:
            if self._id != message_id:
                self._flush_locked()
                self._id = message_id
            (self._thoughts if reasoning else self._parts).append(text)
            wait = self._interval - (time.monotonic() - self._last)
            if wait <= 0:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send what is queued now."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if (self._parts or self._thoughts) and self._id is not None:
            content = DeltaMessage(kind="delta", id=self._id, text="".join(self._parts))
            if self._thoughts:
                content["reasoning"] = "".join(self._thoughts)
            self._send(content)
            self._last = time.monotonic()
        self._parts, self._thoughts = [], []


class StateSync:
    """Rebuilds a widget's synced state on request, in a thread of its own (one rebuild for many requests).

    Parameters
    ----------
    rebuild : callable
        Reads the conversations and assigns the synced traits; never called twice at once.
    name : str
        The thread's name.
    idle_s : float, default 2.0
        The thread ends after this many seconds without a request (a later request starts it again).
    """

    def __init__(self, rebuild: Callable[[], None], name: str, idle_s: float = SYNC_IDLE_S) -> None:
        self._rebuild = rebuild
        self._name = name
        self._idle_s = idle_s
        self._running = threading.Lock()  # one rebuild at a time, from the thread or from now()
        self._start = threading.Lock()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def request(self) -> None:
        """Ask for a rebuild soon; returns at once. Safe from a listener that runs under a conversation's lock."""
        with self._start:
            self._wanted.set()
            if not self._closed and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()

    def now(self) -> None:
        """Rebuild in the calling thread, after a rebuild in progress. Never call it holding a conversation's lock."""
        with self._running:
            self._rebuild()

    def close(self) -> None:
        """End the thread (after a rebuild in progress); later requests are ignored."""
        self._closed = True
        self._wanted.set()

    def _loop(self) -> None:
        while True:
            if not self._wanted.wait(self._idle_s):
                with self._start:
                    if not self._wanted.is_set():
                        self._thread = None
                        return
                continue
            if self._closed:
                return
            self._wanted.clear()
            try:
                self.now()
            except Exception:  # a failed update must not end the thread that serves the view
                logger.exception("nbchat could not update the view")


# ---------------------------------------------------------------------------------------------- browser → kernel
class ProtocolError(ValueError):
    """A browser message that does not match the protocol (unknown kind, missing or mistyped field)."""


Request = TypeVar("Request", bound=Mapping[str, Any])


@dataclasses.dataclass(frozen=True)
class Route(Generic[Request]):
    """One entry of a dispatch table: the ``TypedDict`` a message of this kind must match, and its handler.

    ``handle(message)``, or ``handle(message, buffers)`` with ``with_buffers`` (binary parts: an upload's bytes).
    What it returns (a Future, a message id) is not used.
    """

    request: type[Request]
    handle: Callable[..., object]
    with_buffers: bool = False


def dispatch(routes: Mapping[str, Route[Any]], content: object, buffers: Any = ()) -> None:
    """Check ``content`` against the route of its ``kind`` and call the route's handler with it (and ``buffers``).

    Raises
    ------
    ProtocolError
        If ``content`` is not an object, its kind has no route, or a field is missing or of the wrong type.
    """
    if not isinstance(content, dict):
        msg = f"A widget message must be an object, got {type(content).__name__}."
        raise ProtocolError(msg)
    route = routes.get(content.get("kind"))  # type: ignore[arg-type]
    if route is None:
        msg = f"Unknown widget message kind {content.get('kind')!r}; this nbchat knows {', '.join(sorted(routes))}."
        raise ProtocolError(msg)
    check_request(route.request, content)
    if route.with_buffers:
        route.handle(content, list(buffers or ()))
    else:
        route.handle(content)


def check_request(kind: type[Mapping[str, Any]], content: Mapping[str, Any]) -> None:
    """Check ``content`` against the ``TypedDict`` ``kind``: required keys present, every known key well typed.

    Unknown keys are allowed (a newer browser bundle may send more). Raises :class:`ProtocolError`.
    """
    hints = typing.get_type_hints(kind)
    required: frozenset[str] = getattr(kind, "__required_keys__", frozenset(hints))
    for key, annotation in hints.items():
        if key not in content:
            if key in required:
                msg = f"A {content.get('kind')!r} message needs {key!r}."
                raise ProtocolError(msg)
            continue
        if not _accepts(annotation, content[key]):
            msg = f"{key!r} of a {content.get('kind')!r} message has the wrong type: {str(content[key])[:40]!r}."
            raise ProtocolError(msg)


def _accepts(annotation: Any, value: object) -> bool:
    """Whether ``value`` (decoded JSON) fits ``annotation`` (the types used by the protocol's TypedDicts)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if annotation is type(None):
        return value is None
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is Union or type(annotation).__name__ == "UnionType":
        return any(_accepts(a, value) for a in args)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (dict, Mapping) or annotation is dict:
        return isinstance(value, dict)
    if origin is list or annotation is list:
        return isinstance(value, list)
    if isinstance(annotation, type) and hasattr(annotation, "__required_keys__"):  # a nested TypedDict
        if not isinstance(value, dict):
            return False
        try:
            check_request(annotation, value)
        except ProtocolError:
            return False
        return True
    return False


class TextRequest(TypedDict):
    """Chat: ``draft``, the question as typed so far (for ``Conversation.prefill``)."""

    kind: Literal["draft"]
    text: str


class _SubmitRequired(TypedDict):
    kind: Literal["submit"]
    text: str


class SubmitRequest(_SubmitRequired, total=False):
    """Send the message box: ``text`` (Chat: to the conversation, Compare: to every column), with the uploads
    named by the tokens in ``attachments`` and the notebook variables named ``@name`` in the text."""

    attachments: list[str]
    context: bool  # False: send this message without the notebook context (the chip was removed)


class AttachRequest(TypedDict):
    """Upload one file pasted or dropped in the message box (its bytes are the message's one buffer); the kernel
    keeps it under ``token`` until the message is sent and answers with an :class:`AttachedMessage`."""

    kind: Literal["attach"]
    token: str
    name: str
    media_type: str


class TokenRequest(TypedDict):
    """``detach``: forget the upload ``token`` (removed from the tray)."""

    kind: Literal["detach"]
    token: str


class CompleteRequest(TypedDict):
    """``@`` completion: the notebook variables whose names start with ``prefix``; the answer carries ``request``."""

    kind: Literal["complete"]
    prefix: str
    request: int


class PlainRequest(TypedDict):
    """``stop``, ``clear``, ``sync`` (send the partial replies), ``reveal`` (Compare, blind mode)."""

    kind: Literal["stop", "clear", "sync", "reveal"]


class MessageRequest(TypedDict):
    """Chat: ``regenerate``, ``delete``, ``provenance``, ``code`` of the message ``id``."""

    kind: Literal["regenerate", "delete", "provenance", "code"]
    id: str


class BranchRequest(TypedDict):
    """Chat: show the alternative before (``step`` -1) or after (+1) message ``id``."""

    kind: Literal["branch"]
    id: str
    step: Literal[-1, 1]


class EditRequest(TypedDict):
    """Chat: replace user message ``id`` by ``text`` (a new alternative) and answer it."""

    kind: Literal["edit"]
    id: str
    text: str


class FeedbackRequest(TypedDict):
    """Chat: rate answer ``id`` ("up", "down", or None to take the rating back), with an optional comment."""

    kind: Literal["feedback"]
    id: str
    rating: Literal["up", "down"] | None
    comment: str


class ExportRequest(TypedDict):
    """Chat: the conversation as Markdown (``to_markdown()``) or as the nbchat JSON file (``save()``); Compare: its
    turns as Markdown or its results as JSON (``Compare.to_markdown()``, ``to_json()``)."""

    kind: Literal["export"]
    format: Literal["markdown", "json"]


class FlagRequest(TypedDict):
    """Chat: pin (always send) or exclude (never send) message ``id``."""

    kind: Literal["pin", "exclude"]
    id: str
    value: bool


class ApproveRequest(TypedDict):
    """Chat and Compare: a person's decision about the tool call ``id`` that waits for approval (the card's buttons):
    ``"once"`` (run it), ``"chat"`` (run it and later calls of that tool in this chat; in memory only, never saved
    or synced), ``"decline"`` (``reason`` goes to the model). It can only answer a call that is waiting; it never
    changes how calls are approved (``tool_approval`` is set in Python only)."""

    kind: Literal["approve"]
    id: str
    decision: Literal["once", "chat", "decline"]
    reason: str


class ColumnApproveRequest(ApproveRequest, total=False):
    """Compare: an :class:`ApproveRequest` from the card of the column ``column`` (its id): two models may give
    their calls the same id."""

    column: str


class _ColumnStopRequired(TypedDict):
    kind: Literal["stop"]


class ColumnStopRequest(_ColumnStopRequired, total=False):
    """Compare: stop one column's reply (``column``: its id), or every column's when ``column`` is left out."""

    column: str


class _AddRequired(TypedDict):
    kind: Literal["add"]
    spec: str


class AddRequest(_AddRequired, total=False):
    """Compare: add a column for ``spec`` (the "Add model" form), named ``name`` (empty or left out: the model's
    name), with ``model=`` (the model's name on a server)."""

    name: str
    model: str


class ColumnRequest(TypedDict):
    """Compare: remove the column ``column`` (its id)."""

    kind: Literal["remove"]
    column: str


class MoveRequest(TypedDict):
    """Compare: move the column ``column`` one place left (``step`` -1) or right (+1)."""

    kind: Literal["move"]
    column: str
    step: Literal[-1, 1]


class _SettingsRequired(TypedDict):
    kind: Literal["settings"]
    values: dict[str, Any]


class SettingsRequest(_SettingsRequired, total=False):
    """Compare: apply ``values`` (``system_prompt``, ``max_new_tokens``, ``temperature``, ``top_p``,
    ``use_history``) to the column ``column``, or to every column when it is left out."""

    column: str


class VoteRequest(TypedDict):
    """Compare: ``winner`` (a column id or ``"tie"``) was better in turn ``turn`` (1 is the first prompt)."""

    kind: Literal["vote"]
    turn: int
    winner: str


# ---------------------------------------------------------------------------------------------- the protocol
# What each widget sends and accepts, by kind: the tables tests/test_protocol.py checks against js/protocol.json
# (as js/__tests__/protocol.test.ts checks the TypeScript types). The widgets route exactly these kinds.
CHAT_SENDS: dict[str, type[Mapping[str, Any]]] = {
    "delta": DeltaMessage,
    "sync": SyncMessage,
    "notice": NoticeMessage,
    "attached": AttachedMessage,
    "attach-progress": AttachProgressMessage,
    "completions": CompletionsMessage,
    "provenance": ProvenanceMessage,
    "code": CodeMessage,
    "export": ExportMessage,
}
CHAT_ACCEPTS: dict[str, type[Mapping[str, Any]]] = {
    "submit": SubmitRequest,
    "attach": AttachRequest,
    "detach": TokenRequest,
    "complete": CompleteRequest,
    "draft": TextRequest,
    "stop": PlainRequest,
    "clear": PlainRequest,
    "sync": PlainRequest,
    "branch": BranchRequest,
    "edit": EditRequest,
    "regenerate": MessageRequest,
    "delete": MessageRequest,
    "pin": FlagRequest,
    "exclude": FlagRequest,
    "provenance": MessageRequest,
    "code": MessageRequest,
    "feedback": FeedbackRequest,
    "export": ExportRequest,
    "approve": ApproveRequest,
}
COMPARE_SENDS: dict[str, type[Mapping[str, Any]]] = {
    "delta": ColumnDeltaMessage,
    "sync": ColumnSyncMessage,
    "notice": NoticeMessage,
    "attached": AttachedMessage,
    "attach-progress": AttachProgressMessage,
    "completions": CompletionsMessage,
    "export": ExportMessage,
}
COMPARE_ACCEPTS: dict[str, type[Mapping[str, Any]]] = {
    "submit": SubmitRequest,
    "attach": AttachRequest,
    "detach": TokenRequest,
    "complete": CompleteRequest,
    "stop": ColumnStopRequest,
    "clear": PlainRequest,
    "sync": PlainRequest,
    "add": AddRequest,
    "remove": ColumnRequest,
    "move": MoveRequest,
    "settings": SettingsRequest,
    "vote": VoteRequest,
    "reveal": PlainRequest,
    "export": ExportRequest,
    "approve": ColumnApproveRequest,
}
RECORDS: dict[str, type[Mapping[str, Any]]] = {"MessageState": MessageState, "ReplyStats": ReplyStats}
