"""The conversation controller: history and its editing, sending, and events for views. No widget import.

Data path of one turn::

    send(text) ─► history += user message, assistant placeholder ─► worker thread
        worker: ModelLoader.run (once) ─► refusal? ─► run_reply: backend.stream(...) ─► StreamingReply ─► listeners
        worker: StreamingReply.commit ─► listeners("message") with the final text and stats ─► prefill next turn

What it delegates, each in a module of its own: preparing the model (:mod:`nbchat._loading`), typing ahead
(:mod:`nbchat._prefill`), the reply in flight (:mod:`nbchat._reply`), what was sent to whom
(:mod:`nbchat._provenance`), events and callbacks (:mod:`nbchat._events`), streaming with retries and Stop
(:mod:`nbchat._generation`), choosing the context (:mod:`nbchat._context`), files (:mod:`nbchat._persist`).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from ._attachments import DEFAULT_MAX_SIDE, DEFAULT_TEXT_TOKENS, Attachment, AttachmentError
from ._context import Selection, select_context
from ._errors import ConversationBusyError
from ._events import Callbacks, ConversationEvent, Status
from ._feedback import feedback_records, rate
from ._generation import DEFAULT_RETRIES, ReplyOutcome, run_reply
from ._i18n import Keyed, keyed, keyed_text
from ._loading import ModelLoader
from ._messages import ChatMessage, check_text
from ._persist import (
    conversation_json,
    conversation_to_dict,
    read_conversation,
    read_tree,
    request_code,
    to_markdown,
    validate_messages,
    write_conversation,
)
from ._policy import cap_settings, current_policy
from ._prefill import PrefillScheduler
from ._provenance import SentRequest, spec_record
from ._redact import redact_text, redacting_logger
from ._reply import StreamingReply, no_images_message, refusal, wait_for_reply
from ._settings import DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE, GenerationSettings, renamed_history
from ._structured import StructuredReplies
from ._tree import MessageTree
from .backends import Backend, resolve_backend
from .documents import DocumentSettings, cite_reply  # documents (#27): whole or relevant passages, citations
from .tools import ToolCall
from .tools._loop import DEFAULT_MAX_TOOL_ROUNDS, ToolLoop
from .tools._run import DEFAULT_TOOL_TIMEOUT

__all__ = ["Conversation", "ConversationEvent", "wait_for_reply"]

logger = redacting_logger(__name__)  # no credentials of a URL in any log record


class Conversation:
    """A chat with one model: history, settings and streaming generation, usable from plain Python.

    Parameters
    ----------
    spec : str, client object, callable, Backend or None, default None
        What answers. ``None``: the embedded SmolLM2-135M-Instruct (a GGUF file, run by llama.cpp through
        ``xllamacpp``, a dependency of nbchat), or the administrator's default model where one is set
        (``$NBCHAT_DEFAULT_MODEL``, see :mod:`nbchat._policy`). A string: a local model (name, directory, hub id,
        ``.gguf`` file), an online source (``"openai:gpt-4o-mini"``, ``"kimi:"``), a server URL
        (``"http://127.0.0.1:8000/v1"``) or ``"tgi:<url>"``. An ``openai.OpenAI`` or ``text_generation.Client``
        object, a callable ``fn(message, history)`` / ``fn(messages)``, or a :class:`~nbchat.backends.Backend`.
        See :func:`nbchat.backends.resolve_backend`.
    model : str, optional
        The model's name on a server, online source or client object.
    source : str, optional
        An online source (``"openai"``, ``"kimi"``, ...); same as the spec ``"<source>:<model>"``.
    system_prompt : str, default ""
        System message sent first in every request; empty means none.
    max_new_tokens : int, default 256
        Upper bound on tokens per reply.
    temperature : float, default 0.7
        Sampling temperature in [0, 2]; 0 is greedy (deterministic).
    top_p : float, default 1.0
        Nucleus sampling mass in (0, 1].
    stop : list of str, optional
        Stop sequences; never part of the reply.
    thinking : bool or None, default None
        Reasoning models: think before answering (``True``), answer at once (``False``), or the model's default
        (``None``). Mapped per backend (``enable_thinking`` for chat templates that take it, the source's switch
        online); a reply notes it where the model has no switch. See :class:`~nbchat.GenerationSettings`.
    use_history : bool, default True
        Send earlier turns with each question. ``False`` sends each question alone (pinned messages still go).
        Also the attribute of that name. ``history=`` is its old name (a ``DeprecationWarning``, for one release):
        :attr:`history` is the message list.
    prepare : {"background", "now", "lazy"}, default "background"
        When to prepare the model (load its weights, check the server): in a background thread at once (the widget
        shows progress), before returning, or at the first question.
    load : {"background", "now", "lazy"}, optional
        Deprecated (a ``FutureWarning``): the old name of ``prepare``; ``load`` now means reading a file
        (:meth:`load`).
    retries : int, default 2
        How often a failed request is sent again by itself when the failure is temporary (connection refused,
        429 with ``Retry-After``, 502/503/504), only before any text of the reply arrived; the status line shows
        the wait, and Stop ends it. ``0`` turns retrying off. See :func:`nbchat._generation.run_reply`.
    save_to : str or Path, optional
        Autosave: the conversation is written to this JSON file after every reply and every edit, and read back
        from it here if it exists, so a chat survives kernel restarts (settings come from these arguments).
    image_max_side : int, default 1024
        Attached images are downscaled (Pillow) so their longer side is at most this many pixels.
    attachment_tokens : int, default 1500
        Budget of one text attachment (a DataFrame summary, a traceback, a ``repr``), in tokens estimated as
        characters / 4; the context gauge counts what is actually sent.
    tools : list of callables, nbchat.Tool or nbchat.MCPServer, or "mcp", optional
        Python functions the model may call (see :mod:`nbchat.tools`): their JSON schema comes from the signature,
        type hints and docstring. An :class:`nbchat.MCPServer` offers its tools (started at the first turn, closed
        with :meth:`close`); ``"mcp"`` (alone or in the list) the servers of the MCP settings file, ``"mcp:NAME"``
        one of them (see :func:`nbchat.mcp_servers`). Only backends that can call tools take them
        (OpenAI-compatible servers and sources, callables with a ``tools`` parameter); others refuse before sending.
    tool_approval : "ask", "auto" or callable, default "ask"
        Who decides whether a call runs: a person in the chat's card (Allow once / Allow for this chat / Decline;
        without a widget, sending fails and says to pick one of the others), ``"auto"`` (every call runs), or
        ``approve(call) -> bool``. See :meth:`approve`.
    max_tool_rounds : int, default 8
        Rounds of tool calls in one turn; then the model must answer without tools. The administrator may cap it.
    tool_timeout : float, default 60.0
        Seconds one call may run (a function that takes ``cancel: threading.Event`` is told to stop); the
        administrator may cap it.
    documents : str, dict or DocumentSettings, optional
        How attached documents are sent: ``"auto"`` (default: whole when they fit half the context window, else the
        passages relevant to each question), ``"whole"`` or ``"relevant"``, or a dict of
        :class:`~nbchat.documents.DocumentSettings` attributes (``budget``, ``top_k``, ``embedding_model``,
        ``course_reader``); kept as :attr:`documents`, which can be changed at any time.
    **backend_options
        Passed to the backend (``api_key=``, ``prompt_format=``, ``device=``, ``n_threads=``, ...).
        ``origin=`` says where ``spec`` came from (``"code"`` by default; ``load`` passes ``"file"``): see
        :func:`nbchat.backends.resolve_backend`.
        ``backend="llama.cpp"`` (the default: prebuilt ``xllamacpp``), ``"llama-cpp-python"`` (optional, compiled)
        or ``"transformers"`` chooses the engine of a ``.gguf`` file or the embedded model.

    Raises
    ------
    ModelNotFoundError
        If ``spec`` names nothing that can be found (the message lists where it looked).
    ValueError, TypeError
        If a setting is out of range.
    MissingDependencyError
        If an engine is asked for whose package is not installed (the message says how to install it).
    """

    def __init__(
        self,
        spec: Any = None,
        *,
        model: str | None = None,
        source: str | None = None,
        system_prompt: str = "",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        top_p: float = 1.0,
        stop: list[str] | tuple[str, ...] = (),
        thinking: bool | None = None,
        use_history: bool = True,
        prepare: Literal["background", "now", "lazy"] = "background",
        load: Literal["background", "now", "lazy"] | None = None,
        retries: int = DEFAULT_RETRIES,
        save_to: str | Path | None = None,
        image_max_side: int = DEFAULT_MAX_SIDE,
        attachment_tokens: int = DEFAULT_TEXT_TOKENS,
        tools: Any = None,
        tool_approval: Any = "ask",
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        tool_timeout: float = DEFAULT_TOOL_TIMEOUT,
        documents: Any = None,
        **backend_options: Any,
    ) -> None:
        if "history" in backend_options:  # the old name of use_history=
            use_history = bool(renamed_history({"history": backend_options.pop("history")}).pop("use_history"))
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            msg = f"retries must be an integer >= 0, got {retries!r}."
            raise ValueError(msg)
        self.retries = retries
        for label, value in (("image_max_side", image_max_side), ("attachment_tokens", attachment_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"{label} must be a whole number >= 1, got {value!r}."
                raise ValueError(msg)
        self.image_max_side = image_max_side
        self.attachment_tokens = attachment_tokens
        # tools (nbchat/tools/): the functions, approval and the loop of calls
        self.tool_loop = ToolLoop(tools, approval=tool_approval, max_rounds=max_tool_rounds, timeout=tool_timeout)
        self.documents = DocumentSettings.coerce(documents)
        self._settings = cap_settings(  # an administrator's caps; the defaults are lowered without a warning
            GenerationSettings(
                max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=tuple(stop), thinking=thinking
            ),
            quiet_defaults=True,
        )
        self.system_prompt = system_prompt
        self.use_history = bool(use_history)
        self.backend: Backend = resolve_backend(spec, model=model, source=source, **backend_options)
        self.spec = spec_record(spec, model, source, backend_options)  # plain values: never keys or headers
        self._tree = MessageTree()
        self._requests: dict[str, SentRequest] = {}  # by reply id, for request_of()
        self._structured = StructuredReplies()  # the schema= of each structured reply (see ask)
        self._emit: Callbacks[ConversationEvent] = Callbacks("listener")  # see subscribe
        self._replied: Callbacks[ChatMessage] = Callbacks("on_reply callback")
        self._rated: Callbacks[dict[str, Any]] = Callbacks("feedback callback")  # see on_feedback
        self._lock = threading.RLock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbchat-worker")
        self._cancel = threading.Event()
        self._busy = False
        self._stream: StreamingReply | None = None  # the reply being generated
        self.status: Status = "loading"
        # status_text as a catalogue key and params, for views in another language (None: a backend's own text)
        self.status_i18n: Keyed | None = keyed("py.status.loading", model=self.backend.model)
        self.status_text = keyed_text(self.status_i18n)
        self.progress: float | None = None

        def idle() -> bool:  # prefills run only while no reply is generated and the model is ready
            return not self._busy and self._loader.ready

        self._prefiller = PrefillScheduler(self.backend, self._executor, self._lock, idle, self.build_messages)
        self._loader = ModelLoader(self.backend, self._executor, self._set_status, lambda: self._prefiller.next_turn())
        self.save_to = Path(save_to) if save_to is not None else None
        if self.save_to is not None and self.save_to.exists():
            self._tree = read_tree(self.save_to)
        if load is not None:
            msg = f"Conversation(load={load!r}) is now Conversation(prepare={load!r}); load= will be removed."
            warnings.warn(msg, FutureWarning, stacklevel=2)
            prepare = load
        self._loader.begin(prepare)

    # ------------------------------------------------------------------ settings
    @property
    def settings(self) -> GenerationSettings:
        """Generation settings for the next reply; assigning one applies an administrator's caps (with a warning).

        See :mod:`nbchat._policy` (``$NBCHAT_MAX_NEW_TOKENS``, ``$NBCHAT_MAX_TEMPERATURE``).
        """
        return self._settings

    @settings.setter
    def settings(self, value: GenerationSettings) -> None:
        self._settings = cap_settings(value)

    # ------------------------------------------------------------------ listeners
    def subscribe(self, listener: Callable[[ConversationEvent], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on every change; returns a function that unsubscribes it.

        Listeners run in the thread that made the change (often the worker thread) and must be quick.
        """
        return self._emit.add(listener)

    def on_reply(self, callback: Callable[[ChatMessage], None]) -> Callable[[], None]:
        """Call ``callback(message)`` with each finished assistant message (done, stopped or failed).

        Runs in the worker thread. Returns a function that removes the callback.
        """
        return self._replied.add(callback)

    def _changed(self) -> None:
        """The tree changed outside generation: tell views, autosave, get the model ready for the next turn."""
        self._emit(ConversationEvent("tree"))
        self._autosave()
        self._prefiller.next_turn()

    def _autosave(self) -> None:
        if self.save_to is not None:
            try:
                self.save(self.save_to)
            except OSError:
                logger.warning("nbchat could not autosave to %s", self.save_to, exc_info=True)

    def _set_status(self, status: Status, line: str | Keyed, progress: float | None = None) -> None:
        """Set the status; ``line`` is nbchat's own line as a catalogue key (``status_i18n``), or a backend's text."""
        keyed_line: Keyed | None = None
        if isinstance(line, str):
            shown = redact_text(line)
        else:  # the status line reaches the browser and saved notebooks: no credentials in a parameter either
            keyed_line = {"key": line["key"], "params": {k: redact_text(v) for k, v in line["params"].items()}}
            shown = redact_text(keyed_text(keyed_line))
        self.status, self.status_text, self.status_i18n, self.progress = status, shown, keyed_line, progress
        self._emit(ConversationEvent("status", text=shown, progress=progress))

    # ------------------------------------------------------------------ loading (see nbchat._loading)
    @property
    def load_error(self) -> Exception | None:
        """Why preparing the model failed (the exception ``backend.prepare`` raised); ``None`` if it did not fail."""
        return self._loader.error

    def wait_until_ready(self, timeout: float | None = None) -> None:
        """Block until the model is prepared (weights loaded, server checked), or failed to be.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; default: no limit.

        Raises
        ------
        NbchatError
            If preparing failed (the message says why; the cause is also in :attr:`load_error`) or did not finish
            within ``timeout`` seconds.
        """
        self._loader.wait(timeout)

    def wait_until_loaded(self, timeout: float | None = None) -> None:
        """Deprecated (a ``FutureWarning``): the old name of :meth:`wait_until_ready`."""
        msg = "Conversation.wait_until_loaded() is now wait_until_ready(); the old name will be removed."
        warnings.warn(msg, FutureWarning, stacklevel=2)
        self.wait_until_ready(timeout)

    # ------------------------------------------------------------------ history
    @property
    def history(self) -> list[ChatMessage]:
        """The visible branch as :class:`ChatMessage` records (status, error, stats); a copy of the list."""
        with self._lock:
            return self._tree.branch()

    @property
    def tree(self) -> MessageTree:
        """Every message, alternatives included (edits and regenerations add siblings)."""
        return self._tree

    @property
    def busy(self) -> bool:
        """True while a reply is being generated (or waits for the model to load)."""
        return self._busy

    def partial_reply(self) -> tuple[str, str] | None:
        """``(message id, text so far)`` of the reply being streamed, or ``None``."""
        stream = self._stream  # one read: the worker may end the reply meanwhile
        return None if stream is None else (stream.message.id, stream.text)

    def partial_reasoning(self) -> str:
        """The reasoning so far of the reply being streamed (``""`` when none, or when nothing streams)."""
        stream = self._stream
        return "" if stream is None else stream.reasoning

    @property
    def thinking(self) -> bool | None:
        """The thinking setting for the next reply: True (on), False (off), None (the model's default)."""
        return self._settings.thinking

    @thinking.setter
    def thinking(self, value: bool | None) -> None:
        self.settings = self._settings.replace(thinking=value)

    def clear(self) -> None:
        """Stop any reply in progress and empty the history (settings are kept)."""
        self.stop()
        with self._lock:
            self._tree.clear()
            self._requests.clear()
            self._structured.clear()
        self._emit(ConversationEvent("clear"))
        self._autosave()

    def _refuse_while_busy(self, action: str) -> None:
        if self._busy:
            msg = f"A reply is still being generated; wait for it or press Stop, then {action}."
            raise ConversationBusyError(msg)

    # ------------------------------------------------------------------ editing
    @property
    def messages(self) -> list[dict[str, str]]:
        """The visible history as OpenAI-style dicts ``[{"role": ..., "content": ...}, ...]``.

        Setting it replaces the whole conversation with these messages (validated: roles ``user`` and
        ``assistant`` — a leading ``system`` message becomes :attr:`system_prompt` — and string contents).

        Raises
        ------
        ValueError, TypeError
            On a malformed list; the conversation is left unchanged.
        ConversationBusyError
            While a reply is being generated.
        """
        with self._lock:
            return [d for m in self._tree.branch() for d in m.to_openai_list()]

    @messages.setter
    def messages(self, value: list[dict[str, str]]) -> None:
        system, records = validate_messages(value)
        with self._lock:
            self._refuse_while_busy("replace the history")
            self._tree.clear()
            for record in records:
                rounds = record.get("tool_rounds", [])  # an assistant turn with tool calls, folded back into rounds
                self._tree.append(
                    ChatMessage(
                        record["role"], record["content"], attachments=record["attachments"], tool_rounds=rounds
                    )
                )
            if system is not None:
                self.system_prompt = system
        self._changed()

    def regenerate(self, message_id: str | None = None) -> Future[ChatMessage]:
        """Generate a new answer to the same question; the old one stays as an alternative ("‹ 1/2 ›").

        Parameters
        ----------
        message_id : str, optional
            An assistant message; default: the last one of the visible branch.

        Raises
        ------
        ValueError
            If there is no assistant message to regenerate.
        ConversationBusyError
            While a reply is being generated.
        """
        self.tool_loop.check_ready()
        with self._lock:
            self._refuse_while_busy("regenerate")
            target = self._tree.get(message_id) if message_id else self._last_of_role("assistant")
            if target is None or target.role != "assistant" or target.parent is None:
                msg = "There is no answer to regenerate yet; send a message first."
                raise ValueError(msg)
            self.check_images(self._tree.get(target.parent).attachments)
            schema = self._structured.schema(target.id)  # a structured reply is regenerated with its schema
            return self._reply_to(self._tree.get(target.parent), schema)

    def edit(self, message_id: str, text: str) -> Future[ChatMessage]:
        """Replace a user message by ``text`` as a new alternative, and answer it; later turns are kept aside.

        Raises
        ------
        ValueError
            If ``message_id`` is not a user message or ``text`` is empty.
        ConversationBusyError
            While a reply is being generated.
        """
        check_text(text)
        self.tool_loop.check_ready()
        with self._lock:
            self._refuse_while_busy("edit")
            original = self._tree.get(message_id)
            if original.role != "user":
                msg = "Only your own messages can be edited; regenerate an answer instead."
                raise ValueError(msg)
            self.check_images(original.attachments)
            edited = ChatMessage("user", text, pinned=original.pinned, attachments=list(original.attachments))
            user = self._tree.add(edited, original.parent)
            return self._reply_to(user)

    def switch_branch(self, message_id: str, step: int) -> str:
        """Show the alternative ``step`` places after ``message_id`` (‹ = -1, › = +1); returns the shown id."""
        with self._lock:
            self._refuse_while_busy("switch versions")
            shown = self._tree.step(message_id, step)
        self._changed()
        return shown

    def delete(self, message_id: str) -> None:
        """Delete one message; the messages after it stay (they follow its predecessor).

        Raises
        ------
        ConversationBusyError
            While a reply is being generated.
        """
        with self._lock:
            self._refuse_while_busy("delete")
            self._tree.delete(message_id)
            self._requests.pop(message_id, None)
        self._changed()

    def set_flags(self, message_id: str, *, pinned: bool | None = None, excluded: bool | None = None) -> None:
        """Pin a message (always sent, even when older ones are left out) or exclude it (never sent)."""
        with self._lock:
            node = self._tree.get(message_id)
            if pinned is not None:
                node.pinned = bool(pinned)
            if excluded is not None:
                node.excluded = bool(excluded)
        self._changed()

    def set_feedback(self, message_id: str, rating: str | None, comment: str = "") -> None:
        """Rate an assistant message: ``"up"``, ``"down"`` or ``None`` (no rating), with an optional comment.

        The rating is kept on the message (:attr:`~nbchat.ChatMessage.feedback`, saved with the conversation) and
        passed to every :meth:`on_feedback` callback. A rating of ``None`` with no comment removes the feedback.

        Raises
        ------
        KeyError
            If there is no message ``message_id``.
        ValueError
            For a user message, a rating other than "up", "down" or None, or a comment that is not a string.
        """
        with self._lock:
            record = rate(self._tree, message_id, rating, comment)
        self._changed()
        self._rated(record)

    def on_feedback(self, callback: Any) -> Any:
        """Call ``callback(record)`` on every change of a rating (a dict of :data:`nbchat._feedback.FEEDBACK_COLUMNS`).

        Returns a function that removes the callback. ``nbchat web --feedback FILE.jsonl`` uses this to append each
        record to a file.
        """
        return self._rated.add(callback)

    def feedback_records(self) -> list[dict[str, Any]]:
        """Every rated answer, in every branch, as flat records (oldest message first).

        Keys: ``message_id``, ``rating`` ("up", "down" or None), ``comment``, ``time`` (Unix seconds of the last
        change), ``question``, ``answer``, ``model``, ``backend``.
        """
        with self._lock:
            return feedback_records(self._tree)

    def _last_of_role(self, role: str) -> ChatMessage | None:
        return next((m for m in reversed(self._tree.branch()) if m.role == role), None)

    # ------------------------------------------------------------------ files and text
    def save(self, path: str | Path) -> Path:
        """Write the conversation (every branch, settings, model spec; never keys) as versioned JSON.

        See :mod:`nbchat._persist` for the format. Returns the path written.
        """
        return write_conversation(self._file_data(), Path(path))

    def to_json(self) -> str:
        """The conversation file's text, exactly what :meth:`save` writes (the widget's "Download as nbchat JSON")."""
        return conversation_json(self._file_data())

    def _file_data(self) -> dict[str, Any]:
        description, settings = self.backend.describe(), self.settings
        with self._lock:
            return conversation_to_dict(
                self._tree,
                spec=self.spec,
                description=description,
                system_prompt=self.system_prompt,
                settings=settings,
                use_history=self.use_history,
            )

    @classmethod
    def load(cls, path: str | Path, spec: Any = None, **options: Any) -> Conversation:
        """Open a conversation saved with :meth:`save`.

        Parameters
        ----------
        path : str or Path
            The JSON file.
        spec, **options
            Override the saved model spec and settings (needed when the saved model was a Python object). A file
            may set only the backend options in :data:`nbchat._persist.LOADABLE_OPTIONS` (engine, context window,
            timeout, ...); others (``base_url``, ``headers``, ...) must be passed here. A server URL saved in the
            file gets no key from the environment or ``.env`` (pass ``api_key=`` here to send one).

        Raises
        ------
        NbchatError
            If the file is not a valid nbchat conversation, or sets an option a file may not set (the message names
            it and says how to pass it in code).
        """
        saved = read_conversation(Path(path), spec, options)
        conv = cls(saved.spec, **saved.options)
        with conv._lock:
            conv._tree = saved.tree
        conv._changed()
        return conv

    def to_markdown(self, *, html: bool = True, lang: str = "") -> str:
        """The visible conversation as a readable Markdown transcript (``html=False``: reasoning as a quote, not a
        ``<details>`` section; ``lang``: ``"en"`` (default) or ``"zh"`` for the status notes; see
        :func:`nbchat._persist.to_markdown`)."""
        description = self.backend.describe()
        return to_markdown(
            self.history, system_prompt=self.system_prompt, description=description, html=html, lang=lang
        )

    def request_code(self, message_id: str) -> str:
        """A runnable Python snippet that re-sends exactly the request behind an assistant message."""
        return request_code(self.request_of(message_id), self.spec)

    # ------------------------------------------------------------------ what is sent
    def build_messages(self, text: str | None = None) -> list[dict[str, str]]:
        """The messages a request would send: system message, history (if enabled), then ``text``.

        Excluded messages and assistant messages with no text (a failed reply) are left out; whole old turns are
        left out if the prompt would not fit the context window (pinned messages stay). See
        :func:`nbchat._context.select_context`.
        """
        return self._select(self.history, text).messages

    def _select(self, branch: list[ChatMessage], text: str | None) -> Selection:
        return select_context(
            branch,
            system_prompt=self.system_prompt,
            use_history=self.use_history,
            backend=self.backend,
            max_new_tokens=self.settings.max_new_tokens,
            text=text,
            images=self.backend.image_input is not False,
        )

    def context_usage(self) -> dict[str, Any]:
        """What the next request would use of the context window.

        Returns
        -------
        dict
            ``used`` (prompt tokens, or None if the backend cannot count), ``window`` (context window or None),
            ``reserved`` (max new tokens kept free for the reply), ``left_out`` (ids of messages not sent).
        """
        with self._lock:
            branch = self._tree.branch()
        selection = self._select(branch, None)
        return {
            "used": self.backend.count_tokens(selection.messages) if selection.messages else 0,
            "window": self.backend.context_window,
            "reserved": self.settings.max_new_tokens,
            "left_out": [m.id for m in selection.left_out],
        }

    def request_of(self, message_id: str) -> dict[str, Any]:
        """Provenance of an assistant message: backend, settings, the exact messages (and prompt) sent, stats.

        Raises
        ------
        KeyError
            If no request of this conversation produced ``message_id`` (e.g. a loaded or hand-set message).
        """
        with self._lock:
            reply = self._tree.get(message_id)
            if message_id not in self._requests:
                msg = f"No request is recorded for {message_id!r} (it was loaded or set, not generated here)."
                raise KeyError(msg)
            request, stats = self._requests[message_id], dict(reply.stats)
        return request.provenance(self.backend, stats)

    # ------------------------------------------------------------------ generation
    def send(
        self, text: str, *, attachments: Any = None, documents: str | None = None, schema: Any = None
    ) -> Future[ChatMessage]:
        """Add a user message and start generating the reply in the worker thread.

        Parameters
        ----------
        text : str
            The user's message, as typed.
        attachments : object or list, optional
            Figures, images, arrays, paths, bytes, DataFrames, exceptions, ... (see
            :func:`nbchat._convert.to_attachment`), kept in :attr:`ChatMessage.attachments`.
        documents : {"auto", "whole", "relevant"}, optional
            For this message: send its documents whole or as relevant passages (default: :attr:`documents`'s
            mode); recorded on each document attachment (``mode``, ``passages``).
        schema : pydantic model class or dict, optional
            Ask for a structured reply (see :meth:`ask`); the reply's content is then the JSON in a ```json fence,
            or the reply fails (status "error", its raw text kept) when it does not fit.

        Returns
        -------
        concurrent.futures.Future of ChatMessage
            Resolves to the assistant message when the reply is complete, stopped or failed (check ``status``).

        Raises
        ------
        ValueError
            If ``text`` is empty or only whitespace and there are no attachments.
        AttachmentError
            If an attachment cannot be made, or has an image and the model cannot see images (then nothing is
            added to the history: send it to a vision model, or without the image).
        NbchatError
            If the administrator's policy caps attachments (count or size) and they are over it; if ``schema`` is
            not a pydantic model or a JSON schema, or the backend cannot constrain a reply to one.
        ConversationBusyError
            If a reply is still being generated: wait for it or call :meth:`stop` first.
        """
        self._structured.check(schema, self.backend)  # refused here, before anything is added
        parts = self.make_attachments(attachments)
        if not parts or not isinstance(text, str):  # with attachments, the text may be empty ("What is this?" implied)
            check_text(text)
        self.tool_loop.check_ready()  # tools with approval "ask" and nobody to ask: refuse before adding anything
        question = text if isinstance(text, str) else ""
        parts = self.documents.prepare(question, parts, self.history, self.backend.context_window, documents)
        with self._lock:
            self._refuse_while_busy("send again")
            self.check_images(parts)
            return self._reply_to(self._tree.append(ChatMessage("user", text, attachments=parts)), schema)

    def make_attachments(self, objects: Any, names: list[str] | None = None) -> list[Attachment]:
        """Convert ``objects`` with this conversation's ``image_max_side`` and ``attachment_tokens``, within the
        administrator's caps (see :func:`nbchat._convert.to_attachments`).

        Without ``names``, an object that is a notebook variable is named after it (else after its kind).
        """
        from ._convert import notebook_names, to_attachments

        if names is None:  # `ask(..., attachments=[sales])` in a notebook: the attachment is called "sales"
            names = notebook_names(objects)
        parts = to_attachments(objects, max_side=self.image_max_side, tokens=self.attachment_tokens, names=names)
        current_policy().check_attachments(len(parts), [len(a.data) or len(a.text.encode()) for a in parts])
        return parts

    def check_images(self, attachments: list[Attachment]) -> None:
        """Refuse before sending when the model cannot see images and ``attachments`` has one.

        Images in earlier messages are not refused: a model without image input gets ``[image NAME, W×H]`` in
        their place.

        Raises
        ------
        AttachmentError
            Naming the model and what to do.
        """
        if self.backend.image_input is False and any(a.kind == "image" for a in attachments):
            raise AttachmentError(no_images_message(self.backend))

    def _reply_to(self, user: ChatMessage, schema: Any = None) -> Future[ChatMessage]:
        """Start answering ``user`` (already in the tree and selected), as a structured reply when ``schema`` is
        given (see :meth:`ask`). Call with the lock held."""
        self._busy = True
        self._prefiller.cancel()  # a draft being evaluated ends within a few tokens; the reply goes next
        self._cancel = threading.Event()
        selection = self._select(self._tree.path_to(user.id), None)
        reply = self._tree.add(ChatMessage("assistant", "", status="streaming"), user.id)
        reply.stats = {"left_out": len(selection.left_out)}
        settings = self._structured.request(reply, self.settings, schema)
        self._requests[reply.id] = SentRequest(self.system_prompt, selection.sent, self.tool_loop.apply(settings))
        stream = StreamingReply(reply, selection.messages, settings, self._cancel, self._emit)
        self._stream = stream
        self._loader.start_once()
        if self._loader.ready:
            # views see the status with the reply's placeholder, not when the worker gets to it (it may still be
            # ending a prefill): Stop and Esc act on "generating"
            self._set_status("generating", keyed("py.status.generating", model=self.backend.model))
        self._emit(ConversationEvent("message", message=user))
        self._emit(ConversationEvent("message", message=reply))
        return self._executor.submit(self._generate, stream)

    def prefill(self, text: str) -> None:
        """Let the model evaluate the prompt for a question while it is typed; returns at once.

        The widget calls this with the message box's text while the user types (at most every 150 ms) when the
        backend can use it (``backend.can_prefill``: llama.cpp). The worker thread evaluates the prompt the question
        would get (:meth:`build_messages`) into the model's cache, so when it is sent only the last few tokens are
        left to evaluate and the reply starts sooner. Nothing is added to the history and the reply is the same as
        without it. Ignored while a reply is generated or before the model has loaded; :meth:`send` cancels it.
        Between turns the conversation does the same by itself for the start of the next turn, so a question sent
        without typing ahead also starts sooner (see :class:`nbchat._prefill.PrefillScheduler`).

        Parameters
        ----------
        text : str
            The question as typed so far.
        """
        self._prefiller.draft(text)

    def ask(
        self,
        text: str,
        timeout: float | None = None,
        *,
        attachments: Any = None,
        documents: str | None = None,
        schema: Any = None,
    ) -> Any:
        """Send ``text`` (with ``attachments``, see :meth:`send`) and block until the reply is done; return its text,
        or with ``schema`` the validated object.

        The reply streams into every open view of the conversation while this waits. Interrupting the kernel
        (or Ctrl+C) stops generation and keeps the partial reply, marked "stopped".

        Parameters
        ----------
        text : str
            The user's message.
        timeout : float, optional
            Seconds to wait for the whole reply; default: no limit. When they are up, the reply is stopped (its
            partial text is kept, marked "stopped") and ``TimeoutError`` is raised.
        schema : pydantic model class or dict, optional
            A structured reply: the model is held to this JSON schema (OpenAI-compatible servers through
            ``response_format``, llama.cpp through a grammar made from it; see :mod:`nbchat._structured`) and the
            reply is validated. Returns a model instance for a pydantic model, the JSON value for a dict. The reply
            shows as formatted JSON in every view.

        Returns
        -------
        str, pydantic model instance, or JSON value
            The reply's text; with ``schema``, the object.

        Raises
        ------
        ValueError, ConversationBusyError
            As :meth:`send`.
        GenerationError
            If the reply failed; its partial text stays in the history and is in ``error.partial``.
        StructuredReplyError
            With ``schema``: the reply does not fit it, or ``max_new_tokens`` ended it before its JSON was complete;
            its raw text stays in the history and is in ``error.text``.
        NbchatError
            With ``schema``: a backend that cannot constrain a reply (transformers), before anything is sent.
        TimeoutError
            If the reply was not done within ``timeout`` seconds (it is stopped first).
        """
        future = self.send(text, attachments=attachments, documents=documents, schema=schema)
        return self._structured.result(future, lambda: wait_for_reply(self, future, timeout), schema)

    def stop(self) -> None:
        """Stop the reply in progress, keeping its partial text (marked "stopped"). Returns at once."""
        self._cancel.set()

    def _generate(self, stream: StreamingReply) -> ChatMessage:
        """Worker thread: wait for the model, stream the reply into ``stream``, commit it and tell everyone."""
        self._loader.run()  # queued after the load it started: returns at once when that ran
        if self._loader.ready:
            self._set_status("generating", keyed("py.status.generating", model=self.backend.model))
        outcome = self._outcome(stream)
        self._structured.finish(outcome, stream)  # a structured reply: formatted JSON, or an error keeping its text
        with self._lock:
            reply = stream.commit(outcome, self.backend.describe())
            sent = self._requests.get(reply.id)
            cite_reply(reply, sent.messages if sent is not None else [])  # documents: citations to passages sent
            self._stream, self._busy = None, False
        self._emit(ConversationEvent("message", message=reply))
        self._set_status(*self._loader.settled())
        self._autosave()
        self._replied(reply)
        outcome.wind_down()  # a backend still busy after Stop gets its grace before the next reply starts
        self._prefiller.next_turn()
        return reply

    def _outcome(self, stream: StreamingReply) -> ReplyOutcome:
        """How the reply ends: refused (an image for a model without image input, a model that failed to load), or
        streamed into ``stream`` by :func:`nbchat._generation.run_reply`, or by the tool loop in rounds of calls."""
        refused = refusal(self.backend, stream.messages, self.load_error)
        if refused is not None:
            return refused
        generating: str | Keyed = self.status_i18n or self.status_text

        def on_status(line: Keyed | None) -> None:  # a retry's wait, then back to "generating"
            self._set_status("generating", line or generating)

        if self.tool_loop.active:  # rounds of tool calls (nbchat/tools/_loop.py)
            return self.tool_loop.run(
                self.backend, stream.messages, stream.settings, stream.cancel, stream.add_text,
                on_reasoning=stream.add_reasoning, on_status=on_status, on_round=stream.add_round,
                on_call=stream.call_changed, retries=self.retries, images=self.backend.image_input is not False,
                max_side=self.image_max_side,
            )  # fmt: skip
        return run_reply(
            self.backend,
            stream.messages,
            stream.settings,
            stream.cancel,
            stream.add_text,
            retries=self.retries,
            on_status=on_status,
            on_reasoning=stream.add_reasoning,
        )

    # ------------------------------------------------------------------ tools
    @property
    def tools(self) -> list[Any]:
        """The tools the model may call (:class:`nbchat.Tool` and :class:`nbchat.MCPServer` objects); assign
        functions, tools or servers to replace them.

        Raises
        ------
        ToolError
            For a function that cannot be a tool, duplicate names, or tools switched off by the administrator.
        ConversationBusyError
            While a reply is being generated.
        """
        return [*self.tool_loop.tools, *self.tool_loop.servers]

    @tools.setter
    def tools(self, value: Any) -> None:
        with self._lock:
            self._refuse_while_busy("change the tools")
            self.tool_loop.set_tools(value)

    def approve(self, call_id: str, decision: Literal["once", "chat", "decline"], reason: str = "") -> None:
        """Decide about a tool call waiting for approval (``tool_approval="ask"``): ``"once"`` (run it), ``"chat"``
        (run it and later calls of the same tool in this chat: kept in memory, never saved), ``"decline"`` (the
        model gets ``reason``). The widget's buttons call this; a waiting call shows as ``status == "pending"``.

        Raises
        ------
        KeyError
            If no call ``call_id`` is waiting. ``ValueError`` for another decision.
        """
        self.tool_loop.approvals.answer(call_id, decision, reason)

    def on_tool_approval(self, asker: Callable[[ToolCall], None]) -> Callable[[], None]:
        """Register ``asker(call)``, called (in the worker thread) when a call waits for a person's decision; the
        answer comes through :meth:`approve`. With one registered, ``tool_approval="ask"`` works. Returns a function
        that removes it."""
        return self.tool_loop.approvals.add_asker(asker)

    def close(self) -> None:
        """Stop generation and any prefill, release the worker thread and the backend, close the MCP servers."""
        self.stop()
        self._prefiller.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.backend.close()
        self.tool_loop.close()

    def __repr__(self) -> str:
        count = len(self._tree.branch())
        return f"<Conversation {self.backend.kind}:{self.backend.model} · {count} messages · {self.status}>"
