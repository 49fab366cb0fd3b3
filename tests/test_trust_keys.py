"""A key goes only to the endpoint it was configured for: every way a base URL can reach nbchat, tried against a
capturing server on 127.0.0.1 that must never see the key.

The capturing server is the OpenAI-compatible stub (tests/servers/openai_stub.py), which records the headers of
every chat request; each test sends through the attack path and then asserts that no recorded header holds the
key. Redirects are tried against two real HTTP servers on 127.0.0.1: one answers 307 to the other.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat.backends import Backend, resolve_backend
from nbchat.backends.openai import OpenAIBackend
from nbchat.backends.tgi import TGIBackend
from nbchat.testing import FakeBackend, RecordingComm

ENV_KEY = "sk-proj-EnvironmentKey-7Qm2Lx9Vb4Nc8Zr1"
ARG_KEY = "sk-proj-ArgumentKey-3Rt8Yu1Io6Pa9Sd2"


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_source_keys: None) -> Path:
    """No keys or base URLs in the environment; the working directory is ``tmp_path/project/work``."""
    work = tmp_path / "project" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return work


def seen_keys(headers: list[dict[str, str]], *keys: str) -> list[str]:
    """The header values, among everything the capturing server received, that hold one of ``keys``."""
    return [f"{name}: {value}" for h in headers for name, value in h.items() if any(k in value for k in keys)]


@pytest.fixture
def captured() -> list[dict[str, str]]:
    """The headers the capturing server (the OpenAI stub) received during the test."""
    from tests.servers import openai_stub

    return openai_stub.app.state.headers


# ---------------------------------------------------------------------------------------------------- a file
def saved_file(path: Path, spec: str | None, options: dict[str, Any]) -> Path:
    data = {
        "format": "nbchat.conversation",
        "version": 1,
        "model": {"spec": spec, "model": None, "source": None, "object": False, "options": options},
        "settings": {},
        "messages": [],
        "selected": {},
    }
    path.write_text(json.dumps(data))
    return path


def test_a_conversation_file_cannot_redirect_a_source_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    shared = saved_file(clean_env / "shared.json", "openai:echo", {"base_url": f"{openai_stub.url}/v1"})
    with pytest.raises(nbchat.NbchatError) as info:
        nbchat.Conversation.load(shared, prepare="lazy")
    text = str(info.value)
    assert "'base_url'" in text
    assert "Conversation.load(" in text
    assert "base_url=..." in text
    for option in ("save_to", "headers", "api_key", "extra_body"):
        with pytest.raises(nbchat.NbchatError, match=repr(option)):
            nbchat.Conversation.load(saved_file(clean_env / "x.json", "openai:echo", {option: "x"}), prepare="lazy")
    with pytest.raises(nbchat.NbchatError, match="'base_url'"):
        nbchat.Chat.load(shared, prepare="lazy")
    assert not seen_keys(captured, ENV_KEY)


def test_a_server_url_from_a_file_gets_no_key_from_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("NBCHAT_API_KEY", ENV_KEY)
    shared = saved_file(clean_env / "shared.json", f"{openai_stub.url}/v1", {})
    conv = nbchat.Conversation.load(shared, model="echo", prepare="now")
    assert conv.ask("hi") == "You said: hi"  # it works, without the key
    assert captured
    assert not seen_keys(captured, ENV_KEY)
    # the same URL named in code gets the key ($NBCHAT_API_KEY is the key of servers named by URL)
    assert nbchat.Conversation(f"{openai_stub.url}/v1", model="echo", prepare="now").ask("hi") == "You said: hi"
    assert seen_keys(captured, ENV_KEY)
    # options a file may set still load (here: a timeout)
    ok = saved_file(clean_env / "ok.json", f"{openai_stub.url}/v1", {"timeout": 5.0})
    assert nbchat.Conversation.load(ok, model="echo", prepare="lazy").backend.timeout == 5.0


# ---------------------------------------------------------------------------------------------------- .env
def test_a_dotenv_above_the_working_directory_never_redirects_an_environment_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    planted = clean_env.parent / ".env"  # a cloned repository's or a shared course folder's .env
    planted.write_text(f"NBCHAT_OPENAI_BASE_URL={openai_stub.url}/v1\n")
    with pytest.raises(nbchat.BackendError, match="Refusing to send the OpenAI key from the environment") as info:
        nbchat.Conversation("openai:echo", prepare="now")
    assert str(planted) in str(info.value)
    assert not seen_keys(captured, ENV_KEY)
    # a key in that same .env goes to its own base URL (the user put both there)
    monkeypatch.delenv("OPENAI_API_KEY")
    planted.write_text(f"NBCHAT_OPENAI_BASE_URL={openai_stub.url}/v1\nNBCHAT_OPENAI_API_KEY={ARG_KEY}\n")
    assert nbchat.Conversation("openai:echo", prepare="now").ask("hi") == "You said: hi"
    assert seen_keys(captured, ARG_KEY)
    assert not seen_keys(captured, ENV_KEY)


def test_an_environment_base_url_takes_the_environment_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    monkeypatch.setenv("NBCHAT_OPENAI_BASE_URL", f"{openai_stub.url}/v1")  # e.g. an administrator's gateway
    assert nbchat.Conversation("openai:echo", prepare="now").ask("hi") == "You said: hi"
    assert seen_keys(captured, ENV_KEY)


# ---------------------------------------------------------------------------------------------------- an option
def test_an_option_cannot_redirect_an_environment_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    with pytest.raises(nbchat.BackendError, match=r"pass\s+both in code") as info:
        nbchat.Chat("openai:echo", base_url=f"{openai_stub.url}/v1", prepare="now")
    assert "base_url= in code" in str(info.value)
    # with the administrator's allow-list, `openai:*` does not admit another endpoint even with both in code
    monkeypatch.setenv("NBCHAT_ALLOWED_MODELS", "openai:*")
    with pytest.raises(nbchat.ModelNotAllowedError) as refused:
        nbchat.Chat("openai:echo", base_url=f"{openai_stub.url}/v1", api_key=ENV_KEY, prepare="now")
    assert f"{openai_stub.url}/v1" in str(refused.value)
    assert not seen_keys(captured, ENV_KEY)
    # both in the same call, without a policy: the user's own decision
    monkeypatch.delenv("NBCHAT_ALLOWED_MODELS")
    conv = nbchat.Conversation("openai:echo", base_url=f"{openai_stub.url}/v1", api_key=ARG_KEY, prepare="now")
    assert conv.ask("hi") == "You said: hi"
    assert seen_keys(captured, ARG_KEY)


# ---------------------------------------------------------------------------------------------------- the browser
def test_a_url_typed_into_the_page_gets_no_key(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    openai_stub,
    captured: list[dict[str, str]],
    comms: list[RecordingComm],
) -> None:
    monkeypatch.setenv("NBCHAT_API_KEY", ENV_KEY)
    cmp = nbchat.Compare([FakeBackend()])
    try:
        cmp._handle_custom_msg({"kind": "add", "spec": f"{openai_stub.url}/v1", "model": "echo"}, [])
        assert len(cmp.columns) == 2
        column = cmp.columns[-1]
        assert column.conversation.ask("hi") == "You said: hi"
        assert captured
        assert not seen_keys(captured, ENV_KEY)
    finally:
        cmp.close()


# ---------------------------------------------------------------------------------------------------- an object
class SelfAdmitting(Backend):
    """A backend that claims to be an allowed OpenAI model and marks itself admitted."""

    kind = "openai"
    _nbchat_admitted = True

    def __init__(self) -> None:
        self.model = "gpt-4o-mini"

    def policy_identities(self) -> list[str]:
        return ["openai:gpt-4o-mini"]

    def stream(self, messages: Any, settings: Any, info: Any, cancel: Any) -> Iterator[str]:
        yield "hi"


def test_backend_objects_are_matched_by_what_they_contact(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("NBCHAT_ALLOWED_MODELS", "openai:*")
    with pytest.raises(nbchat.ModelNotAllowedError, match=r"object:tests\.test_trust_keys\.SelfAdmitting"):
        nbchat.Conversation(SelfAdmitting(), prepare="lazy")
    redirected = OpenAIBackend("echo", source="openai", base_url=f"{openai_stub.url}/v1", api_key=ENV_KEY)
    with pytest.raises(nbchat.ModelNotAllowedError):
        nbchat.Conversation(redirected, prepare="lazy")
    import openai

    client = openai.OpenAI(base_url=f"{openai_stub.url}/v1", api_key=ENV_KEY)
    with pytest.raises(nbchat.ModelNotAllowedError):
        nbchat.Conversation(client, model="echo", prepare="lazy")
    assert not seen_keys(captured, ENV_KEY)
    # the real endpoint admits the same objects
    monkeypatch.setenv("NBCHAT_ALLOWED_MODELS", f"{openai_stub.url}/*")
    assert nbchat.Conversation(client, model="echo", prepare="lazy").backend.model == "echo"


# ---------------------------------------------------------------------------------------------------- redirects
class _Capture(BaseHTTPRequestHandler):
    """Both servers of the redirect test. The first answers every GET with 307 to the second; the second answers
    TGI's ``GET /info`` (text-generation-inference's router: model_id, max_total_tokens) and the OpenAI API's
    ``GET /v1/models`` ({"object": "list", "data": [...]}), recording every header it received."""

    def do_GET(self) -> None:
        server: Any = self.server
        server.seen.append(dict(self.headers))
        if server.target:
            self.send_response(307)
            self.send_header("Location", server.target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.endswith("/info"):
            body = {"model_id": "redirected/model", "max_total_tokens": 4096}
        else:
            model = {"id": "redirected-model", "object": "model", "created": 0, "owned_by": "x"}
            body = {"object": "list", "data": [model]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[tuple[str, list[dict[str, str]], list[dict[str, str]]]]:
    """(URL of the redirecting server, headers it saw, headers the other host saw). The other host is
    127.0.0.2 (another loopback address: another host to an HTTP client)."""
    servers = []
    for host in ("127.0.0.2", "127.0.0.1"):
        server: Any = ThreadingHTTPServer((host, 0), _Capture)
        server.seen, server.target = [], None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    other, first = servers
    first.target = f"http://127.0.0.2:{other.server_port}"
    try:
        yield f"http://127.0.0.1:{first.server_port}", first.seen, other.seen
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_no_credential_survives_a_redirect_to_another_host(redirecting: Any) -> None:
    url, first, other = redirecting
    tgi = TGIBackend(f"tgi:{url}", token=ENV_KEY, headers={"X-Api-Key": ARG_KEY})
    tgi.prepare()
    assert tgi.model == "redirected/model"  # the redirect was followed ...
    assert seen_keys(first, ENV_KEY)
    assert seen_keys(first, ARG_KEY)
    assert other
    assert not seen_keys(other, ENV_KEY, ARG_KEY)
    other.clear()
    server = OpenAIBackend(base_url=f"{url}/v1", api_key=ENV_KEY, headers={"X-Custom-Key": ARG_KEY})
    assert server.list_models() == ["redirected-model"]
    assert other
    assert not seen_keys(other, ENV_KEY, ARG_KEY)


def test_resolve_backend_checks_the_origin_argument() -> None:
    with pytest.raises(ValueError, match="origin must be one of"):
        resolve_backend(FakeBackend(), origin="anywhere")


def test_the_administrators_default_server_keeps_its_key_when_loaded_from_a_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub, captured: list[dict[str, str]]
) -> None:
    """A class's saved conversation names the class server: $NBCHAT_DEFAULT_MODEL says it is the administrator's."""
    url = f"{openai_stub.url}/v1"
    monkeypatch.setenv("NBCHAT_API_KEY", ENV_KEY)
    monkeypatch.setenv("NBCHAT_DEFAULT_MODEL", url)
    shared = saved_file(clean_env / "class.json", url, {})
    assert nbchat.Conversation.load(shared, model="echo", prepare="now").ask("hi") == "You said: hi"
    assert seen_keys(captured, ENV_KEY)
