"""One redaction for every URL and exception that becomes text: property tests over generated URLs, and the places
it is used (errors, status line, saved spec, Details, Copy as code)."""

from __future__ import annotations

import contextlib
import string
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import nbchat
from nbchat._redact import is_key_like, redact_text, redact_url

SECRET_ALPHABET = string.ascii_letters + string.digits + "-_."
secrets = st.text(SECRET_ALPHABET, min_size=8, max_size=40).map(lambda s: f"sk{s}")
hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.just("127.0.0.1"),
    st.just("[fd00::1]"),
)
key_names = st.sampled_from(["api_key", "key", "token", "access_token", "apikey", "API-KEY", "sig", "client_secret"])
plain_names = st.sampled_from(["stream", "model", "v", "lang"])
plain_values = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)


@st.composite
def urls_with_secrets(draw: st.DrawFn) -> tuple[str, list[str], str, list[str]]:
    """(url, its secrets, its host, its plain query values)."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(hosts)
    port = draw(st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")))
    path = draw(st.sampled_from(["", "/", "/v1", "/api/v3/", "/compatible-mode/v1"]))
    found: list[str] = []
    userinfo = draw(st.sampled_from(["", "user", "pair"]))
    prefix = ""
    if userinfo == "user":  # a lone credential as user name: https://sk-...@host
        secret = draw(secrets)
        found.append(secret)
        prefix = f"{secret}@"
    elif userinfo == "pair":
        user, password = draw(secrets), draw(secrets)
        found += [user, password]
        prefix = f"{user}:{password}@"
    params: list[str] = []
    plain: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            secret = draw(secrets)
            found.append(secret)
            params.append(f"{draw(key_names)}={secret}")
        else:
            value = draw(plain_values)
            plain.append(value)
            params.append(f"{draw(plain_names)}={value}")
    query = ("?" + "&".join(params)) if params else ""
    return f"{scheme}://{prefix}{host}{port}{path}{query}", found, host, plain


@given(urls_with_secrets())
def test_redacted_urls_keep_no_secret_and_keep_the_endpoint(case: tuple[str, list[str], str, list[str]]) -> None:
    url, found, host, plain = case
    shown = redact_url(url)
    for secret in found:
        assert secret not in shown
    assert host in shown
    for value in plain:
        assert f"={value}" in shown
    assert redact_url(shown) == shown  # idempotent


@given(urls_with_secrets(), st.sampled_from(["Could not connect to {} (refused).", "GET {}: 500", "'{}'", "<{}>"]))
def test_urls_inside_text_are_redacted(case: tuple[str, list[str], str, list[str]], template: str) -> None:
    url, found, host, _ = case
    shown = redact_text(template.format(url))
    assert host in shown
    for secret in found:
        assert secret not in shown


@given(st.text(string.printable.replace(":", ""), max_size=60))
def test_text_without_urls_is_unchanged(text: str) -> None:
    assert redact_text(text) == text


def test_key_like_names() -> None:
    assert all(is_key_like(n) for n in ("api_key", "key", "token", "X-Api-Key", "password", "sig", "auth"))
    assert not any(is_key_like(n) for n in ("model", "stream", "temperature", "v"))


def test_every_text_a_server_spec_becomes_is_redacted(comms: list, tmp_path: Path) -> None:
    url = "https://sk-lone-user-cred-123@127.0.0.1:9/v1?api_key=sk-query-key-456&key=sk-k-789"
    chat = nbchat.Chat(url, model="m", prepare="lazy", timeout=2)
    conv = chat.conversation
    conv.retries = 0
    with contextlib.suppress(nbchat.GenerationError):
        conv.ask("hi")
    failed = conv.history[-1]
    texts = [
        str(conv.spec),
        failed.error or "",
        conv.status_text,
        chat.status_text,
        repr(chat),
        repr(conv.backend),
        str(conv.backend.describe()),
        conv.request_code(failed.id),
        str(conv.request_of(failed.id)),
        conv.save(tmp_path / "saved.json").read_text(encoding="utf-8"),  # the saved file
    ]
    for secret in ("sk-lone-user-cred-123", "sk-query-key-456", "sk-k-789"):
        assert not [t for t in texts if secret in t], secret
    assert "127.0.0.1" in conv.spec["spec"]


def test_log_records_are_redacted(caplog: object) -> None:
    import logging

    from nbchat._redact import redacting_logger

    logger = redacting_logger("nbchat.test_redaction")
    url = "https://u:sk-log-pass-123@host.example/v1?token=sk-log-tok-456"
    with caplog.at_level(logging.DEBUG, logger="nbchat.test_redaction"):  # type: ignore[attr-defined]
        try:
            raise ConnectionError(f"could not reach {url}")
        except ConnectionError:
            logger.debug("request to %s failed", url, exc_info=True)
    text = caplog.text  # type: ignore[attr-defined]
    assert "host.example" in text
    assert "could not reach" in text  # the traceback is kept ...
    assert "sk-log-pass-123" not in text  # ... without the credentials
    assert "sk-log-tok-456" not in text
