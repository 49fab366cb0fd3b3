"""The embedded model's Q8_0 copy (nbchat/backends/_requantize.py): what it holds, when it is made, what loads it.

The copy's speed is a benchmark figure (``python -m benchmarks --only weights``), not tested here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

import nbchat
from nbchat._embedded import embedded_gguf_path
from nbchat.backends._requantize import checked_requantize, requantized_gguf
from nbchat.backends.llamacpp import LlamaCppBackend

gguf = pytest.importorskip("gguf")  # a dependency of nbchat: never skipped where nbchat is installed
T = gguf.GGMLQuantizationType

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]


@pytest.fixture(scope="module")
def copy() -> Path:
    """The Q8_0 copy in the test cache (made once per cache directory, as for users)."""
    made = requantized_gguf(embedded_gguf_path(), "Q8_0")
    assert made is not None
    return made


def test_every_q4_1_weight_becomes_q8_0_within_half_a_step_and_the_rest_is_copied(copy: Path) -> None:
    shipped = {t.name: t for t in gguf.GGUFReader(embedded_gguf_path()).tensors}
    made = {t.name: t for t in gguf.GGUFReader(copy).tensors}
    assert made.keys() == shipped.keys()
    requantized = 0
    for name, source in shipped.items():
        target = made[name]
        if source.tensor_type == T.Q4_1:
            assert target.tensor_type == T.Q8_0, name
            before = gguf.quants.dequantize(source.data, T.Q4_1).reshape(-1, 32)
            after = gguf.quants.dequantize(target.data, T.Q8_0).reshape(-1, 32)
            step = np.abs(before).max(axis=1, keepdims=True) / 127  # Q8_0's step per block of 32
            # half a step, plus the rounding of the step itself to float16 (Q8_0 stores it as float16)
            assert (np.abs(after - before) <= step * (0.5 + 127 * 2**-11) + 1e-7).all(), name
            requantized += 1
        else:  # the float norms and the Q8_0 token embeddings: the same bytes
            assert target.tensor_type == source.tensor_type, name
            assert np.array_equal(target.data, source.data), name
    assert requantized == 30 * 7  # every weight matrix of the 30 layers


def test_the_metadata_is_copied_and_the_file_type_says_q8_0(copy: Path) -> None:
    def fields(path: Path) -> dict[str, object]:
        return {f.name: f.contents() for f in gguf.GGUFReader(path).fields.values() if not f.name.startswith("GGUF.")}

    shipped, made = fields(embedded_gguf_path()), fields(copy)
    assert made.pop("general.file_type") == gguf.LlamaFileType.MOSTLY_Q8_0
    shipped.pop("general.file_type")
    assert made == shipped  # chat template, vocabulary, architecture and hyper-parameters


def test_the_copy_is_what_llama_cpps_own_quantizer_writes(copy: Path, tmp_path: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (optional) carries llama.cpp's quantizer")
    import ctypes

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    reference = tmp_path / "llama-quantize.gguf"
    status = llama_cpp.llama_model_quantize(
        str(embedded_gguf_path()).encode(), str(reference).encode(), ctypes.byref(params)
    )
    assert status == 0
    theirs = {t.name: t for t in gguf.GGUFReader(reference).tensors}
    ours = {t.name: t for t in gguf.GGUFReader(copy).tensors}
    assert ours.keys() == theirs.keys()
    for name, tensor in ours.items():
        assert tensor.tensor_type == theirs[name].tensor_type, name
        assert np.array_equal(tensor.data, theirs[name].data), name


def test_made_once_again_after_the_file_changes_and_never_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBCHAT_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "model.gguf"
    source.write_bytes(embedded_gguf_path().read_bytes())
    said: list[str] = []
    first = requantized_gguf(source, progress=said.append)
    assert first is not None
    assert first.is_file()
    assert said == ["making a Q8_0 copy of model.gguf for faster prompts (once)…"]
    made_at = first.stat().st_mtime_ns
    assert requantized_gguf(source, progress=said.append) == first  # found, not made again
    assert first.stat().st_mtime_ns == made_at
    assert len(said) == 1
    os.utime(source, ns=(made_at + 10**9, made_at + 10**9))  # an updated file gets a copy of its own
    second = requantized_gguf(source)
    assert second is not None
    assert second != first
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, second.name])  # no temporary files


def test_an_unwritable_cache_loads_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("NBCHAT_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger="nbchat"):
        assert requantized_gguf(embedded_gguf_path()) is None
    assert "could not make a Q8_0 copy of SmolLM2-135M-Instruct.Q4_1.gguf" in caplog.text
    backend = LlamaCppBackend.embedded(n_ctx=512, requantize="Q8_0")
    conv = nbchat.Conversation(backend, prepare="now", max_new_tokens=4)
    try:
        assert conv.backend.describe()["weights"] == "as in the file"
        assert conv.ask("Hi")
    finally:
        conv.close()


def test_a_chat_loads_the_copy_only_when_asked(copy: Path) -> None:
    """The shipped Q4_1 file by default: its greedy replies do not depend on how a prompt was split into batches
    (tests/test_local_engines.py::test_greedy_is_deterministic), the copy's may (see nbchat/backends/_requantize.py)."""
    default = LlamaCppBackend.embedded(n_ctx=512)
    assert default.requantize is None
    default.prepare()
    assert default.engine_path == embedded_gguf_path()
    assert default.describe()["weights"] == "as in the file"
    asked = LlamaCppBackend.embedded(n_ctx=512, requantize="Q8_0")
    asked.prepare()
    assert asked.engine_path == copy
    assert asked.describe()["weights"] == "Q8_0 copy"
    assert asked.describe()["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert asked.policy_identities()[0] == "embedded"  # an administrator's policy still sees the embedded model
    conv = nbchat.Conversation(asked, prepare="now", temperature=0, max_new_tokens=8)
    try:
        assert conv.ask("Name a colour.").strip()
    finally:
        conv.close()


def test_an_unknown_weight_type_is_refused_with_the_types_there_are() -> None:
    assert checked_requantize(None) is None
    with pytest.raises(ValueError, match=r"requantize must be one of 'Q8_0' or None, got 'Q4_0'"):
        LlamaCppBackend(embedded_gguf_path(), requantize="Q4_0")


def test_llama_cpp_python_loads_the_same_copy_when_asked(copy: Path) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (optional) is not installed")
    from nbchat.backends.llamacpp_python import LlamaCppPythonBackend

    backend = LlamaCppPythonBackend.embedded(n_ctx=512, requantize="Q8_0")
    conv = nbchat.Conversation(backend, prepare="now", temperature=0, max_new_tokens=8)
    try:
        assert backend.engine_path == copy
        assert backend.describe()["weights"] == "Q8_0 copy"
        assert conv.ask("Name a colour.").strip()
    finally:
        conv.close()


def test_a_saved_conversation_keeps_its_weights(copy: Path, tmp_path: Path) -> None:
    conv = nbchat.Conversation(requantize="Q8_0", n_ctx=512, prepare="now", temperature=0, max_new_tokens=4)
    try:
        conv.ask("Hi")
        conv.save(tmp_path / "chat.json")
    finally:
        conv.close()
    loaded = nbchat.Conversation.load(tmp_path / "chat.json", prepare="now")
    try:
        assert loaded.backend.describe()["weights"] == "Q8_0 copy"
        assert loaded.backend.engine_path == copy
    finally:
        loaded.close()
