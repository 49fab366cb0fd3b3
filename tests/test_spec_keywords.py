"""``Conversation(spec, model=..., source=...)``, ``Chat(spec, model=...)``: the served model's name as a keyword.

These need the controller and the widget to take the spec as their first parameter and forward ``model=`` and
``source=`` to :func:`nbchat.backends.resolve_backend`.
"""

from __future__ import annotations

import pytest

import nbchat


def test_server_url_with_model_name(openai_stub) -> None:
    conv = nbchat.Conversation(f"{openai_stub.url}/v1", model="echo", prepare="now")
    assert conv.ask("hi") == "You said: hi"
    assert openai_stub.requests[-1]["model"] == "echo"


def test_client_object_with_model_name(openai_stub) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{openai_stub.url}/v1", api_key="sk-local")
    assert nbchat.Conversation(client, model="echo", prepare="now").ask("hi") == "You said: hi"


def test_source_and_model_keywords(openai_stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCHAT_KIMI_BASE_URL", f"{openai_stub.url}/v1")
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-moon")
    conv = nbchat.Conversation(source="kimi", model="echo", prepare="now")
    assert conv.ask("hi") == "You said: hi"
    assert conv.backend.describe()["source"] == "kimi"


def test_chat_widget_with_server_url_and_model(openai_stub, comms) -> None:
    chat = nbchat.Chat(f"{openai_stub.url}/v1", model="echo", prepare="now")
    assert chat.ask("hi") == "You said: hi"
    assert chat.model_label == "echo · openai"
