"""Weight types for the embedded model on llama.cpp: the shipped Q4_1 file beside re-quantizations made from it.

Q4_1 has no repacked (interleaved) kernel and no batched kernel on x86, so it decodes and evaluates prompts slower than
types that do (Q4_0 and IQ4_NL are repacked at load for AVX2; Q8_0 has a batched kernel). Re-quantizing the shipped
file is the only way to get them here (the original weights are not shipped), and it loses quality twice. This
section measures both sides in one run, so the choice of the file the default engine uses is a measured one:

- speed, on nbchat's llama.cpp engine (xllamacpp, one decode thread): decode tok/s, and the prompt time of a 13-token
  question after ~1,900 cached tokens (turn 11), each by llama.cpp's own timing, runs interleaved across the files;
- quality, against the shipped file: perplexity of two fixed texts (benchmarks/texts/, English and Chinese), the mean
  KL divergence of the next-token distributions, and how often the most likely next token is the same.

Re-quantizing and reading the logits need llama-cpp-python (the optional engine; the test set-up installs it).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._report import Figure

TEXTS = Path(__file__).parent / "texts"
TYPES = ("Q8_0", "Q4_0", "IQ4_NL")
"""Re-quantizations measured beside the shipped Q4_1: near-lossless with a batched kernel, and the two 4-bit types
llama.cpp repacks for AVX2."""


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """llama.cpp's C code writes its log to file descriptor 2: send it to /dev/null meanwhile."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def requantize(source: Path, type_name: str, target: Path) -> Path:
    """Write ``source`` re-quantized to ``type_name`` (e.g. ``"Q4_0"``) at ``target`` with llama.cpp's quantizer."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{type_name}")
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    with _quiet_stderr():
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source.name} to {type_name} (status {status})")
    return target


def next_token_logprobs(path: Path, text: str, max_tokens: int = 1024) -> tuple[Any, list[int]]:
    """Log-probabilities of every next token of ``text`` under the model in ``path`` (llama-cpp-python, all logits).

    Returns
    -------
    (numpy.ndarray, list of int)
        ``(n - 1, vocabulary)`` log-probabilities after each of the first ``n - 1`` tokens, and the ``n`` tokens.
    """
    import llama_cpp
    import numpy as np

    with _quiet_stderr():
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, logits_all=True, verbose=False)
    try:
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)[:max_tokens]
        llm.eval(tokens)
        logits = np.array(llm.scores[: len(tokens) - 1], dtype=np.float64)
    finally:
        llm.close()
    logits -= logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)), tokens


def quality(reference: tuple[Any, list[int]], other: tuple[Any, list[int]]) -> dict[str, float]:
    """Perplexity of each, mean KL(reference ‖ other) and top-1 agreement, over the same tokens."""
    import numpy as np

    (ref, tokens), (logp, _) = reference, other
    rows = np.arange(len(tokens) - 1)
    targets = np.array(tokens[1:])
    return {
        "ppl": math.exp(-float(logp[rows, targets].mean())),
        "ppl_reference": math.exp(-float(ref[rows, targets].mean())),
        "kl": float((np.exp(ref) * (ref - logp)).sum(axis=1).mean()),
        "top1": float((ref.argmax(axis=1) == logp.argmax(axis=1)).mean()),
    }


def _turn_11_prompts(backend: Any) -> tuple[list[int], list[list[int]]]:
    """Tokens of a 10-turn conversation ending in a placeholder question (to fill llama.cpp's cache), and of the
    same conversation ending in each of three real questions (13 new tokens or so each)."""
    from .llamacpp import _NOTE

    history: list[dict[str, str]] = []
    for turn in range(10):
        history += [
            {"role": "user", "content": f"Note {turn}: {_NOTE * 4} Summarise note {turn} in one line."},
            {"role": "assistant", "content": "A savanna is a grassland with widely spaced trees."},
        ]
    questions = ["Which animals live in the savanna?", "What is the climate like there?", "Name a savanna bird."]

    def tokens(question: str) -> list[int]:
        return list(backend._tokenize(backend._render([*history, {"role": "user", "content": question}])))

    return tokens("x"), [tokens(q) for q in questions]


def weights_figures(runs: int, max_new: int) -> list[Figure]:
    """Decode tok/s, turn-11 prompt time and quality of the shipped Q4_1 file and its re-quantizations."""
    from nbchat._embedded import embedded_gguf_path
    from nbchat.backends.llamacpp import LlamaCppBackend
    from nbchat.backends.llamacpp_python import llama_cpp_python_available

    from .llamacpp import _QUESTION, engine_decode

    if not llama_cpp_python_available():
        return [Figure("weight types (needs llama-cpp-python)", None, "", note="skipped: llama-cpp-python missing")]
    shipped = embedded_gguf_path()
    with tempfile.TemporaryDirectory(prefix="nbchat-weights-") as tmp:
        files = {"Q4_1": shipped} | {t: requantize(shipped, t, Path(tmp) / f"{t}.gguf") for t in TYPES}
        backends = {t: LlamaCppBackend(path, name=f"SmolLM2-135M-Instruct {t}") for t, path in files.items()}
        for backend in backends.values():
            backend.prepare()
        question = {t: b._tokenize(b._render([{"role": "user", "content": _QUESTION}])) for t, b in backends.items()}
        decode: dict[str, list[float]] = {t: [] for t in files}
        prompt_ms: dict[str, list[float]] = {t: [] for t in files}
        prompt_n: dict[str, list[int]] = {t: [] for t in files}
        prompts = {t: _turn_11_prompts(b) for t, b in backends.items()}
        for n in range(max(3, runs)):  # interleaved: every file sees the same machine state
            for t, backend in backends.items():
                decode[t].append(engine_decode(backend, question[t], max_new)["tps"])
                fill, asks = prompts[t]
                engine_decode(backend, fill, 1)
                timed = engine_decode(backend, asks[n % len(asks)], 1)
                prompt_ms[t].append(timed["prompt_ms"])
                prompt_n[t].append(timed["prompt_n"])
        for backend in backends.values():
            backend.close()
        texts = {lang: (TEXTS / f"savanna.{lang}.txt").read_text(encoding="utf-8") for lang in ("en", "zh")}
        reference = {lang: next_token_logprobs(shipped, text) for lang, text in texts.items()}
        scores = {t: {lang: quality(reference[lang], next_token_logprobs(files[t], text))
                      for lang, text in texts.items()} for t in TYPES}  # fmt: skip
        sizes = {t: path.stat().st_size for t, path in files.items()}

    base = statistics.median(decode["Q4_1"])
    figures = []
    for t in files:
        tps, ms = statistics.median(decode[t]), statistics.median(prompt_ms[t])
        if t == "Q4_1":
            ppl = {lang: quality(r, r)["ppl"] for lang, r in reference.items()}
            quality_note = f"perplexity en {ppl['en']:.1f}, zh {ppl['zh']:.1f}"
        else:
            q = scores[t]
            quality_note = (
                f"perplexity en {q['en']['ppl']:.1f} ({q['en']['ppl'] / q['en']['ppl_reference'] - 1:+.1%}), "
                f"zh {q['zh']['ppl']:.1f} ({q['zh']['ppl'] / q['zh']['ppl_reference'] - 1:+.1%}); KL vs Q4_1 "
                f"{q['en']['kl']:.3f} / {q['zh']['kl']:.3f}; "
                f"same top token {q['en']['top1']:.0%} / {q['zh']['top1']:.0%}"
            )
        figures.append(
            Figure(f"decode, {t} file (llama.cpp alone)", tps, "tok/s", None if t == "Q4_1" else base,
                   "" if t == "Q4_1" else "shipped Q4_1", "",
                   None, note=f"{'shipped' if t == 'Q4_1' else 're-quantized from Q4_1'}, {sizes[t] / 1e6:.0f} MB; "
                   f"turn-11 prompt {ms:.0f} ms for {statistics.median(prompt_n[t]):.0f} new tokens; {quality_note}")
        )  # fmt: skip
    return figures
