"""Errors of a failed reply in the widget's language: each error a student meets carries a catalogue key and its
parameters (``BackendError.key``/``params``, ``ChatMessage.error_i18n``) from the backend through the conversation,
the widget's state and saved files; the English text stays as it was, the Chinese one renders with every
placeholder filled, and no parameter holds a secret.

Real requests go to the misbehaving OpenAI-compatible stub (tests/servers/openai_stub.py) and to a closed port on
127.0.0.1; the browser side is in js/__tests__/messages.test.ts.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import nbchat
from nbchat._errors import BackendError
from nbchat._i18n import MESSAGES, text
from nbchat._settings import GenerationSettings
from nbchat.backends import GenerationInfo
from nbchat.backends.openai import OpenAIBackend
from nbchat.testing import FakeBackend, RecordingComm, wait_for_view
from tests.servers._runner import free_port

KEY = "sk-test-0123456789abcdef"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def reply_to(backend: nbchat.backends.Backend, retries: int = 0, question: str = "question one") -> nbchat.ChatMessage:
    conv = nbchat.Conversation(backend, prepare="now", retries=retries)
    return conv.send(question).result(timeout=60)


def check_keyed(error_i18n: dict[str, Any] | None, english: str | None, key: str) -> dict[str, str]:
    """The key is ``key``; the English catalogue text is the error as shown; the Chinese one fills every placeholder
    (a ``<name>_key`` parameter included) and reads as Chinese. Returns the parameters."""
    assert error_i18n is not None, english
    assert error_i18n["key"] == key, english
    params = error_i18n["params"]
    assert all(isinstance(v, str) for v in params.values())
    assert text(key, "en", **params) == english
    chinese = text(key, "zh", **params)
    assert not PLACEHOLDER.findall(chinese), chinese
    assert CJK.search(chinese), chinese
    assert chinese != english
    return dict(params)


# ---------------------------------------------------------------------------------------------- the catalogue
@pytest.mark.parametrize("key", sorted(k for k in MESSAGES["en"] if k.startswith("py.err.")))
def test_both_languages_use_the_same_placeholders(key: str) -> None:
    english, chinese = set(PLACEHOLDER.findall(MESSAGES["en"][key])), set(PLACEHOLDER.findall(MESSAGES["zh"][key]))
    choices = {"vars", "choices"}  # the missing-key text names the variables as "A or B" / "A / B"
    assert english - choices == chinese - choices, key
    assert CJK.search(MESSAGES["zh"][key]) or key == "py.err.limitSeconds", key


def test_a_name_key_parameter_is_filled_from_its_own_key_in_the_language() -> None:
    params = {
        "where": "W",
        "detail": "d",
        "help": "Check api_key= (or $NBCHAT_API_KEY).",
        "help_key": "py.err.keyHelpServer",
    }
    assert text("py.err.401", "en", **params) == "W rejected the API key (401: d). Check api_key= (or $NBCHAT_API_KEY)."
    assert (
        text("py.err.401", "zh", **params)
        == "W 拒绝了这个 API 密钥（401：d）。请检查 api_key=（或环境变量 $NBCHAT_API_KEY）。"
    )
    assert text("py.err.401", "zh", where="W", detail="d") == "W 拒绝了这个 API 密钥（401：d）。{help}"  # left as is


# ---------------------------------------------------------------------------------------------- real requests
# model on the stub, timeout, expected key, some parameters
STUB_FAILURES: list[tuple[str, float, str, dict[str, str]]] = [
    ("unauthorized", 5, "py.err.401", {"help_key": "py.err.keyHelpServer"}),
    ("forbidden", 5, "py.err.403", {"model": "'forbidden'"}),
    ("missing-model", 5, "py.err.404", {"model": "'missing-model'"}),
    ("rate-limited", 5, "py.err.429", {}),
    ("rate-limited-long", 5, "py.err.429wait", {"wait": "30"}),
    ("server-error", 5, "py.err.5xx", {"status": "500"}),
    ("bad-gateway", 5, "py.err.gateway", {"status": "502"}),
    ("unavailable", 5, "py.err.gateway", {"status": "503"}),
    ("gateway-timeout", 5, "py.err.gateway", {"status": "504"}),
    ("no-headers", 0.5, "py.err.timeout", {"seconds": "0.5", "limit_key": "py.err.limitSeconds"}),
    ("silent", 0.5, "py.err.timeoutFirst", {"limit": "0.5 s"}),
    ("drop", 5, "py.err.broke", {}),
    ("error-event", 5, "py.err.eventKept", {"detail": "The model crashed mid-reply"}),
    ("malformed", 5, "py.err.malformedKept", {}),
    ("html", 5, "py.err.notStream", {"kind": "text/html"}),
    ("cut-off", 5, "py.err.incomplete", {}),
]


@pytest.mark.parametrize(("model", "timeout", "key", "some"), STUB_FAILURES, ids=[f[0] for f in STUB_FAILURES])
def test_each_server_failure_has_its_key_and_chinese_text(
    openai_stub, model: str, timeout: float, key: str, some: dict[str, str]
) -> None:
    backend = OpenAIBackend(model, base_url=f"{openai_stub.url}/v1", timeout=timeout, api_key=KEY)
    reply = reply_to(backend)
    assert reply.status in ("error", "incomplete")
    params = check_keyed(reply.error_i18n, reply.error, key)
    assert some.items() <= params.items(), params
    if key != "py.err.incomplete":
        assert params["where"] == f"{openai_stub.url}/v1"
    assert KEY not in json.dumps(reply.error_i18n) + (reply.error or "")  # the 401 body echoes the key


def test_a_bad_request_has_its_key(openai_stub) -> None:
    backend = OpenAIBackend("echo", base_url=f"{openai_stub.url}/v1")
    bad = [{"role": "user", "content": [{"type": "video", "video": "x"}]}]  # the stub checks content parts
    with pytest.raises(BackendError) as info:
        list(backend.stream(bad, GenerationSettings(), GenerationInfo(), threading.Event()))  # type: ignore[list-item]
    params = check_keyed({"key": info.value.key, "params": info.value.params}, str(info.value), "py.err.400")
    assert params["detail"]


def test_connection_refused_on_a_closed_port() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    reply = reply_to(OpenAIBackend("echo", base_url=url))
    params = check_keyed(reply.error_i18n, reply.error, "py.err.connect")
    assert params["where"] == url
    assert "无法连接到" in text("py.err.connect", "zh", **params)


def test_dns_failure_names_the_host() -> None:
    reply = reply_to(OpenAIBackend("echo", base_url="http://nbchat-stub.invalid/v1", timeout=5))
    assert check_keyed(reply.error_i18n, reply.error, "py.err.dns")["host"] == "'nbchat-stub.invalid'"


def test_a_retried_failure_says_how_often_in_both_languages(openai_stub) -> None:
    reply = reply_to(OpenAIBackend("bad-gateway", base_url=f"{openai_stub.url}/v1"), retries=2)
    assert reply.error is not None
    assert reply.error.endswith("(Tried 3 times.)")
    params = check_keyed(reply.error_i18n, reply.error, "py.err.tried")
    assert (params["n"], params["error_key"]) == ("3", "py.err.gateway")
    assert text("py.err.tried", "zh", **params).endswith("（共尝试了 3 次。）")
    assert "HTTP 502" in text("py.err.tried", "zh", **params)
    with pytest.raises(nbchat.GenerationError) as info:  # ask() raises with the same key
        nbchat.Conversation(OpenAIBackend("bad-gateway", base_url=f"{openai_stub.url}/v1"), retries=0).ask("hi")
    assert info.value.key == "py.err.gateway"


def test_an_online_source_names_its_key_variables(openai_stub, no_source_keys: None, monkeypatch) -> None:
    monkeypatch.setenv("KIMI_API_KEY", KEY)
    monkeypatch.setenv("NBCHAT_KIMI_BASE_URL", f"{openai_stub.url}/v1")
    reply = reply_to(nbchat.Conversation("kimi:unauthorized").backend)
    params = check_keyed(reply.error_i18n, reply.error, "py.err.401")
    assert params["help_key"] == "py.err.keyHelpSource"
    assert "KIMI_API_KEY" in params["vars"]
    assert "环境变量或 .env 文件" in text("py.err.401", "zh", **params)


def test_no_secret_in_the_parameters(openai_stub) -> None:
    password = "sk-url-password-424242"
    base = openai_stub.url.replace("http://", f"http://student:{password}@") + "/v1"
    for model, key in (("missing-model", "py.err.404"), ("unauthorized", "py.err.401")):
        reply = reply_to(OpenAIBackend(model, base_url=base, api_key=KEY))
        params = check_keyed(reply.error_i18n, reply.error, key)
        shown = json.dumps(params) + (reply.error or "")
        assert password not in shown
        assert "student" not in shown  # the user name of the URL is masked too
        assert KEY not in shown
        assert params["where"].startswith("http://***@127.0.0.1:")
    assert params["detail"].count("***") >= 1  # the 401 body echoed "Bearer <key>"


def test_other_branches_of_the_mapping() -> None:
    backend = OpenAIBackend("echo", base_url="http://127.0.0.1:9/v1", api_key=KEY, timeout=7)
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    teapot = openai.APIStatusError("I'm a teapot", response=httpx.Response(418, request=request), body=None)
    cases = [
        (openai.APIConnectionError(request=request), True, False, "py.err.closed"),
        (openai.APITimeoutError(request=request), True, True, "py.err.timeoutMid"),
        (teapot, True, False, "py.err.http"),
        (openai.APIError("The model crashed.", request, body=None), True, False, "py.err.event"),
    ]
    for exc, answered, partial, key in cases:
        error = backend._explain(exc, answered, partial)
        check_keyed({"key": error.key, "params": error.params}, str(error), key)
    assert backend._explain(teapot).params["status"] == "418"


# ---------------------------------------------------------------------------------------------- missing key
def test_missing_key_has_its_key_and_chinese_text(no_source_keys: None, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BackendError) as info:
        nbchat.Conversation("kimi:")
    error = info.value
    params = check_keyed({"key": error.key, "params": error.params}, str(error), "py.err.noKey")
    assert params["var"] == "MOONSHOT_API_KEY"  # the provider's own variable, for the .env line
    assert params["vars"] == "NBCHAT_KIMI_API_KEY or MOONSHOT_API_KEY or KIMI_API_KEY"
    assert params["cwd"] == str(tmp_path)
    chinese = text("py.err.noKey", "zh", **params)
    assert "API 密钥" in chinese
    assert "MOONSHOT_API_KEY" in chinese


def test_a_column_added_without_a_key_is_a_keyed_notice(
    comms: list[RecordingComm], no_source_keys: None, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cmp = nbchat.Compare([FakeBackend()], lang="zh", prepare="now")
    try:
        cmp._handle_custom_msg({"kind": "add", "spec": "kimi:"}, [])
        said = comms[-1].custom("notice")[-1]
        assert said["key"] == "py.err.noKey"
        assert "没有找到" in said["text"]
        assert "MOONSHOT_API_KEY" in said["params"]["vars"]
    finally:
        cmp.close()


# ---------------------------------------------------------------------------------------------- local engine
@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
def test_a_prompt_beyond_the_context_window_has_its_key() -> None:
    from nbchat.backends.llamacpp import LlamaCppBackend

    reply = reply_to(LlamaCppBackend.embedded(n_ctx=256), question="lion " * 400)
    params = check_keyed(reply.error_i18n, reply.error, "py.err.tooLongLlamacpp")
    assert params["n_ctx"] == "256"
    assert int(params["tokens"]) >= 256
    assert "上下文窗口" in text("py.err.tooLongLlamacpp", "zh", **params)


# ---------------------------------------------------------------------------------------------- views and files
def keyed_failure(model: str = "fake") -> BackendError:
    params = {"where": "http://127.0.0.1:9/v1", "model": repr(model), "detail": "no such model", "base_url": "u"}
    return BackendError.from_key("py.err.404", params)


def test_the_widget_gets_the_key_with_the_message(comms: list[RecordingComm]) -> None:
    fake = FakeBackend()
    fake.enqueue(["Half"], error=keyed_failure())
    chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now"))
    chat.conversation.send("hi").result(timeout=10)
    wait_for_view(chat)
    shown = comms[-1].state_updates("_messages")[-1][-1]
    assert shown["status"] == "error"
    assert shown["error"] == str(keyed_failure())
    assert shown["error_i18n"] == {"key": "py.err.404", "params": keyed_failure().params}
    assert comms[-1].state_updates("_messages")[-1][0]["error_i18n"] is None  # the question


def test_blind_compare_hides_the_model_in_the_parameters(comms: list[RecordingComm]) -> None:
    fake = FakeBackend(model="secretmodel-x")
    fake.enqueue(error=keyed_failure("secretmodel-x"))
    cmp = nbchat.Compare([fake, FakeBackend(model="other")], blind=True, shuffle=False, prepare="now")
    try:
        cmp.ask("hi")
        cmp._handle_custom_msg({"kind": "sync"}, [])
        cmp._sync()  # the state as it is now (a view's thread rebuilds it a moment later)
        assert "secretmodel" not in json.dumps(comms[-1].sent)
        failed = [m for column in cmp._messages.values() for m in column if m.get("error_i18n")]
        assert len(failed) == 1
        assert failed[0]["error_i18n"]["params"]["model"] == "'A'"
    finally:
        cmp.close()


def test_conversation_files_keep_the_key_and_old_files_load(tmp_path: Path) -> None:
    fake = FakeBackend()
    fake.enqueue(error=keyed_failure())
    conv = nbchat.Conversation(fake, prepare="now")
    reply = conv.send("hi").result(timeout=10)
    path = conv.save(tmp_path / "chat.json")
    loaded = nbchat.Conversation.load(path, FakeBackend()).history[-1]
    assert (loaded.error, loaded.error_i18n) == (reply.error, reply.error_i18n)
    assert loaded.error_i18n == {"key": "py.err.404", "params": keyed_failure().params}

    data = json.loads(path.read_text(encoding="utf-8"))
    for m in data["messages"]:
        del m["error_i18n"]  # as written before the field existed
    path.write_text(json.dumps(data), encoding="utf-8")
    old = nbchat.Conversation.load(path, FakeBackend()).history[-1]
    assert (old.error, old.error_i18n) == (reply.error, None)

    data["messages"][-1]["error_i18n"] = {"key": "py.err.404", "params": {"model": 3}}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(nbchat.NbchatError, match='invalid "error_i18n"'):
        nbchat.Conversation.load(path, FakeBackend())


def test_an_unexpected_exception_has_no_key() -> None:
    fake = FakeBackend()
    fake.enqueue(error=RuntimeError("boom"))
    reply = reply_to(fake)
    assert reply.status == "error"
    assert reply.error_i18n is None
