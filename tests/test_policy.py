"""An administrator's policy: where it is read from, which models it allows, and caps from every way in."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import traitlets
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbchat
from nbchat._policy import current_policy, identities
from nbchat.backends import resolve_backend
from nbchat.testing import FakeBackend, RecordingComm


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Set policy variables with ``policy.setenv``; they are removed after the test."""
    return monkeypatch


def echo(message: str, history: list[object]) -> str:
    return f"You said: {message}"


# ------------------------------------------------------------------------------------------------ reading
def test_no_policy_allows_everything() -> None:
    policy = current_policy()
    assert not policy.active
    assert policy.allows("openai:gpt-4o")
    assert policy.allows(echo)
    assert policy.allows(None)
    assert "No nbchat policy" in policy.describe()


def test_environment_variables(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_DEFAULT_MODEL", "http://hub-llm:8000/v1")
    policy.setenv("NBCHAT_DEFAULT_MODEL_NAME", "Qwen/Qwen2.5-7B-Instruct")
    policy.setenv("NBCHAT_ALLOWED_MODELS", " http://hub-llm:8000/* , embedded,, ")
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "128")
    policy.setenv("NBCHAT_MAX_TEMPERATURE", "1")
    policy.setenv("NBCHAT_ADMIN_CONTACT", "the course staff (help@example.edu)")
    p = current_policy()
    assert p.default_model == "http://hub-llm:8000/v1"
    assert p.default_model_name == "Qwen/Qwen2.5-7B-Instruct"
    assert p.allowed_models == ("http://hub-llm:8000/*", "embedded")
    assert (p.max_new_tokens, p.max_temperature) == (128, 1.0)
    assert p.origin["max_new_tokens"] == "$NBCHAT_MAX_NEW_TOKENS"
    text = p.describe()
    assert "at most 128" in text
    assert "help@example.edu" in text
    assert "$NBCHAT_ALLOWED_MODELS" in text


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_config_file_and_the_environment_wins(policy: pytest.MonkeyPatch, tmp_path: Path, suffix: str) -> None:
    settings = {
        "default_model": "embedded",
        "allowed_models": ["embedded", "openai:gpt-4o-mini"],
        "max_new_tokens": 200,
        "NBCHAT_MAX_TEMPERATURE": 0.5,  # the variables' names work as keys too
    }
    path = tmp_path / f"policy{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(settings))
    else:
        path.write_text(
            'default_model = "embedded"\nallowed_models = ["embedded", "openai:gpt-4o-mini"]\n'
            "max_new_tokens = 200\nNBCHAT_MAX_TEMPERATURE = 0.5\n"
        )
    policy.setenv("NBCHAT_CONFIG", str(path))
    p = current_policy()
    assert (p.default_model, p.allowed_models, p.max_new_tokens, p.max_temperature) == (
        "embedded",
        ("embedded", "openai:gpt-4o-mini"),
        200,
        0.5,
    )
    assert p.origin["max_new_tokens"] == str(path)

    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "50")  # environment over file
    p = current_policy()
    assert (p.max_new_tokens, p.origin["max_new_tokens"]) == (50, "$NBCHAT_MAX_NEW_TOKENS")
    assert p.max_temperature == 0.5


def test_config_file_in_an_nbchat_table_and_reread_when_changed(policy: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "nbchat.toml"
    path.write_text('[nbchat]\nmax_new_tokens = 10\nadmin_contact = "Ms. Rivera"\n')
    policy.setenv("NBCHAT_CONFIG", str(path))
    assert current_policy().max_new_tokens == 10
    time.sleep(0.01)
    path.write_text("[nbchat]\nmax_new_tokens = 20\n")
    assert current_policy().max_new_tokens == 20


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("NBCHAT_MAX_NEW_TOKENS", "lots", "whole number"),
        ("NBCHAT_MAX_NEW_TOKENS", "0", "whole number"),
        ("NBCHAT_MAX_TEMPERATURE", "3", "between 0 and 2"),
        ("NBCHAT_MAX_TEMPERATURE", "warm", "between 0 and 2"),
    ],
)
def test_invalid_values_fail_every_chat_naming_the_variable(
    policy: pytest.MonkeyPatch, var: str, value: str, expected: str
) -> None:
    policy.setenv(var, value)
    with pytest.raises(nbchat.NbchatError, match=expected) as info:
        nbchat.Conversation(echo, prepare="lazy")
    assert f"${var}" in str(info.value)
    assert "administrator" in str(info.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("max_new_tokens = 2.5", "whole number >= 1"),  # a float where a count is meant
        ("max_new_tokens = true", "whole number >= 1"),
        ("max_temperature = true", "between 0 and 2"),
        ("max_attachments = 1.0", "whole number >= 0"),
        ("max_attachment_mb = 0", "MiB > 0"),
    ],
)
def test_numbers_in_a_config_file_are_checked_by_type(
    policy: pytest.MonkeyPatch, tmp_path: Path, line: str, expected: str
) -> None:
    path = tmp_path / "nbchat.toml"
    path.write_text(f"[nbchat]\n{line}\n")
    policy.setenv("NBCHAT_CONFIG", str(path))
    with pytest.raises(nbchat.NbchatError, match=expected):
        current_policy()


def test_broken_config_files_fail_loudly(policy: pytest.MonkeyPatch, tmp_path: Path) -> None:
    policy.setenv("NBCHAT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(nbchat.NbchatError, match="cannot be read"):
        current_policy()
    bad = tmp_path / "bad.toml"
    bad.write_text("max_new_tokens = = 3")
    policy.setenv("NBCHAT_CONFIG", str(bad))
    with pytest.raises(nbchat.NbchatError, match="not valid TOML"):
        current_policy()
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"max_tokens": 3}')
    policy.setenv("NBCHAT_CONFIG", str(unknown))
    with pytest.raises(nbchat.NbchatError, match="unknown setting 'max_tokens'"):
        current_policy()


# ------------------------------------------------------------------------------------------------ models
def test_identities_of_each_kind_of_spec(tmp_path: Path) -> None:
    assert identities(None) == ["embedded"]
    assert identities("embedded") == ["embedded"]
    assert identities("http://hub-llm:8000/v1/", model="qwen") == ["http://hub-llm:8000/v1"]
    assert identities("tgi:http://tgi:8080") == ["tgi:http://tgi:8080"]
    assert identities("https://u:pw@Hub-LLM./v1/./x/..?key=1") == ["https://hub-llm:443/v1"]
    assert identities("openai:gpt-4o-mini") == ["openai:gpt-4o-mini"]
    assert identities("kimi:") == ["kimi:"]
    assert identities(None, source="qwen", model="qwen-max") == ["qwen:qwen-max"]
    assert identities("moonshot-v1-32k", source="kimi") == ["kimi:moonshot-v1-32k"]
    assert identities("internlm2-chat-7b")[:2] == ["local:internlm2-chat-7b", "internlm2-chat-7b"]
    assert identities(echo) == [f"callable:{__name__}.echo"]
    assert identities(FakeBackend(model="m")) == ["fake:m"]


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ("http://hub-llm:8000/v1", True),
        ("http://hub-llm:8000/v1/", True),
        ("http://hub-llm:8001/v1", False),
        ("http://hub-llm:8000@evil.example/v1", False),
        ("openai:gpt-4o-mini", True),
        ("openai:gpt-4o", False),
        ("kimi:", False),
        ("tgi:http://tgi.course:8080", True),
        ("local:/data/modelzoo/x", True),
        ("/data/modelzoo/x", True),
        ("/home/student/x", False),
        ("embedded", True),
        (None, True),
        (echo, False),
    ],
)
def test_allowed_patterns(policy: pytest.MonkeyPatch, spec: object, allowed: bool) -> None:
    policy.setenv(
        "NBCHAT_ALLOWED_MODELS",
        "http://hub-llm:8000/*, openai:gpt-4o-mini, tgi:http://tgi.course:8080, local:/data/modelzoo/*, embedded",
    )
    assert current_policy().allows(spec) is allowed


def test_prefix_and_keyword_patterns(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_ALLOWED_MODELS", "openai:, http://hub-llm:8000, callable")
    p = current_policy()
    assert p.allows("openai:gpt-4o")
    assert p.allows("openai:")
    assert p.allows("http://hub-llm:8000/v1")
    assert p.allows("http://hub-llm:8000")
    assert not p.allows("http://hub-llm:80001/v1")
    assert p.allows(echo)
    assert p.allows(lambda m, h: "x")
    assert not p.allows(None)  # no "embedded", and no default model


def test_refusal_names_the_patterns_the_default_and_who_to_ask(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_ALLOWED_MODELS", "http://hub-llm:8000/*")
    policy.setenv("NBCHAT_DEFAULT_MODEL", "http://hub-llm:8000/v1")
    policy.setenv("NBCHAT_ADMIN_CONTACT", "the course staff")
    with pytest.raises(nbchat.ModelNotAllowedError) as info:
        nbchat.Chat("openai:gpt-4o", prepare="lazy")
    text = str(info.value)
    assert "'openai:gpt-4o' is not allowed" in text
    assert "http://hub-llm:8000/*" in text
    assert "$NBCHAT_ALLOWED_MODELS" in text
    assert "class default (http://hub-llm:8000/v1)" in text
    assert "ask the course staff" in text
    assert isinstance(info.value, nbchat.NbchatError)
    with pytest.raises(nbchat.ModelNotAllowedError):
        resolve_backend(FakeBackend())  # backend objects are matched too ("fake:fake")
    with pytest.raises(nbchat.ModelNotAllowedError):
        nbchat.Conversation(echo, prepare="lazy")


def test_default_model_for_chat_with_no_model(policy: pytest.MonkeyPatch, comms: list[RecordingComm]) -> None:
    policy.setenv("NBCHAT_DEFAULT_MODEL", "http://127.0.0.1:9/v1")
    policy.setenv("NBCHAT_DEFAULT_MODEL_NAME", "course-model")
    policy.setenv("NBCHAT_ALLOWED_MODELS", "openai:")  # the default is allowed without being listed
    chat = nbchat.Chat(prepare="lazy")
    info = chat.conversation.backend.describe()
    assert (info["backend"], info["model"], info["base_url"]) == ("openai", "course-model", "http://127.0.0.1:9/v1")
    assert chat.conversation.spec["spec"] is None  # saved as "the default", so a reload follows the admin
    # the default's URL without model= gets the default's name too
    assert resolve_backend("http://127.0.0.1:9/v1/").model == "course-model"
    assert resolve_backend("http://127.0.0.1:9/v1", model="other").model == "other"


def test_embedded_spec_string_and_default(policy: pytest.MonkeyPatch) -> None:
    from nbchat._embedded import EMBEDDED_MODEL_NAME
    from nbchat.backends._resolve import gguf_backend_kind

    engine = gguf_backend_kind()  # llama.cpp where llama-cpp-python is installed, else transformers
    backend = resolve_backend("embedded")
    assert (backend.kind, backend.model) == (engine, EMBEDDED_MODEL_NAME)
    policy.setenv("NBCHAT_DEFAULT_MODEL", "embedded")
    backend = resolve_backend(None)
    assert (backend.kind, backend.model) == (engine, EMBEDDED_MODEL_NAME)


def test_a_backend_let_through_once_is_not_refused_again(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_ALLOWED_MODELS", "callable:*")
    first = nbchat.Conversation(echo, prepare="lazy")
    again = nbchat.Conversation(first.backend, prepare="lazy")  # as Compare does for a second column
    assert again.backend is first.backend


# ------------------------------------------------------------------------------------------------ caps
def test_caps_from_python_are_clamped_with_a_warning(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "64")
    policy.setenv("NBCHAT_MAX_TEMPERATURE", "1.0")
    fake = FakeBackend()
    with pytest.warns(nbchat.PolicyWarning, match=r"max_new_tokens=1000 is above the limit set for this class \(64"):
        conv = nbchat.Conversation(fake, prepare="now", max_new_tokens=1000)
    assert conv.settings.max_new_tokens == 64
    with pytest.warns(nbchat.PolicyWarning, match=r"temperature=1.5 .* using 1") as record:
        conv.settings = conv.settings.replace(temperature=1.5)
    assert record[0].filename == __file__  # the warning points at the user's line
    assert conv.settings.temperature == 1.0
    conv.ask("hi")
    _, sent = fake.requests[-1]
    assert (sent.max_new_tokens, sent.temperature) == (64, 1.0)
    with pytest.raises(ValueError, match="temperature"):
        conv.settings = conv.settings.replace(temperature=5)  # out of range is still an error


def test_defaults_are_lowered_quietly(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "64")
    policy.setenv("NBCHAT_MAX_TEMPERATURE", "0.5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conv = nbchat.Conversation(FakeBackend(), prepare="lazy")  # nobody asked for 256 tokens at 0.7
    assert (conv.settings.max_new_tokens, conv.settings.temperature) == (64, 0.5)


def test_widget_limits_and_values_from_python_and_the_browser(
    policy: pytest.MonkeyPatch, comms: list[RecordingComm]
) -> None:
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "100")
    policy.setenv("NBCHAT_MAX_TEMPERATURE", "1.2")
    fake = FakeBackend(context_window=2048)
    chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now", max_new_tokens=50))
    comm = comms[-1]
    assert (chat.max_new_tokens_limit, chat.temperature_limit) == (100, 1.2)  # the sliders' maximums

    with pytest.warns(nbchat.PolicyWarning, match="max_new_tokens=500"):
        chat.max_new_tokens = 500  # from Python
    assert chat.max_new_tokens == 100
    assert chat.conversation.settings.max_new_tokens == 100
    assert "above the limit" in comm.custom("notice")[-1]["text"]  # said in the chat too

    with pytest.warns(nbchat.PolicyWarning):
        chat.set_state({"max_new_tokens": 4000, "temperature": 1.9})  # from the browser (a stale page)
    assert (chat.max_new_tokens, chat.temperature) == (100, 1.2)
    assert chat.conversation.settings.temperature == 1.2
    with pytest.raises(traitlets.TraitError, match="temperature"):
        chat.temperature = 7
    chat.ask("hi")
    assert fake.requests[-1][1].max_new_tokens == 100


def test_compare_forms_show_the_caps_and_columns_obey_them(
    policy: pytest.MonkeyPatch, comms: list[RecordingComm]
) -> None:
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "100")
    policy.setenv("NBCHAT_MAX_TEMPERATURE", "1.2")
    cmp = nbchat.Compare([FakeBackend(), FakeBackend()], max_new_tokens=50)
    assert cmp.limits == {"max_new_tokens": 100, "temperature": 1.2}  # the forms' maxima in the browser
    with pytest.warns(nbchat.PolicyWarning):
        cmp.configure(max_new_tokens=4000, temperature=1.9)
    assert {(c.conversation.settings.max_new_tokens, c.conversation.settings.temperature) for c in cmp.columns} == {
        (100, 1.2)
    }
    cmp.close()
    policy.delenv("NBCHAT_MAX_NEW_TOKENS")
    policy.delenv("NBCHAT_MAX_TEMPERATURE")
    free = nbchat.Compare([FakeBackend()])
    assert free.limits == {"max_new_tokens": None, "temperature": 2.0}
    free.close()


def test_a_context_window_below_the_cap_still_limits(policy: pytest.MonkeyPatch, comms: list[RecordingComm]) -> None:
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "4000")
    chat = nbchat.Chat(conversation=nbchat.Conversation(FakeBackend(context_window=1000), prepare="now"))
    assert chat.max_new_tokens_limit == 1000


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbchat")
    yield ip
    ip.run_line_magic("reload_ext", "nbchat")


def test_chat_magic_obeys_the_caps_and_the_allowed_models(policy: pytest.MonkeyPatch, shell: InteractiveShell) -> None:
    policy.setenv("NBCHAT_MAX_NEW_TOKENS", "32")
    policy.setenv("NBCHAT_MAX_TEMPERATURE", "0.8")
    policy.setenv("NBCHAT_ALLOWED_MODELS", "fake:*")
    fake = FakeBackend()
    shell.user_ns["bot"] = fake
    with pytest.warns(nbchat.PolicyWarning), capture_output():
        shell.run_cell_magic("chat", "-m bot --max-new-tokens 1000 --temperature 1.5", "hello")
    _, sent = fake.requests[-1]
    assert (sent.max_new_tokens, sent.temperature) == (32, 0.8)
    with pytest.raises(nbchat.ModelNotAllowedError), capture_output():
        shell.run_cell_magic("chat", "-m openai:gpt-4o", "hello")


# ------------------------------------------------------------------------------------------------ what is contacted
@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ("http://[fd00::1]:8000/v1", True),
        ("http://[FD00:0::1]:8000/v1", True),  # the same address, written otherwise
        ("http://[fd00::2]:8000/v1", False),
        ("http://0:8000/v1", False),  # read as a glob character class, "[fd00::1]" admitted these
        ("http://d:8000/v1", False),
        ("http://[fd00::1]:8001/v1", False),
        ("HTTP://HUB-LLM:8000/v1", True),  # scheme and host are case-insensitive
        ("http://hub-llm.:8000/v1", True),  # a trailing dot names the same host
        ("http://student:pw@hub-llm:8000/v1", True),  # user information is not part of the endpoint
        ("http://hub-llm:8000@evil.example:8000/v1", False),  # ... and cannot smuggle a host in
        ("http://hub-llm:8000/v1/../../v1", True),
        ("http://evil.example/hub-llm:8000/v1", False),
        ("https://hub-llm:8000/v1", False),  # another scheme
        ("http://hub-llm/v1", False),  # port 80
    ],
)
def test_urls_are_matched_part_by_part(policy: pytest.MonkeyPatch, spec: str, allowed: bool) -> None:
    policy.setenv("NBCHAT_ALLOWED_MODELS", "http://[fd00::1]:8000/*, http://hub-llm:8000/*")
    assert current_policy().allows(spec) is allowed


def test_local_paths_are_resolved_before_matching(policy: pytest.MonkeyPatch, tmp_path: Path) -> None:
    zoo, outside = tmp_path / "modelzoo", tmp_path / "elsewhere"
    (zoo / "good").mkdir(parents=True)
    (outside / "evil").mkdir(parents=True)
    (zoo / "link").symlink_to(outside / "evil")
    policy.setenv("NBCHAT_ALLOWED_MODELS", f"local:{zoo}/*")
    p = current_policy()
    assert p.allows(str(zoo / "good"))
    assert p.allows(f"{zoo}/../modelzoo/good")
    assert not p.allows(f"{zoo}/../elsewhere/evil")
    assert not p.allows(f"{zoo}/../../{tmp_path.name}/elsewhere/evil")
    assert not p.allows(str(zoo / "link"))  # a symbolic link leads out of the zoo
    assert not p.allows(f"{zoo}/../../../../tmp/evil")


def test_the_backend_is_checked_by_what_it_contacts(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_ALLOWED_MODELS", "openai:*")
    policy.setenv("OPENAI_API_KEY", "sk-test-key-123456")
    with pytest.raises(nbchat.ModelNotAllowedError, match=r"http://anywhere:80/v1"):
        nbchat.Chat("openai:gpt-4o-mini", base_url="http://anywhere/v1", api_key="sk-other-key-1234", prepare="lazy")
    backend = resolve_backend("openai:gpt-4o-mini")  # the official endpoint: admitted
    assert identities(backend) == ["openai:gpt-4o-mini", "https://api.openai.com:443/v1"]


def test_a_refusal_never_prints_a_password(policy: pytest.MonkeyPatch) -> None:
    policy.setenv("NBCHAT_ALLOWED_MODELS", "http://hub-llm:8000/*")
    with pytest.raises(nbchat.ModelNotAllowedError) as info:
        nbchat.Chat("https://u:sk-secret-pw-123@elsewhere.example/v1?api_key=sk-q-456", prepare="lazy")
    text = str(info.value)
    assert "sk-secret-pw-123" not in text
    assert "sk-q-456" not in text
    assert "elsewhere.example" in text
