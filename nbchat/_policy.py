"""What an administrator sets for every user of a shared install (a JupyterHub class, a lab server).

An administrator sets these in the environment of each user's kernel (JupyterHub: ``singleuser.extraEnv`` or
``c.Spawner.environment``), or in a TOML/JSON file named by ``$NBCHAT_CONFIG`` with the same keys; a variable
in the environment wins over the file:

==============================  ==========================  ==================================================
environment variable            file key                    effect
==============================  ==========================  ==================================================
``NBCHAT_DEFAULT_MODEL``        ``default_model``           what ``nbchat.Chat()`` with no model uses (any
                                                            spec string: a server URL, ``"openai:…"``,
                                                            ``"embedded"``, a model directory, …)
``NBCHAT_DEFAULT_MODEL_NAME``   ``default_model_name``      the model's name on that server (``model=``)
``NBCHAT_ALLOWED_MODELS``       ``allowed_models``          comma-separated patterns (a list in a file); any
                                                            other model is refused. Unset: all are allowed
``NBCHAT_MAX_NEW_TOKENS``       ``max_new_tokens``          cap on *Max new tokens* (slider, Python, ``%%chat``)
``NBCHAT_MAX_TEMPERATURE``      ``max_temperature``         cap on *Temperature*
``NBCHAT_MAX_ATTACHMENTS``      ``max_attachments``         cap on attachments per message (0: none allowed)
``NBCHAT_MAX_ATTACHMENT_MB``     ``max_attachment_mb``       cap on one attachment's size in MiB (a file or a
                                                            paste as uploaded; an object as converted)
``NBCHAT_COURSE_READER``        ``course_reader``           documents every chat can search (retrieval, with
                                                            citations): files or folders, a list in a file,
                                                            separated by the path separator (``:``) in the
                                                            variable; a student switches it off per chat
``NBCHAT_MAX_DOCUMENT_PAGES``    ``max_document_pages``      cap on pages (or slides) of an attached document
``NBCHAT_ADMIN_CONTACT``        ``admin_contact``           who to ask, named in refusals
``NBCHAT_LANG``                 ``lang``                    the widgets' language: ``en`` or ``zh`` (Simplified
                                                            Chinese); unset: the browser's. ``lang=`` wins
``NBCHAT_PROMPTS``              ``prompts``                 starter prompts for every chat: a list in a file;
                                                            one per line (or a JSON list) in the variable
``NBCHAT_TOOLS``                ``tools``                   ``off``: no chat may give a model tools (``on``,
                                                            the default, allows them; approval stays as set)
``NBCHAT_MAX_TOOL_ROUNDS``      ``max_tool_rounds``         cap on rounds of tool calls in one turn
``NBCHAT_MAX_TOOL_SECONDS``     ``max_tool_seconds``        cap on the seconds one tool call may run
``NBCHAT_NOTEBOOK_CONTEXT``     ``notebook_context``        ``off``: no chat may send the notebook's cells
                                                            (``Chat(context="notebook")`` is refused)
``NBCHAT_MAX_NOTEBOOK_CONTEXT_  ``max_notebook_context_     cap on the notebook context's tokens
TOKENS``                        tokens``
``NBCHAT_EXPLAIN_ERRORS``       ``explain_errors``          ``off``: no *Ask the chat* button under errors
                                                            (assessed courses)
``NBCHAT_MCP_ALLOWED``          ``mcp_allowed``             MCP servers a chat may start or reach:
                                                            comma-separated patterns (a list in a file) of
                                                            programs (``/opt/mcp/bin/*``, ``uvx``), command
                                                            lines (``python /opt/mcp/*.py``) and URLs
                                                            (``http://mcp.hub:8000/*``)
``NBCHAT_MCP_USER_SERVERS``     ``mcp_user_servers``        ``on``: users may also run MCP servers no pattern
                                                            names. Default: ``on`` while no policy is set (a
                                                            notebook user can run any program anyway), ``off``
                                                            as soon as an administrator sets anything
``NBCHAT_MCP_SETTINGS``         ``mcp_settings``            an MCP settings file (the format of
                                                            :mod:`nbchat.tools._mcp_settings`) whose servers
                                                            every chat may use (``tools="mcp"``): always allowed
==============================  ==========================  ==================================================

A pattern is a glob (``http://hub-llm:8000/*``, ``openai:gpt-4o*``, ``local:/data/modelzoo/*``) or a prefix
(``openai:``, ``http://hub-llm:8000``); the keywords ``embedded``, ``callable`` (any Python function) and
``local`` (any local model) name kinds. Each model is matched by what it really contacts, whatever option or object
produced it (:func:`backend_identities`): ``embedded``; a server URL in its normal form
(:func:`nbchat._spec.endpoint_of`: no user name or password, lower-case host without a trailing dot, explicit
port, ``..`` removed); ``tgi:<url>``; ``<source>:<model>`` only at the source's official endpoint;
``local:<path>`` with ``..`` and symbolic links resolved (a name not on disk also as ``local:<name>`` and the bare
name); ``callable:<module>.<function>``; ``object:<module>.<class>`` for any backend class not nbchat's own. URL
patterns are compared part by part (scheme, host, port, path; an IPv6 address as an address, never as a glob).
The administrator's default model is always allowed.

This is a guard-rail for a class, not a sandbox: code in a user's kernel runs as that user and can change its own
environment. Hard limits belong on the shared server (its own ``--max-model-len``, a network policy so kernels
reach only it); keys for online sources are best held by a gateway in front of them.

Invalid values (``NBCHAT_MAX_NEW_TOKENS=lots``, a missing ``$NBCHAT_CONFIG`` file) make every chat fail with a
message naming the setting: a class should not silently run without the limits its administrator meant to set.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import NbchatError
from ._i18n import notice, text
from ._settings import MAX_TEMPERATURE, GenerationSettings
from ._spec import Endpoint, classify, endpoint_of, local_identity, looks_like_path

__all__ = [
    "CONFIG_VAR",
    "ENV_VARS",
    "ModelNotAllowedError",
    "Policy",
    "PolicyWarning",
    "current_policy",
]

CONFIG_VAR = "NBCHAT_CONFIG"
ENV_VARS = {
    "default_model": "NBCHAT_DEFAULT_MODEL",
    "default_model_name": "NBCHAT_DEFAULT_MODEL_NAME",
    "allowed_models": "NBCHAT_ALLOWED_MODELS",
    "max_new_tokens": "NBCHAT_MAX_NEW_TOKENS",
    "max_temperature": "NBCHAT_MAX_TEMPERATURE",
    "admin_contact": "NBCHAT_ADMIN_CONTACT",
    "lang": "NBCHAT_LANG",
    "prompts": "NBCHAT_PROMPTS",
    "max_attachments": "NBCHAT_MAX_ATTACHMENTS",
    "max_attachment_mb": "NBCHAT_MAX_ATTACHMENT_MB",
    "tools": "NBCHAT_TOOLS",
    "max_tool_rounds": "NBCHAT_MAX_TOOL_ROUNDS",
    "max_tool_seconds": "NBCHAT_MAX_TOOL_SECONDS",
    "notebook_context": "NBCHAT_NOTEBOOK_CONTEXT",
    "max_notebook_context_tokens": "NBCHAT_MAX_NOTEBOOK_CONTEXT_TOKENS",
    "explain_errors": "NBCHAT_EXPLAIN_ERRORS",
    "course_reader": "NBCHAT_COURSE_READER",
    "max_document_pages": "NBCHAT_MAX_DOCUMENT_PAGES",
    "mcp_allowed": "NBCHAT_MCP_ALLOWED",
    "mcp_user_servers": "NBCHAT_MCP_USER_SERVERS",
    "mcp_settings": "NBCHAT_MCP_SETTINGS",
}
DEFAULT_CONTACT = "your JupyterHub administrator"
_KINDS = {"local": "local:", "callable": "callable:"}  # keyword patterns that stand for a prefix
_GLOB = re.compile(r"[*?\[]")
_PACKAGE_DIR = str(Path(__file__).parent)
_PASS_THROUGH = ("traitlets", "IPython", "ipywidgets", "anywidget")  # frames between a user's line and nbchat


class ModelNotAllowedError(NbchatError):
    """The administrator's policy does not allow this model; the message lists what is allowed and who to ask."""


class PolicyWarning(UserWarning):
    """A setting was above the administrator's cap and was lowered to it."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """The administrator's settings in force (see the module docstring for where each comes from).

    Attributes
    ----------
    default_model : str or None
        Spec used by ``nbchat.Chat()`` with no model; ``None``: the embedded model.
    default_model_name : str or None
        ``model=`` for the default (the model's name on a server).
    allowed_models : tuple of str
        Patterns of allowed models; empty means every model is allowed.
    max_new_tokens : int or None
        Cap on max new tokens per reply; ``None``: no cap.
    max_temperature : float or None
        Cap on the temperature; ``None``: the usual range (0 to 2).
    admin_contact : str
        Who to ask for another model or a higher limit.
    lang : str
        The widgets' language (``"en"``, ``"zh"``); ``""``: the browser's. ``Chat(lang=...)`` wins over it.
    prompts : tuple of str
        Starter prompts shown in every empty chat that sets none itself (``Chat(prompts=...)`` wins).
    max_attachments : int or None
        Cap on attachments per message; ``None``: no cap.
    max_attachment_mb : float or None
        Cap on one attachment's size in MiB; ``None``: no cap.
    tools : bool
        Whether chats may give a model tools (default True). A policy can switch tools off or cap them; it can
        never turn approval off.
    max_tool_rounds : int or None
        Cap on rounds of tool calls in one turn; ``None``: no cap.
    max_tool_seconds : float or None
        Cap on the seconds one tool call may run; ``None``: no cap.
    notebook_context : bool
        Whether chats may send the notebook's recent cells with each message (default True).
    max_notebook_context_tokens : int or None
        Cap on the notebook context's budget in estimated tokens; ``None``: no cap.
    explain_errors : bool
        Whether failing cells may show an *Ask the chat* button (default True; ``off`` for assessed courses).
    course_reader : tuple of str
        Files or folders of documents every chat of the class can search (see :mod:`nbchat.documents`); empty:
        none. A chat switches them off with ``conversation.documents.course_reader = False``.
    max_document_pages : int or None
        Cap on the pages (or slides) of one attached document; ``None``: nbchat's own limit (2000).
    mcp_allowed : tuple of str
        Patterns of the MCP servers a chat may start (programs, command lines) or reach (URLs); see
        :meth:`check_mcp`.
    mcp_user_servers : bool or None
        Whether a server no pattern names may run; ``None``: yes while no policy is set, no once one is.
    mcp_settings : str or None
        The administrator's MCP settings file (servers every chat may use, always allowed).
    origin : dict
        For each key set: where it came from (``"$NBCHAT_…"`` or the config file's path).
    """

    default_model: str | None = None
    default_model_name: str | None = None
    allowed_models: tuple[str, ...] = ()
    max_new_tokens: int | None = None
    max_temperature: float | None = None
    admin_contact: str = DEFAULT_CONTACT
    lang: str = ""
    prompts: tuple[str, ...] = ()
    origin: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)
    max_attachments: int | None = None
    max_attachment_mb: float | None = None
    tools: bool = True
    max_tool_rounds: int | None = None
    max_tool_seconds: float | None = None
    notebook_context: bool = True
    max_notebook_context_tokens: int | None = None
    explain_errors: bool = True
    course_reader: tuple[str, ...] = ()
    max_document_pages: int | None = None
    mcp_allowed: tuple[str, ...] = ()
    mcp_user_servers: bool | None = None
    mcp_settings: str | None = None

    # ---------------------------------------------------------------- attachments
    def check_attachments(self, count: int, sizes: list[int] | tuple[int, ...] = ()) -> None:
        """Refuse ``count`` attachments of ``sizes`` bytes each when over the administrator's caps.

        Raises
        ------
        NbchatError
            Naming the cap, where it was set, and who to ask.
        """
        if self.max_attachments is not None and count > self.max_attachments:
            msg = (
                f"At most {self.max_attachments} attachments per message are allowed here ({count} given; set by "
                f"{self.origin.get('max_attachments', 'the policy')}). Remove some, or ask {self.admin_contact}."
            )
            raise NbchatError(msg)
        if self.max_attachment_mb is not None:
            limit = self.max_attachment_mb * 2**20
            for size in sizes:
                if size > limit:
                    msg = (
                        f"An attachment of {size / 2**20:.1f} MiB is over the {self.max_attachment_mb:g} MiB allowed "
                        f"here (set by {self.origin.get('max_attachment_mb', 'the policy')}). Attach a smaller file, "
                        f"or ask {self.admin_contact}."
                    )
                    raise NbchatError(msg)

    # ---------------------------------------------------------------- models
    def apply_default(self, spec: Any, model: str | None, source: str | None) -> tuple[Any, str | None]:
        """``(spec, model)`` with the administrator's default filled in.

        No spec, model or source at all gives the default model (and its server-side name); the default's own
        spec string without ``model=`` gets the default's name too.
        """
        if self.default_model is None:
            return spec, model
        if spec is None and model is None and source is None:
            return self.default_model, self.default_model_name
        if model is None and source is None and isinstance(spec, str) and _same_spec(spec, self.default_model):
            return spec, self.default_model_name
        return spec, model

    def is_default(self, spec: Any) -> bool:
        """Whether ``spec`` is the administrator's default model's own spec string."""
        return self.default_model is not None and isinstance(spec, str) and _same_spec(spec, self.default_model)

    def allows(self, spec: Any, *, model: str | None = None, source: str | None = None) -> bool:
        """Whether ``spec`` (as passed to :class:`nbchat.Chat`) may be used."""
        if not self.allowed_models:
            return True
        names = identities(spec, model=model, source=source)
        patterns = list(self.allowed_models)
        if self.default_model is not None:
            patterns += identities(self.default_model, model=self.default_model_name)
        return any(_matches(name, pattern) for name in names for pattern in patterns)

    def check(self, spec: Any, *, model: str | None = None, source: str | None = None) -> None:
        """Raise :class:`ModelNotAllowedError` unless :meth:`allows` says yes.

        Raises
        ------
        ModelNotAllowedError
            Naming the model as it was matched, the allowed patterns, where they were set, and who to ask.
        """
        if self.allows(spec, model=model, source=source):
            return
        shown = identities(spec, model=model, source=source)[0]
        where = self.origin.get("allowed_models", f"${ENV_VARS['allowed_models']}")
        default = (
            f" nbchat.Chat() with no model uses the class default ({self.default_model})." if self.default_model else ""
        )
        msg = (
            f"The model {shown!r} is not allowed here. Allowed: {', '.join(self.allowed_models)} "
            f"(set by {where}).{default} To use another model, ask {self.admin_contact}."
        )
        raise ModelNotAllowedError(msg)

    # ---------------------------------------------------------------- settings
    def token_limit(self, limit: int) -> int:
        """``limit`` (a context window or slider maximum) lowered to the cap on max new tokens."""
        return limit if self.max_new_tokens is None else max(1, min(limit, self.max_new_tokens))

    def temperature_limit(self) -> float:
        """The highest temperature allowed: the cap, else 2."""
        return MAX_TEMPERATURE if self.max_temperature is None else min(MAX_TEMPERATURE, self.max_temperature)

    def over_cap(self, name: str, value: float) -> tuple[float, str] | None:
        """``(cap, message)`` if ``value`` of setting ``name`` is above the administrator's cap, else ``None``."""
        cap = self.max_new_tokens if name == "max_new_tokens" else self.max_temperature
        params = self.cap_params(name, value)
        if cap is None or params is None:
            return None
        return cap, text("py.capped", "en", **params)

    def cap_params(self, name: str, value: float) -> dict[str, str] | None:
        """The parameters of the catalogue text ``py.capped`` if ``value`` of ``name`` is above the cap, else None."""
        cap = self.max_new_tokens if name == "max_new_tokens" else self.max_temperature
        if cap is None or value <= cap:
            return None
        key = "max_new_tokens" if name == "max_new_tokens" else "max_temperature"
        where = self.origin.get(key, f"${ENV_VARS[key]}")
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return {"name": name, "value": shown, "cap": f"{cap:g}", "where": where, "contact": self.admin_contact}

    def cap(self, settings: GenerationSettings, *, quiet_defaults: bool = False) -> GenerationSettings:
        """``settings`` with max new tokens and temperature lowered to the caps, a :class:`PolicyWarning` for each.

        With ``quiet_defaults``, values equal to nbchat's defaults (256 tokens, temperature 0.7) are lowered
        without a warning: nobody asked for them.
        """
        defaults = GenerationSettings()
        changes: dict[str, Any] = {}
        for name in ("max_new_tokens", "temperature"):
            value = getattr(settings, name)
            over = self.over_cap(name, value)
            if over is not None:
                cap, msg = over
                changes[name] = int(cap) if name == "max_new_tokens" else float(cap)
                if not (quiet_defaults and value == getattr(defaults, name)):
                    warnings.warn(msg, PolicyWarning, stacklevel=_caller_stacklevel())
        return settings.replace(**changes) if changes else settings

    # ---------------------------------------------------------------- display
    @property
    def active(self) -> bool:
        """Whether anything is set."""
        return (
            any(
                (
                    self.default_model,
                    self.allowed_models,
                    self.max_new_tokens is not None,
                    self.max_temperature is not None,
                )
            )
            or self.max_attachments is not None
            or self.max_attachment_mb is not None
            or not self.tools
            or self.max_tool_rounds is not None
            or self.max_tool_seconds is not None
            or not self.notebook_context
            or self.max_notebook_context_tokens is not None
            or not self.explain_errors
            or bool(self.course_reader)
            or self.max_document_pages is not None
            or bool(self.mcp_allowed)
            or self.mcp_user_servers is not None
            or self.mcp_settings is not None
        )

    # ---------------------------------------------------------------- MCP servers
    def check_mcp(self, name: str, command: list[str] | tuple[str, ...] = (), url: str | None = None) -> None:
        """Refuse an MCP server this policy does not allow.

        A server runs when its URL, or its program (``command[0]`` as given, or its full path found on ``PATH``) or
        whole command line, matches a pattern of :attr:`mcp_allowed`; or when users may run their own servers
        (:attr:`mcp_user_servers`, by default only while no policy is set). Patterns with a space match the command
        line (``python /opt/mcp/*.py``: the program, then its arguments), others the program alone; the program is
        matched by its name (``uvx``) or, when the pattern's program has a ``/``, by its path. Allowing
        an interpreter (``python``) allows any script it runs. Servers of :attr:`mcp_settings` are allowed by their
        own check (:func:`nbchat.tools._mcp_settings.admin_targets`).

        Raises
        ------
        NbchatError
            Naming the server, the setting that refused it and whom to ask.
        """
        if any(_mcp_matches(command, url, pattern) for pattern in self.mcp_allowed):
            return
        users = self.mcp_user_servers if self.mcp_user_servers is not None else not self.active
        if users:
            return
        what = f"URL {url}" if url is not None else f"command {' '.join(command)}"
        if self.mcp_allowed:
            why = f"no pattern of mcp_allowed matches it ({self.origin.get('mcp_allowed', '$NBCHAT_MCP_ALLOWED')}: "
            why += f"{', '.join(self.mcp_allowed)})"
        else:
            why = "an administrator's policy is set and allows no MCP server of a user's own"
        if self.mcp_user_servers is False:
            why += f"; users' own servers are off ({self.origin.get('mcp_user_servers', '$NBCHAT_MCP_USER_SERVERS')})"
        msg = f"MCP server {name!r} ({what}) is not allowed here: {why}. Ask {self.admin_contact} to allow it."
        raise NbchatError(msg)

    def describe(self) -> str:
        """A few lines for users: what is set and where it came from (there are never keys in a policy)."""
        if not self.active and not (self.lang or self.prompts):
            return "No nbchat policy is set: every model and setting is allowed."

        def line(key: str, text: str) -> str:
            return f"  {text}   ({self.origin[key]})" if key in self.origin else f"  {text}"

        out = ["nbchat policy:"]
        if self.default_model:
            name = f", model={self.default_model_name!r}" if self.default_model_name else ""
            out.append(line("default_model", f"default model: {self.default_model!r}{name}"))
        if self.allowed_models:
            out.append(line("allowed_models", f"allowed models: {', '.join(self.allowed_models)}"))
        if self.max_new_tokens is not None:
            out.append(line("max_new_tokens", f"max new tokens: at most {self.max_new_tokens}"))
        if self.max_temperature is not None:
            out.append(line("max_temperature", f"temperature: at most {self.max_temperature:g}"))
        if self.lang:
            out.append(line("lang", f"language: {self.lang}"))
        if self.prompts:
            out.append(line("prompts", f"starter prompts: {len(self.prompts)}"))
        if self.max_attachments is not None:
            out.append(line("max_attachments", f"attachments per message: at most {self.max_attachments}"))
        if self.max_attachment_mb is not None:
            out.append(line("max_attachment_mb", f"attachment size: at most {self.max_attachment_mb:g} MiB"))
        if not self.tools:
            out.append(line("tools", "tools: off"))
        if self.max_tool_rounds is not None:
            out.append(line("max_tool_rounds", f"tool rounds per turn: at most {self.max_tool_rounds}"))
        if self.max_tool_seconds is not None:
            out.append(line("max_tool_seconds", f"one tool call: at most {self.max_tool_seconds:g} s"))
        if not self.notebook_context:
            out.append(line("notebook_context", "notebook context: off"))
        if self.max_notebook_context_tokens is not None:
            cap = self.max_notebook_context_tokens
            out.append(line("max_notebook_context_tokens", f"notebook context: at most {cap} tokens"))
        if not self.explain_errors:
            out.append(line("explain_errors", "Ask the chat under errors: off"))
        if self.course_reader:
            out.append(line("course_reader", f"course reader: {', '.join(self.course_reader)}"))
        if self.max_document_pages is not None:
            out.append(line("max_document_pages", f"document pages: at most {self.max_document_pages}"))
        if self.mcp_allowed:
            out.append(line("mcp_allowed", f"MCP servers allowed: {', '.join(self.mcp_allowed)}"))
        if self.mcp_user_servers is not None:
            state = "on" if self.mcp_user_servers else "off"
            out.append(line("mcp_user_servers", f"users' own MCP servers: {state}"))
        if self.mcp_settings is not None:
            out.append(line("mcp_settings", f"MCP servers for everyone: {self.mcp_settings}"))
        out.append(f"  questions: {self.admin_contact}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.describe()


# ------------------------------------------------------------------------------------------------ reading
_file_cache: dict[tuple[str, float, int], dict[str, Any]] = {}
_file_lock = threading.Lock()


def current_policy() -> Policy:
    """The policy in force now: ``$NBCHAT_CONFIG``'s file, then the ``NBCHAT_*`` variables over it.

    Read on every call (the file is cached while unchanged), so a kernel sees what its environment says.

    Raises
    ------
    NbchatError
        If a value is invalid or ``$NBCHAT_CONFIG`` names a file that cannot be read; the message names it.
    """
    raw: dict[str, Any] = {}
    origin: dict[str, str] = {}
    config = os.environ.get(CONFIG_VAR, "").strip()
    if config:
        for key, value in _read_config(Path(config).expanduser()).items():
            raw[key], origin[key] = value, config
    for key, var in ENV_VARS.items():
        value = os.environ.get(var, "").strip()
        if value:
            raw[key], origin[key] = value, f"${var}"
    return _build(raw, origin)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        stat = path.stat()
    except OSError as exc:
        msg = f"${CONFIG_VAR} names {path}, which cannot be read ({exc.strerror}). Ask your administrator to fix it."
        raise NbchatError(msg) from exc
    cache_key = (str(path), stat.st_mtime, stat.st_size)
    with _file_lock:
        if cache_key in _file_cache:
            return _file_cache[cache_key]
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else _toml_loads(text)
    except ValueError as exc:  # json.JSONDecodeError and tomllib.TOMLDecodeError are ValueErrors
        msg = f"{path} (from ${CONFIG_VAR}) is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}"
        raise NbchatError(msg) from exc
    if isinstance(data, dict) and isinstance(data.get("nbchat"), dict):
        data = data["nbchat"]  # keys may sit in an [nbchat] table
    if not isinstance(data, dict):
        msg = f"{path} (from ${CONFIG_VAR}) must hold a table of settings, got {type(data).__name__}."
        raise NbchatError(msg)
    by_var = {var.lower(): key for key, var in ENV_VARS.items()}
    out: dict[str, Any] = {}
    for name, value in data.items():
        key = by_var.get(str(name).lower(), str(name).lower())
        if key not in ENV_VARS:
            msg = f"{path} (from ${CONFIG_VAR}): unknown setting {name!r}; known: {', '.join(ENV_VARS)}."
            raise NbchatError(msg)
        out[key] = value
    with _file_lock:
        _file_cache.clear()
        _file_cache[cache_key] = out
    return out


def _toml_loads(text: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            msg = f"Reading a TOML ${CONFIG_VAR} on Python 3.10 needs tomli (pip install tomli), or use a .json file."
            raise NbchatError(msg) from exc
    return tomllib.loads(text)


def _build(raw: dict[str, Any], origin: dict[str, str]) -> Policy:
    def bad(key: str, value: Any, what: str) -> NbchatError:
        return NbchatError(f"{origin[key]}: {key} = {value!r} is not {what}. Ask your administrator to fix it.")

    def number(key: str, kind: type[int] | type[float], ok: Callable[[float], bool], what: str) -> None:
        """``raw[key]`` as an int or float (numbers as text too; never a bool, never a float for an int) into fields."""
        value = raw[key]
        try:
            parsed = kind(str(value).strip())
        except ValueError:
            parsed = None
        if parsed is None or isinstance(value, bool) or (kind is int and isinstance(value, float)) or not ok(parsed):
            raise bad(key, value, what)
        fields[key] = parsed

    fields: dict[str, Any] = {}
    for key in ("default_model", "default_model_name", "admin_contact"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise bad(key, raw[key], "a non-empty string")
            fields[key] = raw[key].strip()
    for key in ("allowed_models", "mcp_allowed"):  # patterns: comma-separated in a variable, a list in a file
        if key in raw:
            value = raw[key]
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise bad(key, value, "a comma-separated string or a list of strings")
            fields[key] = tuple(i.strip() for i in items if i.strip())
    if "max_new_tokens" in raw:
        number("max_new_tokens", int, lambda n: n >= 1, "a whole number >= 1")
    if "max_temperature" in raw:
        number(
            "max_temperature",
            float,
            lambda t: 0.0 <= t <= MAX_TEMPERATURE,
            f"a number between 0 and {MAX_TEMPERATURE:g}",
        )
    if "lang" in raw:
        from ._i18n import LANGS, normalize_lang  # a leaf module: no cycle

        lang = normalize_lang(raw["lang"]) if isinstance(raw["lang"], str) else None
        if lang is None:
            raise bad("lang", raw["lang"], f"a language nbchat speaks ({', '.join(LANGS)}) or 'auto'")
        fields["lang"] = lang
    if "prompts" in raw:
        value = raw["prompts"]
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.splitlines()
            except ValueError:
                raise bad("prompts", raw["prompts"], "a JSON list of strings or one prompt per line") from None
        if not isinstance(value, (list, tuple)) or not all(isinstance(i, str) for i in value):
            raise bad("prompts", raw["prompts"], "a list of strings (one prompt per line in the variable)")
        fields["prompts"] = tuple(i.strip() for i in value if i.strip())
    if "max_attachments" in raw:
        number("max_attachments", int, lambda n: n >= 0, "a whole number >= 0")
    if "max_attachment_mb" in raw:
        number("max_attachment_mb", float, lambda size: size > 0, "a number of MiB > 0")
    switch = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}
    for key in ("tools", "notebook_context", "explain_errors", "mcp_user_servers"):
        if key in raw:
            value = raw[key]
            parsed = value if isinstance(value, bool) else switch.get(str(value).strip().lower())
            if parsed is None:
                raise bad(key, value, "'on' or 'off'")
            fields[key] = parsed
    if "mcp_settings" in raw:
        if not isinstance(raw["mcp_settings"], str) or not raw["mcp_settings"].strip():
            raise bad("mcp_settings", raw["mcp_settings"], "the path of an MCP settings file")
        fields["mcp_settings"] = raw["mcp_settings"].strip()
    if "max_tool_rounds" in raw:
        number("max_tool_rounds", int, lambda n: n >= 1, "a whole number >= 1")
    if "max_tool_seconds" in raw:
        number("max_tool_seconds", float, lambda t: t > 0, "a number of seconds > 0")
    if "max_notebook_context_tokens" in raw:
        number("max_notebook_context_tokens", int, lambda n: n >= 1, "a whole number >= 1")
    if "course_reader" in raw:
        value = raw["course_reader"]
        items = value.split(os.pathsep) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise bad("course_reader", value, f"paths separated by {os.pathsep!r} or a list of paths")
        fields["course_reader"] = tuple(i.strip() for i in items if i.strip())
    if "max_document_pages" in raw:
        number("max_document_pages", int, lambda n: n >= 1, "a whole number >= 1")
    return Policy(**fields, origin=origin)


# ------------------------------------------------------------------------------------------------ matching
def identities(spec: Any, *, model: str | None = None, source: str | None = None) -> list[str]:
    """The strings ``spec`` is matched as against allowed patterns, most specific first (see module docstring).

    URLs are in their normal form (:func:`nbchat._spec.endpoint_of`: no user name or password, lower-case host,
    explicit port, ``..`` removed); local paths are resolved (``..`` and symbolic links). A backend object is
    matched by what it contacts (:func:`backend_identities`).
    """
    if source is not None:
        name = spec if isinstance(spec, str) and model is None and ":" not in spec else model
        return [f"{source.strip().lower()}:{(name or '').strip()}"]
    if spec is None:
        return ["embedded"] if model is None else identities(model)
    if isinstance(spec, (str, os.PathLike)):
        return _string_identities(os.fspath(spec), model)
    if hasattr(spec, "stream") and hasattr(spec, "kind"):  # a Backend (not imported here: no import cycle)
        return backend_identities(spec)
    module = type(spec).__module__ or ""
    if module.startswith("openai") and hasattr(spec, "base_url"):
        return [_url_identity(str(spec.base_url))]
    if module.startswith("text_generation") and hasattr(spec, "base_url"):
        return [f"tgi:{_url_identity(str(spec.base_url))}"]
    if callable(spec):
        qualname = getattr(spec, "__qualname__", None) or type(spec).__qualname__
        return [f"callable:{getattr(spec, '__module__', None) or module}.{qualname}"]
    return [f"object:{module}.{type(spec).__qualname__}"]


def backend_identities(backend: Any) -> list[str]:
    """What ``backend`` contacts, as the strings it is matched as.

    Only nbchat's own backend classes are asked (:meth:`nbchat.backends.Backend.policy_identities`: the normal
    form of the URL their HTTP client really uses, the resolved model file, ...). Any other object, a subclass
    defined elsewhere included, is ``object:<module>.<class>``: nothing a backend says about itself admits it.
    """
    cls = type(backend)
    module = cls.__module__ or ""
    if module == "nbchat" or module.startswith("nbchat."):
        return list(backend.policy_identities())
    return [f"object:{module}.{cls.__qualname__}"]


def _url_identity(url: str) -> str:
    try:
        return str(endpoint_of(url))
    except ValueError:
        return url.strip()


def _string_identities(text: str, model: str | None) -> list[str]:
    form = classify(text)
    if form.kind == "embedded":
        return ["embedded"]
    if form.kind == "tgi":
        return [f"tgi:{_url_identity(form.value)}"]
    if form.kind == "url":
        return [_url_identity(form.value)]
    if form.kind == "source":
        return [f"{form.source}:{form.value or model or ''}"]
    if looks_like_path(form.value):  # only where it really leads: `..` and symbolic links resolved
        return [local_identity(form.value)]
    out = [f"local:{form.value}", form.value]
    if Path(form.value).expanduser().exists():
        out.append(local_identity(form.value))
    return out


def _matches(name: str, pattern: str) -> bool:
    pattern = pattern.strip()
    if not pattern:
        return False
    pattern = _KINDS.get(pattern.lower(), pattern)
    lower = pattern.lower()
    for prefix in ("tgi:", ""):  # URLs (also behind "tgi:") are compared part by part, never as text
        if lower.startswith(prefix) and lower[len(prefix) :].startswith(("http://", "https://")):
            if not name.lower().startswith(prefix) or "://" not in name:
                return False
            return _url_matches(name[len(prefix) :], pattern[len(prefix) :])
    if lower.startswith("local:") and lower[6:7] in ("/", "~", "\\"):
        return name.startswith("local:") and _glob_or_prefix(name[6:], _resolved_pattern(pattern[6:]), case=True)
    return _glob_or_prefix(name.strip().lower(), lower, case=False)


def _glob_or_prefix(name: str, pattern: str, *, case: bool) -> bool:
    if not case:
        name, pattern = name.lower(), pattern.lower()
    if _GLOB.search(pattern):
        return fnmatch.fnmatchcase(name, pattern)
    if name == pattern or name == pattern.rstrip("/"):
        return True
    if pattern.endswith((":", "/")):
        return name.startswith(pattern)
    return name.startswith(pattern + "/")


def _resolved_pattern(path: str) -> str:
    """A local pattern with the folders before its first glob character resolved, as identities are."""
    match = _GLOB.search(path)
    head, tail = (path[: match.start()], path[match.start() :]) if match else (path, "")
    folder, _, rest = head.rpartition("/")
    if not folder:
        return path
    return f"{os.path.realpath(Path(folder).expanduser())}/{rest}{tail}"


def _url_matches(url: str, pattern: str) -> bool:
    try:
        have, want = endpoint_of(url), endpoint_of(pattern)
    except ValueError:
        return False
    if have.scheme != want.scheme:
        return False
    wanted_ip = Endpoint(want.scheme, want.host, "", "/").ip
    if wanted_ip is not None or want.host.startswith("["):  # an IP address is compared as an address, never globbed
        if wanted_ip is None or have.ip != wanted_ip:
            return False
    elif not fnmatch.fnmatchcase(have.host, want.host):
        return False
    if not fnmatch.fnmatchcase(have.port, want.port):
        return False
    path, wanted = have.path.lower(), want.path.lower()
    if _GLOB.search(wanted):
        return fnmatch.fnmatchcase(path, wanted)
    return wanted == "/" or path == wanted or path.startswith(wanted + "/")


def _mcp_matches(command: list[str] | tuple[str, ...], url: str | None, pattern: str) -> bool:
    """Whether an MCP server's URL, program or command line matches ``pattern`` (see :meth:`Policy.check_mcp`)."""
    pattern = pattern.strip()
    if not pattern:
        return False
    if pattern.lower().startswith(("http://", "https://")):
        return url is not None and _url_matches(url, pattern)
    if url is not None or not command:
        return False
    program = command[0]
    found = shutil.which(program)
    paths = {program, os.path.realpath(found)} if found else {program}
    first, _, rest = pattern.partition(" ")  # a command line: the program, then the arguments
    if "/" in first:
        program_ok = any(fnmatch.fnmatchcase(p, os.path.expanduser(first)) for p in paths)
    else:
        program_ok = any(fnmatch.fnmatchcase(os.path.basename(p), first) for p in paths)
    return program_ok and (not rest or fnmatch.fnmatchcase(" ".join(command[1:]), rest.strip()))


def _same_spec(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the user's line: the first frame outside nbchat and the libraries
    between it and the user (traitlets for ``chat.max_new_tokens = ...``, IPython for ``%%chat``)."""
    dirs = [_PACKAGE_DIR]
    for name in _PASS_THROUGH:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None) if module is not None else None
        if file:
            dirs.append(str(Path(file).parent))
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(tuple(dirs)):
        frame = frame.f_back
        level += 1
    return level


# ------------------------------------------------------------------------------------------------ hooks
def admit(spec: Any, model: str | None, source: str | None) -> tuple[Any, str | None]:
    """Resolution's first hook: the default filled in, then a spec string checked (before any key is looked up,
    so a refused source says so rather than asking for a key). Returns ``(spec, model)``."""
    policy = current_policy()
    spec, model = policy.apply_default(spec, model, source)
    if spec is None or isinstance(spec, (str, os.PathLike)):
        policy.check(spec, model=model, source=source)
    return spec, model


def is_default_model(spec: Any) -> bool:
    """Whether ``spec`` is the administrator's default model (it then counts as set in the environment)."""
    return current_policy().is_default(spec)


def admit_backend(backend: Any) -> None:
    """Resolution's last hook: the backend checked by what it really contacts (:func:`backend_identities`),
    whatever option or object produced it.

    Raises
    ------
    ModelNotAllowedError
        If no allowed pattern matches what ``backend`` contacts.
    """
    current_policy().check(backend)


def cap_settings(settings: GenerationSettings, *, quiet_defaults: bool = False) -> GenerationSettings:
    """The conversation's hook: settings lowered to the caps, with a :class:`PolicyWarning` for each."""
    return current_policy().cap(settings, quiet_defaults=quiet_defaults)


def cap_notice(name: str, asked: float, lang: str) -> dict[str, Any] | None:
    """A view's keyed notice (``py.capped``, in ``lang``) for a setting the conversation lowered to the
    administrator's cap, or None when ``asked`` is within it. The cap itself is applied once, where a
    conversation's settings are set (:func:`cap_settings`, with its :class:`PolicyWarning`); a view only says so."""
    params = current_policy().cap_params(name, asked)
    return None if params is None else notice("warning", "py.capped", lang, **params)
