"""One redaction for every place a URL or an exception becomes text: errors, status, Details, Copy as code, saved
files, reprs and logs.

A URL keeps its scheme, host, port and path; its user information (``user:password@`` or a lone ``token@``) and
the values of query parameters named like credentials (``api_key``, ``key``, ``token``, ``sig``, ...) become
``***``. Standard library only (a leaf module).
"""

from __future__ import annotations

import logging
import os
import re

__all__ = [
    "MASK",
    "RedactingFilter",
    "environment_secrets",
    "is_key_like",
    "redact_secrets",
    "redact_text",
    "redact_url",
    "redacting_logger",
]

MASK = "***"

# a query parameter whose name says it carries a credential: api_key, key, apikey, access_token, token, auth,
# client_secret, password, sig / signature (pre-signed URLs), x-goog-credential, session, code (OAuth)
_KEY_NAME = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session|^code$", re.IGNORECASE)
_USERINFO = re.compile(r"^([A-Za-z][\w+.-]*://)([^/?#]*)@")
_QUERY_PARAM = re.compile(r"([?&;])([^=&#;]*)=([^&#;]*)")
# a URL inside running text: up to white space, a quote or a bracket that ends it in prose
_URL_IN_TEXT = re.compile(r"[A-Za-z][\w+.-]*://[^\s'\"<>`]+")


def is_key_like(name: str) -> bool:
    """Whether a query parameter or option named ``name`` carries a credential."""
    return bool(_KEY_NAME.search(name.strip()))


def redact_url(url: str) -> str:
    """``url`` with its user information and credential-like query values replaced by ``***``.

    Examples
    --------
    >>> redact_url("https://user:sk-123@host:8000/v1?api_key=sk-456&stream=1")
    'https://***@host:8000/v1?api_key=***&stream=1'
    """
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", url, count=1)
    if "?" not in text and ";" not in text:
        return text

    def param(match: re.Match[str]) -> str:
        sep, name, value = match.groups()
        return f"{sep}{name}={MASK}" if value and is_key_like(name) else match.group(0)

    head, mark, rest = text.partition("?")
    if not mark:
        return text
    query, hash_mark, fragment = rest.partition("#")
    return head + _QUERY_PARAM.sub(param, "?" + query) + hash_mark + fragment


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url` (error messages, status lines, logs)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


# a string literal assigned or passed to a credential-like name: api_key="sk-…", "token": '…', password = "…"
_ASSIGNED = re.compile(
    r"""(?P<name>\b(?:\w*[_-])?(?:api_?key|key|token|secret|passw(?:or)?d|pwd|credentials?)\b)(?P<q1>["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<q>["'])(?P<value>[^"'\n]{4,})(?P=q)""",
    re.IGNORECASE,
)


def environment_secrets() -> list[str]:
    """Values of the environment's credential-like variables (``OPENAI_API_KEY``, ``HF_TOKEN``, ...), 8+ chars."""
    return [value for name, value in os.environ.items() if len(value) >= 8 and is_key_like(name)]


def redact_secrets(text: str, secrets: list[str] | None = None) -> str:
    """``text`` (a notebook cell's code or output) without the secrets it may hold, each replaced by ``***``.

    On top of :func:`redact_text` (URLs): the values of the environment's credential-like variables
    (``OPENAI_API_KEY``, ``HF_TOKEN``, ... of 8 characters or more) wherever they appear, and string literals
    assigned or passed to credential-like names (``api_key="sk-…"``, ``{"token": "…"}``). ``secrets``: the values
    to mask, default :func:`environment_secrets` (pass them when redacting many texts at once).
    """
    text = redact_text(text)
    for value in environment_secrets() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, MASK)
    return _ASSIGNED.sub(lambda m: "{name}{q1}{sep}{q}".format(**m.groupdict()) + MASK + m.group("q"), text)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record's message and traceback through :func:`redact_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record.msg, record.args = redact_text(message), None
        return True


def redacting_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with a :class:`RedactingFilter`: what nbchat logs never holds a URL's
    credentials (a filter applies to its own logger only, so each module asks for its logger here)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
