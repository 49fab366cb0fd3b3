"""The notebook widget: an anywidget view of one :class:`~nbchat.Conversation`.

State that must survive a page reload or a second view (committed messages, settings, status) lives in synced
traits. Token deltas travel as batched custom messages (``{"kind": "delta", ...}``), at most ~30 per second, so
the bytes sent grow linearly with the reply. No secret is ever put in a trait or a message.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import traitlets

from ._attachments import Attachment
from ._conversation import Conversation, ConversationEvent
from ._errors import ConversationBusyError
from ._i18n import error_notice, normalize_lang
from ._i18n import notice as keyed_notice
from ._i18n import text as ui_text
from ._notebook_view import NotebookActions, remember_chat
from ._policy import cap_notice, current_policy
from ._settings import DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE, MAX_TEMPERATURE, coerce_settings, renamed_history
from ._static_html import markdown_html
from ._uploads import BrowserAttachments, thumbnails_for
from ._view import (
    BranchRequest,
    CodeMessage,
    DeltaBatcher,
    EditRequest,
    ExportRequest,
    FeedbackRequest,
    FlagRequest,
    MessageRequest,
    PlainRequest,
    ProvenanceMessage,
    Route,
    StateSync,
    TextRequest,
    message_state,
)
from ._view_base import ViewBase, check_prompts, choose_lang
from .documents import MODES, reader_documents
from .tools import ToolError

__all__ = ["Chat"]

logger = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"
_TRANSCRIPT_MAX_CHARS = 32_000  # the static transcript in saved notebooks keeps the latest messages up to this size
_DEFAULT_TOKEN_LIMIT = 4096  # slider maximum until the model reports its context window

# Browser messages that change the tree without starting a reply: the view is rebuilt before the handler returns.
_SETTLE_NOW = frozenset({"clear", "branch", "delete", "pin", "exclude", "feedback"})
# The only traits the browser may change; anything else it sends is put back (status, messages, limits, ...).
_BROWSER_SETTINGS = frozenset(
    {
        "system_prompt",
        "max_new_tokens",
        "temperature",
        "use_history",
        "thinking",
        "notebook_context",
        "context_budget",
        "documents_mode",
        "course_reader",
    }
)
_THINKING = {"default": None, "on": True, "off": False}  # the "Thinking" choice in Advanced options
_SETTING_KEYS = {
    "max_new_tokens": "options.maxNewTokens",
    "temperature": "options.temperature",
    "system_prompt": "options.system",
    "use_history": "options.history",
    "thinking": "options.thinking",
    "notebook_context": "options.notebookContext",
    "context_budget": "options.contextBudget",
    "documents_mode": "docs.mode",
    "course_reader": "docs.reader",
}


class Chat(NotebookActions, ViewBase):
    """A chat widget for a notebook cell: type a message, watch the model answer token by token.

    Parameters
    ----------
    spec : str, client object, callable, Backend or None, default None
        What answers; ``None`` is the embedded SmolLM2-135M-Instruct (offline). See :class:`nbchat.Conversation`
        (``model=`` there is the model's name on a server or online source).
    conversation : Conversation, optional
        View an existing conversation instead of creating one (then the other arguments must be left out).
    namespace : dict, optional
        Where ``@name`` in the message box finds variables (completion and attaching); default: the notebook's
        (``get_ipython().user_ns``). ``@Err`` is the last error shown.
    **options
        :class:`~nbchat.Conversation` arguments (the settings below, ``model=``, ``source=``, ``save_to=``, ...)
        and backend options (``device=``, ``api_key=``, ...).

    Other Parameters
    ----------------
    system_prompt : str, default ""
        The system message (editable under "Advanced options").
    max_new_tokens : int, default 256
        Reply length limit; the slider goes from 1 to the model's context window (4096 until it is known), or to
        an administrator's cap (``$NBCHAT_MAX_NEW_TOKENS``) if lower.
    temperature : float, default 0.7
        Sampling temperature, 0 (greedy) to 2, or to an administrator's cap (``$NBCHAT_MAX_TEMPERATURE``).
    top_p : float, default 1.0
        Nucleus sampling mass in (0, 1].
    stop : list of str, optional
        Stop sequences.
    use_history : bool, default True
        Send earlier turns with each question (the "Use history" toggle; the ``use_history`` trait). ``history=``
        is its old name (a ``DeprecationWarning``, for one release).
    lang : {"en", "zh", "auto"}, optional
        The widget's language (English, Simplified Chinese). Default: the administrator's ``$NBCHAT_LANG``, else
        the browser's (JupyterLab's language setting when it chose one). Notices written by Python follow it.
    prompts : list of str, optional
        Starter prompts shown as cards while the chat is empty; a click sends one, or puts it in the message box
        when it has a ``{…}`` placeholder to complete. Default: the administrator's ``$NBCHAT_PROMPTS``, else none.
    thinking : bool or None, default None
        Reasoning models: think first (True), answer at once (False), or the model's default (None); the
        "Thinking" choice under "Advanced options". See :class:`nbchat.Conversation`.
    context : {"notebook", "off"}, default "off"
        ``"notebook"``: each message carries the recent cells of the notebook (their code and the text of their
        results and errors, newest first, secrets redacted; printed text is not kept by IPython), shown as a chip
        above the message box ("Context: cells 12–17 · 812 tokens") that opens to show exactly what is sent and can
        be removed for one message. Also a toggle under "Advanced options". See :mod:`nbchat._notebook`.
    context_tokens : int, optional
        The notebook context's budget in estimated tokens (characters / 4); default a quarter of the model's
        context window (1024 when unknown), at most the administrator's ``$NBCHAT_MAX_NOTEBOOK_CONTEXT_TOKENS``.
    explain_errors : bool, default False
        Give every failing cell an *Ask the chat* button (:func:`nbchat.explain_errors`).

    Attributes
    ----------
    documents_mode : {"auto", "whole", "relevant"}
        How attached documents are sent (``conversation.documents.mode``, kept in step both ways): the *Documents*
        choice under "Advanced options" and the switch on a document's chip in the tray. Changes what the next
        message sends.
    course_reader : bool
        Search the administrator's course reader with each question (``conversation.documents.course_reader``): the
        checkbox of the "Course reader: N documents" label, shown when the policy sets one.
    documents_info : dict
        Read-only, from the kernel: ``budget_tokens`` and ``window`` (tokens; the budget a document sent whole may
        fill, of the model's context window or 8192 when unknown), ``budget`` (the fraction), ``reader`` (names of the
        course reader's documents) and ``reader_problems`` (files that could not be used).

    Raises
    ------
    TypeError
        If ``conversation=`` is given together with a spec or options.
    ModelNotFoundError, ValueError
        As :class:`~nbchat.Conversation`.

    Examples
    --------
    >>> chat = nbchat.Chat(system_prompt="You are a legal assistant.", max_new_tokens=256, temperature=0.7)
    >>> chat                                  # doctest: +SKIP
    >>> chat.ask("Which animals live in the savanna?")  # doctest: +SKIP
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    # committed messages (ChatMessage.to_dict()); the streaming reply's text travels as custom messages
    _messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    status = traitlets.Unicode("loading", help="loading | ready | generating | error").tag(sync=True)
    status_text = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Float(None, allow_none=True, help="loading progress in [0, 1], or None").tag(sync=True)
    model_label = traitlets.Unicode("").tag(sync=True)
    prefill_drafts = traitlets.Bool(False).tag(sync=True)  # the browser sends the question as it is typed
    context = traitlets.Dict(help="context gauge: used, window, reserved, left_out").tag(sync=True)
    system_prompt = traitlets.Unicode("").tag(sync=True)
    max_new_tokens = traitlets.Int(DEFAULT_MAX_NEW_TOKENS).tag(sync=True)
    max_new_tokens_limit = traitlets.Int(_DEFAULT_TOKEN_LIMIT).tag(sync=True)
    temperature = traitlets.Float(DEFAULT_TEMPERATURE).tag(sync=True)
    temperature_limit = traitlets.Float(MAX_TEMPERATURE).tag(sync=True)
    use_history = traitlets.Bool(True).tag(sync=True)
    thinking = traitlets.Enum(("default", "on", "off"), "default", help="reasoning models: thinking= as a choice").tag(
        sync=True
    )
    status_i18n = traitlets.Dict(help="key and params of status_text in the UI catalogue, or {}").tag(sync=True)
    documents_mode = traitlets.Enum(
        MODES, "auto", help="documents: whole, relevant passages, or whole when they fit the budget (auto)"
    ).tag(sync=True)
    course_reader = traitlets.Bool(True, help="search the administrator's course reader with each question").tag(
        sync=True
    )
    documents_info = traitlets.Dict(
        help="documents: budget_tokens, window, budget (fraction); reader (names) and reader_problems"
    ).tag(sync=True)

    def __init__(
        self,
        spec: Any = None,
        *,
        conversation: Conversation | None = None,
        namespace: dict[str, Any] | None = None,
        lang: str | None = None,
        prompts: list[str] | None = None,
        context: str | None = None,
        context_tokens: int | None = None,
        explain_errors: bool = False,
        **options: Any,
    ) -> None:
        policy = current_policy()
        ui = {
            "lang": choose_lang(lang, policy.lang),
            "prompts": check_prompts(prompts) if prompts is not None else list(policy.prompts),
        }
        if conversation is None:
            conversation = Conversation(spec, **renamed_history(options))
        elif spec is not None or options:
            msg = "Pass either conversation= or a model and settings, not both."
            raise TypeError(msg)
        self.conversation = conversation
        self.page_settings: frozenset[str] = _BROWSER_SETTINGS
        """Settings the page may change: ``system_prompt``, ``max_new_tokens``, ``temperature``, ``use_history``
        (all by default; ``nbchat web --system`` removes ``system_prompt``). Caps still apply to the rest."""
        settings = conversation.settings
        super().__init__(
            **ui,
            max_new_tokens_limit=policy.token_limit(_DEFAULT_TOKEN_LIMIT),  # an administrator's caps, if any
            temperature_limit=policy.temperature_limit(),
            system_prompt=conversation.system_prompt,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            use_history=conversation.use_history,
            documents_mode=conversation.documents.mode,
            course_reader=conversation.documents.course_reader,
            thinking={None: "default", True: "on", False: "off"}[settings.thinking],
        )
        self._reader: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}  # course reader: names, problems
        self._reader_pending: set[tuple[str, ...]] = set()
        self._attachments = BrowserAttachments(namespace)  # pasted/dropped files until sent; @name
        self._batcher = DeltaBatcher(self.send)
        self._state = StateSync(self._sync, name="nbchat-chat-sync")
        self._display_id = f"nbchat-{self.model_id}"
        self._displayed = False
        self._state.now()
        self._unsubscribe = conversation.subscribe(self._on_event)
        self._unask = self._watch_tools(conversation)  # tool_approval="ask": the cards' buttons decide
        self._routes: dict[str, Route[Any]] = {
            **self._box_routes(),  # submit, attach, detach, complete, sync
            "draft": Route(TextRequest, lambda r: conversation.prefill(r["text"])),
            "stop": Route(PlainRequest, lambda _: conversation.stop()),
            "clear": Route(PlainRequest, lambda _: conversation.clear()),
            "regenerate": Route(MessageRequest, lambda r: conversation.regenerate(r["id"] or None)),
            "edit": Route(EditRequest, lambda r: conversation.edit(r["id"], r["text"])),
            "branch": Route(BranchRequest, lambda r: conversation.switch_branch(r["id"], r["step"])),
            "delete": Route(MessageRequest, lambda r: conversation.delete(r["id"])),
            "pin": Route(FlagRequest, lambda r: conversation.set_flags(r["id"], pinned=r["value"])),
            "exclude": Route(FlagRequest, lambda r: conversation.set_flags(r["id"], excluded=r["value"])),
            "provenance": Route(MessageRequest, self._send_provenance),
            "code": Route(MessageRequest, self._send_code),
            "feedback": Route(FeedbackRequest, self._set_feedback),
            "export": Route(ExportRequest, self._export),
        }
        self.on_msg(self._on_custom_message)
        self._init_notebook(context, context_tokens)  # the notebook context; this chat gets Ask the chat's errors
        if explain_errors:
            from ._explain import explain_errors as show_ask_buttons

            show_ask_buttons()

    # ------------------------------------------------------------------ public API
    @property
    def messages(self) -> list[dict[str, str]]:
        """The history as OpenAI-style dicts ``[{"role": "user", "content": ...}, ...]``; settable (validated).

        See :attr:`nbchat.Conversation.messages`.
        """
        return self.conversation.messages

    @messages.setter
    def messages(self, value: list[dict[str, str]]) -> None:
        self.conversation.messages = value
        self._state.now()
        self._refresh_transcript()

    def on_reply(self, callback: Any) -> Any:
        """Call ``callback(message)`` with each finished assistant :class:`~nbchat.ChatMessage`."""
        return self.conversation.on_reply(callback)

    def save(self, path: str | Path) -> Path:
        """Save the conversation as JSON (branches, settings, model spec; never keys). See ``Conversation.save``."""
        return self.conversation.save(path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        spec: Any = None,
        *,
        lang: str | None = None,
        prompts: list[str] | None = None,
        **options: Any,
    ) -> Chat:
        """A widget on a conversation saved with :meth:`save` (or downloaded from the widget as nbchat JSON).

        See :meth:`nbchat.Conversation.load`; ``lang`` and ``prompts`` as for :class:`Chat`.
        """
        return cls(conversation=Conversation.load(path, spec, **options), lang=lang, prompts=prompts)

    def to_markdown(self) -> str:
        """The visible conversation as a Markdown transcript."""
        return self.conversation.to_markdown()

    def to_json(self) -> str:
        """The conversation file's text, as :meth:`save` writes it (the widget's "Download as nbchat JSON")."""
        return self.conversation.to_json()

    @property
    def feedback(self) -> Any:
        """The ratings given to answers (thumbs up/down and comments), to collect a class's feedback.

        Returns
        -------
        pandas.DataFrame or list of dict
            One row per rated answer, columns ``message_id``, ``rating`` ("up", "down" or None), ``comment``,
            ``time`` (Unix seconds), ``question``, ``answer``, ``model``, ``backend``: a DataFrame when pandas is
            installed (the ``compare`` extra), else the same rows as dicts
            (:meth:`nbchat.Conversation.feedback_records`).
        """
        from ._feedback import FEEDBACK_COLUMNS

        records = self.conversation.feedback_records()
        try:
            import pandas as pd
        except ImportError:
            return records
        return pd.DataFrame(records, columns=list(FEEDBACK_COLUMNS))

    def on_feedback(self, callback: Any) -> Any:
        """Call ``callback(record)`` on every rating given in the widget; see :meth:`Conversation.on_feedback`."""
        return self.conversation.on_feedback(callback)

    def ask(self, text: str, timeout: float | None = None, *, attachments: Any = None, schema: Any = None) -> Any:
        """Send ``text`` as the Send button does, block until the reply is done, return its text (with ``schema``,
        the validated object: a structured reply, shown as formatted JSON).

        ``attachments``: figures, images, arrays, paths, DataFrames, exceptions, ... (see
        :meth:`nbchat.Conversation.send`). The reply streams into every open view of this widget. See
        :meth:`nbchat.Conversation.ask`.

        Raises
        ------
        ToolError
            In a Jupyter kernel, with tools whose calls wait for a click (``tool_approval="ask"``): while this cell
            runs, the kernel cannot receive the click, so the call would wait for ever. Type the question in the
            widget, use :meth:`send_message`, or pass ``tool_approval="auto"`` or a function that decides.
        """
        loop = self.conversation.tool_loop
        if loop.tools and loop.approvals.mode == "ask" and _in_kernel():
            msg = (
                "chat.ask() keeps the kernel busy until the reply is done, so the tool cards' Allow buttons could "
                "not reach it and a call would wait for ever. Type the question in the chat, use "
                "chat.send_message(...) (it returns at once), or create the chat with tool_approval='auto' or a "
                "function that decides."
            )
            raise ToolError(msg)
        try:
            return self.conversation.ask(
                text, timeout=timeout, attachments=self._with_context(attachments), schema=schema
            )
        finally:
            self._state.now()
            self._refresh_transcript()

    def send_message(self, text: str, *, attachments: Any = None) -> Any:
        """Send ``text`` (and ``attachments``) without waiting; returns a Future of the reply's message."""
        return self.conversation.send(text, attachments=self._with_context(attachments))

    def stop(self) -> None:
        """Stop the reply in progress; its partial text is kept, marked "stopped"."""
        self.conversation.stop()

    def clear(self) -> None:
        """Stop any reply and empty the conversation."""
        self.conversation.clear()
        self._state.now()
        self._refresh_transcript()

    def close(self) -> None:
        """Stop listening to the conversation and close the widget (the conversation stays usable)."""
        unsubscribe = getattr(self, "_unsubscribe", None)
        self._stop_notebook()
        if unsubscribe is not None:
            unsubscribe()
            self._unask()
            self._batcher.flush()
            self._state.close()
        super().close()

    def __repr__(self) -> str:
        return f"<nbchat.Chat {self.model_label or self.conversation.backend.model} · {len(self._messages)} messages>"

    # ------------------------------------------------------------------ notebook output
    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The widget view plus a static transcript, for viewers without a live kernel.

        GitHub, nbviewer, nbconvert and a notebook reopened without its kernel show ``text/html``: the latest
        messages, at most ~32,000 characters, as of the last change made from Python (see
        :meth:`_refresh_transcript`), rendered without any markup of a model's or user's own
        (:func:`nbchat._static_html.markdown_html`: raw HTML shown as text, no image fetched).
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/html": markdown_html(self._transcript(), normalize_lang(self.lang) or "")}, metadata

    def _ipython_display_(self) -> None:
        """Display with a display id, so later replies refresh the saved transcript of every view."""
        from IPython.display import display

        bundle = self._repr_mimebundle_()
        if bundle is None:
            return
        data, metadata = bundle
        display(data, metadata=metadata, raw=True, display_id=self._display_id)
        self._displayed = True
        remember_chat(self)  # Ask the chat sends errors to the chat displayed last

    def _transcript(self) -> str:
        lang = normalize_lang(self.lang) or ""  # the static copy's own words: the widget's language, else English
        text = self.conversation.to_markdown(html=False, lang=lang)  # shown through markdown_html: no HTML of its own
        if len(text) > _TRANSCRIPT_MAX_CHARS:
            text = f"*{ui_text('py.transcript.earlier', lang)}*\n\n" + text[-_TRANSCRIPT_MAX_CHARS:]
        return text

    def _refresh_transcript(self) -> None:
        """Rewrite the transcript of every displayed output of this widget (front-ends re-render the view).

        Called when Python code changed the chat (``ask``, ``clear``, ``messages = ...``): the cell is running, so
        nobody is typing into the view. Replies sent from the widget itself do not refresh it (the view would be
        replaced under the user's hands); their transcript is current again after the next change from code.
        """
        if not self._displayed or self.conversation.busy:
            return
        from IPython.display import update_display

        bundle = self._repr_mimebundle_()
        if bundle is not None:
            update_display(bundle[0], metadata=bundle[1], raw=True, display_id=self._display_id)

    # ------------------------------------------------------------------ conversation → browser
    def _on_event(self, event: ConversationEvent) -> None:
        self._relay(self._batcher, event)

    def _request_sync(self) -> None:
        self._state.request()

    def _conversations(self) -> list[tuple[str | None, Conversation]]:
        return [(None, self.conversation)]

    def _sync(self) -> None:
        """Rebuild the synced state from the conversation (traits only send what changed); see :class:`StateSync`."""
        conv = self.conversation
        tree = conv.tree
        branch = conv.history
        try:
            positions = [tree.position(m.id) for m in branch]
        except (KeyError, ValueError):  # the tree changed between the two reads: the next request rebuilds
            self._state.request()
            return
        try:
            context = conv.context_usage()
        except Exception:  # noqa: BLE001 - counting tokens must never break the view
            context = {"used": None, "window": conv.backend.context_window, "reserved": 0, "left_out": []}
        left_out = set(context.pop("left_out"))
        info = conv.backend.describe()
        with self.hold_sync():
            self._messages = [
                {**message_state(m), "branch": list(position), "in_context": m.id not in left_out}
                for m, position in zip(branch, positions, strict=True)
            ]
            self.context = {**context, "left_out": len(left_out)}
            self.status = conv.status
            self.status_text = conv.status_text
            self.status_i18n = dict(conv.status_i18n or {})
            self.progress = conv.progress if conv.status == "loading" else None
            self.model_label = " · ".join(str(info[k]) for k in ("model", "backend") if info.get(k))
            self.prefill_drafts = conv.backend.can_prefill
            if conv.backend.context_window:
                self.max_new_tokens_limit = current_policy().token_limit(int(conv.backend.context_window))
            self._sync_documents()

    def _sync_documents(self) -> None:
        """The documents' switch, budget and course reader as the conversation has them (code may change them)."""
        docs = self.conversation.documents
        self.documents_mode, self.course_reader = docs.mode, docs.course_reader
        budget, window = docs.budget_tokens(self.conversation.backend.context_window)
        reader, problems = self._reader_names(current_policy().course_reader)
        self.documents_info = {
            "budget_tokens": budget,
            "window": window,
            "budget": docs.budget,
            "reader": reader,
            "reader_problems": problems,
        }

    def _reader_names(self, paths: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """The course reader's document names and problems, once converted. The first conversion of a reader (many
        PDFs) runs in a thread of its own, so the view shows at once; the label appears when it is done."""
        if not paths:
            return [], []
        known = self._reader.get(paths)
        if known is not None:
            return known
        if paths not in self._reader_pending:
            self._reader_pending.add(paths)

            def convert() -> None:
                docs, problems = reader_documents(paths)
                self._reader[paths] = ([d.name for d in docs], problems)
                self._state.request()

            threading.Thread(target=convert, name="nbchat-course-reader", daemon=True).start()
        return [], []

    # ------------------------------------------------------------------ browser → conversation
    def _error_notice(self, error: BaseException, text: str) -> dict[str, Any]:
        if isinstance(error, ConversationBusyError):
            return keyed_notice("warning", "py.busy", self.lang)
        return error_notice(error, self.lang, fallback=text)

    def _settled(self, kind: str) -> None:
        if kind in _SETTLE_NOW:
            self._state.now()

    def _send_from_box(self, text: str, attachments: list[Attachment]) -> object:
        return self.conversation.send(text, attachments=[*attachments, *self._context_parts()])

    def _refusal(self, error: BaseException, text: str, kept: list[dict[str, Any]]) -> dict[str, Any]:
        if isinstance(error, ConversationBusyError):
            return keyed_notice("warning", "py.busy", self.lang)
        if isinstance(error, ValueError) and not text.strip() and not kept:
            return keyed_notice("warning", "py.empty", self.lang)
        return error_notice(error, self.lang)

    def _send_provenance(self, request: MessageRequest) -> None:
        conv, message_id = self.conversation, request["id"]
        data: dict[str, Any] | None
        try:
            data = conv.request_of(message_id)
        except KeyError:  # loaded or hand-set messages have no recorded request: the card says so
            data = None if message_id in conv.tree.nodes else conv.request_of(message_id)
        attachments = [a for m in conv.tree.nodes.values() for a in m.attachments]
        self.send(ProvenanceMessage(kind="provenance", id=message_id, data=thumbnails_for(data, attachments)))

    def _set_feedback(self, request: FeedbackRequest) -> None:
        self.conversation.set_feedback(request["id"], request["rating"], request["comment"])

    def _export_label(self) -> str:
        return str(self.conversation.backend.describe().get("model") or "")

    def _send_code(self, request: MessageRequest) -> None:
        code = self.conversation.request_code(request["id"])
        self.send(CodeMessage(kind="code", id=request["id"], code=code))

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """A change from the browser: settings only, validated; out-of-range values are refused or clamped.

        The browser is told (a notice) and gets the value actually in force, so the view never shows a setting
        that is not the one used.
        """
        resend: list[str] = []
        for name, value in sync_data.items():
            if name not in _BROWSER_SETTINGS:
                resend.append(name)
                continue
            key = _SETTING_KEYS.get(name)
            label = ui_text(key, self.lang) if key else name  # the browser shows its own text for label_key
            if name not in self.page_settings:
                resend.append(name)
                self.send(keyed_notice("warning", "py.fixed", self.lang, label=label, label_key=key or ""))
                continue
            try:
                super().set_state({name: value})
            except (traitlets.TraitError, TypeError, ValueError) as exc:
                resend.append(name)
                kept = getattr(self, name)
                params = {"label": label, "label_key": key or "", "value": repr(value), "kept": repr(kept)}
                self.send(keyed_notice("warning", "py.refused", self.lang, **params, reason=exc))
        if resend:
            self.send_state(key=[name for name in resend if name in self.keys])

    @traitlets.observe("thinking")
    def _on_thinking(self, change: dict[str, Any]) -> None:
        self.conversation.thinking = _THINKING[change["new"]]

    @traitlets.observe("documents_mode", "course_reader")
    def _on_documents(self, change: dict[str, Any]) -> None:
        """The Documents choice and the course reader's switch: they change what the next message sends."""
        if change["name"] == "documents_mode":
            self.conversation.documents.mode = change["new"]
        else:
            self.conversation.documents.course_reader = bool(change["new"])

    @traitlets.observe("system_prompt", "use_history")
    def _on_plain_setting(self, change: dict[str, Any]) -> None:
        if change["name"] == "system_prompt":
            self.conversation.system_prompt = change["new"]
        else:
            self.conversation.use_history = bool(change["new"])

    @traitlets.validate("max_new_tokens", "temperature")
    def _valid_generation(self, proposal: dict[str, Any]) -> float:
        """A slider's value, from Python or the browser: checked as every view checks it (:func:`coerce_settings`,
        :class:`GenerationSettings`), set on the conversation (where an administrator's caps apply, once), then
        clamped to this slider's maximum; a lowered value is said in the chat, keyed."""
        name, asked = proposal["trait"].name, proposal["value"]
        conv = self.conversation
        try:
            wanted = conv.settings.replace(**coerce_settings({name: asked}))
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(str(exc)) from exc
        conv.settings = wanted
        value: float = getattr(conv.settings, name)
        wanted_value: float = getattr(wanted, name)
        if value < wanted_value:
            said = cap_notice(name, wanted_value, self.lang)
            if said is not None:
                self._notice(said)
        limit = self.max_new_tokens_limit if name == "max_new_tokens" else self.temperature_limit
        if value > limit:
            key = _SETTING_KEYS[name]
            params = {"label": ui_text(key, self.lang), "label_key": key, "value": repr(asked), "kept": limit}
            self._notice(keyed_notice("warning", "py.lowered", self.lang, **params))
            value = limit
            conv.settings = conv.settings.replace(**{name: value})
        return value


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where a busy cell keeps browser messages from arriving)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
