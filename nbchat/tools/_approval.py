"""Who decides whether a call runs: a person ("ask"), nobody ("auto": the code said so), or the user's code (a
callable). "Allow for this chat" is kept here, in memory, for one conversation: never saved, never sent anywhere.

Nothing in a saved file, a policy file, a browser message or a tool result can turn approval off: the mode is set
only by the Python code that made the conversation (:class:`Approvals` is not built from anything else).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Literal

from ._calls import ToolCall
from ._function import ToolError

__all__ = ["APPROVAL_MODES", "Approvals", "Decision", "ToolApproval", "check_approval"]

ToolApproval = Any  # Literal["ask", "auto"] | Callable[[ToolCall], bool]
"""``"ask"``: a person clicks Allow once / Allow for this chat / Decline in the chat's card. ``"auto"``: every call
runs without asking. A callable ``approve(call) -> bool``: your code decides (an exception declines)."""
APPROVAL_MODES = ("ask", "auto")
DecisionKind = Literal["once", "chat", "decline"]


@dataclasses.dataclass(frozen=True)
class Decision:
    """A decision about one call: ``allowed``, and the reason a decline gives the model (``""`` if none)."""

    allowed: bool
    reason: str = ""


def check_approval(value: Any) -> Any:
    """``value`` if it is ``"ask"``, ``"auto"`` or a callable.

    Raises
    ------
    ToolError
        Otherwise, naming the three choices.
    """
    if value in APPROVAL_MODES or (callable(value) and not isinstance(value, str)):
        return value
    msg = f"tool_approval must be 'ask', 'auto' or a function (call) -> bool, got {value!r}."
    raise ToolError(msg)


class Approvals:
    """The approval state of one conversation.

    Parameters
    ----------
    mode : "ask", "auto" or callable
        See :data:`ToolApproval`.

    Attributes
    ----------
    allowed_for_chat : set of str
        Tool names a person allowed "for this chat": later calls of them run without asking. In memory only.
    """

    def __init__(self, mode: ToolApproval = "ask") -> None:
        self.mode = check_approval(mode)
        self.allowed_for_chat: set[str] = set()
        self._askers: list[Callable[[ToolCall], None]] = []
        self._waiting: dict[str, tuple[threading.Event, str, list[Decision]]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ people
    def add_asker(self, asker: Callable[[ToolCall], None]) -> Callable[[], None]:
        """Register something that shows a pending call to a person (a widget); returns a function removing it.

        With mode ``"ask"``, a call waits until :meth:`answer` is called for it (by the widget's buttons, through
        :meth:`nbchat.Conversation.approve`), or Stop. ``asker(call)`` is called once per waiting call, from the
        worker thread: it must return quickly.
        """
        self._askers.append(asker)
        return lambda: self._askers.remove(asker) if asker in self._askers else None

    @property
    def can_ask(self) -> bool:
        """Whether mode ``"ask"`` has a person to ask (an asker is registered)."""
        return bool(self._askers)

    def require_decider(self) -> None:
        """Raise unless calls can be decided: mode "auto", a callable, or "ask" with an asker registered.

        Raises
        ------
        ToolError
            For "ask" with nobody to ask (plain Python, no widget), naming the two other choices.
        """
        if self.mode == "ask" and not self.can_ask:
            msg = (
                'tool_approval="ask" needs a person to click Allow: show the chat (nbchat.Chat(..., tools=...)), or '
                'decide in code: tool_approval="auto" runs every call without asking, a function '
                "tool_approval=lambda call: call.name == 'area' decides per call."
            )
            raise ToolError(msg)

    def answer(self, call_id: str, decision: DecisionKind, reason: str = "") -> None:
        """A person's decision about a waiting call: ``"once"``, ``"chat"`` (this tool, for the rest of the chat),
        or ``"decline"`` (``reason`` goes to the model).

        Raises
        ------
        ValueError
            For another decision, or a reason that is not text.
        KeyError
            If no call ``call_id`` is waiting (already decided, stopped, or never asked).
        """
        if decision not in ("once", "chat", "decline"):
            msg = f"decision must be 'once', 'chat' or 'decline', got {decision!r}."
            raise ValueError(msg)
        if not isinstance(reason, str):
            msg = f"reason must be text, got {type(reason).__name__}."
            raise ValueError(msg)
        with self._lock:
            waiting = self._waiting.get(call_id)
            if waiting is None:
                msg = f"No tool call {call_id!r} is waiting for approval."
                raise KeyError(msg)
            event, name, box = waiting
            if decision == "chat":
                self.allowed_for_chat.add(name)
            box.append(Decision(decision != "decline", reason.strip()[:2000] if decision == "decline" else ""))
            event.set()

    # ------------------------------------------------------------------ the loop's side
    def decide(self, call: ToolCall, cancel: threading.Event) -> Decision | None:
        """Whether ``call`` may run; ``None`` when Stop came first. Blocks while a person decides.

        A callable that raises declines the call (its error is the reason).
        """
        if self.mode == "auto" or call.name in self.allowed_for_chat:
            return Decision(True)
        if callable(self.mode):
            try:
                allowed = bool(self.mode(call))
            except Exception as exc:  # noqa: BLE001 - the user's approver failed: the call does not run, the model is told
                return Decision(False, f"the approval function raised {type(exc).__name__}: {exc}")
            return Decision(allowed, "" if allowed else "declined by the approval function")
        event = threading.Event()
        box: list[Decision] = []
        with self._lock:
            self._waiting[call.id] = (event, call.name, box)
        try:
            for asker in list(self._askers):
                asker(call)
            while not event.wait(0.05):
                if cancel.is_set():
                    return None
                if call.name in self.allowed_for_chat:  # an earlier card of this tool said "for this chat"
                    return Decision(True)
            return box[-1]
        finally:
            with self._lock:
                self._waiting.pop(call.id, None)

    def waiting(self) -> list[str]:
        """Ids of the calls waiting for a person now."""
        with self._lock:
            return list(self._waiting)
