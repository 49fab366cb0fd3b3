"""``nbchat serve``: llama.cpp's own server (xllamacpp) with parallel slots, as a class would run it.

The server is a real llama.cpp server process on 127.0.0.1; nbchat talks to it as to any OpenAI-compatible server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import nbchat
from nbchat._cli import main
from tests.servers._runner import free_port, wait_until_up

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("embedded_ready")]

ROOT = Path(__file__).resolve().parents[1]


def healthy(url: str, timeout: float = 120) -> None:
    """Wait until llama.cpp's ``/health`` answers 200 (it answers 503 while the model loads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:  # HTTPError 503, or not listening yet
            pass
        time.sleep(0.1)
    msg = f"{url} did not answer 200 within {timeout} s"
    raise RuntimeError(msg)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLASS_KEY": "k-class-123"}
    command = [sys.executable, "-m", "nbchat", "serve", "--slots", "2", "--ctx-per-slot", "1024", "--port", str(port),
               "--api-key-env", "CLASS_KEY"]  # fmt: skip
    # started as a shell starts a command in the background (`cmd &`): SIGINT inherited ignored; SIGINT still stops it
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout=120)
        healthy(f"http://127.0.0.1:{port}/health")  # 503 while llama.cpp still loads the model
        yield f"http://127.0.0.1:{port}/v1", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)


def test_two_students_are_answered_at_the_same_time(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, _ = served
    students = [nbchat.Conversation(url, api_key="k-class-123", temperature=0, max_new_tokens=12, prepare="now")
                for _ in range(2)]  # fmt: skip
    alone = students[0].ask("Name a bird.")
    students[0].clear()
    futures = [s.send("Name a bird.") for s in students]
    replies = [f.result(timeout=120) for f in futures]
    assert [r.status for r in replies] == ["done", "done"]
    assert [r.content for r in replies] == [alone, alone]  # greedy: the same answer in either slot
    assert all(0 < r.stats["tokens"] <= 12 for r in replies)


def test_the_key_is_required_and_ctrl_c_stops_it(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = served
    wrong = nbchat.Conversation(url, model="SmolLM2-135M-Instruct", api_key="not-the-key", prepare="now")
    reply = wrong.send("Hi").result(timeout=60)
    assert reply.status == "error"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"at {url}" in out  # the URL to give nbchat.Chat
    assert 'api_key=os.environ["CLASS_KEY"]' in out
    assert "k-class-123" not in out  # the key itself is never printed


def test_bad_flags_are_refused_before_llama_cpp_starts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--slots", "0"]) == 2
    assert "--slots must be at least 1" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "missing.gguf")]) == 2
    assert "runs a .gguf file" in capsys.readouterr().err
    os.environ.pop("NBCHAT_TEST_UNSET_KEY", None)
    assert main(["serve", "--api-key-env", "NBCHAT_TEST_UNSET_KEY"]) == 2
    assert "NBCHAT_TEST_UNSET_KEY is empty or unset" in capsys.readouterr().err


def test_the_embedded_model_is_served_from_its_q8_0_copy_unless_asked_not_to() -> None:
    """Continuous batching multiplies several students' tokens at once: the batched kernel's copy is the default for
    the embedded model (nbchat/backends/_requantize.py), the file as it is for other files and with ``none``."""
    from nbchat._cli import build_parser
    from nbchat._embedded import embedded_gguf_path
    from nbchat._serve import engine_params
    from nbchat.backends._requantize import requantized_gguf

    parser = build_parser()
    copy = requantized_gguf(embedded_gguf_path())
    assert copy is not None
    assert engine_params(parser.parse_args(["serve"])).model.path == str(copy)
    assert engine_params(parser.parse_args(["serve", "--requantize", "none"])).model.path == str(embedded_gguf_path())
    other = parser.parse_args(["serve", str(embedded_gguf_path())])  # a file given by path: as it is unless asked
    assert engine_params(other).model.path == str(embedded_gguf_path())
    asked = parser.parse_args(["serve", str(embedded_gguf_path()), "--requantize", "Q8_0"])
    assert engine_params(asked).model.path == str(copy)
