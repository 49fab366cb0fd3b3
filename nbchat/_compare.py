"""Compare models side by side: one prompt, many models (or one model with several settings), one widget.

Each column is a full :class:`~nbchat.Conversation` (own history, settings and worker thread), so the columns
stream at the same time and a turn takes about as long as the slowest column. The widget only routes::

    Compare.send_message(text) ─► Conversation.send(text) in every column (each starts its own worker)
        worker threads ─► "delta" events ─► one _DeltaBatcher per column ─► {"kind": "delta", "column", "id", "text"}
                       ─► other events  ─► "state is stale" ─► one sync thread ─► traits _columns, _messages, _turns

Listeners never build widget state themselves: a conversation may call them while holding its lock, and building
the state reads every column's history, so the sync thread does it (and nothing waits on two locks at once).

Blind mode (an arena): column names are replaced by letters everywhere the browser or the notebook can see them
(synced traits, stats, status lines, :attr:`Compare.results`) until the user votes or presses "Reveal".
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ._conversation import Conversation, ConversationEvent
from ._errors import ConversationBusyError, MissingDependencyError, NbchatError
from ._messages import ChatMessage, check_text
from ._settings import GenerationSettings
from ._widget import _DeltaBatcher, _message_state

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Column", "Compare"]

logger = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"
_GENERATION = ("max_new_tokens", "temperature", "top_p", "stop")
_SETTINGS = (*_GENERATION, "system_prompt", "history")
_SWEEPABLE = ("system_prompt", "max_new_tokens", "temperature", "top_p", "history")
_HIDDEN_STATS = ("backend", "model")  # stats that would name the model in blind mode
_SYNC_IDLE_S = 2.0  # the sync thread ends after this long without work (started again on demand)
RESULT_COLUMNS = (
    "turn", "column", "model", "settings", "temperature", "max_new_tokens", "system_prompt", "prompt", "reply",
    "status", "error", "tokens", "ttft_s", "tokens_per_s", "duration_s", "vote",
)  # fmt: skip


def _letter(index: int) -> str:
    """0 → "A", 25 → "Z", 26 → "AA": the blind names."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def _settings_text(settings: GenerationSettings, system_prompt: str) -> str:
    """``temperature=0.7 · max_new_tokens=256`` (and the system message, shortened), for headers and results."""
    parts = [f"temperature={settings.temperature:g}", f"max_new_tokens={settings.max_new_tokens}"]
    if settings.top_p != 1.0:
        parts.append(f"top_p={settings.top_p:g}")
    if system_prompt.strip():
        short = system_prompt.strip().replace("\n", " ")
        parts.append(f"system={short[:40] + '…' if len(short) > 40 else short!r}")
    return " · ".join(parts)


def _checked_settings(conv: Conversation, values: Mapping[str, Any]) -> tuple[GenerationSettings, str, bool]:
    """``conv``'s settings, system message and history flag with ``values`` applied; nothing is changed yet.

    Raises
    ------
    TypeError, ValueError
        For a name not in ``_SETTINGS`` or a value out of range (the message says which).
    """
    unknown = sorted(set(values) - set(_SETTINGS))
    if unknown:
        msg = f"Unknown setting(s) {', '.join(unknown)}; a column takes {', '.join(_SETTINGS)}."
        raise TypeError(msg)
    changes = {k: values[k] for k in _GENERATION if k in values}
    if isinstance(changes.get("max_new_tokens"), (float, str)):  # from the browser's number field
        changes["max_new_tokens"] = int(float(changes["max_new_tokens"]))
    if isinstance(changes.get("temperature"), str):
        changes["temperature"] = float(changes["temperature"])
    settings = conv.settings.replace(**changes) if changes else conv.settings
    system = str(values["system_prompt"] or "") if "system_prompt" in values else conv.system_prompt
    history = bool(values["history"]) if "history" in values else conv.use_history
    return settings, system, history


def _apply_settings(conv: Conversation, values: Mapping[str, Any]) -> None:
    """Set ``values`` (names from ``_SETTINGS``) on ``conv``, all or nothing."""
    conv.settings, conv.system_prompt, conv.use_history = _checked_settings(conv, values)


def _combo_name(combo: Mapping[str, Any]) -> str | None:
    """``temperature=0.7, max_new_tokens=64``: a sweep column's name (None when nothing varies)."""
    parts = []
    for key, value in combo.items():
        shown = repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts) or None


@dataclasses.dataclass(eq=False)
class Column:
    """One column of a :class:`Compare`: a name and the :class:`~nbchat.Conversation` that answers in it.

    Attributes
    ----------
    id : str
        Stable identifier (``"c1"``, ``"c2"``, ...); says nothing about the model, so it is safe in blind mode.
    name : str
        The column's name (the model name unless one was given).
    conversation : Conversation
        The column's conversation: history, settings (``conversation.settings``), backend.
    letter : str
        Its blind name (``"A"``, ``"B"``, ...), assigned when blind mode is turned on.
    """

    id: str
    name: str
    conversation: Conversation
    letter: str = ""
    owned: bool = dataclasses.field(default=True, repr=False)  # created by the Compare: closed when removed
    _batcher: _DeltaBatcher | None = dataclasses.field(default=None, repr=False)
    _unsubscribe: Any = dataclasses.field(default=None, repr=False)

    @property
    def label(self) -> str:
        """``model · backend`` as the Chat widget shows it."""
        info = self.conversation.backend.describe()
        return " · ".join(str(info[k]) for k in ("model", "backend") if info.get(k))


@dataclasses.dataclass(eq=False)
class _Reply:
    """One column's part of a turn, recorded when the prompt was sent (the message fills in as it streams)."""

    column: Column
    user_id: str
    message: ChatMessage
    future: Future[ChatMessage]
    settings: GenerationSettings
    system_prompt: str
    model: str


@dataclasses.dataclass(eq=False)
class _Turn:
    index: int
    prompt: str
    replies: list[_Reply]
    vote: str | None = None  # winning column id, "tie", or None

    @property
    def done(self) -> bool:
        return all(r.message.status != "streaming" for r in self.replies)


class Compare(anywidget.AnyWidget):
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
    system_prompt, max_new_tokens, temperature, top_p, stop, history
        Settings for every column (also applied to the Chat/Conversation objects given); a dict item's own
        settings win over these. Left out: each column keeps its own (Conversation defaults for new ones).
    **options
        Passed to each Conversation created here from a spec: ``load=``, ``device=``, ``api_key=``, ...

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
    blind = traitlets.Bool(False, help="arena mode: columns named A, B, ... until revealed").tag(sync=True)
    revealed = traitlets.Bool(False, help="blind mode: names shown again (after a vote or Reveal)").tag(sync=True)

    def __init__(
        self,
        models: Iterable[Any] | Mapping[str, Any] = (),
        *,
        blind: bool = False,
        shuffle: bool | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        self.shuffle = True if shuffle is None else bool(shuffle)
        self._defaults = {k: options.pop(k) for k in _SETTINGS if k in options}
        self._options = options
        self._cols: list[Column] = []
        self._turn_log: list[_Turn] = []
        self._ids = itertools.count(1)
        self._state_lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self._sync_start = threading.Lock()
        self._sync_wanted = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self._closed = False
        items = list(models.items()) if isinstance(models, Mapping) else list(models)
        try:
            for item in items:
                name, spec, options = _split_item(item)
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
                _apply_settings(existing, options)
            if self._defaults:
                _apply_settings(existing, self._defaults)
            return existing, False, None
        given = None
        if isinstance(spec, Mapping):
            described = dict(spec)
            given = described.pop("name", None)
            spec = described.pop("spec", None)
            options = {**described, **options}
        kwargs = {**self._options, **self._defaults, **options}
        if "history" in kwargs:
            kwargs["history"] = bool(kwargs["history"])
        return Conversation(spec, **kwargs), True, given

    def _add_column(self, conv: Conversation, name: str | None, *, owned: bool, sync: bool = True) -> Column:
        with self._state_lock:
            taken = {c.name for c in self._cols}
            if name is not None and name in taken:
                msg = f"There is already a column named {name!r}; pick another name."
                raise ValueError(msg)
            if name is None:
                base = conv.backend.model or conv.backend.kind
                name = next(n for n in _candidates(base) if n not in taken)
            column = Column(f"c{next(self._ids)}", str(name), conv, owned=owned)
            if self.blind:
                used = {c.letter for c in self._cols}
                column.letter = next(_letter(i) for i in itertools.count() if _letter(i) not in used)
            column._batcher = _DeltaBatcher(lambda content, cid=column.id: self.send({**content, "column": cid}))
            column._unsubscribe = conv.subscribe(lambda event, col=column: self._on_event(col, event))
            self._cols.append(column)
        if sync:
            self._sync()
        return column

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
            ``system_prompt``, ``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ``history``.

        Raises
        ------
        TypeError, ValueError
            For an unknown setting or a value out of range (nothing is changed then).
        """
        targets = self.columns if column is None else [self._find(column)]
        checked = [(col.conversation, _checked_settings(col.conversation, settings)) for col in targets]
        for conv, (generation, system, history) in checked:  # every value was valid for every column
            conv.settings, conv.system_prompt, conv.use_history = generation, system, history
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
    def send_message(self, text: str) -> dict[str, Future[ChatMessage]]:
        """Send ``text`` to every column at once; returns ``{column name: Future of the reply}`` without waiting.

        Raises
        ------
        ValueError
            If ``text`` is empty, or there are no columns.
        ConversationBusyError
            If a column is still answering (nothing is sent then): wait, or :meth:`stop`.
        """
        check_text(text)
        with self._state_lock:
            cols = list(self._cols)
            if not cols:
                msg = "There are no models to compare yet: add one with Compare.add(...) or the Add model button."
                raise ValueError(msg)
            busy = [self._shown_name(c) for c in cols if c.conversation.busy]
            if busy:
                msg = f"{', '.join(busy)} still answering; wait for it or press Stop, then send again."
                raise ConversationBusyError(msg)
            turn = _Turn(len(self._turn_log) + 1, text, [])
            futures: dict[str, Future[ChatMessage]] = {}
            for col in cols:
                conv = col.conversation
                settings, system = conv.settings, conv.system_prompt
                try:
                    future = conv.send(text)
                except ConversationBusyError:  # started answering something else in the meantime
                    logger.warning("nbchat compare: column %s was busy; it sits this turn out", col.id)
                    continue
                user, reply = conv.history[-2:]
                turn.replies.append(_Reply(col, user.id, reply, future, settings, system, conv.backend.model))
                futures[self._shown_name(col)] = future
            self._turn_log.append(turn)
        self._request_sync()
        return futures

    def ask(self, text: str, timeout: float | None = None) -> dict[str, str]:
        """Send ``text`` to every column and wait for all of them; returns ``{column name: reply text}``.

        A column that fails or is stopped gives its partial text (its error is in the column and in
        :attr:`results`); the other columns go on. Ctrl+C / interrupting the kernel stops every column.

        Raises
        ------
        ValueError, ConversationBusyError
            As :meth:`send_message`.
        TimeoutError
            If the replies are not all done within ``timeout`` seconds (they go on streaming).
        """
        futures = self.send_message(text)
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

    # ------------------------------------------------------------------ blind mode and votes
    def vote(self, winner: Column | str | int, turn: int | None = None) -> None:
        """Record which answer of a turn was better, or ``"tie"``; reveals the names in blind mode.

        Parameters
        ----------
        winner : Column, name, letter, id or index, or "tie"
        turn : int, optional
            Turn number (1 is the first prompt); default: the latest turn.

        Raises
        ------
        ValueError
            If there is no such turn, it is still streaming, or ``winner`` did not answer in it.
        """
        with self._state_lock:
            if not self._turn_log:
                msg = "Nothing to vote on yet: send a prompt first."
                raise ValueError(msg)
            index = len(self._turn_log) if turn is None else int(turn)
            if not 1 <= index <= len(self._turn_log):
                msg = f"There is no turn {index}; turns go from 1 to {len(self._turn_log)}."
                raise ValueError(msg)
            record = self._turn_log[index - 1]
        if not record.done:
            msg = f"Turn {index} is still streaming; vote when every column has answered."
            raise ValueError(msg)
        if winner == "tie":
            choice = "tie"
        else:
            answered = {r.column.id: r.column for r in record.replies}
            col = answered.get(winner) if isinstance(winner, str) else None
            col = col or self._find_in(winner, list(answered.values()))
            choice = col.id
        with self._state_lock:
            record.vote = choice
        if self.blind:
            self.revealed = True
        self._sync()

    def _find_in(self, ref: Column | str | int, cols: list[Column]) -> Column:
        hidden = self._hidden()
        for col in cols:
            if ref is col or ref in (col.id, col.letter if hidden else col.name) or (not hidden and ref == col.letter):
                return col
        if isinstance(ref, int) and not isinstance(ref, bool):
            found = self._find(ref)
            if found in cols:
                return found
        names = ", ".join(repr(self._shown_name(c)) for c in cols)
        msg = f"{ref!r} did not answer in this turn; pick one of {names} or 'tie'."
        raise ValueError(msg)

    def reveal(self) -> None:
        """Show the model names (blind mode)."""
        self.revealed = True

    @property
    def votes(self) -> list[dict[str, Any]]:
        """One record per voted turn: ``turn``, ``prompt``, ``winner`` (a column name, or "tie"), ``columns``."""
        with self._state_lock:
            turns = [t for t in self._turn_log if t.vote is not None]
        out = []
        for t in turns:
            names = {r.column.id: self._shown_name(r.column) for r in t.replies}
            winner = "tie" if t.vote == "tie" else names.get(t.vote or "", t.vote)
            out.append({"turn": t.index, "prompt": t.prompt, "winner": winner, "columns": list(names.values())})
        return out

    def _hidden(self) -> bool:
        return bool(self.blind and not self.revealed)

    def _shown_name(self, col: Column) -> str:
        return col.letter if self._hidden() and col.letter else col.name

    @traitlets.observe("blind")
    def _on_blind(self, change: dict[str, Any]) -> None:
        if change["new"]:
            with self._state_lock:
                if self.shuffle:
                    random.shuffle(self._cols)
                for i, col in enumerate(self._cols):
                    col.letter = _letter(i)
            self.revealed = False
        self._sync()

    @traitlets.observe("revealed")
    def _on_revealed(self, change: dict[str, Any]) -> None:
        self._sync()

    # ------------------------------------------------------------------ results
    def records(self) -> list[dict[str, Any]]:
        """One dict per (turn, column), the rows of :attr:`results` (no pandas needed)."""
        hidden = self._hidden()
        with self._state_lock:
            turns = list(self._turn_log)
        rows = []
        for t in turns:
            for r in t.replies:
                m, stats = r.message, r.message.stats
                vote = t.vote if t.vote in (None, "tie") else "win" if t.vote == r.column.id else "loss"
                rows.append({
                    "turn": t.index,
                    "column": self._shown_name(r.column),
                    "model": "(hidden)" if hidden else r.model,
                    "settings": _settings_text(r.settings, r.system_prompt),
                    "temperature": r.settings.temperature,
                    "max_new_tokens": r.settings.max_new_tokens,
                    "system_prompt": r.system_prompt,
                    "prompt": t.prompt,
                    "reply": m.content,
                    "status": m.status,
                    "error": self._redact(m.error, r.column) if hidden and m.error else m.error,
                    "tokens": stats.get("tokens"),
                    "ttft_s": stats.get("ttft_s"),
                    "tokens_per_s": stats.get("tokens_per_s"),
                    "duration_s": stats.get("duration_s"),
                    "vote": vote,
                })  # fmt: skip
        return rows

    @property
    def results(self) -> pd.DataFrame:
        """A pandas DataFrame, one row per (turn, column).

        Columns: ``turn``, ``column`` (name; its letter while blind), ``model`` ("(hidden)" while blind),
        ``settings`` (text), ``temperature``, ``max_new_tokens``, ``system_prompt``, ``prompt``, ``reply`` (partial
        text if stopped or failed), ``status`` (done, streaming, stopped, error, incomplete), ``error``, ``tokens``,
        ``ttft_s`` (seconds to first text), ``tokens_per_s``, ``duration_s``, ``vote`` (win, loss, tie or None).

        Raises
        ------
        MissingDependencyError
            If pandas is not installed (:meth:`records` gives the same rows as dicts).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            msg = "Compare.results needs pandas: pip install pandas (or use Compare.records() for plain dicts)."
            raise MissingDependencyError(msg) from exc
        return pd.DataFrame(self.records(), columns=list(RESULT_COLUMNS))

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
            ``history=``: a list sweeps (every combination gets a column), a single value applies to all columns.
            Other keywords go to each Conversation (``load=``, ``device=``, ...), for a spec base only.

        Examples
        --------
        >>> nbchat.Compare.sweep(nbchat.Chat(), temperature=[0, 0.7, 1.2])     # doctest: +SKIP
        """
        fixed = {k: v for k, v in grid.items() if k in _SWEEPABLE and not isinstance(v, (list, tuple))}
        swept = {k: list(v) for k, v in grid.items() if k in _SWEEPABLE and isinstance(v, (list, tuple))}
        options = {k: v for k, v in grid.items() if k not in _SWEEPABLE}
        empty = [k for k, v in swept.items() if not v]
        if empty:
            msg = f"Nothing to sweep for {', '.join(empty)}: give at least one value."
            raise ValueError(msg)
        existing = getattr(base, "conversation", base)
        make = _sweep_factory(base, existing, options)
        combos = [dict(zip(swept, values, strict=True)) for values in itertools.product(*swept.values())] or [{}]
        cmp = cls(blind=False, shuffle=shuffle)
        try:
            for combo in combos:
                cmp._add_column(make({**fixed, **combo}), _combo_name(combo), owned=True, sync=False)
        except BaseException:
            cmp.close()
            raise
        if blind:
            cmp.blind = True
        cmp._sync()
        return cmp

    # ------------------------------------------------------------------ conversation → browser
    def _on_event(self, col: Column, event: ConversationEvent) -> None:
        """Runs in the thread that changed the conversation (maybe under its lock): queue work, never block."""
        if event.kind == "delta" and event.message is not None:
            if col._batcher is not None:
                col._batcher.add(event.message.id, event.text)
            return
        if event.kind in ("message", "tree", "clear") and col._batcher is not None:
            col._batcher.flush()  # the text streamed so far reaches the browser before the committed message
        self._request_sync()

    def _request_sync(self) -> None:
        with self._sync_start:
            self._sync_wanted.set()
            if not self._closed and (self._sync_thread is None or not self._sync_thread.is_alive()):
                self._sync_thread = threading.Thread(target=self._sync_loop, name="nbchat-compare-sync", daemon=True)
                self._sync_thread.start()

    def _sync_loop(self) -> None:
        while True:
            if not self._sync_wanted.wait(_SYNC_IDLE_S):
                with self._sync_start:
                    if not self._sync_wanted.is_set():
                        self._sync_thread = None
                        return
                continue
            if self._closed:
                return
            self._sync_wanted.clear()
            try:
                self._sync()
            except Exception:  # a failed update must not end the thread that serves every column
                logger.exception("nbchat compare could not update the view")

    def _sync(self) -> None:
        """Rebuild the synced state from the conversations (traits only send what changed)."""
        with self._sync_lock:
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
        if hidden:  # "loading SmolLM2…", "generating with gpt-4o-mini…" would name the model
            status_text = {"loading": "loading…", "ready": "ready", "generating": "generating…"}.get(
                conv.status, self._redact(status_text, col)
            )
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
        }

    def _message_state(self, col: Column, m: ChatMessage, turn_of: dict[str, int], hidden: bool) -> dict[str, Any]:
        state = {**_message_state(m), "turn": turn_of.get(m.id)}
        if hidden:
            state["stats"] = {k: v for k, v in (m.stats or {}).items() if k not in _HIDDEN_STATS}
            if m.error:
                state["error"] = self._redact(m.error, col)
        return state

    @staticmethod
    def _redact(text: str, col: Column) -> str:
        """``text`` with the column's name, model and spec replaced by its letter."""
        spec = col.conversation.spec.get("spec") if isinstance(col.conversation.spec, dict) else None
        secrets_ = {col.name, col.conversation.backend.model, col.label, spec or ""}
        for word in sorted((w for w in secrets_ if w and len(w) > 1), key=len, reverse=True):
            text = text.replace(word, col.letter or "?")
        return text

    # ------------------------------------------------------------------ browser → Python
    def _on_custom_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        try:
            self._handle(kind, content)
        except (NbchatError, ValueError, TypeError, KeyError) as exc:
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self.send({"kind": "notice", "level": "warning", "text": str(text)})

    def _handle(self, kind: Any, content: dict[str, Any]) -> None:
        column = content.get("column")
        if kind == "submit":
            self.send_message(str(content.get("text", "")))
        elif kind == "stop":
            self.stop(str(column) if column else None)
        elif kind == "add":
            self._add_from_browser(content)
        elif kind == "remove":
            self.remove(str(column))
        elif kind == "move":
            self.move(str(column), int(content.get("step", 1)))
        elif kind == "settings":
            values = dict(content.get("values") or {})
            if "use_history" in values:
                values["history"] = values.pop("use_history")
            self.configure(str(column) if column else None, **values)
        elif kind == "vote":
            self.vote(str(content.get("winner")), int(content["turn"]) if content.get("turn") else None)
        elif kind == "reveal":
            self.reveal()
        elif kind == "clear":
            self.clear()
        elif kind == "sync":
            for col in self.columns:
                partial = col.conversation.partial_reply()
                if partial is not None:
                    self.send({"kind": "sync", "column": col.id, "id": partial[0], "text": partial[1]})

    def _add_from_browser(self, content: dict[str, Any]) -> None:
        spec = str(content.get("spec") or "").strip()
        if not spec:
            msg = "Type a model to add: a name, a path, 'openai:<model>' or a server URL like http://127.0.0.1:8000/v1."
            raise ValueError(msg)
        name = str(content.get("name") or "").strip() or None
        model = str(content.get("model") or "").strip() or None
        try:
            self.add(spec, name=name, **({"model": model} if model else {}))
        except (NbchatError, ValueError, TypeError):
            raise
        except Exception as exc:  # whatever a spec does wrong is shown in the widget, never raised into the kernel
            msg = f"Could not add {spec!r}: {type(exc).__name__}: {exc}"
            raise ValueError(msg) from exc

    # ------------------------------------------------------------------ lifetime
    def _detach(self, col: Column, *, close: bool) -> None:
        col.conversation.stop()
        if col._unsubscribe is not None:
            col._unsubscribe()
        if col._batcher is not None:
            col._batcher.flush()
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
            self._sync_wanted.set()  # lets the sync thread see _closed and end
        super().close()

    def __repr__(self) -> str:
        names = ", ".join(self._shown_name(c) for c in self.columns) if hasattr(self, "_cols") else ""
        turns = len(self._turn_log) if hasattr(self, "_turn_log") else 0
        return f"<nbchat.Compare {names or 'no columns'} · {turns} turns>"


def _candidates(base: str) -> Iterator[str]:
    """``base``, ``base (2)``, ``base (3)``, ...: default column names."""
    yield base
    for i in itertools.count(2):
        yield f"{base} ({i})"


def _split_item(item: Any) -> tuple[str | None, Any, dict[str, Any]]:
    """(name, spec, options) of one item of ``models``: ``spec``, ``(name, spec)`` or ``(spec, {options})``."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        first, second = item
        if isinstance(second, Mapping) and not {"spec", "name"} & set(second):
            return None, first, dict(second)  # ("http://127.0.0.1:8000/v1", {"model": "x"})
        return first, second, {}  # ("my name", spec)
    return None, item, {}


def _sweep_factory(base: Any, existing: Any, options: dict[str, Any]) -> Any:
    """A function ``settings -> Conversation`` for :meth:`Compare.sweep`."""
    from .backends import Backend

    if isinstance(existing, Conversation):
        if options:
            msg = f"Options {', '.join(options)} apply to a new model; the base conversation already has its backend."
            raise TypeError(msg)
        start = {
            "system_prompt": existing.system_prompt,
            "max_new_tokens": existing.settings.max_new_tokens,
            "temperature": existing.settings.temperature,
            "top_p": existing.settings.top_p,
            "stop": existing.settings.stop,
            "history": existing.use_history,
        }
        spec = existing.spec

        def from_conversation(settings: dict[str, Any]) -> Conversation:
            kwargs = {**start, **settings}
            if not spec.get("object"):
                try:  # a new backend from the same spec: local weights are shared, caches are not
                    return Conversation(
                        spec.get("spec"), model=spec.get("model"), source=spec.get("source"),
                        **spec.get("options", {}), **kwargs,
                    )  # fmt: skip
                except (NbchatError, TypeError):  # e.g. an api_key= that was not saved with the spec
                    logger.debug("nbchat sweep shares the base backend", exc_info=True)
            return Conversation(existing.backend, **kwargs)

        return from_conversation
    if isinstance(base, Backend):
        if options:
            msg = f"Options {', '.join(options)} cannot be applied to an existing backend object."
            raise TypeError(msg)
        return lambda settings: Conversation(base, **settings)
    if isinstance(base, Mapping):
        described = {k: v for k, v in base.items() if k != "name"}
        spec = described.pop("spec", None)
        return lambda settings: Conversation(spec, **{**described, **options, **settings})
    return lambda settings: Conversation(base, **{**options, **settings})
