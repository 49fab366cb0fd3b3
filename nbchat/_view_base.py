"""What every nbchat widget does (:class:`~nbchat.Chat`, :class:`~nbchat.Compare`): the view's language, the
message box (submit, upload, ``@name`` completions), relaying a conversation's events, sending partial replies to a
view opened mid-stream, and dispatching browser messages with errors shown in the widget.

Tools: every widget is the person a conversation with ``tool_approval="ask"`` asks (:meth:`ViewBase._watch_tools`):
a waiting call shows as a card with Allow once / Allow for this chat / Decline, whose click comes back as an
``approve`` message (:meth:`ViewBase._approve`) that can answer only a call that is waiting.

A widget names its conversations (:meth:`ViewBase._conversations`: one for a Chat, one per column for a Compare)
and what the message box sends to (:meth:`ViewBase._send_from_box`); the rest is here, once. The typed protocol, the
delta batcher and the state thread these use are :mod:`nbchat._view`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import anywidget
import traitlets

from ._attachments import Attachment
from ._conversation import Conversation, ConversationEvent
from ._errors import NbchatError
from ._i18n import LANGS, error_notice, normalize_lang
from ._i18n import notice as keyed_notice
from ._uploads import BrowserAttachments
from ._view import (
    ApproveRequest,
    AttachRequest,
    ColumnApproveRequest,
    ColumnSyncMessage,
    CompleteRequest,
    CompletionsMessage,
    DeltaBatcher,
    ExportMessage,
    ExportRequest,
    NoticeMessage,
    PlainRequest,
    ProtocolError,
    Route,
    SubmitRequest,
    SyncMessage,
    TokenRequest,
    dispatch,
)
from .tools import ToolCall

__all__ = ["ViewBase", "check_prompts", "choose_lang", "export_filename", "partial_turn"]

logger = logging.getLogger(__name__)


def choose_lang(lang: str | None, default: str) -> str:
    """The view language: ``lang`` when given (normalized), else the administrator's ``default`` ("" = browser's).

    Raises
    ------
    ValueError
        For a language nbchat has no catalogue for.
    """
    if lang is None:
        return default
    chosen = normalize_lang(lang)
    if chosen is None:
        msg = f"lang={lang!r}: nbchat speaks {', '.join(LANGS)} (or 'auto' for the browser's language)."
        raise ValueError(msg)
    return chosen


def check_prompts(prompts: Any) -> list[str]:
    """Starter prompts as a list of non-empty strings.

    Raises
    ------
    TypeError
        If ``prompts`` is a single string or not a list of strings.
    """
    is_list = isinstance(prompts, (list, tuple)) and all(isinstance(p, str) for p in prompts)
    if not is_list:
        example = '["What is a token?", "Explain {topic} simply"]'
        msg = f"prompts must be a list of strings, e.g. {example}; got {prompts!r:.80}."
        raise TypeError(msg)
    return [p.strip() for p in prompts if p.strip()]


def export_filename(label: str, ext: str, kind: str = "chat") -> str:
    """``<kind>-<label>-YYYYmmdd-HHMM.<ext>`` (``chat-<model>-…``): a file name that says what and when, safe on
    every system."""
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in label.split("/")[-1])[:40].strip("-.") or "nbchat"
    return f"{kind}-{stem}-{datetime.now().strftime('%Y%m%d-%H%M')}.{ext}"


def partial_turn(conv: Conversation) -> tuple[str, str, str] | None:
    """``(message id, text, reasoning)`` streamed so far in the reply ``conv`` is generating, or ``None``.

    With tools, the text and reasoning of the rounds already in the message's ``tool_rounds`` come first (as the
    deltas brought them): read again when a round was appended meanwhile, so the two agree.
    """
    for attempt in range(10):
        first = conv.partial_reply()
        if first is None:
            return None
        message = conv.tree.nodes.get(first[0])
        rounds = list(message.tool_rounds) if message is not None else []
        partial, reasoning = conv.partial_reply(), conv.partial_reasoning()
        if partial is None:
            return None
        if message is None or len(message.tool_rounds) == len(rounds) or attempt == 9:
            text = "".join(r.content for r in rounds) + partial[1]
            return partial[0], text, "".join(r.reasoning for r in rounds) + reasoning
    return None


def _no_attachments(objects: list[Any], names: list[str]) -> list[Attachment]:
    """No conversation yet (a Compare without columns): nothing to convert for."""
    return []


class ViewBase(anywidget.AnyWidget):
    """The base of nbchat's widgets: language, message box, event relay, partial replies, dispatch.

    A subclass sets ``_routes`` (its table: :meth:`_box_routes` plus its own kinds), ``_attachments`` and
    ``_state``-like plumbing of its own, and implements :meth:`_conversations`, :meth:`_send_from_box` and
    :meth:`_request_sync`; it calls :meth:`_relay` from each conversation's listener.
    """

    lang = traitlets.Unicode("", help='UI language: "en", "zh", or "" (the browser\'s)').tag(sync=True)
    prompts = traitlets.List(traitlets.Unicode(), help="starter prompts shown while the view is empty").tag(sync=True)

    _export_kind: ClassVar[str] = "chat"
    """The first word of an exported file's name."""

    _shown_errors: ClassVar[tuple[type[BaseException], ...]] = (NbchatError, ValueError, KeyError)
    """Errors of a handler that are shown in the widget as a notice (others reach the kernel's log)."""

    _attachments: BrowserAttachments
    _routes: dict[str, Route[Any]]

    # ------------------------------------------------------------------ what a widget names
    def _conversations(self) -> list[tuple[str | None, Conversation]]:
        """``(column id, conversation)`` of each conversation shown, left to right; ``None`` for a Chat's one."""
        raise NotImplementedError

    def _send_from_box(self, text: str, attachments: list[Attachment]) -> object:
        """Send the message box's question (Chat: to its conversation; Compare: to every column)."""
        raise NotImplementedError

    def _request_sync(self) -> None:
        """Ask for the synced state to be rebuilt soon (never blocks: called from conversation listeners)."""
        raise NotImplementedError

    def to_markdown(self) -> str:
        """The view as a Markdown transcript (the widget's "Export" as Markdown)."""
        raise NotImplementedError

    def to_json(self) -> str:
        """The view as JSON (the widget's "Export" as JSON)."""
        raise NotImplementedError

    def _export_label(self) -> str:
        """What an exported file's name says after :attr:`_export_kind` (the model, the number of columns)."""
        raise NotImplementedError

    def _refusal(self, error: BaseException, text: str, kept: list[dict[str, Any]]) -> Mapping[str, Any]:
        """The notice for a question that could not be sent (text and uploads go back to the box)."""
        return error_notice(error, self.lang)

    def _error_notice(self, error: BaseException, text: str) -> Mapping[str, Any]:
        """The notice for an error of a browser message's handler."""
        return error_notice(error, self.lang, fallback=text)

    def _settled(self, kind: str) -> None:
        """After a browser message of ``kind`` was handled without error (Chat rebuilds its view for some)."""

    # ------------------------------------------------------------------ shared parts
    def _box_routes(self) -> dict[str, Route[Any]]:
        """The routes every widget has: the message box (submit, attach, detach, complete), sync, and approve (a
        tool call's buttons)."""
        return {
            "submit": Route(SubmitRequest, self._submit),
            "attach": Route(AttachRequest, self._upload, with_buffers=True),
            "detach": Route(TokenRequest, lambda r: self._attachments.forget([r["token"]])),
            "complete": Route(CompleteRequest, self._send_completions),
            "sync": Route(PlainRequest, lambda _: self._send_partials()),
            "approve": Route(ApproveRequest, self._approve),
        }

    @property
    def namespace(self) -> dict[str, Any] | None:
        """Where ``@name`` finds variables; ``None``: the notebook's (``get_ipython().user_ns``)."""
        return self._attachments.namespace

    @namespace.setter
    def namespace(self, value: dict[str, Any] | None) -> None:
        self._attachments.namespace = value

    def _first(self) -> Conversation | None:
        """The first conversation shown (its attachment sizes and converters serve the message box)."""
        shown = self._conversations()
        return shown[0][1] if shown else None

    def _relay(self, batcher: DeltaBatcher | None, event: ConversationEvent) -> None:
        """A conversation's event: deltas to ``batcher``; anything else asks for a rebuild (after a flush, so the
        text streamed so far reaches the browser before the committed message). Runs in the thread that changed
        the conversation (maybe under its lock): queues work, never blocks."""
        if event.kind in ("delta", "reasoning") and event.message is not None:
            if batcher is not None:
                batcher.add(event.message.id, event.text, reasoning=event.kind == "reasoning")
            return
        if event.kind in ("message", "tree", "clear", "tool") and batcher is not None:
            batcher.flush()
        self._request_sync()

    def _send_partials(self) -> None:
        """Send each reply being streamed as it is so far (a view opened mid-stream asked with ``sync``).

        A turn with tools: ``text`` and ``reasoning`` are everything streamed since the turn began, the rounds'
        (already in ``tool_rounds`` of the synced message) and then the current round's, as the deltas carried
        them; the view shows after the rounds what follows their text (js/live.ts).
        """
        for column, conv in self._conversations():
            partial = partial_turn(conv)
            if partial is None:
                continue
            message = SyncMessage(kind="sync", id=partial[0], text=partial[1], reasoning=partial[2])
            self.send(message if column is None else ColumnSyncMessage(**message, column=column))

    # ------------------------------------------------------------------ tools: this view is who "ask" asks
    def _watch_tools(self, conv: Conversation) -> Callable[[], None]:
        """Register this widget as the person ``conv`` asks about its tool calls (``tool_approval="ask"``, the
        default: ``Chat(tools=[f])`` works as it is); returns the function that unregisters it.

        The waiting call is already in the message's ``tool_rounds`` (status ``"pending"``), and its ``"tool"`` event
        asked for the synced state to be rebuilt (:meth:`_relay`): the card shows with its buttons, so the asker
        itself has nothing left to do. With ``"auto"`` or a callable nobody is asked, so this changes nothing.
        """

        def asker(_call: ToolCall) -> None:  # the worker thread: the call's "tool" event already asked for a rebuild
            return None

        return conv.on_tool_approval(asker)

    def _approve(self, request: ApproveRequest | ColumnApproveRequest) -> None:
        """A card's button: answer the call ``id`` of the conversation waiting for it (in a Compare, of the column
        ``column`` when given).

        Only a call that waits now can be answered; any other id (decided already, e.g. in another view, stopped,
        or never asked) changes nothing and the view is told. The message cannot change ``tool_approval``, and
        "Allow for this chat" lives in the conversation's memory only (never in synced state or a saved file).
        """
        call_id, column = request["id"], request.get("column")
        for shown, conv in self._conversations():
            if column is not None and shown != column:
                continue
            if call_id in conv.tool_loop.approvals.waiting():
                reason = request["reason"] if request["decision"] == "decline" else ""
                conv.approve(call_id, request["decision"], reason)
                return
        logger.info("nbchat %s: no tool call %r is waiting; the click changed nothing", type(self).__name__, call_id)
        self.send(keyed_notice("info", "tool.notWaiting", self.lang))

    def _submit(self, request: SubmitRequest) -> None:
        """Send the message box: its text, the uploads named by its tokens, and the variables named ``@name``."""
        text, tokens = request["text"], request.get("attachments")
        first = self._first()
        make = first.make_attachments if first is not None else _no_attachments
        try:
            self._send_from_box(text, self._attachments.collect(text, tokens, make))
        except (NbchatError, ValueError) as exc:  # nothing was sent: the browser puts the text and uploads back
            kept = self._attachments.pending(tokens)
            self.send({**self._refusal(exc, text, kept), "restore": text, "attachments": kept})
        else:
            self._attachments.forget(tokens)

    def _upload(self, request: AttachRequest, buffers: list[Any]) -> None:
        """Convert an uploaded file; a document is converted in a worker thread that sends ``attach-progress``
        messages and then the ``attached`` answer (:meth:`BrowserAttachments.upload_with_progress`), so a
        300-page PDF neither blocks the kernel nor leaves the chip without news."""
        first = self._first()  # its sizes apply (in a Compare, a column's model may downscale further)
        sizes = {"max_side": first.image_max_side, "tokens": first.attachment_tokens} if first is not None else {}
        self.send(self._attachments.upload_with_progress(dict(request), buffers, self._send_from_worker, **sizes))

    def _send_from_worker(self, message: dict[str, Any]) -> None:
        """Send a message from a worker thread (a document's conversion); a closed widget drops it."""
        try:
            self.send(message)
        except Exception:  # the view went away meanwhile: nobody to tell
            logger.debug("nbchat could not send %s", message.get("kind"), exc_info=True)

    def _send_completions(self, request: CompleteRequest) -> None:
        items = self._attachments.completions(request["prefix"])
        self.send(CompletionsMessage(kind="completions", request=request["request"], items=items))

    def _export(self, request: ExportRequest) -> None:
        """Answer the view's Export: :meth:`to_markdown` or :meth:`to_json`, with a file name."""
        fmt = request["format"]
        try:
            if fmt not in ("markdown", "json"):
                msg = f"unknown export format {fmt!r} (markdown or json)"
                raise ValueError(msg)
            text = self.to_markdown() if fmt == "markdown" else self.to_json()
        except (ValueError, NbchatError, OSError) as exc:
            self.send(keyed_notice("error", "export.failed", self.lang, reason=exc))
            return
        filename = export_filename(self._export_label(), "md" if fmt == "markdown" else "json", self._export_kind)
        self.send(ExportMessage(kind="export", format=fmt, text=text, filename=filename))

    def _on_custom_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        """Dispatch a browser message through ``_routes``; what goes wrong is shown in the widget."""
        try:
            dispatch(self._routes, content, buffers)
        except self._shown_errors as exc:  # ProtocolError is a ValueError
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            if isinstance(exc, ProtocolError):
                logger.warning("nbchat %s ignored a browser message: %s", type(self).__name__, text)
            self.send(dict(self._error_notice(exc, str(text))))
            return
        self._settled(content.get("kind"))

    def _notice(self, message: NoticeMessage | Mapping[str, Any]) -> None:
        """Send a notice, also before the widget has a comm (then it is dropped: a warning says it in Python)."""
        try:
            self.send(dict(message))
        except Exception:
            logger.debug("nbchat could not show a notice yet", exc_info=True)
