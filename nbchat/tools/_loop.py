"""The tool loop of one turn: stream a round; if the model asked for calls, approve and run them, add the round to
the messages and ask again; until a round has no calls or ``max_tool_rounds`` is reached.

Called by :meth:`nbchat.Conversation._generate` instead of one :func:`nbchat._generation.run_reply` when the
conversation has tools. Stop works at every point: while the model writes a call (the stream stops, the partial
call is kept, marked "stopped"), while a call waits for approval, while a function runs (see
:func:`nbchat.tools._run.run_call`). Nothing said is lost: each round's text stays in its :class:`ToolRound`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .._generation import DEFAULT_RETRIES, ReplyOutcome, run_reply
from .._i18n import Keyed, keyed
from .._policy import current_policy
from .._settings import GenerationSettings
from ..backends import Backend
from ._approval import Approvals, ToolApproval
from ._calls import ToolCall, ToolRound
from ._function import Tool, ToolError, as_tools
from ._mcp import MCPServer, MCPServerError, mcp_servers
from ._run import DEFAULT_RESULT_CHARS, DEFAULT_TOOL_TIMEOUT, run_call

__all__ = ["DEFAULT_MAX_TOOL_ROUNDS", "ToolLoop", "no_tools_message"]

DEFAULT_MAX_TOOL_ROUNDS = 8
"""Rounds of calls in one turn (``Conversation(max_tool_rounds=)``); the administrator may cap it lower."""
_SUMMED = ("tokens", "thinking_tokens")


def no_tools_message(backend: Backend) -> str:
    """Why a backend cannot take ``tools=``, and which can."""
    return (
        f"{backend.model} ({backend.kind}) cannot call tools in nbchat, so nothing was sent. Tools work with "
        "OpenAI-compatible servers and online sources (OpenAI, vLLM started with --enable-auto-tool-choice, TGI "
        "through its Messages API at the server's /v1 URL, "
        "llama.cpp's server with --jinja, nbchat serve, ...), with GGUF models on nbchat's default llama.cpp engine "
        "(backend='llama.cpp'), with transformers models whose calls transformers can read (a tokenizer with a "
        "response_template; Qwen2, Qwen2.5, Qwen3, Qwen3.5, Gemma 4), and with Python functions that take a tools= "
        "parameter. "
        "Use one of those, or remove tools= to chat without tools."
    )


class ToolLoop:
    """The tools of one conversation, how calls are approved, and the loop that runs them.

    Parameters
    ----------
    tools : list of callables, Tool or MCPServer, optional
        See :class:`~nbchat.tools.Tool`; an :class:`~nbchat.MCPServer` stands for its tools (listed when a turn
        first needs them, which starts it).
    approval : "ask", "auto" or callable, default "ask"
        See :data:`nbchat.tools.ToolApproval`.
    max_rounds : int, default DEFAULT_MAX_TOOL_ROUNDS (8)
        Rounds of calls in one turn; after that the model is asked to answer without tools (``tool_choice``
        "none"), and calls it still asks for are not run.
    timeout : float, default DEFAULT_TOOL_TIMEOUT (60 s)
        Seconds one function may run, unless its :class:`Tool` sets its own; the administrator may cap it.
    max_result_chars : int, default DEFAULT_RESULT_CHARS (32,000)
        Cap on one result's text.
    tool_choice : {"auto", "required", "none"} or None, default None
        Sent with the first round (later rounds: the server's default, so the model can answer).

    Raises
    ------
    ToolError
        For a bad tool, duplicate names, or an invalid approval, round count or timeout.
    """

    def __init__(
        self,
        tools: Iterable[Any] | None = None,
        *,
        approval: ToolApproval = "ask",
        max_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        timeout: float = DEFAULT_TOOL_TIMEOUT,
        max_result_chars: int = DEFAULT_RESULT_CHARS,
        tool_choice: str | None = None,
    ) -> None:
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            msg = f"max_tool_rounds must be a whole number >= 1, got {max_rounds!r}."
            raise ToolError(msg)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            msg = f"tool_timeout must be a number of seconds > 0, got {timeout!r}."
            raise ToolError(msg)
        self.approvals = Approvals(approval)
        self.max_rounds = max_rounds
        self.timeout = float(timeout)
        self.max_result_chars = max_result_chars
        self.tool_choice = tool_choice
        self.tools: list[Tool] = []
        self.servers: list[MCPServer] = []
        self.set_tools(tools)

    def set_tools(self, tools: Iterable[Any] | None) -> None:
        """Replace the tools (functions, :class:`Tool` or :class:`~nbchat.MCPServer`); ``None`` or ``[]``: none.

        Servers are not started here (a turn starts them), but the administrator's policy is checked at once.

        Raises
        ------
        ToolError
            For a bad tool or duplicate names; also when the administrator switched tools off.
        MCPServerError
            For a server the administrator's policy does not allow.
        """
        if tools is None:
            items: list[Any] = []
        elif isinstance(tools, (str, MCPServer)) or callable(tools):
            items = [tools]
        else:
            items = list(tools)
        servers: list[MCPServer] = []
        for item in items:
            if isinstance(item, MCPServer):
                servers.append(item)
            elif isinstance(item, str) and (item == "mcp" or item.startswith("mcp:")):  # the settings files' servers
                servers.extend(mcp_servers(names=[item[4:]] if item.startswith("mcp:") else None))
        made = as_tools([item for item in items if not isinstance(item, (str, MCPServer))])
        if any(isinstance(item, str) and not item.startswith("mcp") for item in items):
            bad = next(item for item in items if isinstance(item, str) and not item.startswith("mcp"))
            msg = f"A tool must be a function or an nbchat.MCPServer, got the text {bad!r} ('mcp' names the servers "
            msg += "of your MCP settings file, 'mcp:NAME' one of them)."
            raise ToolError(msg)
        if made or servers:
            check_tools_allowed()
        names = [s.name for s in servers]
        for server in servers:
            if names.count(server.name) > 1:
                msg = f"Two MCP servers are named {server.name!r}; give one another name=."
                raise MCPServerError(msg)
            server.check_allowed()
        self.tools, self.servers = made, servers

    @property
    def active(self) -> bool:
        """Whether a turn has tools to offer: functions, or MCP servers (whose tools are listed when it starts)."""
        return bool(self.tools or self.servers)

    def names(self) -> list[str]:
        """The tools' names, in order: functions, then the tools of MCP servers already started."""
        return [t.name for t in self.listed()]

    def listed(self) -> list[Tool]:
        """Functions, then the tools of the MCP servers already started (none is started here)."""
        return [*self.tools, *(t for s in self.servers if s.running for t in s.tools())]

    def schemas(self, tools: list[Tool] | None = None) -> tuple[dict[str, Any], ...]:
        """The OpenAI function-tool schemas of ``tools`` (default: :meth:`listed`)."""
        return tuple(t.schema() for t in (self.listed() if tools is None else tools))

    def available(self) -> tuple[list[Tool], list[str]]:
        """Every tool a turn offers, starting MCP servers that are not running; and a notice per server that could
        not start (its tools are left out, the chat goes on) or tool that was left out (a duplicate name)."""
        tools = list(self.tools)
        notices: list[str] = []
        seen = {t.name for t in tools}
        for server in self.servers:
            try:
                offered = server.tools()
            except ToolError as exc:
                notices.append(f"{exc} Its tools were not offered to the model.")
                continue
            notices.extend(f"MCP server {server.name!r}: tool {why}; not offered." for why in server.skipped)
            for t in offered:
                if t.name in seen:
                    notices.append(f"MCP server {server.name!r}: tool {t.name!r} has the name of another tool; "
                                   "not offered (pass prefix= or exclude= to the server).")  # fmt: skip
                    continue
                seen.add(t.name)
                tools.append(t)
        return tools, notices

    def close(self) -> None:
        """Close the MCP servers (they start again if a later turn needs them)."""
        for server in self.servers:
            server.close()

    def apply(self, settings: GenerationSettings) -> GenerationSettings:
        """``settings`` with the tools' schemas and ``tool_choice`` (unchanged without tools)."""
        if not self.active:
            return settings
        return settings.replace(tools=self.schemas(), tool_choice=self.tool_choice)

    def limits(self) -> tuple[int, float]:
        """``(max_rounds, timeout)`` lowered to the administrator's caps."""
        policy = current_policy()
        rounds, timeout = self.max_rounds, self.timeout
        if policy.max_tool_rounds is not None:
            rounds = min(rounds, policy.max_tool_rounds)
        if policy.max_tool_seconds is not None:
            timeout = min(timeout, policy.max_tool_seconds)
        return rounds, timeout

    def check_ready(self) -> None:
        """Raise before a turn is started when its calls could not be decided (approval "ask" with nobody to ask).

        Raises
        ------
        ToolError
            See :meth:`nbchat.tools.Approvals.require_decider`.
        """
        if self.active:
            self.approvals.require_decider()

    # ------------------------------------------------------------------ one turn
    def run(
        self,
        backend: Backend,
        messages: list[dict[str, Any]],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_delta: Callable[[str], None],
        *,
        on_reasoning: Callable[[str], None] | None = None,
        on_status: Callable[[Keyed | None], None] | None = None,
        on_round: Callable[[ToolRound], None] | None = None,
        on_call: Callable[[ToolCall], None] | None = None,
        retries: int = DEFAULT_RETRIES,
        images: bool = True,
        max_side: int = 1024,
    ) -> ReplyOutcome:
        """Run one turn with tools; never raises (as :func:`~nbchat._generation.run_reply`).

        Parameters
        ----------
        messages : list of dict
            The request's messages (system message, history, the question).
        on_delta, on_reasoning, on_status, retries
            As for :func:`~nbchat._generation.run_reply`; text of every round streams through ``on_delta``.
        on_round : callable, optional
            ``on_round(round)`` when the model finished a round that asks for calls, before any runs: the round's
            text and reasoning are final (the caller moves them out of the streaming reply), its calls ``pending``.
        on_call : callable, optional
            ``on_call(call)`` after each change of a call's status (pending, running, done, error, ...).
        images : bool, default True
            Send image results as image parts (a model that sees), else name them in the text.

        Returns
        -------
        ReplyOutcome
            Of the last round, with ``stats`` over the whole turn: ``tokens`` summed, ``duration_s`` from the
            start, ``tool_rounds`` (rounds with calls) and ``tool_calls`` (calls asked for).
        """
        start = time.perf_counter()
        try:
            check_tools_allowed()
        except ToolError as exc:
            return ReplyOutcome("error", str(exc), {"finish_reason": "error"})
        if getattr(backend, "tool_calls", False) is False:
            return ReplyOutcome("error", no_tools_message(backend), {"finish_reason": "error"})
        max_rounds, timeout = self.limits()
        if on_status is not None and any(not s.running for s in self.servers):
            on_status(keyed("py.status.mcpStarting"))
        tools, notices = self.available()
        if on_status is not None and self.servers:
            on_status(None)
        schemas = self.schemas(tools)
        request = list(messages)
        rounds = 0
        calls_asked = 0
        totals: dict[str, Any] = {"notices": notices} if notices else {}
        by_name = {t.name: t for t in tools}
        while True:
            allow = rounds < max_rounds
            choice = (self.tool_choice if rounds == 0 else None) if allow else "none"
            text: list[str] = []
            thoughts: list[str] = []
            outcome = run_reply(
                backend,
                request,
                settings.replace(tools=schemas, tool_choice=choice if schemas else None),
                cancel,
                _tee(text, on_delta),
                retries=retries,
                on_status=on_status,
                on_reasoning=_tee(thoughts, on_reasoning),
            )
            _add_stats(totals, outcome.stats)
            calls = outcome.tool_calls
            if not calls:
                return _finish(outcome, totals, start, rounds, calls_asked)
            calls_asked += len(calls) + outcome.dropped_calls
            round_ = ToolRound("".join(text), "".join(thoughts).rstrip(), calls, outcome.dropped_calls)
            if outcome.status != "done" or not allow:
                if outcome.status == "done":  # max_tool_rounds reached and the model still asks
                    why = f"not run: this turn reached max_tool_rounds ({max_rounds})"
                    outcome.stats["notice"] = f"The model still asked for tools after {max_rounds} rounds of calls."
                    status = "error"
                else:
                    why = "the reply ended before this call was complete"
                    status = "stopped" if outcome.status == "stopped" else "error"
                for call in calls:
                    call.status, call.error = status, why  # type: ignore[assignment]
                if on_round is not None:
                    on_round(round_)
                return _finish(outcome, totals, start, rounds + 1, calls_asked)
            if on_round is not None:
                on_round(round_)
            self._run_round(round_, by_name, cancel, on_call, on_status, timeout, max_side)
            rounds += 1
            if cancel.is_set():
                outcome.status, outcome.stats["finish_reason"] = "stopped", "stopped"
                return _finish(outcome, totals, start, rounds, calls_asked)
            request += round_.to_openai_list(images, reasoning=backend.send_reasoning)

    def _run_round(
        self,
        round_: ToolRound,
        by_name: dict[str, Tool],
        cancel: threading.Event,
        on_call: Callable[[ToolCall], None] | None,
        on_status: Callable[[Keyed | None], None] | None,
        timeout: float,
        max_side: int,
    ) -> None:
        """Check, approve and run the round's calls in order (every card shows first, so a person sees them all)."""

        def changed(call: ToolCall) -> None:
            if on_call is not None:
                on_call(call)

        runnable: list[tuple[ToolCall, Tool]] = []
        for call in round_.calls:
            tool = by_name.get(call.name)
            if tool is None:
                known = ", ".join(by_name) or "none"
                call.status, call.error = "error", f"There is no tool named {call.name!r}; the tools are: {known}."
                call.result = f"Error: {call.error}"
            elif call.parsed_arguments() is None:
                call.status = "error"
                call.error = f"The arguments of {call.name} are not a JSON object: write them as one JSON object."
                call.result = f"Error: {call.error} They were: {call.arguments[:500]}"
            else:
                call.server = tool.server
                runnable.append((call, tool))
            changed(call)
        for call, tool in runnable:
            if cancel.is_set():
                break
            if on_status is not None and call.name not in self.approvals.allowed_for_chat:
                on_status(keyed("py.status.toolWaiting", name=call.name) if self.approvals.mode == "ask" else None)
            decision = self.approvals.decide(call, cancel)
            if decision is None:
                break
            if not decision.allowed:
                call.status, call.reason = "declined", decision.reason
                changed(call)
                continue
            call.status = "running"
            changed(call)
            if on_status is not None:
                on_status(keyed("py.status.toolRunning", name=call.name))
            run_call(tool, call, cancel, timeout=tool.timeout or timeout, max_chars=self.max_result_chars,
                     max_side=max_side)  # fmt: skip
            changed(call)
        if on_status is not None:
            on_status(None)
        for call in round_.calls:
            if call.status in ("pending", "running"):
                call.status = "stopped"
                changed(call)


def check_tools_allowed() -> None:
    """Raise when the administrator switched tools off (``$NBCHAT_TOOLS=off``).

    Raises
    ------
    ToolError
        Naming where it was set and whom to ask.
    """
    policy = current_policy()
    if not policy.tools:
        where = policy.origin.get("tools", "$NBCHAT_TOOLS")
        msg = f"Tools are switched off here (by {where}); ask {policy.admin_contact} to allow them."
        raise ToolError(msg)


def _tee(kept: list[str], then: Callable[[str], None] | None) -> Callable[[str], None]:
    """A delta callback that keeps each piece in ``kept`` (this round's text) and passes it on."""

    def take(piece: str) -> None:
        kept.append(piece)
        if then is not None:
            then(piece)

    return take


def _add_stats(totals: dict[str, Any], stats: dict[str, Any]) -> None:
    for key in _SUMMED:
        if isinstance(stats.get(key), int):
            totals[key] = totals.get(key, 0) + stats[key]
    if "ttft_s" not in totals:
        totals["ttft_s"] = stats.get("ttft_s")


def _finish(outcome: ReplyOutcome, totals: dict[str, Any], start: float, rounds: int, asked: int) -> ReplyOutcome:
    stats = outcome.stats
    for key in _SUMMED:
        if key in totals:
            stats[key] = totals[key]
    stats["ttft_s"] = totals.get("ttft_s")
    stats["duration_s"] = round(time.perf_counter() - start, 4)
    stats["tool_rounds"] = rounds
    stats["tool_calls"] = asked
    if totals.get("notices"):
        stats["notice"] = " ".join([*totals["notices"], *([stats["notice"]] if stats.get("notice") else [])])
    return outcome
