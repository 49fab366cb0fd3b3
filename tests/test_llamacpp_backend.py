"""What only the llama.cpp engine has: shared engines, its context window, seeds, choosing it.

The behaviour the local engines share (streaming, Stop, stop strings, prefix reuse, ...) is tested on each in
tests/test_local_engines.py. These tests fail (they do not skip) when xllamacpp is missing: nbchat depends on it.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

import pytest

import nbchat
from nbchat._errors import BackendError, MissingDependencyError
from nbchat._settings import GenerationSettings
from nbchat.backends import GenerationInfo
from nbchat.backends._resolve import gguf_backend_kind
from nbchat.backends.llamacpp import INSTALL_COMMAND, LlamaCppBackend, physical_cores
from nbchat.backends.llamacpp_python import INSTALL_COMMAND as COMPILE_COMMAND

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready", "llama_cpp_ready")]

STORY = "Write a long story about elephants."


@pytest.fixture(scope="session")
def llama_cpp_ready() -> None:
    """Import xllamacpp: its absence is an error with the install command, not a skip."""
    from nbchat.backends.llamacpp import import_xllamacpp

    import_xllamacpp()


def make(**options: Any) -> nbchat.Conversation:
    backend_options = {k: options.pop(k) for k in ("n_ctx", "n_threads", "seed", "prefix_cache") if k in options}
    settings: dict[str, Any] = {"temperature": 0, "max_new_tokens": 24, **options}
    return nbchat.Conversation(LlamaCppBackend.embedded(**backend_options), prepare="now", **settings)


@pytest.fixture(scope="module")
def conversation() -> nbchat.Conversation:
    return make()


def test_context_window_and_prompt_before_and_after_loading(conversation: nbchat.Conversation) -> None:
    """(tests/test_local_engines.py checks the prompt is the one transformers renders, token for token.)"""
    messages = [{"role": "user", "content": "Which animals live in the savanna?"}]
    assert LlamaCppBackend.embedded(n_ctx=768).render_prompt(messages) is None  # not loaded yet
    assert LlamaCppBackend.embedded(n_ctx=768).count_tokens(messages) is None
    assert conversation.backend.context_window == 4096  # min(trained context 8192, the 4096 default cap)


def test_closing_the_stream_early_keeps_the_model_usable(conversation: nbchat.Conversation) -> None:
    backend = conversation.backend
    messages = [{"role": "user", "content": STORY}]
    settings = GenerationSettings(temperature=0, max_new_tokens=50)
    full_info = GenerationInfo()
    full = "".join(backend.stream(messages, settings, full_info, threading.Event()))
    stream = backend.stream(messages, settings, GenerationInfo(), threading.Event())
    first = [next(stream), next(stream)]
    stream.close()  # a consumer that stops reading: generator closed between tokens
    assert full.startswith("".join(first))
    info = GenerationInfo()
    again = "".join(backend.stream(messages, settings, info, threading.Event()))
    assert again == full
    assert info.cached_tokens == info.prompt_tokens - 1  # the prompt was still in the cache
    assert info.completion_tokens == full_info.completion_tokens == 50
    assert info.finish_reason == "length"


def test_instances_are_shared_per_file_context_and_threads() -> None:
    a, b = LlamaCppBackend.embedded(), LlamaCppBackend.embedded(name="another label")
    c = LlamaCppBackend.embedded(n_ctx=512)
    for backend in (a, b, c):
        backend.prepare()
    assert a._shared is b._shared  # type: ignore[attr-defined]
    assert a._shared.server is b._shared.server  # type: ignore[attr-defined]
    assert c._shared is not a._shared  # type: ignore[attr-defined]
    assert c.context_window == 512


def test_two_chats_on_one_model_take_turns() -> None:
    """Two conversations on the same Llama generate at the same time: the lock serialises them, both finish."""
    one, two = make(max_new_tokens=16), make(max_new_tokens=16)
    expected = one.ask("Name a bird.")
    one.clear()
    futures = [one.send("Name a bird."), two.send("Name a bird.")]
    replies = [f.result(timeout=60) for f in futures]
    assert [r.status for r in replies] == ["done", "done"]
    assert [r.content for r in replies] == [expected, expected]


def test_a_prompt_beyond_the_context_window_is_an_error_in_the_chat() -> None:
    conv = make(n_ctx=256, max_new_tokens=16)
    reply = conv.send("lion " * 400).result(timeout=60)
    assert reply.status == "error"
    assert "context window of 256" in (reply.error or "")
    assert "n_ctx=" in (reply.error or "")


def test_old_turns_are_dropped_to_fit_the_context_window() -> None:
    conv = make(n_ctx=256, max_new_tokens=16)
    note = "The savanna is a grassland with scattered trees where lions hunt zebras and antelopes. " * 3
    for n in range(4):
        conv.ask(f"Note {n}: {note}")
    stats = conv.history[-1].stats
    assert conv.history[-1].status == "done"
    assert stats["left_out"] > 0
    assert stats["prompt_tokens"] + 16 <= 256


def test_sampling_with_a_seed_is_reproducible() -> None:
    conv = make(temperature=1.0, top_p=0.9, max_new_tokens=20, seed=1234)
    first = conv.ask("Invent a name for a cat.")
    conv.clear()
    assert conv.ask("Invent a name for a cat.") == first


def test_widget_shows_the_backend_and_streams(comms: list) -> None:  # type: ignore[type-arg]
    chat = nbchat.Chat(conversation=make(max_new_tokens=16))
    reply = chat.ask("Hello!")
    deltas = comms[-1].custom("delta")
    assert reply
    assert deltas
    assert "".join(d["text"] for d in deltas) == reply
    assert chat.model_label == "SmolLM2-135M-Instruct · llama.cpp"
    assert chat.max_new_tokens_limit == 4096
    assert chat.status_text == "ready · cpu"


def test_describe_names_the_backend_without_paths(conversation: nbchat.Conversation) -> None:
    info = conversation.backend.describe()
    assert info == {
        "backend": "llama.cpp",
        "model": "SmolLM2-135M-Instruct",
        "context_window": 4096,
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "weights": "as in the file",  # not a re-quantized copy (requantize=None)
        "n_ctx": 4096,
        "n_threads": 1,  # a small model decodes fastest on one thread
        "n_threads_batch": physical_cores(),
        "device": "cpu",
    }
    assert "/" not in repr(info)


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` look uninstalled to nbchat's checks (which use find_spec, never import)."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in modules else real_find_spec(name, *a)
    )


def test_choosing_the_backend_for_a_gguf_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gguf_backend_kind() == "llama.cpp"  # a dependency of nbchat: chosen automatically
    assert gguf_backend_kind("transformers") == "transformers"
    assert gguf_backend_kind(None, {"dtype": "bfloat16"}) == "transformers"  # an option only transformers has
    with pytest.raises(ValueError, match="backend must be one of"):
        gguf_backend_kind("llamacpp")
    hide(monkeypatch, "xllamacpp", "llama_cpp")
    assert gguf_backend_kind() == "transformers"  # neither installed: transformers runs GGUF files too
    assert nbchat.Conversation(prepare="lazy").backend.kind == "transformers"
    with pytest.raises(MissingDependencyError):
        gguf_backend_kind(None, {"n_threads": 2})  # an option only llama.cpp has
    with pytest.raises(MissingDependencyError) as caught:
        gguf_backend_kind("llama.cpp")
    assert INSTALL_COMMAND in str(caught.value)
    with pytest.raises(MissingDependencyError) as caught:
        gguf_backend_kind("llama-cpp-python")
    assert COMPILE_COMMAND in str(caught.value)  # the optional engine still says how to build it
    assert "-DGGML_NATIVE=OFF" in str(caught.value)
    with pytest.raises(MissingDependencyError):
        LlamaCppBackend.embedded()


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is optional")
def test_llama_cpp_python_runs_gguf_files_where_xllamacpp_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert nbchat.Conversation(backend="llama-cpp-python", prepare="lazy").backend.kind == "llama-cpp-python"
    hide(monkeypatch, "xllamacpp")
    assert gguf_backend_kind() == "llama-cpp-python"
    assert nbchat.Conversation(n_threads=1, prepare="lazy").backend.kind == "llama-cpp-python"


def test_backend_option_chooses_the_engine_for_gguf(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert nbchat.Conversation(prepare="lazy").backend.kind == "llama.cpp"  # installed: the default for the embedded
    assert nbchat.Conversation("embedded", prepare="lazy").backend.kind == "llama.cpp"
    assert nbchat.Conversation(backend="llama.cpp", prepare="lazy").backend.kind == "llama.cpp"
    assert nbchat.Conversation(backend="transformers", prepare="lazy").backend.kind == "transformers"
    assert nbchat.Conversation(dtype="bfloat16", prepare="lazy").backend.kind == "transformers"  # a transformers option
    assert nbchat.Conversation(n_threads=1, prepare="lazy").backend.n_threads == 1
    # any .gguf file, by path or by name in a model-zoo directory
    from nbchat._embedded import embedded_gguf_path

    (tmp_path / "tiny.gguf").symlink_to(embedded_gguf_path())
    assert nbchat.Conversation(str(tmp_path / "tiny.gguf"), prepare="lazy").backend.kind == "llama.cpp"
    monkeypatch.setenv("NBCHAT_MODEL_PATH", str(tmp_path))
    zoo = nbchat.Conversation("tiny", prepare="lazy").backend
    assert (zoo.kind, zoo.model) == ("llama.cpp", "tiny")
    assert nbchat.Conversation("tiny", backend="transformers", prepare="lazy").backend.kind == "transformers"
    with pytest.raises(ValueError, match="backend must be"):
        nbchat.Conversation(backend="vllm", prepare="lazy")
    assert nbchat.Conversation("tiny", backend="llama.cpp", prepare="lazy").backend.kind == "llama.cpp"
    with pytest.raises(ValueError, match=r"runs \.gguf files"):
        nbchat.Conversation(str(tmp_path), backend="llama.cpp", prepare="lazy")  # a directory: transformers' kind
    with pytest.raises(ValueError, match="engine of a local model"):
        nbchat.Conversation(lambda m, h: "x", backend="llama.cpp", prepare="lazy")
    with pytest.raises(ValueError, match="is a server"):
        nbchat.Conversation("http://127.0.0.1:9/v1", backend="transformers", prepare="lazy")
    with pytest.raises(ValueError, match="pass the options of one"):
        nbchat.Conversation(dtype="float32", n_threads=1, prepare="lazy")


def test_copy_as_code_names_the_engine_that_answered(capsys: pytest.CaptureFixture[str]) -> None:
    conv = nbchat.Conversation(temperature=0, max_new_tokens=12, prepare="now")  # the default engine: llama.cpp
    conv.ask("Hi!")
    reply = conv.ask("Name a fruit.")
    code = conv.request_code(conv.history[-1].id)
    assert "backend='llama.cpp'," in code  # the same engine wherever the snippet runs
    capsys.readouterr()
    exec(compile(code, "<copied code>", "exec"), {})
    assert capsys.readouterr().out == reply + "\n"


def test_the_gguf_header_reads_as_the_gguf_package_reads_it(tmp_path: Any) -> None:
    """nbchat reads a few keys of the header (the gguf package builds every field first: seconds); same values."""
    import gguf

    from nbchat._embedded import embedded_gguf_path
    from nbchat.backends._gguf_tokens import gguf_metadata

    reader = gguf.GGUFReader(embedded_gguf_path())
    meta = gguf_metadata(embedded_gguf_path())
    assert meta["chat_template"] == reader.get_field("tokenizer.chat_template").contents()
    assert meta["context_length"] == reader.get_field("llama.context_length").contents() == 8192
    # a base model: no chat template, refused with a clear error before llama.cpp starts
    writer = gguf.GGUFWriter(tmp_path / "base.gguf", "llama")
    writer.add_context_length(2048)
    writer.add_token_list(["a", "b", "<s>"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    assert gguf_metadata(tmp_path / "base.gguf") == {
        "chat_template": None,
        "context_length": 2048,
        "special_tokens": {},
    }
    with pytest.raises(BackendError, match="no chat template"):
        LlamaCppBackend(tmp_path / "base.gguf").prepare()
    (tmp_path / "not.gguf").write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(BackendError, match="not a GGUF file"):
        LlamaCppBackend(tmp_path / "not.gguf").prepare()
