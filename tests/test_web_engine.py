"""The room's shared engine for a transformers model: ``nbchat web MODEL_DIR`` starts one real ``transformers serve
--continuous-batching`` (nbchat._web.RoomEngine) on 127.0.0.1, and several conversations are answered by it at once."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest

import nbchat
from nbchat._web import RoomEngine, shared_engine_spec
from nbchat.backends.openai import OpenAIBackend
from tests.tiny_models import save_tiny_chat_model

pytestmark = [pytest.mark.server]


def test_a_transformers_model_is_served_once_for_the_room(tmp_path: Path) -> None:
    model = save_tiny_chat_model(tmp_path / "tiny-chat")
    spec = shared_engine_spec(str(model))
    assert spec is not None
    assert spec.engine == "transformers"
    engine = RoomEngine(spec, slots=3, ctx_per_slot=512, log=tmp_path / "engine.log")
    try:
        name = engine.start(timeout=300)
        assert name == str(model)  # requests name the model the engine was started with
        assert engine.process is not None
        assert "--continuous-batching" in psutil.Process(engine.process.pid).cmdline()
        replies: dict[int, str] = {}

        def visitor(number: int) -> None:  # each visitor's kernel: its own conversation on the same engine
            backend = OpenAIBackend(name, base_url=engine.url, timeout=240)
            conv = nbchat.Conversation(backend, max_new_tokens=8, temperature=0)  # type: ignore[arg-type]
            replies[number] = conv.ask(f"Hello, I am visitor {number}.")

        threads = [threading.Thread(target=visitor, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert sorted(replies) == [0, 1, 2], engine.log.read_text(errors="replace")[-2000:]
        assert all(reply.strip() for reply in replies.values())  # random weights: some text, whatever it says
        # the bounded KV cache (3 x 512 tokens): transformers' own default sizes it from the machine's memory
        rss_mb = psutil.Process(engine.process.pid).memory_info().rss / 1e6
        assert rss_mb < 4000, f"the engine holds {rss_mb:.0f} MB"
    finally:
        engine.stop()
    assert engine.process is not None
    assert engine.process.poll() is not None  # stopped, as Ctrl+C on nbchat web does
