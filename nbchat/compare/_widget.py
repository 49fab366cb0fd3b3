"""Compare models side by side: one prompt, many models (or one model with several settings), one widget.

Each column is a full :class:`~nbchat.Conversation` (own history, settings and worker thread), so the columns
stream at the same time and a turn takes about as long as the slowest column. The widget only routes::

    Compare.send_message(text) ─► Conversation.send(text) in every column (each starts its own worker)
        worker threads ─► "delta" events ─► one DeltaBatcher per column ─► {"kind": "delta", "column", "id", "text"}
                       ─► other events  ─► "state is stale" ─► one sync thread ─► traits _columns, _messages, _turns

Listeners never build widget state themselves: a conversation may call them while holding its lock, and building
the state reads every column's history, so the sync thread does it (and nothing waits on two locks at once). The
batcher, the sync thread and the typed browser protocol are the view layer Chat uses too (:mod:`nbchat._view`).

Blind mode, votes and results are a mixin (:mod:`nbchat.compare._arena`); columns, turns and the spec helpers are
plain data in :mod:`nbchat.compare._columns`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import Any

import traitlets

from .._attachments import Attachment
from .._conversation import Conversation, ConversationEvent
from .._errors import ConversationBusyError, NbchatError
from .._i18n import normalize_lang
from .._i18n import text as ui_text
from .._messages import ChatMessage, check_text
from .._policy import current_policy
from .._redact import redacting_logger
from .._settings import renamed_history
from .._uploads import BrowserAttachments
from .._view import (
    AddRequest,
    ColumnApproveRequest,
    ColumnDeltaMessage,
    ColumnRequest,
    ColumnStopRequest,
    DeltaBatcher,
    DeltaMessage,
    ExportRequest,
    MoveRequest,
    PlainRequest,
    Route,
    SettingsRequest,
    StateSync,
    VoteRequest,
    message_state,
)
from .._view_base import ViewBase, check_prompts, choose_lang
from ._arena import Arena
from ._columns import (
    SETTINGS,
    Column,
    Reply,
    Turn,
    apply_settings,
    candidates,
    checked_settings,
    combo_name,
    letter,
    split_item,
    sweep_factory,
)

__all__ = ["Compare"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record

_STATIC = Path(__file__).parent.parent / "static"
_SWEEPABLE = ("system_prompt", "max_new_tokens", "temperature", "top_p", "use_history")
_HIDDEN_STATS = ("backend", "model")  # stats that would name the model in blind mode
_STATUS_KEYS = {  # a reply's status in the Markdown export, in the widget's language
    "stopped": "badge.stopped",
    "incomplete": "badge.incomplete",
    "error": "py.cmp.error",
    "streaming": "py.cmp.streaming",
}


@dataclasses.dataclass
class _Link:
    """How a column's conversation reaches the browser: its delta batcher, and how to stop listening to it."""

    batcher: DeltaBatcher
    unsubscribe: Callable[[], None]


class Compare(Arena, ViewBase):
    """Several models side by side in one widget: one message box, one column per model, answers streamed at once.

    Parameters
    ----------
    models : iterable or mapping, default ()
        One item per column, or a mapping ``{name: item}``. An item is anything :class:`~nbchat.Conversation`
        takes as a spec (``None`` for the embedded model, ``"openai:gpt-4o-mini"``, ``"http://127.0.0.1:8000/v1"``,
        a local model, a callable, a Backend), a :class:`~nbchat.Chat` or :class:`~nbchat.Conversation` (used as
        it is: its history and settings become the column's), a ``(name, item)`` pair, or a dict of Conversation
        arguments with an optional ``"name"``, e.g. ``{"name": "srv", "spec": "http://127.0.0.1:8000/v1",
        "model": "qwen2.5-0.5b-instruct", "temperature": 0}`` — the form for a server that needs ``model=``
        (``("http://127.0.0.1:8000/v1", {"model": "qwen2.5-0.5b-instruct"})`` means the same, unnamed).
    blind : bool, default False
        Arena mode: columns are named "A", "B", ... (in shuffled order) until you vote or press "Reveal".
    shuffle : bool, optional
        Shuffle the columns when blind mode is turned on. Default: True.
    lang : {"en", "zh", "auto"}, optional
        The widget's language; default: the administrator's ``$NBCHAT_LANG``, else the browser's. See
        :class:`nbchat.Chat`.
    prompts : list of str, optional
        Starter prompts shown as cards until the first turn, as in :class:`nbchat.Chat`. Default: the
        administrator's ``$NBCHAT_PROMPTS``, else none.
    **options
        The settings below, and what is passed to each Conversation created here from a spec: ``prepare=``,
        ``device=``, ``api_key=``, ...

    Other Parameters
    ----------------
    system_prompt, max_new_tokens, temperature, top_p, stop, use_history
        Settings for every column (also applied to the Chat/Conversation objects given); a dict item's own
        settings win over these. Left out: each column keeps its own (Conversation defaults for new ones).

    Raises
    ------
    ModelNotFoundError, BackendError, TypeError, ValueError
        As :class:`~nbchat.Conversation`, for a spec that names nothing usable, or a bad setting.

    Examples
    --------
    >>> cmp = nbchat.Compare(["openai:gpt-4o-mini", {"spec": "http://127.0.0.1:8000/v1", "model": "x"}, nbchat.Chat()])
    >>> cmp                                                        # doctest: +SKIP
    >>> cmp.ask("Has math been invented or discovered?")            # doctest: +SKIP
    {'gpt-4o-mini': '...', 'x': '...', 'SmolLM2-135M-Instruct': '...'}
    >>> cmp.results                                                 # doctest: +SKIP
    """

    _esm = _STATIC / "compare.js"
    _css = _STATIC / "compare.css"

    # per column: id, name (its letter while blind), label, letter, settings, status, status_text
    _columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    # column id → committed messages (the Chat widget's message dicts, plus "turn")
    _messages = traitlets.Dict().tag(sync=True)
    # turn, prompt, columns (ids), done, vote (column id, "tie" or None)
    _turns = traitlets.List(traitlets.Dict()).tag(sync=True)
    status = traitlets.Unicode("ready", help="generating if any column is, else loading if any is, else ready").tag(
        sync=True
    )
    # an administrator's caps (nbchat._policy): the settings forms' maxima; values above them are lowered anyway
    limits = traitlets.Dict(help="max_new_tokens (None: no cap) and temperature caps").tag(sync=True)

    _shown_errors = (NbchatError, ValueError, TypeError, KeyError)
    _export_kind = "compare"

    def __init__(
        self,
        models: Iterable[Any] | Mapping[str, Any] = (),
        *,
        blind: bool = False,
        shuffle: bool | None = None,
        lang: str | None = None,
        prompts: list[str] | None = None,
        **options: Any,
    ) -> None:
        policy = current_policy()
        super().__init__(
            limits={"max_new_tokens": policy.max_new_tokens, "temperature": policy.temperature_limit()},
            lang=choose_lang(lang, policy.lang),
            prompts=check_prompts(prompts) if prompts is not None else list(policy.prompts),
        )
        self.shuffle = True if shuffle is None else bool(shuffle)
        renamed_history(options)  # history= is the old name of use_history=
        self._defaults = {k: options.pop(k) for k in SETTINGS if k in options}
        self._options = options
        self._cols: list[Column] = []
        self._turn_log: list[Turn] = []
        self._ids = itertools.count(1)
        self._links: dict[str, _Link] = {}  # column id → its batcher and listener
        self._state_lock = threading.RLock()
        self._state = StateSync(self._sync_now, name="nbchat-compare-sync")
        self._closed = False
        self._attachments = BrowserAttachments()  # files pasted or dropped in the composer, @name (notebook's)
        self._routes: dict[str, Route[Any]] = {
            **self._box_routes(),  # submit, attach, detach, complete, sync
            "stop": Route(ColumnStopRequest, lambda r: self.stop(r.get("column") or None)),
            "add": Route(AddRequest, self._add_from_browser),
            "remove": Route(ColumnRequest, lambda r: self.remove(r["column"])),
            "move": Route(MoveRequest, lambda r: self.move(r["column"], r["step"])),
            "settings": Route(SettingsRequest, self._settings_from_browser),
            "vote": Route(VoteRequest, lambda r: self.vote(r["winner"], r.get("turn"))),
            "reveal": Route(PlainRequest, lambda _: self.reveal()),
            "clear": Route(PlainRequest, lambda _: self.clear()),
            "export": Route(ExportRequest, self._export),
            "approve": Route(ColumnApproveRequest, self._approve),  # a card's click names its column
        }
        items = list(models.items()) if isinstance(models, Mapping) else list(models)
        try:
            for item in items:
                name, spec, options = split_item(item)
                self._add(spec, name, options, sync=False)
        except BaseException:
            self.close()
            raise
        self.on_msg(self._on_custom_message)
        if blind:
            self.blind = True  # letters (and shuffle) via the observer
        self._sync()

    # ------------------------------------------------------------------ columns
    @property
    def columns(self) -> list[Column]:
        """The columns, left to right (a copy of the list)."""
        with self._state_lock:
            return list(self._cols)

    @property
    def conversations(self) -> dict[str, Conversation]:
        """``{column name: Conversation}``, left to right (letters while blind)."""
        return {self._shown_name(c): c.conversation for c in self.columns}

    def add(self, spec: Any = None, *, name: str | None = None, **options: Any) -> Column:
        """Add a column on the right.

        Parameters
        ----------
        spec : spec, Chat, Conversation or dict
            As one item of ``models`` in :class:`Compare`.
        name : str, optional
            The column's name; default: the model name (made unique with " (2)", ...).
        **options
            Conversation arguments for this column (``model=``, ``temperature=``, ``api_key=``, ...).

        Raises
        ------
        ValueError
            If ``name`` is taken.
        ModelNotFoundError, BackendError, TypeError
            As :class:`~nbchat.Conversation` for a spec that names nothing usable.
        """
        return self._add(spec, name, options)

    def _add(self, spec: Any, name: str | None, options: dict[str, Any], *, sync: bool = True) -> Column:
        conv, owned, given = self._conversation_for(spec, options)
        try:
            return self._add_column(conv, name or given, owned=owned, sync=sync)
        except BaseException:
            if owned:
                conv.close()
            raise

    def _conversation_for(self, spec: Any, options: dict[str, Any]) -> tuple[Conversation, bool, str | None]:
        """(conversation, created here?, name from a dict item) for a column item."""
        existing = getattr(spec, "conversation", spec)
        if isinstance(existing, Conversation):
            if options:
                apply_settings(existing, options)
            if self._defaults:
                apply_settings(existing, self._defaults)
            return existing, False, None
        given = None
        if isinstance(spec, Mapping):
            described = dict(spec)
            given = described.pop("name", None)
            spec = described.pop("spec", None)
            options = {**described, **options}
        kwargs = {**self._options, **self._defaults, **options}
        if "use_history" in kwargs:
            kwargs["use_history"] = bool(kwargs["use_history"])
        return Conversation(spec, **kwargs), True, given

    def _add_column(self, conv: Conversation, name: str | None, *, owned: bool, sync: bool = True) -> Column:
        with self._state_lock:
            taken = {c.name for c in self._cols}
            if name is not None and name in taken:
                msg = f"There is already a column named {name!r}; pick another name."
                raise ValueError(msg)
            if name is None:
                base = conv.backend.model or conv.backend.kind
                name = next(n for n in candidates(base) if n not in taken)
            column = Column(f"c{next(self._ids)}", str(name), conv, owned=owned)
            if self.blind:
                used = {c.letter for c in self._cols}
                column.letter = next(letter(i) for i in itertools.count() if letter(i) not in used)
            self._links[column.id] = self._link(column)
            self._cols.append(column)
        if sync:
            self._sync()
        return column

    def _link(self, column: Column) -> _Link:
        def send_delta(content: DeltaMessage) -> None:
            self.send(ColumnDeltaMessage(**content, column=column.id))

        def on_event(event: ConversationEvent) -> None:
            link = self._links.get(column.id)
            self._relay(link.batcher if link is not None else None, event)

        batcher = DeltaBatcher(send_delta)
        unsubscribe = column.conversation.subscribe(on_event)
        unask = self._watch_tools(column.conversation)  # its tool calls' cards ask in this view

        def unlink() -> None:
            unsubscribe()
            unask()

        return _Link(batcher, unlink)

    def remove(self, column: Column | str | int) -> None:
        """Remove a column (stopping its reply). Its past answers stay in :attr:`results`.

        A conversation created by the Compare is closed; one you passed in (a Chat or Conversation) is left open.
        """
        col = self._find(column)
        with self._state_lock:
            self._cols.remove(col)
            shared = any(c.conversation.backend is col.conversation.backend for c in self._cols)
        self._detach(col, close=col.owned and not shared)
        self._sync()

    def move(self, column: Column | str | int, step: int) -> None:
        """Move a column ``step`` places to the right (negative: left), stopping at either end."""
        col = self._find(column)
        with self._state_lock:
            index = self._cols.index(col)
            target = max(0, min(len(self._cols) - 1, index + int(step)))
            self._cols.insert(target, self._cols.pop(index))
        self._sync()

    def configure(self, column: Column | str | int | None = None, **settings: Any) -> None:
        """Change settings of one column, or of every column (and of columns added later) when ``column`` is None.

        Parameters
        ----------
        column : Column, name, id or index, optional
            Which column; default: all.
        **settings
            ``system_prompt``, ``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ``use_history``
            (``history`` is its old name: a ``DeprecationWarning``).

        Raises
        ------
        TypeError, ValueError
            For an unknown setting or a value out of range (nothing is changed then).
        """
        renamed_history(settings)  # history= is the old name of use_history=
        targets = self.columns if column is None else [self._find(column)]
        checked = [(col.conversation, checked_settings(col.conversation, settings)) for col in targets]
        for conv, (generation, system, use_history) in checked:  # every value was valid for every column
            conv.settings, conv.system_prompt, conv.use_history = generation, system, use_history
        if column is None:
            self._defaults.update(settings)
        self._sync()

    def _find(self, ref: Column | str | int) -> Column:
        with self._state_lock:
            cols = list(self._cols)
        if isinstance(ref, Column) and ref in cols:
            return ref
        if isinstance(ref, int) and not isinstance(ref, bool) and -len(cols) <= ref < len(cols):
            return cols[ref]
        if isinstance(ref, str):
            hidden = self._hidden()
            for col in cols:
                if ref in (col.id, col.letter if hidden else col.name) or (not hidden and ref == col.letter):
                    return col
        names = ", ".join(repr(self._shown_name(c)) for c in cols) or "none"
        msg = f"No column {ref!r}; columns: {names}."
        raise KeyError(msg)

    # ------------------------------------------------------------------ turns
    def send_message(self, text: str, *, attachments: Any = None) -> dict[str, Future[ChatMessage]]:
        """Send ``text`` to every column at once; returns ``{column name: Future of the reply}`` without waiting.

        ``attachments``: figures, images, DataFrames, exceptions, ... as for :meth:`nbchat.Conversation.send`,
        converted once and sent to every column.

        Raises
        ------
        ValueError
            If ``text`` is empty, or there are no columns.
        AttachmentError
            If an attachment cannot be made, or a column's model cannot see an attached image (nothing is sent to
            any column then).
        ConversationBusyError
            If a column is still answering (nothing is sent then): wait, or :meth:`stop`.
        """
        if not attachments:
            check_text(text)
        with self._state_lock:
            cols = list(self._cols)
            if not cols:
                msg = "There are no models to compare yet: add one with Compare.add(...) or the Add model button."
                raise ValueError(msg)
            parts = cols[0].conversation.make_attachments(attachments)
            if not parts:
                check_text(text)
            for col in cols:  # every column can take them, or none is asked
                col.conversation.check_images(parts)
            busy = [self._shown_name(c) for c in cols if c.conversation.busy]
            if busy:
                msg = f"{', '.join(busy)} still answering; wait for it or press Stop, then send again."
                raise ConversationBusyError(msg)
            turn = Turn(len(self._turn_log) + 1, text, [])
            futures: dict[str, Future[ChatMessage]] = {}
            for col in cols:
                conv = col.conversation
                settings, system = conv.settings, conv.system_prompt
                try:
                    future = conv.send(text, attachments=parts)
                except ConversationBusyError:  # started answering something else in the meantime
                    logger.warning("nbchat compare: column %s was busy; it sits this turn out", col.id)
                    continue
                user, reply = conv.history[-2:]
                turn.replies.append(Reply(col, user.id, reply, future, settings, system, conv.backend.model))
                futures[self._shown_name(col)] = future
            self._turn_log.append(turn)
        self._request_sync()
        return futures

    def ask(self, text: str, timeout: float | None = None, *, attachments: Any = None) -> dict[str, str]:
        """Send ``text`` (and ``attachments``) to every column and wait for all; returns ``{column name: reply text}``.

        A column that fails or is stopped gives its partial text (its error is in the column and in
        :attr:`results`); the other columns go on. Ctrl+C / interrupting the kernel stops every column.

        Raises
        ------
        ValueError, ConversationBusyError
            As :meth:`send_message`.
        TimeoutError
            If the replies are not all done within ``timeout`` seconds (they go on streaming).
        """
        futures = self.send_message(text, attachments=attachments)
        deadline = None if timeout is None else time.monotonic() + timeout
        answers: dict[str, str] = {}
        try:
            for name, future in futures.items():
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                answers[name] = future.result(left).content
        except KeyboardInterrupt:
            self.stop()
            for future in futures.values():
                future.result()
            raise
        except FutureTimeoutError as exc:  # the builtin TimeoutError from Python 3.11 on
            msg = f"Not every column answered within {timeout} s; they are still streaming (Compare.stop() ends them)."
            raise TimeoutError(msg) from exc
        finally:
            self._sync()
        return answers

    def stop(self, column: Column | str | int | None = None) -> None:
        """Stop one column's reply, or every column's (partial text kept, marked "stopped"). Returns at once."""
        for col in self.columns if column is None else [self._find(column)]:
            col.conversation.stop()

    def clear(self) -> None:
        """Stop every column and empty every history and the turns (votes included)."""
        for col in self.columns:
            col.conversation.clear()
        with self._state_lock:
            self._turn_log.clear()
        self._sync()

    # ------------------------------------------------------------------ export
    def to_markdown(self) -> str:
        """The turns as a Markdown transcript: each prompt, then each column's answer under its name and settings
        (letters, and no model names, while blind). The widget's "Export" downloads it."""
        lang = normalize_lang(self.lang) or ""  # nbchat's own words: the widget's language, else English
        out = [f"# {ui_text('py.cmp.title', lang)}"]
        turn = None
        for row in self.records():
            if row["turn"] != turn:
                turn = row["turn"]
                out += [
                    f"## {ui_text('py.cmp.turn', lang, n=turn)}",
                    f"**{ui_text('py.cmp.prompt', lang)}**",
                    row["prompt"],
                ]
            key = _STATUS_KEYS.get(row["status"])
            status = "" if row["status"] == "done" else f" ({ui_text(key, lang) if key else row['status']})"
            no_text = f"*{ui_text('py.transcript.noText', lang)}*"
            out += [f"### {row['column']}{status}", f"*{row['settings']}*", row["reply"] or no_text]
            if row["error"]:
                out.append(f"> {row['error']}")
        return "\n\n".join(out) + "\n"

    def to_json(self) -> str:
        """The rows of :attr:`results` (:meth:`records`) as a JSON list, the widget's "Export" as JSON."""
        return json.dumps(self.records(), ensure_ascii=False, indent=2)

    def _export_label(self) -> str:
        return f"{len(self.columns)}-models"

    # ------------------------------------------------------------------ sweeps
    @classmethod
    def sweep(cls, base: Any = None, *, blind: bool = False, shuffle: bool | None = None, **grid: Any) -> Compare:
        """The same model with several settings: one column per combination of the listed values.

        Parameters
        ----------
        base : spec, dict, Chat, Conversation or Backend, default None (the embedded model)
            The model. A spec or a Chat/Conversation made from one gives each column its own backend built from
            the same spec, so local models share one loaded copy of the weights (and keep separate caches). A
            backend made from an object (a callable, a client, a Backend) is shared by all columns as it is.
        blind, shuffle
            As :class:`Compare`.
        **grid
            ``temperature=[0, 0.7, 1.2]``, ``max_new_tokens=[32, 128]``, ``system_prompt=[...]``, ``top_p=``,
            ``use_history=``: a list sweeps (every combination gets a column), a single value applies to all columns.
            Other keywords go to each Conversation (``prepare=``, ``device=``, ...), for a spec base only.

        Examples
        --------
        >>> nbchat.Compare.sweep(nbchat.Chat(), temperature=[0, 0.7, 1.2])     # doctest: +SKIP
        """
        renamed_history(grid)  # history= is the old name of use_history=
        fixed = {k: v for k, v in grid.items() if k in _SWEEPABLE and not isinstance(v, (list, tuple))}
        swept = {k: list(v) for k, v in grid.items() if k in _SWEEPABLE and isinstance(v, (list, tuple))}
        options = {k: v for k, v in grid.items() if k not in _SWEEPABLE}
        empty = [k for k, v in swept.items() if not v]
        if empty:
            msg = f"Nothing to sweep for {', '.join(empty)}: give at least one value."
            raise ValueError(msg)
        existing = getattr(base, "conversation", base)
        make = sweep_factory(base, existing, options)
        combos = [dict(zip(swept, values, strict=True)) for values in itertools.product(*swept.values())] or [{}]
        cmp = cls(blind=False, shuffle=shuffle)
        try:
            for combo in combos:
                cmp._add_column(make({**fixed, **combo}), combo_name(combo), owned=True, sync=False)
        except BaseException:
            cmp.close()
            raise
        if blind:
            cmp.blind = True
        cmp._sync()
        return cmp

    # ------------------------------------------------------------------ conversation → browser
    def _request_sync(self) -> None:
        if not self._closed:
            self._state.request()

    def _sync(self) -> None:
        """Rebuild the synced state now, in the calling thread (after a rebuild in progress)."""
        self._state.now()

    def _sync_now(self) -> None:
        """Rebuild the synced state from the conversations (traits only send what changed); see :class:`StateSync`."""
        columns, messages, turns = self._build_state()
        statuses = {c["status"] for c in columns}
        with self.hold_sync():
            self.status = next((s for s in ("generating", "loading") if s in statuses), "ready")
            self._columns = columns
            self._messages = messages
            self._turns = turns

    def _build_state(self) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        with self._state_lock:
            cols, turns = list(self._cols), list(self._turn_log)
        hidden = self._hidden()
        turn_of: dict[str, int] = {}
        for t in turns:
            for r in t.replies:
                turn_of[r.user_id] = turn_of[r.message.id] = t.index
        columns = [self._column_state(col, hidden) for col in cols]
        messages = {
            col.id: [self._message_state(col, m, turn_of, hidden) for m in col.conversation.history] for col in cols
        }
        turn_state = [
            {
                "turn": t.index,
                "prompt": t.prompt,
                "columns": [r.column.id for r in t.replies],
                "done": t.done,
                "vote": t.vote,
            }
            for t in turns
        ]
        return columns, messages, turn_state

    def _column_state(self, col: Column, hidden: bool) -> dict[str, Any]:
        conv = col.conversation
        settings = conv.settings
        status_text = conv.status_text
        keyed: dict[str, Any] = dict(conv.status_i18n or {})
        if hidden:  # "loading SmolLM2…", "generating with gpt-4o-mini…" would name the model
            status_text = {"loading": "loading…", "ready": "ready", "generating": "generating…"}.get(
                conv.status, self._redact(status_text, col)
            )
            hidden_keys = {"loading": "py.status.loadingHidden", "ready": "py.status.ready"}
            key = hidden_keys.get(conv.status, "py.status.generatingHidden" if conv.status == "generating" else "")
            keyed = {"key": key, "params": {}} if key else {}
        return {
            "id": col.id,
            "name": self._shown_name(col),
            "label": "" if hidden else col.label,
            "letter": col.letter,
            "settings": {
                "system_prompt": conv.system_prompt,
                "max_new_tokens": settings.max_new_tokens,
                "temperature": settings.temperature,
                "top_p": settings.top_p,
                "use_history": conv.use_history,
            },
            "status": conv.status,
            "status_text": status_text,
            "status_i18n": keyed,
        }

    def _message_state(self, col: Column, m: ChatMessage, turn_of: dict[str, int], hidden: bool) -> dict[str, Any]:
        state = {**message_state(m), "turn": turn_of.get(m.id)}
        if hidden:
            state["stats"] = {k: v for k, v in (m.stats or {}).items() if k not in _HIDDEN_STATS}
            if m.error:
                state["error"] = self._redact(m.error, col)
            if m.error_i18n:  # its parameters name the model as the text does ("Model 'x' was not found ...")
                params = {
                    k: v if k.endswith("_key") else self._redact(v, col) for k, v in m.error_i18n["params"].items()
                }
                state["error_i18n"] = {"key": m.error_i18n["key"], "params": params}
        return state

    # ------------------------------------------------------------------ browser → Python
    def _conversations(self) -> list[tuple[str | None, Conversation]]:
        return [(col.id, col.conversation) for col in self.columns]

    def _send_from_box(self, text: str, attachments: list[Attachment]) -> object:
        return self.send_message(text, attachments=attachments)

    def _settings_from_browser(self, request: SettingsRequest) -> None:
        self.configure(request.get("column") or None, **request["values"])

    def _add_from_browser(self, content: AddRequest) -> None:
        spec = str(content.get("spec") or "").strip()
        if not spec:
            msg = "Type a model to add: a name, a path, 'openai:<model>' or a server URL like http://127.0.0.1:8000/v1."
            raise ValueError(msg)
        name = str(content.get("name") or "").strip() or None
        model = str(content.get("model") or "").strip() or None
        try:
            # origin="browser": a URL typed into the page never receives a key from the environment or .env
            self.add(spec, name=name, origin="browser", **({"model": model} if model else {}))
        except (NbchatError, ValueError, TypeError):
            raise
        except Exception as exc:  # whatever a spec does wrong is shown in the widget, never raised into the kernel
            msg = f"Could not add {spec!r}: {type(exc).__name__}: {exc}"
            raise ValueError(msg) from exc

    # ------------------------------------------------------------------ lifetime
    def _detach(self, col: Column, *, close: bool) -> None:
        col.conversation.stop()
        link = self._links.pop(col.id, None)
        if link is not None:
            link.unsubscribe()
            link.batcher.flush()
        if close:
            col.conversation.close()

    def close(self) -> None:
        """Stop every column, close the conversations the Compare created, and close the widget."""
        if getattr(self, "_closed", True) is False:
            self._closed = True
            with self._state_lock:
                cols, self._cols = list(self._cols), []
            for col in cols:
                shared = any(c.conversation.backend is col.conversation.backend for c in cols if c is not col)
                self._detach(col, close=col.owned and not shared)
            self._state.close()
        super().close()

    def __repr__(self) -> str:
        names = ", ".join(self._shown_name(c) for c in self.columns) if hasattr(self, "_cols") else ""
        turns = len(self._turn_log) if hasattr(self, "_turn_log") else 0
        return f"<nbchat.Compare {names or 'no columns'} · {turns} turns>"
