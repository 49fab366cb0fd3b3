"""A re-quantized copy of a ``.gguf`` file for llama.cpp, made once and cached (``requantize="Q8_0"``).

The embedded model ships as Q4_1, a type with no batched (tinyBLAS) and no repacked kernel on x86: llama.cpp
evaluates a prompt with it one matrix-vector product per token, about as slowly as it decodes. Q8_0 has a batched
kernel, and every Q4_1 value (``d * q + m``, 16 levels per block of 32) is within half a Q8_0 step (``max|x| / 127``)
of its copy, so the copy keeps the model's quality (perplexity of two fixed texts +1.0% / -0.1%, the same most likely
next token 94% of the time: ``python -m benchmarks --only weights``) and evaluates prompts faster. Measured on 2
cores (the embedded model, xllamacpp): 1.6 instead of 2.3 ms per prompt token from an empty cache (a 136-word first
question: 256 instead of 419 ms to the first token), decoding unchanged (122-141 tok/s either way; at turn 11 of a
long chat the attention over the history dominates: 72-74 ms either way in a full benchmark run, 46-50 vs 56-58 ms
in quieter runs), and ``nbchat serve`` with 8 students at once 244-278 instead of 180-210 tok/s in all; the file
grows from 98 to 145 MB.

The price: the batched kernel sums in another order than the one-token kernel, so a greedy reply depends on how the
prompt was split into batches (asked again and answered from llama.cpp's cache, "Name a colour." got another reply
than the first time), while with Q4_1 every token is computed the same way. So a chat uses the shipped file unless
asked (``requantize="Q8_0"``), and ``nbchat serve``, where other students' requests share each batch anyway, uses
the copy unless asked not to (``--requantize none``).

The copy is made with llama.cpp's own Python package ``gguf`` (its reader, writer and quantizers): tensor for tensor
the same bytes as llama.cpp's quantizer (``llama-quantize --allow-requantize ... Q8_0``) writes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .._embedded import cache_dir

__all__ = ["REQUANTIZE_TYPES", "checked_requantize", "engine_gguf", "requantized_gguf"]

logger = logging.getLogger(__name__)

REQUANTIZE_TYPES = ("Q8_0",)
"""Weight types :func:`requantized_gguf` makes: those with a batched kernel that keep a 4-bit file's values."""


def checked_requantize(type_name: str | None) -> str | None:
    """``type_name`` if it is ``None`` or one of :data:`REQUANTIZE_TYPES`.

    Raises
    ------
    ValueError
        Otherwise, naming the types there are.
    """
    if type_name is not None and type_name not in REQUANTIZE_TYPES:
        msg = f"requantize must be one of {', '.join(map(repr, REQUANTIZE_TYPES))} or None, got {type_name!r}."
        raise ValueError(msg)
    return type_name


def engine_gguf(source: Path, type_name: str | None, *, progress: Callable[[str], None] | None = None) -> Path:
    """The file llama.cpp should load for ``source``: its ``type_name`` copy (:func:`requantized_gguf`) when a type is
    asked for and the copy could be made (or was made before), else ``source`` itself."""
    if type_name is None:
        return source
    return requantized_gguf(source, type_name, progress=progress) or source


def _target(source: Path, type_name: str) -> Path:
    stat = source.stat()
    digest = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_dir() / "gguf" / f"{source.stem}.{type_name}-{digest}.gguf"


def requantized_gguf(
    source: Path, type_name: str = "Q8_0", *, progress: Callable[[str], None] | None = None
) -> Path | None:
    """The copy of ``source`` with its quantized weights re-quantized to ``type_name``, made on first use.

    Parameters
    ----------
    source : Path
        A ``.gguf`` file.
    type_name : str, default "Q8_0"
        One of :data:`REQUANTIZE_TYPES`.
    progress : callable, optional
        ``progress(text)`` before a copy is made (about 3 s for the embedded model on 2 cores).

    Returns
    -------
    Path or None
        ``<cache_dir>/gguf/<stem>.<type>-<hash>.gguf`` (see :func:`nbchat._embedded.cache_dir`, i.e.
        ``$NBCHAT_CACHE_DIR`` or ``~/.cache/nbchat``); the hash covers the source's path, size and modification
        time, so an updated file is copied again. ``None`` (a warning is logged; load ``source`` itself) when the
        copy cannot be written or the file has a tensor the ``gguf`` package cannot dequantize.

    Raises
    ------
    ValueError
        If ``type_name`` is not one of :data:`REQUANTIZE_TYPES`.

    Notes
    -----
    Tensors of another quantized type are dequantized and quantized to ``type_name`` (llama.cpp's
    ``--allow-requantize``); float tensors (norms) and tensors already of ``type_name`` are copied as they are. The
    copy is written to a temporary file and renamed into place, so kernels making it at once never see half a file.
    Kernels whose ``$NBCHAT_CACHE_DIR`` is the same directory share one copy, and its pages in memory: on
    JupyterHub, an administrator makes the copy once in a directory users can read (a chat with ``requantize="Q8_0"``
    or ``nbchat serve``, run with ``$NBCHAT_CACHE_DIR`` set to it) and sets ``$NBCHAT_CACHE_DIR`` for every user.
    Copies of a file that has since changed are not removed.
    """
    if checked_requantize(type_name) is None:
        raise ValueError("requantized_gguf needs a type, e.g. 'Q8_0'.")
    target = _target(source, type_name)
    if target.is_file():
        return target
    if progress is not None:
        progress(f"making a {type_name} copy of {source.name} for faster prompts (once)…")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".requantizing-", suffix=".gguf", dir=target.parent)
        os.close(fd)
        try:
            _write_requantized(source, Path(tmp), type_name)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, NotImplementedError, ValueError) as exc:
        logger.warning("nbchat could not make a %s copy of %s in %s: %s", type_name, source.name, target.parent, exc)
        return None
    return target


def _write_requantized(source: Path, target: Path, type_name: str) -> None:
    """Write ``source`` with its quantized tensors re-quantized to ``type_name`` (metadata copied, file type set)."""
    import gguf

    wanted = gguf.GGMLQuantizationType[type_name]
    reader = gguf.GGUFReader(source)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(target, arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():  # as gguf's own gguf_new_metadata script copies them
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType[f"MOSTLY_{type_name}"])
        writer.add_key_value(field.name, value, value_type, sub_type=sub_type)
    floats = (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16)
    data = []
    for tensor in reader.tensors:
        kind, values = tensor.tensor_type, tensor.data
        if kind not in floats and kind != wanted:
            values, kind = gguf.quants.quantize(gguf.quants.dequantize(values, kind), wanted), wanted
        data.append(values)
        writer.add_tensor_info(tensor.name, values.shape, values.dtype, values.nbytes, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for values in data:
        writer.write_tensor_data(values)
    writer.close()
