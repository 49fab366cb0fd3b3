"""Online sources: the preset table, API keys from the environment and .env, base-URL overrides.

No network: presets are pointed at the local OpenAI-compatible stub with $NBCHAT_<SOURCE>_BASE_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nbchat
from nbchat.backends import resolve_backend
from nbchat.backends.sources import SOURCES, find_api_key, get_source

FAKE_KEY = "sk-preset-SECRET-987654321"


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_source_keys: None) -> Path:
    """No source keys or base URLs in the environment, and the cwd in an empty tmp dir (no .env above it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_resolves_with_its_key(clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    source = SOURCES[name]
    monkeypatch.setenv(source.key_vars[-1], FAKE_KEY)
    model = source.default_model or "ep-20240101000000-abcde"
    backend = resolve_backend(f"{name}:{'' if source.default_model else model}")
    assert (backend.model, backend.base_url, backend.source) == (model, source.base_url.rstrip("/"), source)
    assert backend.describe() == {
        "backend": "openai",
        "model": model,
        "context_window": None,
        "base_url": source.base_url.rstrip("/"),
        "source": name,
    }
    assert FAKE_KEY not in repr(backend) + str(backend.describe())


def test_defaults_follow_lazyllm_except_retired_models() -> None:
    defaults = {name: s.default_model for name, s in SOURCES.items()}
    assert defaults["openai"] == "gpt-4o-mini"  # LazyLLM's gpt-3.5-turbo is retired
    assert defaults["sensenova"] == "SenseChat-5"
    assert defaults["glm"] == "glm-4"
    assert defaults["kimi"] == "moonshot-v1-8k"
    assert defaults["qwen"] == "qwen-plus"
    assert defaults["doubao"] is None  # needs an endpoint or model id of your own Ark account


def test_doubao_without_model_says_how_to_name_one(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARK_API_KEY", FAKE_KEY)
    with pytest.raises(nbchat.BackendError, match="endpoint id") as info:
        nbchat.Conversation(source="doubao")
    assert "doubao:ep-" in str(info.value)


def test_missing_key_names_the_variables_and_dotenv(clean_env: Path) -> None:
    with pytest.raises(nbchat.BackendError) as info:
        nbchat.Conversation("kimi:")
    text = str(info.value)
    for word in ("NBCHAT_KIMI_API_KEY", "MOONSHOT_API_KEY", "KIMI_API_KEY", ".env", "api_key=", "platform.moonshot.cn"):
        assert word in text


def test_keys_from_dotenv_upward_without_touching_environ(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("KIMI_API_KEY=from-dotenv-key\nNBCHAT_QWEN_BASE_URL=http://127.0.0.1:9/v1\n")
    nested = clean_env / "course" / "week1"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    kimi = get_source("kimi")
    assert find_api_key(kimi) == ("from-dotenv-key", ".env: KIMI_API_KEY")
    assert "KIMI_API_KEY" not in os.environ  # read, not loaded into the environment
    monkeypatch.setenv("MOONSHOT_API_KEY", "from-env-key")
    assert find_api_key(kimi) == ("from-env-key", "$MOONSHOT_API_KEY")  # the environment wins over .env
    monkeypatch.setenv("NBCHAT_KIMI_API_KEY", "nbchat-key")
    assert find_api_key(kimi)[0] == "nbchat-key"  # and NBCHAT_<SOURCE>_API_KEY over the provider's names
    # a base URL in .env goes with a key from the same .env file ...
    (clean_env / ".env").write_text("QWEN_API_KEY=dotenv-qwen-key\nNBCHAT_QWEN_BASE_URL=http://127.0.0.1:9/v1\n")
    assert resolve_backend("qwen:").base_url == "http://127.0.0.1:9/v1"
    # ... never with a key from the environment (a .env planted in a parent folder must not redirect it)
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    with pytest.raises(nbchat.BackendError, match="Refusing to send the Alibaba DashScope") as info:
        resolve_backend("qwen:")
    assert str(clean_env / ".env") in str(info.value)
    assert "base_url=..., api_key=..." in str(info.value)
    assert FAKE_KEY not in str(info.value)


def test_preset_requests_through_the_stub(clean_env: Path, monkeypatch: pytest.MonkeyPatch, openai_stub) -> None:
    """OpenAI presets send max_completion_tokens; SenseNova max_new_tokens and no temperature 0; the key is sent."""
    monkeypatch.setenv("NBCHAT_OPENAI_BASE_URL", f"{openai_stub.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    conv = nbchat.Conversation("openai:echo", prepare="now", max_new_tokens=30)
    assert conv.ask("hi") == "You said: hi"
    body = openai_stub.requests[-1]
    assert body["max_completion_tokens"] == 30
    assert "max_tokens" not in body
    assert conv.backend.describe()["source"] == "openai"
    assert FAKE_KEY not in repr(conv) + str(conv.backend.describe()) + str(conv.history[-1].to_dict())

    monkeypatch.setenv("NBCHAT_SENSENOVA_BASE_URL", f"{openai_stub.url}/auth/v1")
    monkeypatch.setenv("SENSENOVA_API_KEY", "sk-right")  # the stub's /auth prefix accepts only this key
    conv = nbchat.Conversation(source="sensenova", model="echo", prepare="now", temperature=0, max_new_tokens=30)
    assert conv.ask("hi") == "You said: hi"
    body = openai_stub.requests[-1]
    assert body["max_new_tokens"] == 30
    assert "temperature" not in body


def test_unknown_source() -> None:
    with pytest.raises(nbchat.BackendError, match="Known sources: openai, sensenova, glm, kimi, qwen, doubao"):
        get_source("chatgpt")
