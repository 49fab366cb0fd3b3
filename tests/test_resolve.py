"""One way to name a model: resolve_backend for every spec form, and local names found like LazyLLM finds them.

The local-name tests build a model zoo in tmp_path with a tiny real Llama chat model (random weights, the embedded
SmolLM2 tokenizer and chat template), so the answers are garbage but stream like any model's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import nbchat
from nbchat.backends import Backend, resolve_backend
from nbchat.backends.callable import CallableBackend
from nbchat.backends.fake import FakeBackend
from nbchat.backends.openai import OpenAIBackend
from nbchat.backends.tgi import TGIBackend
from nbchat.backends.transformers import TransformersBackend
from tests.tiny_models import save_tiny_chat_model


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory, embedded_ready: None) -> Path:
    """A 1-layer Llama with hidden size 16 and SmolLM2's tokenizer: a real chat model in ~1 MB of weights."""
    return save_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "tiny-chat")


@pytest.fixture
def zoo(tmp_path: Path, tiny_chat_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$NBCHAT_MODEL_PATH = <missing dir>:<zoo>, the zoo holding tiny-chat/ and smol.gguf; an empty HF cache."""
    zoo = tmp_path / "modelzoo"
    zoo.mkdir()
    (zoo / "tiny-chat").symlink_to(tiny_chat_model, target_is_directory=True)
    from nbchat._embedded import embedded_gguf_path

    (zoo / "smol.gguf").symlink_to(embedded_gguf_path())
    monkeypatch.setenv("NBCHAT_MODEL_PATH", os.pathsep.join([str(tmp_path / "not-there"), str(zoo)]))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return zoo


def test_local_name_from_the_model_zoo_answers(zoo: Path) -> None:
    conv = nbchat.Conversation("tiny-chat", prepare="now", max_new_tokens=5, temperature=0)
    assert isinstance(conv.backend, TransformersBackend)
    assert conv.backend.model == "tiny-chat"
    deltas: list[str] = []
    conv.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    reply = conv.ask("Which animals live in the savanna?")
    assert deltas
    assert reply == "".join(deltas)
    stats = conv.history[-1].stats
    assert stats["finish_reason"] in ("length", "stop")
    assert 1 <= stats["tokens"] <= 5


def test_gguf_file_in_the_zoo(zoo: Path) -> None:
    from nbchat.backends._resolve import gguf_backend_kind

    backend = resolve_backend("smol")
    assert backend.kind == gguf_backend_kind()  # llama.cpp where installed, else transformers
    assert (backend.path, backend.model) == (zoo / "smol.gguf", "smol")  # found by name, not loaded yet
    backend = resolve_backend("smol", backend="transformers")
    assert isinstance(backend, TransformersBackend)
    assert backend.path == zoo / "smol.gguf"


def test_name_from_the_hugging_face_cache(
    tmp_path: Path, tiny_chat_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repo in the hub cache layout (models--org--name/refs + snapshots) is found by its id and by its bare name."""
    cache = tmp_path / "hub"
    repo = cache / "models--tinyorg--tiny-cached"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_chat_model, repo / "snapshots" / commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("NBCHAT_MODEL_PATH", raising=False)
    for name in ("tinyorg/tiny-cached", "tiny-cached", "TINY-CACHED"):
        backend = resolve_backend(name)
        assert isinstance(backend, TransformersBackend)
        assert backend.path == repo / "snapshots" / commit
    conv = nbchat.Conversation("tiny-cached", prepare="now", max_new_tokens=3)
    assert conv.ask("hi") is not None
    assert conv.history[-1].status == "done"


def test_unknown_name_lists_every_place_tried(zoo: Path, tmp_path: Path) -> None:
    with pytest.raises(nbchat.ModelNotFoundError) as info:
        nbchat.Conversation("no-such-chat-model")
    text = str(info.value)
    assert str(tmp_path / "not-there" / "no-such-chat-model") in text
    assert str(zoo / "no-such-chat-model") in text
    assert str(tmp_path / "hf-cache") in text
    assert "Hugging Face Hub" in text
    assert "NBCHAT_MODEL_PATH" in text
    assert "absolute path" in text
    assert "download" in text


def test_hub_download_failing_offline_lists_every_place_tried(zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub id is not looked up in the constructor; the download in load() fails offline, with the full list."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    conv = nbchat.Conversation("internlm2-chat-7b", prepare="lazy")  # a seed-tutorial name, known as a hub alias
    assert conv.backend.source == "internlm/internlm2-chat-7b"
    with pytest.raises(nbchat.NbchatError) as info:
        conv.wait_until_ready(timeout=60)
    text = str(info.value)
    for place in (
        str(zoo / "internlm2-chat-7b"),
        "Hugging Face cache",
        "internlm/internlm2-chat-7b",
        "NBCHAT_MODEL_PATH",
    ):
        assert place in text
    assert isinstance(conv.load_error, nbchat.ModelNotFoundError)


def test_source_name_without_colon_hints_at_the_spec(zoo: Path) -> None:
    with pytest.raises(nbchat.ModelNotFoundError, match="write 'kimi:'"):
        resolve_backend("kimi")


def test_missing_path_and_model_zoo_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(nbchat.ModelNotFoundError, match="does not exist"):
        resolve_backend(str(tmp_path / "models" / "chatglm3-6b"))
    monkeypatch.delenv("NBCHAT_MODEL_PATH", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(nbchat.ModelNotFoundError, match=r"\$NBCHAT_MODEL_PATH — not set"):
        resolve_backend("no-such-chat-model")


# ---------------------------------------------------------------------------------------------- spec forms
def test_server_and_source_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-moon")
    monkeypatch.delenv("NBCHAT_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("NBCHAT_KIMI_BASE_URL", raising=False)
    openai_ = resolve_backend("openai:gpt-4o-mini")
    assert isinstance(openai_, OpenAIBackend)
    assert (openai_.model, openai_.base_url, openai_.source.name) == (
        "gpt-4o-mini",
        "https://api.openai.com/v1",
        "openai",
    )
    for kimi in (resolve_backend("kimi:"), resolve_backend(source="kimi"), resolve_backend("KIMI:")):
        assert (kimi.model, kimi.base_url) == ("moonshot-v1-8k", "https://api.moonshot.cn/v1")
    assert resolve_backend(source="kimi", model="moonshot-v1-32k").model == "moonshot-v1-32k"
    server = resolve_backend("http://127.0.0.1:8000/v1", model="chatglm3-6b")
    assert (server.model, server.base_url, server.describe().get("source")) == (
        "chatglm3-6b",
        "http://127.0.0.1:8000/v1",
        None,
    )
    tgi = resolve_backend("tgi:http://127.0.0.1:8080", prompt_format="chatml")
    assert isinstance(tgi, TGIBackend)
    assert (tgi.url, tgi.format.name) == ("http://127.0.0.1:8080", "chatml")


def test_object_and_callable_specs() -> None:
    import openai
    import text_generation

    client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="sk-x")
    assert isinstance(resolve_backend(client, model="m"), OpenAIBackend)
    assert isinstance(
        resolve_backend(text_generation.Client("http://127.0.0.1:8080"), prompt_format="falcon"), TGIBackend
    )
    assert isinstance(resolve_backend(lambda message, history: "hi"), CallableBackend)
    fake = FakeBackend()
    assert resolve_backend(fake) is fake
    assert resolve_backend(model=fake) is fake  # Conversation(model=...) keeps working
    assert isinstance(resolve_backend(), Backend)


def test_specs_that_do_not_fit() -> None:
    with pytest.raises(TypeError, match="existing backend"):
        resolve_backend(FakeBackend(), device="cpu")
    with pytest.raises(TypeError, match="local model"):
        resolve_backend("tiny-chat", model="x")
    with pytest.raises(TypeError, match="either"):
        resolve_backend("http://127.0.0.1:8000/v1", source="kimi")
    with pytest.raises(TypeError, match="already names"):
        resolve_backend("kimi:moonshot-v1-8k", model="other", api_key="sk-x")
    with pytest.raises(nbchat.ModelNotFoundError, match="Known sources: openai"):
        resolve_backend("chatgpt:gpt-4")
    with pytest.raises(TypeError, match="Cannot chat"):
        resolve_backend(42)
