"""HTTP helpers shared by the server backends: keeping secrets out of messages, aborting a blocked response."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .._redact import is_key_like, redact_text, redact_url

__all__ = [
    "ConnectionTracker",
    "connection_failure",
    "mentions_secret",
    "redact",
    "retry_after_seconds",
    "root_cause",
    "secret_values",
    "server_detail",
    "strip_credentials_off_origin",
    "url_password",
    "url_secrets",
    "without_password",
]

_MIN_SECRET = 4  # shorter values (placeholders, "x") are not worth redacting and would mangle messages


def secret_values(values: Iterable[Any]) -> list[str]:
    """Strings to keep out of messages: each value, and the bare key of ``"Bearer <key>"``/``"Basic <key>"``."""
    out: list[str] = []
    for value in (str(v) for v in values if v):
        out.append(value)
        if " " in value:
            out.append(value.split(" ", 1)[1])
    return [v for v in out if len(v) >= _MIN_SECRET]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first, so ``Bearer <key>`` goes as a whole), then
    every URL in it redacted (:func:`nbchat._redact.redact_text`: user information, key-like query values)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_text(text)


def mentions_secret(exc: BaseException, secrets: Iterable[str]) -> bool:
    """True if ``exc`` or an exception it was raised from contains a secret (then the chain is not kept)."""
    secrets = list(secrets)
    seen: BaseException | None = exc
    while seen is not None:
        text = f"{seen!r} {seen} {getattr(seen, 'body', '')}"
        if any(s in text for s in secrets):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def url_password(url: str) -> str | None:
    """The password of ``scheme://user:password@host/...``, or ``None``."""
    with contextlib.suppress(ValueError):
        return urlsplit(url).password if "@" in url else None
    return None


def url_secrets(url: str) -> list[str]:
    """Every credential written into ``url``: user name and password, the ``Basic`` token httpx sends for them
    (a server that echoes the ``Authorization`` header would otherwise show them base64-encoded), and key-like
    query values (to redact)."""
    out: list[str] = []
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        out += [v for v in (parts.username, parts.password) if v]
        if parts.username or parts.password:
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            out.append(base64.b64encode(pair.encode()).decode("ascii"))
        out += [v for k, v in parse_qsl(parts.query, keep_blank_values=False) if is_key_like(k)]
    return out


def without_password(url: str) -> str:
    """``url`` redacted for showing (:func:`nbchat._redact.redact_url`: user information and key-like query
    values become ``***``)."""
    return redact_url(url)


_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "api-key", "x-api-key")


def _origin(url: Any) -> tuple[str, str, int | None]:
    parts = urlsplit(str(url))
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").rstrip("."), parts.port or default


def strip_credentials_off_origin(base_url: str, headers: dict[str, str] | None = None) -> Callable[[Any], None]:
    """An httpx ``request`` event hook: a request to another origin than ``base_url``'s (a redirect to another
    host, port or scheme) leaves without credentials.

    httpx runs request hooks for every hop of a redirect and itself drops only ``Authorization``; this drops
    ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``api-key``/``x-api-key`` and every header named in
    ``headers`` (extra headers may carry a key), and any user information in the URL.
    """
    home = _origin(base_url)
    names = {*_CREDENTIAL_HEADERS, *(name.lower() for name in (headers or {}))}

    def hook(request: Any) -> None:
        if _origin(request.url) == home:
            return
        for name in names:
            if name in request.headers:
                del request.headers[name]
        if request.url.userinfo:
            request.url = request.url.copy_with(username=None, password=None)

    return hook


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a response asks to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
    value = None
    with contextlib.suppress(AttributeError):
        value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(str(value))
        return max(0.0, when.timestamp() - time.time())
    return None


def root_cause(exc: BaseException) -> str:
    """The innermost cause in words, e.g. ``"connection refused: nothing listens there"``."""
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause) or type(cause).__name__
    return "connection refused: nothing listens there" if "refused" in text.lower() else text


def connection_failure(exc: BaseException) -> str | None:
    """What kind of network failure ``exc`` (or an exception it came from) is.

    Returns
    -------
    str or None
        ``"dns"`` (the host name does not resolve), ``"refused"`` (nothing listens), ``"reset"`` (the peer
        dropped the connection, or ended a response early), ``"tls"``, or ``None`` if none of these.
    """
    seen: BaseException | None = exc
    texts: list[str] = []
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "dns"
        if isinstance(seen, ConnectionRefusedError):
            return "refused"
        if isinstance(seen, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
            return "reset"
        if isinstance(seen, ssl.SSLError):
            return "tls"
        texts.append(f"{type(seen).__name__} {seen}".lower())
        seen = seen.__cause__ or seen.__context__
    text = " ".join(texts)
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "dns"
    if "refused" in text:
        return "refused"
    if any(w in text for w in ("remoteprotocolerror", "peer closed", "incomplete chunked", "reset", "readerror")):
        return "reset"
    return None


def server_detail(exc: BaseException) -> str:
    """The server's own words: ``error.message`` or ``detail`` from the body, else the exception text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if body.get("detail"):
            return str(body["detail"])
    return str(getattr(exc, "message", None) or exc)


def _socket_of(network_stream: Any) -> socket.socket | None:
    with contextlib.suppress(Exception):
        sock = network_stream.get_extra_info("socket")
        if isinstance(sock, socket.socket) and sock.fileno() != -1:
            return sock
    return None


class ConnectionTracker:
    """Lets Stop interrupt an httpx request that blocks in a socket read, from another thread.

    Closing an httpx response from another thread does not wake a thread blocked reading it; shutting the socket
    down does. Install :meth:`hook` as an httpx ``request`` event hook: it adds httpcore's ``trace`` extension,
    through which the tracker learns every socket the client opens. :meth:`abort` then shuts down the socket
    under a response, or, while still waiting for response headers, every socket the client opened (idle ones
    are simply reopened later).

    Parameters
    ----------
    refuse : callable
        Returns the exception to raise for requests started after Stop (the ``openai`` client re-raises its
        own ``OpenAIError`` without retrying).

    Attributes
    ----------
    cancel : threading.Event or None
        The current reply's Stop event; requests are refused while it is set.
    """

    def __init__(self, refuse: Callable[[], Exception]) -> None:
        self._refuse = refuse
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self.cancel: threading.Event | None = None

    def hook(self, request: Any) -> None:
        """httpx request event hook."""
        if self.cancel is not None and self.cancel.is_set():
            raise self._refuse()
        request.extensions["trace"] = self._trace

    def _trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith(("connect_tcp.complete", "start_tls.complete")) and info.get("return_value") is not None:
            with self._lock:
                self._streams = [s for s in self._streams if _socket_of(s) is not None]
                self._streams.append(info["return_value"])
        elif name.endswith("send_request_headers.started") and self.cancel is not None and self.cancel.is_set():
            raise self._refuse()

    def abort(self, response: Any = None) -> None:
        """Shut down the socket under ``response`` (an httpx response), or every tracked socket if ``None``."""
        streams = [response.extensions.get("network_stream")] if response is not None else []
        if not streams or streams[0] is None:
            with self._lock:
                streams = list(self._streams)
        for stream in streams:
            sock = _socket_of(stream)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
