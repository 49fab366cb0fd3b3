"""The model-spec grammar in one place: what a spec string names, and the normal form of what it contacts.

Both the administrator's policy (:mod:`nbchat._policy`) and resolution (:mod:`nbchat.backends._resolve`) read
specs through this module, so the two can never disagree about what a string means. Standard library only (a
leaf: every other module may import it).

::

    "embedded"                      → ("embedded", "embedded")
    "tgi:http://host:8080"          → ("tgi", "http://host:8080")
    "http(s)://host:port/v1"        → ("url", the URL)
    "kimi:moonshot-v1-8k", "kimi:"  → ("source", "moonshot-v1-8k" or ""), source name "kimi"
    anything else                   → ("local", the text): a name, a path, a hub id
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import posixpath
import re
from pathlib import Path
from typing import Literal

__all__ = ["DEFAULT_PORTS", "Endpoint", "SpecForm", "classify", "endpoint_of", "local_identity", "looks_like_path"]

SCHEME = re.compile(r"^([A-Za-z][\w.+-]+):(.*)$", re.S)
DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclasses.dataclass(frozen=True)
class SpecForm:
    """What a spec string names.

    Attributes
    ----------
    kind : {"embedded", "tgi", "url", "source", "local"}
        The form (see the module docstring).
    value : str
        The URL (``tgi``, ``url``), the model after ``<source>:`` (``source``; may be empty), or the stripped text.
    source : str
        The source name, lower case (``source`` only; whether it is a known source is for the caller to say).
    """

    kind: Literal["embedded", "tgi", "url", "source", "local"]
    value: str
    source: str = ""


def classify(text: str) -> SpecForm:
    """The form of the spec string ``text`` (see the module docstring).

    ``"<name>:<rest>"`` is a source unless ``<name>`` is one letter (a Windows drive) or the text is an existing
    path.
    """
    stripped = text.strip()
    lower = stripped.lower()
    if lower == "embedded":
        return SpecForm("embedded", "embedded")
    if lower.startswith("tgi:"):
        return SpecForm("tgi", stripped[4:].strip())
    if lower.startswith(("http://", "https://")):
        return SpecForm("url", stripped)
    match = SCHEME.match(stripped)
    if match and len(match.group(1)) > 1 and not Path(stripped).expanduser().exists():
        return SpecForm("source", match.group(2).strip(), source=match.group(1).lower())
    return SpecForm("local", stripped)


def looks_like_path(text: str) -> bool:
    """Whether a local spec is a filesystem path (absolute, relative with ``.``/``~``, or a ``.gguf`` file)."""
    return text.endswith(".gguf") or text.startswith(("/", ".", "~", "\\")) or Path(text).expanduser().is_absolute()


def local_identity(path: str | os.PathLike[str]) -> str:
    """``"local:<path>"`` with ``~``, ``..`` and symbolic links resolved: the file that is really opened."""
    return f"local:{os.path.realpath(Path(path).expanduser())}"


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A URL (or a URL pattern) in the parts the policy compares: never its user name, password or query.

    Attributes
    ----------
    scheme : str
        Lower case (``"http"``, ``"https"``).
    host : str
        Lower case, without a trailing dot; an IPv6 literal in its compressed form inside ``[]``.
    port : str
        Explicit, else the scheme's default (``"80"``, ``"443"``); may hold glob characters in a pattern.
    path : str
        Starts with ``/``; ``.`` and ``..`` segments and repeated slashes removed; no trailing slash (except ``/``).
    """

    scheme: str
    host: str
    port: str
    path: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{'' if self.path == '/' else self.path}"

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address, if it is one."""
        try:
            return ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return None


def endpoint_of(url: str) -> Endpoint:
    """The :class:`Endpoint` of ``url`` (also of a pattern: glob characters pass through unchanged).

    The user name and password (``user:pw@``), the query and the fragment are dropped; the host is what a
    browser or ``httpx`` would connect to (``http://a:1@b/`` is host ``b``).

    Raises
    ------
    ValueError
        If ``url`` has no ``scheme://host`` or an unterminated IPv6 literal.
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not scheme:
        msg = f"{url!r} is not a URL (scheme://host:port/path)."
        raise ValueError(msg)
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    path = re.split(r"[?#]", tail, maxsplit=1)[0]
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            msg = f"{url!r} has an unterminated IPv6 address."
            raise ValueError(msg)
        literal, port = hostport[1:end], hostport[end + 1 :].removeprefix(":")
        try:
            host = f"[{ipaddress.IPv6Address(literal.split('%')[0]).compressed}]"
        except ValueError:
            host = f"[{literal.lower()}]"  # a pattern (glob characters) or nonsense: compared as written
    else:
        host, _, port = hostport.partition(":")
        host = host.lower().rstrip(".")
    scheme = scheme.lower()
    port = port or DEFAULT_PORTS.get(scheme, "")
    path = posixpath.normpath("/" + path) if path else "/"
    if path.startswith("//"):  # normpath keeps a leading "//"
        path = "/" + path.lstrip("/")
    return Endpoint(scheme, host, port, path)
