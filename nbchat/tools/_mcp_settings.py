"""MCP settings files: the servers a user's chats may use, in the JSON shape MCP clients share (Claude Desktop,
jupyter-ai's ``.jupyter/mcp_settings.json``, Cursor, VS Code)::

    {
      "mcpServers": {
        "weather": {"command": "python", "args": ["weather.py"], "env": {"WEATHER_KEY": "${WEATHER_KEY}"},
                    "cwd": "~/servers", "exclude": ["delete_city"], "timeout": 30},
        "docs": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"}},
        "old": {"command": "uvx", "args": ["mcp-server-time"], "disabled": true}
      }
    }

Each server has either ``command`` (with ``args``, ``env``, ``cwd``: a child process spoken to over stdio) or ``url``
(with ``headers``: streamable HTTP). nbchat also reads ``include``, ``exclude``, ``prefix``, ``timeout`` (seconds per
call) and ``disabled``; other keys (``type``, ``transport``, ``icon``) are ignored. ``${NAME}`` in a value of ``env``
or ``headers`` is taken from the kernel's environment when the file is read: a key reaches a server only when named
for it there, and the file need not hold the key itself.

Where nbchat looks (:func:`settings_files`): the file given, else ``.jupyter/mcp_settings.json`` under the current
folder, then under the home folder (the first that exists); and the administrator's file (policy key
``mcp_settings``), whose servers every chat may use and whose commands and URLs are always allowed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .._errors import NbchatError

__all__ = ["SETTINGS_NAME", "ServerSettings", "admin_targets", "read_settings", "settings_files"]

SETTINGS_NAME = Path(".jupyter") / "mcp_settings.json"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _model() -> Any:
    """The pydantic model of one server's entry (made on first use: pydantic is imported lazily)."""
    import pydantic

    class Entry(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="ignore")
        command: str | None = None
        args: list[str] = []
        env: dict[str, str] = {}
        cwd: str | None = None
        url: str | None = None
        headers: dict[str, str] = {}
        include: list[str] | None = None
        exclude: list[str] = []
        prefix: str = ""
        timeout: float | None = pydantic.Field(None, gt=0)
        disabled: bool = False

        @pydantic.model_validator(mode="after")
        def one_kind(self) -> Entry:
            if (self.command is None) == (self.url is None):
                msg = "give either command (with args, env, cwd) or url (with headers)"
                raise ValueError(msg)
            return self

    return Entry


ServerSettings = dict[str, Any]
"""One server's settings as :func:`read_settings` returns them: ``name``, ``command`` (list: the program and its
arguments) or ``url``, ``env``, ``cwd``, ``headers``, ``include``, ``exclude``, ``prefix``, ``timeout``."""


def settings_files(path: str | Path | None = None) -> list[Path]:
    """The settings files to read: the administrator's (policy ``mcp_settings``), then ``path`` or the user's
    (``./.jupyter/mcp_settings.json``, else ``~/.jupyter/mcp_settings.json``, the first that exists).

    Raises
    ------
    NbchatError
        If ``path`` is given and does not exist.
    """
    from .._policy import current_policy

    files: list[Path] = []
    admin = current_policy().mcp_settings
    if admin:
        files.append(Path(admin).expanduser())
    if path is not None:
        given = Path(path).expanduser()
        if not given.is_file():
            msg = f"No MCP settings file at {given}; write one (see nbchat.mcp_servers's help) or pass another path."
            raise NbchatError(msg)
        files.append(given)
        return files
    for folder in (Path.cwd(), Path.home()):
        if (folder / SETTINGS_NAME).is_file():
            files.append(folder / SETTINGS_NAME)
            break
    return files


def read_settings(path: str | Path) -> list[ServerSettings]:
    """The enabled servers of one settings file, in its order, with ``${NAME}`` values filled in.

    Raises
    ------
    NbchatError
        If the file cannot be read, is not JSON, has no ``mcpServers`` object, an entry does not fit (the message
        names the file, the server and the problem), or a ``${NAME}`` names an unset variable.
    """
    import pydantic

    path = Path(path).expanduser()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"The MCP settings file {path} cannot be read: {exc}"
        raise NbchatError(msg) from None
    servers = raw.get("mcpServers") if isinstance(raw, dict) else None
    if not isinstance(servers, dict):
        msg = f'The MCP settings file {path} has no "mcpServers" object: write {{"mcpServers": {{"name": {{...}}}}}}.'
        raise NbchatError(msg)
    entry_model = _model()
    out: list[ServerSettings] = []
    for name, value in servers.items():
        try:
            entry = entry_model.model_validate(value)
        except pydantic.ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors())
            msg = f"The MCP settings file {path}, server {name!r}: {problems}."
            raise NbchatError(msg) from None
        if entry.disabled:
            continue
        base = path.parent.parent if path.parent.name == ".jupyter" else path.parent
        out.append(
            {
                "name": str(name),
                "command": [entry.command, *entry.args] if entry.command is not None else None,
                "url": entry.url,
                "env": {k: _fill(v, path, name) for k, v in entry.env.items()},
                "headers": {k: _fill(v, path, name) for k, v in entry.headers.items()},
                "cwd": str((base / Path(entry.cwd).expanduser()).resolve()) if entry.cwd else None,
                "include": entry.include,
                "exclude": entry.exclude,
                "prefix": entry.prefix,
                "timeout": entry.timeout,
            }
        )
    return out


def admin_targets() -> list[tuple[tuple[str, ...], str | None]]:
    """``(command, url)`` of each server in the administrator's settings file (policy ``mcp_settings``): these run
    whatever the other MCP keys say. Empty when none is set or the file cannot be read (its servers then fail with
    that file's error when used)."""
    from .._policy import current_policy

    admin = current_policy().mcp_settings
    if not admin:
        return []
    try:
        entries = read_settings(admin)
    except NbchatError:
        return []
    return [(tuple(e["command"] or ()), e["url"]) for e in entries]


def _fill(value: str, path: Path, server: str) -> str:
    """``${NAME}`` (the whole value, or parts of it: ``Bearer ${TOKEN}``) from the kernel's environment."""

    def take(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            msg = f"The MCP settings file {path}, server {server!r}, uses ${{{name}}}, which is not set here."
            raise NbchatError(msg)
        return os.environ[name]

    return _VARIABLE.sub(take, value)
