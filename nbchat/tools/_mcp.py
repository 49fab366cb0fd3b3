"""MCP servers as tools, through the official ``mcp`` Python SDK: a server started as a child process that speaks
MCP over its stdin/stdout (stdio), or one reached over streamable HTTP at a URL.

The SDK is asyncio (anyio); nbchat's tool loop is threads. Each :class:`MCPServer` runs its MCP session in a
background thread with an event loop of its own; :meth:`MCPServer.tools` and :meth:`MCPServer.call` are plain
blocking calls the tool loop makes from its worker threads. The session is opened when first needed (the first turn
that offers the server's tools), closed by :meth:`MCPServer.close` (also through ``Conversation.close()``) and when
the Python process exits (``atexit``); a stdio server also ends by itself when its stdin closes, so a kernel that
dies leaves no process behind.

What a server gets: only the environment it is given (``env=``) over the SDK's short list of harmless variables
(``HOME``, ``LOGNAME``, ``PATH``, ``SHELL``, ``TERM``, ``USER``: :func:`mcp.client.stdio.get_default_environment`),
never the kernel's API keys unless named for it. Whether a server may run at all is the administrator's to say
(:meth:`nbchat._policy.Policy.check_mcp`). Its tools' names, descriptions and schemas are the server's text:
shown to the model and the user, never run, and they cannot change how calls are approved.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import json
import shlex
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .._attachments import Attachment, AttachmentError, image_attachment
from .._errors import MissingDependencyError, NbchatError
from ._function import NAME_PATTERN, Tool, ToolError
from ._mcp_settings import admin_targets, read_settings, settings_files
from ._run import ToolOutput

__all__ = ["DEFAULT_START_TIMEOUT", "MCPServer", "MCPServerError", "MCPTool", "mcp_servers"]

DEFAULT_START_TIMEOUT = 60.0
"""Seconds a server may take to start and list its tools (a ``uvx``/``npx`` server may first install itself)."""
_POLL_S = 0.02
_STDERR_TAIL = 600  # characters of a stdio server's stderr quoted in an error (its end)
_CONNECTION_CLOSED = -32000  # the SDK's error code for a connection that closed under a request (mcp_types)
_MAX_PAGES = 100  # tools/list pages read from one server (a server whose cursor never ends cannot hang a turn)
_live: weakref.WeakSet[MCPServer] = weakref.WeakSet()


class MCPServerError(ToolError):
    """An MCP server could not start, was refused by the administrator's policy, crashed, or answered a call with an
    error; the message names the server and says what to do (``server.restart()``, check its command...)."""


def _mcp() -> Any:
    try:
        import mcp
    except ImportError as exc:  # pragma: no cover - a dependency of nbchat; a broken install
        msg = "MCP servers need the official MCP SDK: pip install 'nbchat[mcp]' (or pip install mcp)."
        raise MissingDependencyError(msg) from exc
    return mcp


class MCPServer:
    """An MCP server whose tools a model may call: ``tools=[nbchat.MCPServer(...), my_function]``.

    Give ``command`` (a server nbchat starts, spoken to over its stdin/stdout) or ``url`` (a server already
    running, spoken to over streamable HTTP). Nothing starts here: the server starts when a turn first needs its
    tools, and stops with :meth:`close` (a conversation's ``close()`` calls it; so does the end of the Python
    process).

    Parameters
    ----------
    command : list of str or str, optional
        The program and its arguments, e.g. ``["python", "weather.py"]`` or ``"uvx mcp-server-time"`` (a string is
        split as a shell would, without running a shell).
    url : str, optional
        A streamable-HTTP endpoint, e.g. ``"http://127.0.0.1:8000/mcp"``.
    name : str, optional
        How nbchat names the server in cards and errors; default: the script's or program's name, or the URL's
        host.
    env : dict of str to str, optional
        Environment variables for the child process, on top of the SDK's harmless few (``HOME``, ``LOGNAME``,
        ``PATH``, ``SHELL``, ``TERM``, ``USER``). Nothing else of the kernel's environment (API keys) reaches it.
    cwd : str or Path, optional
        Working folder of the child process; default: the kernel's.
    headers : dict of str to str, optional
        HTTP headers sent to a ``url`` server (e.g. ``{"Authorization": "Bearer ..."}``); never shown in a repr or
        an error.
    include, exclude : list of str, optional
        Offer only these tools of the server / all but these (by the server's tool names).
    prefix : str, default ""
        Put before each tool's name (``prefix="wx_"``: ``wx_forecast``), when two servers name tools alike.
    timeout : float, optional
        Seconds one call may run; default: the conversation's ``tool_timeout``. Past it the call is cancelled
        (MCP's ``notifications/cancelled``) and the model gets an error naming the server.
    start_timeout : float, default 60
        Seconds the server may take to start and list its tools.

    Raises
    ------
    MCPServerError
        If neither or both of ``command`` and ``url`` are given, or a value has the wrong type.

    Examples
    --------
    >>> weather = nbchat.MCPServer(["python", "weather.py"], env={"WEATHER_KEY": key})   # doctest: +SKIP
    >>> chat = nbchat.Chat("openai:gpt-4o-mini", tools=[weather, area])                   # doctest: +SKIP
    """

    def __init__(
        self,
        command: Sequence[str] | str | None = None,
        *,
        url: str | None = None,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        headers: Mapping[str, str] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        prefix: str = "",
        timeout: float | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        if (command is None) == (url is None):
            msg = "MCPServer needs command= (a server nbchat starts) or url= (a running one), not both or neither."
            raise MCPServerError(msg)
        if isinstance(command, str):
            command = shlex.split(command)
        self.command: list[str] = [str(part) for part in command] if command is not None else []
        if command is not None and not self.command:
            raise MCPServerError("MCPServer(command=[]) names no program; give e.g. ['python', 'server.py'].")
        if url is not None and urlparse(url).scheme not in ("http", "https"):
            msg = f"MCPServer(url=...) must be an http:// or https:// URL, got {url!r}."
            raise MCPServerError(msg)
        self.url: str | None = url
        for label, mapping in (("env", env), ("headers", headers)):
            if mapping is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
                msg = f"MCPServer({label}=...) must map names to strings."
                raise MCPServerError(msg)
        self.env: dict[str, str] = dict(env or {})
        self.cwd: str | None = str(cwd) if cwd is not None else None
        self._headers: dict[str, str] = dict(headers or {})
        self.include: tuple[str, ...] | None = tuple(include) if include is not None else None
        self.exclude: tuple[str, ...] = tuple(exclude or ())
        self.prefix = prefix
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            msg = f"timeout must be a number of seconds > 0, got {timeout!r}."
            raise MCPServerError(msg)
        self.timeout: float | None = None if timeout is None else float(timeout)
        self.start_timeout = float(start_timeout)
        self.name: str = name or _default_name(self.command, url)
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._closing: asyncio.Event | None = None
        self._session: concurrent.futures.Future[None] | None = None
        self._gone = threading.Event()  # the session ended (closed, crashed, lost)
        self._why_gone = ""
        self._errlog: Any = None
        self._tools: list[MCPTool] = []
        self.skipped: list[str] = []
        """Tools of the server not offered, each with why (a name no model API takes)."""

    # ------------------------------------------------------------------ describing
    @property
    def kind(self) -> str:
        """``"stdio"`` (a child process) or ``"http"`` (streamable HTTP)."""
        return "http" if self.url is not None else "stdio"

    @property
    def target(self) -> str:
        """What the administrator's policy matches: the program (first word of ``command``) or the URL."""
        return self.url if self.url is not None else self.command[0]

    @property
    def running(self) -> bool:
        """Whether the session is open now."""
        return self._client is not None and not self._gone.is_set()

    def __repr__(self) -> str:
        where = self.url if self.url is not None else " ".join(shlex.quote(c) for c in self.command)
        state = "running" if self.running else "not started"
        env = f" env={sorted(self.env)}" if self.env else ""  # names only: values may be keys
        return f"<MCPServer {self.name!r} ({self.kind}: {where}){env} · {state}>"

    # ------------------------------------------------------------------ life cycle
    def check_allowed(self) -> None:
        """Refuse this server when the administrator's policy does not allow it (see
        :meth:`nbchat._policy.Policy.check_mcp`); a server of the administrator's own settings file always may run.

        Raises
        ------
        MCPServerError
            Naming the server, the setting that refused it and whom to ask.
        """
        from .._policy import current_policy

        if (tuple(self.command), self.url) in admin_targets():
            return
        try:
            current_policy().check_mcp(self.name, self.command, self.url)
        except MCPServerError:
            raise
        except NbchatError as exc:
            raise MCPServerError(str(exc)) from None

    def start(self) -> None:
        """Start the server (a stdio child process, or the HTTP session) and list its tools; at once if running.

        Raises
        ------
        MCPServerError
            If the administrator's policy refuses it, the program cannot be started, or it does not answer within
            ``start_timeout`` seconds; the message names the server and quotes the end of its error output.
        """
        with self._lock:
            if self.running:
                return
            self.check_allowed()
            self._shutdown()
            self._gone.clear()
            self._why_gone = ""
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name=f"nbchat-mcp-{self.name}", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            ready: concurrent.futures.Future[list[Any]] = concurrent.futures.Future()
            self._session = asyncio.run_coroutine_threadsafe(self._run(ready), loop)
            _live.add(self)
            try:
                listed = ready.result(self.start_timeout)
            except concurrent.futures.TimeoutError:
                self._shutdown()
                msg = (
                    f"MCP server {self.name!r} did not answer within {self.start_timeout:g} s of starting"
                    f"{self._stderr_tail()}. Check that it is an MCP server ({self._where()}), or pass a larger "
                    "start_timeout=."
                )
                raise MCPServerError(msg) from None
            except Exception as exc:  # noqa: BLE001 - any failure to start: the message names the server
                tail = self._stderr_tail()
                self._shutdown()
                msg = f"MCP server {self.name!r} could not start ({self._where()}): {_describe(exc)}{tail}"
                raise MCPServerError(msg) from None
            self._tools = self._make_tools(listed)

    def restart(self) -> None:
        """Close the server and start it again (after a crash or a hang, or to pick up a changed server).

        Raises
        ------
        MCPServerError
            As :meth:`start`.
        """
        with self._lock:
            self.close()
            self.start()

    def close(self) -> None:
        """End the session: a stdio server's stdin is closed, then it is terminated, then killed (the SDK waits about
        2 s for each); an HTTP session is ended with a DELETE. Safe to call twice; a later turn starts it again."""
        with self._lock:
            self._shutdown()
            _live.discard(self)

    def _shutdown(self) -> None:
        loop, session, closing = self._loop, self._session, self._closing
        if loop is not None and loop.is_running():
            if closing is not None:
                loop.call_soon_threadsafe(closing.set)
            if session is not None:
                with contextlib.suppress(Exception):
                    session.result(10.0)  # the SDK's own shutdown is bounded (flush, terminate, kill)
                if not session.done():
                    session.cancel()
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5.0)
        if loop is not None and not loop.is_running():
            loop.close()
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()
        self._loop = self._thread = self._session = self._closing = self._errlog = None
        self._client = None
        self._gone.set()

    def __enter__(self) -> MCPServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    async def _run(self, ready: concurrent.futures.Future[list[Any]]) -> None:
        """The session, from start to close, in the server's event loop (anyio scopes enter and exit in one task)."""
        self._closing = asyncio.Event()
        try:
            async with _mcp().Client(self._transport()) as client:
                listed = await _list_tools(client)
                self._client = client
                ready.set_result(listed)
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            self._why_gone = _describe(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._client = None
            self._gone.set()

    def _transport(self) -> Any:
        if self.url is not None:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            # the SDK's own timeouts (30 s, 300 s to read a stream); headers only to this server's origin
            http = httpx2.AsyncClient(headers=self._headers, timeout=httpx2.Timeout(30.0, read=300.0))
            return streamable_http_client(self.url, http_client=http)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in _shutdown
        params = StdioServerParameters(command=self.command[0], args=self.command[1:], env=self.env, cwd=self.cwd)
        return stdio_client(params, errlog=self._errlog)

    # ------------------------------------------------------------------ tools and calls
    def tools(self) -> list[MCPTool]:
        """The server's tools as nbchat tools (``include``/``exclude``/``prefix`` applied); starts the server.

        Raises
        ------
        MCPServerError
            As :meth:`start`.
        """
        self.start()
        return list(self._tools)

    def call(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        cancel: threading.Event | None = None,
        timeout: float | None = None,
    ) -> ToolOutput:
        """Call the server's tool ``name`` (the server's own name, without ``prefix``); block until it answers.

        Returns
        -------
        ToolOutput
            The result for the model: text content as text, images as attachments, structured content as JSON,
            an embedded text resource as its text, a link as its URI.

        Raises
        ------
        MCPServerError
            If the server cannot start, crashed or closed during the call, answered with an error (``isError``, or a
            JSON-RPC error), did not answer within ``timeout`` seconds, or ``cancel`` was set (the request is
            cancelled on the server).
        """
        self.start()
        loop, client = self._loop, self._client
        if loop is None or client is None:
            raise MCPServerError(f"MCP server {self.name!r} is not running{self._gone_reason()}; call restart().")
        since = self._stderr_size()
        future = asyncio.run_coroutine_threadsafe(client.call_tool(name, arguments), loop)
        waited = 0.0
        while True:
            try:
                result = future.result(_POLL_S)
                break
            except concurrent.futures.TimeoutError:
                waited += _POLL_S
            except Exception as exc:  # noqa: BLE001 - the SDK's MCPError, a transport error: named for the model
                if getattr(exc, "code", None) != _CONNECTION_CLOSED and not self._gone.is_set():
                    msg = f"MCP server {self.name!r} answered {name} with an error: {_describe(exc)}"
                    raise MCPServerError(msg) from None
                tail = self._stderr_tail(since)
                with self._lock:  # the server is gone (crashed, exited): end the session, reap the process
                    self._shutdown()
                msg = (
                    f"MCP server {self.name!r} stopped during {name} (the connection closed: it crashed or exited)"
                    f"{tail}. It starts again by itself at the next call (or call its restart())."
                )
                raise MCPServerError(msg) from None
            if self._gone.is_set():
                future.cancel()
                msg = (
                    f"MCP server {self.name!r} stopped during {name}{self._gone_reason()}{self._stderr_tail(since)}. "
                    "It starts again by itself at the next call (or call its restart())."
                )
                raise MCPServerError(msg)
            if (cancel is not None and cancel.is_set()) or (timeout is not None and waited > timeout):
                future.cancel()  # the SDK sends notifications/cancelled for the request
                why = "was stopped" if cancel is not None and cancel.is_set() else f"took over {timeout:g} s"
                raise MCPServerError(f"MCP server {self.name!r}: {name} {why}; the request was cancelled.")
        if getattr(result, "is_error", False):
            text, _ = _content(result, name)
            raise MCPServerError(f"MCP server {self.name!r}, tool {name}: {text or 'an error without a message'}")
        text, images = _content(result, name)
        return ToolOutput(text, images)

    def _make_tools(self, listed: list[Any]) -> list[MCPTool]:
        tools: list[MCPTool] = []
        self.skipped = []
        for item in listed:
            if self.include is not None and item.name not in self.include:
                continue
            if item.name in self.exclude:
                continue
            shown = f"{self.prefix}{item.name}"
            if not NAME_PATTERN.fullmatch(shown):
                self.skipped.append(f"{item.name!r}: not a name model APIs take (letters, digits, _ and -)")
                continue
            tools.append(MCPTool(self, item, shown))
        return tools

    # ------------------------------------------------------------------ error text
    def _where(self) -> str:
        return f"URL {self.url}" if self.url is not None else f"command {shlex.join(self.command)}"

    def _gone_reason(self) -> str:
        return f" ({self._why_gone})" if self._why_gone else ""

    def _stderr_size(self) -> int:
        log = self._errlog
        try:
            return int(log.seek(0, 2)) if log is not None else 0
        except (OSError, ValueError):
            return 0

    def _stderr_tail(self, since: int = 0) -> str:
        """The end of what a stdio server wrote to stderr after offset ``since`` (one line), for an error text."""
        log = self._errlog
        if log is None:
            return ""
        try:
            log.flush()
            log.seek(since)
            text = log.read()[-_STDERR_TAIL * 4 :]
        except (OSError, ValueError):
            return ""
        lines = [line.strip(" │╭╰╮╯─") for line in text.splitlines()]  # rich's boxed tracebacks, as plain lines
        text = " / ".join(line for line in lines if line)[-_STDERR_TAIL:]
        return f"; its error output ends with: {text}" if text else ""


class MCPTool(Tool):
    """One tool of an :class:`MCPServer`, as the tool loop runs it (made by :meth:`MCPServer.tools`).

    Attributes
    ----------
    server : str
        The server's name (shown in the call's card and in errors: :attr:`nbchat.tools.ToolCall.server`).
    parameters : dict
        The server's JSON schema of the arguments (its ``inputSchema``), as the server wrote it.
    description : str
        The server's description of the tool: untrusted text, shown and sent to the model, never run.
    """

    def __init__(self, server: MCPServer, listed: Any, name: str) -> None:
        self.mcp_server = server
        self.remote_name: str = listed.name
        self.name = name
        self.server = server.name
        self.description = str(listed.description or "")
        schema = listed.input_schema if isinstance(listed.input_schema, dict) else {}
        self.parameters = {"type": "object", "properties": {}, **schema}
        self.timeout = server.timeout
        self.takes_cancel = True
        self.fn: Callable[..., Any] = self._call

    def _call(self, cancel: threading.Event | None = None, **arguments: Any) -> ToolOutput:
        return self.mcp_server.call(self.remote_name, arguments, cancel=cancel)

    def validate(self, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """The model's arguments as a dict; the server checks them against its schema (its error goes back to the
        model to correct).

        Raises
        ------
        ToolArgumentsError
            If the text is not a JSON object.
        """
        return self.arguments_object(arguments)

    def __repr__(self) -> str:
        return f"<MCPTool {self.name} of {self.server!r}>"


def mcp_servers(path: str | Path | None = None, *, names: Iterable[str] | None = None) -> list[MCPServer]:
    """The MCP servers of the settings files (:mod:`nbchat.tools._mcp_settings`), ready for ``tools=``.

    ``Conversation(tools="mcp")`` (or ``"mcp"`` among other tools, ``"mcp:weather"`` for one server,
    ``%%chat --tools mcp``) uses them. Nothing starts here.

    Parameters
    ----------
    path : str or Path, optional
        A settings file; default: ``./.jupyter/mcp_settings.json``, else ``~/.jupyter/mcp_settings.json``. The
        administrator's file (policy ``mcp_settings``) is read first in any case; a server named in both is the
        user's.
    names : list of str, optional
        Only these servers.

    Raises
    ------
    MCPServerError
        If a file cannot be read or an entry does not fit (naming the file and server), or a name in ``names`` is in
        no file (naming those that are).
    """
    found: dict[str, MCPServer] = {}
    try:
        for file in settings_files(path):
            for entry in read_settings(file):
                found[entry["name"]] = MCPServer(
                    entry["command"], url=entry["url"], name=entry["name"], env=entry["env"], cwd=entry["cwd"],
                    headers=entry["headers"], include=entry["include"], exclude=entry["exclude"],
                    prefix=entry["prefix"], timeout=entry["timeout"],
                )  # fmt: skip
    except MCPServerError:
        raise
    except NbchatError as exc:
        raise MCPServerError(str(exc)) from None
    if names is None:
        return list(found.values())
    wanted = list(names)
    missing = [n for n in wanted if n not in found]
    if missing:
        where = ", ".join(str(f) for f in settings_files(path)) or f"no settings file (looked for {SETTINGS_HELP})"
        known = ", ".join(found) or "none"
        msg = f"No MCP server named {', '.join(map(repr, missing))} in {where}; the servers are: {known}."
        raise MCPServerError(msg)
    return [found[n] for n in wanted]


SETTINGS_HELP = "./.jupyter/mcp_settings.json and ~/.jupyter/mcp_settings.json"


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _content(result: Any, name: str) -> tuple[str, list[Attachment]]:
    """Text and images of an MCP ``CallToolResult`` (the MCP spec's content blocks)."""
    texts: list[str] = []
    images: list[Attachment] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind == "image":
            try:
                images.append(image_attachment(base64.b64decode(block.data), f"{name}-{len(images) + 1}"))
            except (AttachmentError, ValueError, OSError):
                texts.append(f"[an image ({block.mime_type}) that could not be read]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            texts.append(text if isinstance(text, str) else f"[resource {resource.uri} ({resource.mime_type})]")
        elif kind == "resource_link":
            texts.append(f"[resource {block.uri}{f': {block.description}' if block.description else ''}]")
        else:
            texts.append(f"[{kind or 'unknown'} content]")
    if not texts and result.structured_content is not None:
        texts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    return "\n".join(texts), images


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)  # an exception group (anyio task groups raise them)
    if isinstance(inner, (list, tuple)) and inner:
        return "; ".join(_describe(e) for e in inner)
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, (OSError, MCPServerError)) else f"{type(exc).__name__}: {text}"


def _default_name(command: list[str], url: str | None) -> str:
    if url is not None:
        return urlparse(url).hostname or url
    for part in reversed(command):  # "python weather.py" → "weather"; "uvx mcp-server-time" → "mcp-server-time"
        if not part.startswith("-"):
            return Path(part).stem or part
    return command[0]


@atexit.register
def _close_all() -> None:
    """At the end of the Python process (the kernel), close every server still running: no orphans."""
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.close()
