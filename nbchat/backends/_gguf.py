"""Load a ``.gguf`` file with transformers, caching a converted (dequantized) copy for fast later starts.

transformers dequantizes GGUF weights at every load (~15 s for SmolLM2-135M on 2 cores). A GGUF-loaded model
refuses ``save_pretrained``, so the first load builds a fresh model from the same config, copies the state dict
into it and saves that (safetensors) with the tokenizer; later loads read the copy (~0.1-0.3 s).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .._embedded import cache_dir

__all__ = ["converted_gguf_dir", "quiet_progress_bars"]

logger = logging.getLogger(__name__)

_DONE = "nbchat-converted.ok"


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Hide transformers' tqdm bars while nbchat loads (the widget shows progress; bars would litter the cell)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _cache_key(gguf: Path) -> str:
    stat = gguf.stat()
    digest = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return f"{gguf.stem}-{digest[:12]}"


def converted_gguf_dir(gguf: Path, *, convert: bool = True) -> Path | None:
    """Directory holding a transformers copy of ``gguf``, converting it first if needed.

    Parameters
    ----------
    gguf : Path
        The ``.gguf`` file.
    convert : bool, default True
        If False, only look: return ``None`` when no converted copy exists yet.

    Returns
    -------
    Path or None
        ``None`` if ``convert`` is False and there is no copy yet, or if the cache is not writable.
        Otherwise ``<cache_dir>/gguf/<stem>-<hash>`` (see :func:`nbchat._embedded.cache_dir`); the hash covers
        the file's path, size and modification time, so an updated file is converted again.

    Notes
    -----
    The copy is written to a temporary directory and renamed into place, so two kernels converting at once
    cannot leave a half-written copy behind. If the cache directory is not writable, a warning is logged and
    the caller loads the GGUF file directly (slower at every start).
    """
    target = cache_dir() / "gguf" / _cache_key(gguf)
    if (target / _DONE).exists():
        return target
    if not convert:
        return None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_progress_bars():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    fresh = AutoModelForCausalLM.from_config(quantized.config)
    fresh.load_state_dict(quantized.state_dict())
    fresh.generation_config = quantized.generation_config
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE).write_text(str(gguf))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        logger.warning("nbchat could not cache a converted copy of %s in %s: %s", gguf, target.parent, exc)
        return None
    return target
