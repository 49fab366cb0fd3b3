"""The real ``transformers serve`` (an OpenAI-compatible server) on 127.0.0.1, serving the embedded SmolLM2.

``transformers serve <dir>`` pins the server to that model: requests must name it by the same path (other names
get 400), and it preloads it. ``GET /v1/models`` lists the Hugging Face cache instead, and answers 500 when there
is no cache directory, so clients must pass the model name. ``HF_HUB_OFFLINE=1`` keeps it from the network.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ._runner import free_port, wait_until_up

__all__ = ["ServedModel", "embedded_model_dir", "start_transformers_serve", "stop_process"]


@dataclasses.dataclass
class ServedModel:
    """A running ``transformers serve``: ``base_url`` (ends in /v1), the ``model`` name to request, the process."""

    base_url: str
    model: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self, kill: bool = False) -> None:
        """End the server (see :func:`stop_process`) and remove its log."""
        stop_process(self.proc, kill=kill)
        self.log.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for assertion messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def embedded_model_dir() -> Path:
    """The embedded GGUF as a transformers directory (converted once into nbchat's cache, ~20 s)."""
    from nbchat.backends.transformers import TransformersBackend

    return Path(TransformersBackend.embedded().model_dir())


def start_transformers_serve(model_dir: Path, port: int | None = None, timeout: float = 120) -> ServedModel:
    """Start ``transformers serve`` for ``model_dir`` on 127.0.0.1 and wait until ``/health`` answers."""
    port = port or free_port()
    cli = Path(sys.executable).with_name("transformers")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "transformers.cli.transformers"]
    log = Path(tempfile.gettempdir()) / f"nbchat-transformers-serve-{port}.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        # no Hugging Face cache: GET /v1/models answers 500, as on a fresh machine (clients must name the model)
        "HF_HUB_CACHE": str(Path(tempfile.gettempdir()) / f"nbchat-no-hf-cache-{port}"),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    args = ["serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(
        [*command, *args, "--dtype", "float32", "--log-level", "warning"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout=timeout)
    except BaseException:
        stop_process(proc)
        raise
    return ServedModel(f"http://127.0.0.1:{port}/v1", str(model_dir), proc, port, log)


def stop_process(proc: subprocess.Popen[bytes], kill: bool = False) -> None:
    """End ``proc`` (SIGKILL if ``kill``, else SIGTERM, then SIGKILL after 10 s) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()
