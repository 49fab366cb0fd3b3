"""What only the transformers engine has, on the embedded SmolLM2-135M-Instruct converted from its GGUF file.

The behaviour both local engines share (streaming, Stop, stop strings, prefix reuse, ...) is tested on both in
tests/test_local_engines.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import nbchat
from nbchat.backends.transformers import TransformersBackend

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]


@pytest.fixture(scope="module")
def conversation() -> nbchat.Conversation:
    # explicit: with llama-cpp-python installed, the default for the embedded GGUF is llama.cpp
    return nbchat.Conversation(TransformersBackend.embedded(), prepare="now", temperature=0, max_new_tokens=24)


def test_stop_ends_the_generate_thread(conversation: nbchat.Conversation) -> None:
    """transformers generates in a thread of its own; Stop reaches it through a StoppingCriteria."""
    conversation.clear()
    conversation.settings = conversation.settings.replace(max_new_tokens=200)
    try:
        future = conversation.send("Write a long story about elephants.")
        while len((conversation.partial_reply() or ("", ""))[1]) < 10:
            time.sleep(0.01)
        conversation.stop()
        reply = future.result(timeout=10)
    finally:
        conversation.settings = conversation.settings.replace(max_new_tokens=24)
    assert reply.status == "stopped"
    assert not any(t.name == "nbchat-generate" for t in threading.enumerate())


def test_the_context_window_comes_from_the_model_config(comms: list) -> None:  # type: ignore[type-arg]
    chat = nbchat.Chat(conversation=nbchat.Conversation(TransformersBackend.embedded(), prepare="now"))
    backend = chat.conversation.backend
    assert backend.context_window == backend._model.config.max_position_embeddings == 8192  # type: ignore[attr-defined]
    assert chat.max_new_tokens_limit == 8192
    assert chat.status_text.startswith("ready")
    assert Path(backend.model_dir(), "config.json").is_file()  # the converted copy `transformers serve` can load
