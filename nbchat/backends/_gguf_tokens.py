"""What nbchat reads of a GGUF file's header (chat template, trained context, special tokens), and where a prompt can
be cut so that llama.cpp's tokenizer only reads its new end (:class:`SpecialTokens`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._errors import BackendError

__all__ = ["SpecialTokens", "common_prefix", "gguf_metadata", "trie_pattern"]

# GGUF value types (ggml's gguf.h: enum gguf_type) -> struct format of one value; 8 is a string, 9 an array
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
# llama.cpp's token types (llama.h: enum llama_token_type) that its tokenizer cuts out of a text before anything else
# (llama-vocab.cpp, cache_special_tokens): unknown, control and user-defined
_SPECIAL_TOKEN_TYPES = (2, 3, 4)


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The chat template, trained context and special tokens of a GGUF file, read from its header (key/value
    section).

    The ``gguf`` package's ``GGUFReader`` answers the same but builds every field of the file first (the whole
    vocabulary and merges: 5 s on two busy cores, plus 1.3 s to import it); this walks the memory-mapped header once,
    skipping what it does not need (the merges) and decoding only the special tokens' texts, and stops at the tensor
    table (14-19 ms for the embedded model's 49,152 tokens and 48,900 merges).

    Returns
    -------
    dict
        ``{"chat_template": str or None, "context_length": int or None, "special_tokens": dict[int, str]}``;
        ``special_tokens`` maps the id of each unknown, control or user-defined token (types 2, 3 and 4 of
        ``tokenizer.ggml.token_type``) to its text (empty without a vocabulary).

    Raises
    ------
    BackendError
        If the file is not a GGUF file (wrong magic number) or its header is cut short.
    """
    import mmap
    import struct

    string_length = struct.Struct("<Q").unpack_from
    pos = 4  # where the next value starts in data (the file, memory-mapped), after the magic number

    def check(end: int) -> None:
        if end > len(data):
            msg = f"{path.name} ends inside its GGUF header: the file is incomplete. Download it again."
            raise BackendError(msg)

    def read(fmt: str, count: int = 1) -> Any:
        nonlocal pos
        size = struct.calcsize(fmt) * count
        check(pos + size)
        found = struct.unpack_from(f"<{count}{fmt}", data, pos)
        pos += size
        return found[0] if count == 1 else found

    def strings(count: int, keep: bool) -> list[tuple[int, int]]:
        """Walk ``count`` strings (tight loops: 49,152 tokens); their (start, end) offsets in ``data`` if ``keep``."""
        nonlocal pos
        spans = []
        if keep:
            for _ in range(count):
                check(pos + 8)
                start = pos + 8
                pos = start + string_length(data, pos)[0]
                spans.append((start, pos))
        else:
            for _ in range(count):
                check(pos + 8)
                pos += 8 + string_length(data, pos)[0]
        check(pos)
        return spans

    def value(kind: int, keep: bool = True) -> Any:
        """The next value of type ``kind`` (an array of strings as offsets); ``keep=False`` skips it."""
        nonlocal pos
        if kind == 8:
            start, end = strings(1, keep=True)[0]
            return data[start:end].decode("utf-8", errors="replace") if keep else None
        if kind != 9:
            return read(_GGUF_SCALARS[kind])
        item, count = read("I"), read("Q")
        if item == 8:
            return strings(count, keep)
        if item in _GGUF_SCALARS:
            if keep:
                return read(_GGUF_SCALARS[item], count) if count != 1 else (read(_GGUF_SCALARS[item]),)
            pos += count * struct.calcsize(_GGUF_SCALARS[item])
            return None
        return [value(item, keep) for _ in range(count)]

    wanted = ("general.architecture", "tokenizer.chat_template", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type")
    values: dict[str, Any] = {}
    with path.open("rb") as file:
        if file.read(4) != b"GGUF":
            msg = f"{path.name} is not a GGUF file (it does not start with 'GGUF'). Check the path."
            raise BackendError(msg)
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            read("I")  # version
            read("Q")  # tensors
            for _ in range(read("Q")):
                key, kind = value(8), read("I")
                keep = key in wanted or key.endswith(".context_length")
                found = value(kind, keep)
                if keep:
                    values[key] = found
            spans, types = values.get("tokenizer.ggml.tokens") or [], values.get("tokenizer.ggml.token_type") or ()
            special = {
                i: data[slice(*spans[i])].decode("utf-8", errors="replace")
                for i, kind in enumerate(types)
                if kind in _SPECIAL_TOKEN_TYPES and i < len(spans)
            }
    trained = values.get(f"{values.get('general.architecture')}.context_length")
    return {
        "chat_template": values.get("tokenizer.chat_template"),
        "context_length": trained,
        "special_tokens": special,
    }


class SpecialTokens:
    """A vocabulary's special tokens (``{id: text}`` from :func:`gguf_metadata`), to tokenize a prompt from the
    tokens of a cached prompt it starts like (see :meth:`split`)."""

    def __init__(self, texts: dict[int, str]) -> None:
        self.text = {i: text for i, text in texts.items() if text}
        self.pattern = re.compile(trie_pattern(self.text.values())) if self.text else None
        self.longest = max(map(len, self.text.values()), default=0)

    def split(self, cached: str, tokens: list[int], head: int, prompt: str) -> tuple[int, int] | None:
        """Where ``prompt`` may be cut to reuse the tokens of ``cached``: ``(j, i)`` such that llama.cpp's tokens of
        ``prompt`` are ``tokens[:i]`` followed by its tokens of ``prompt[j:]`` (with ``add_special=False``), provided
        those start with ``tokens[i]``; ``None`` where no such cut is known.

        ``tokens`` are llama.cpp's tokens of ``cached`` (``head`` of them added before the text: a BOS token).

        llama.cpp's tokenizer (``llama_vocab::impl::tokenize`` in ``src/llama-vocab.cpp``, with ``parse_special``)
        first cuts the text at the special tokens' texts (``tokenizer_st_partition``: the control, user-defined and
        unknown tokens, longest first), then tokenizes each piece of plain text on its own; the only context a piece
        gets is SentencePiece's space before a piece that follows a special token (or starts the text). So where the
        text is cut before a special token at ``j`` and no special token's text runs across ``j``, the tokens of
        the text are the tokens of ``text[:j]`` followed by those of ``text[j:]``, which starts with that special
        token (so its first piece gets the same space as in the whole text). ``prompt[:j] == cached[:j]``, so the
        tokens of ``prompt[:j]`` are those of ``cached[:j]``: ``tokens[:i]``, ``i`` being the special token at
        ``j``. The special tokens' texts found in ``cached`` must map one to one, in order, onto the special tokens
        in ``tokens``, or there is no cut (a special text the tokenizer did not cut there, a token llama.cpp treats
        as special by its text though the file calls it normal, an unknown token for unknown bytes). ``j`` is the
        last such special token within the common prefix, passing over those that start or end with white space (a
        token that strips the white space beside it could reach across ``j``).
        """
        if self.pattern is None:
            return None
        common = common_prefix(cached, prompt)
        matches = list(self.pattern.finditer(cached))
        at = [k for k in range(head, len(tokens)) if tokens[k] in self.text]
        if len(at) != len(matches) or any(self.text[tokens[k]] != m.group() for k, m in zip(at, matches, strict=True)):
            return None
        for index, match in zip(reversed(at), reversed(matches), strict=True):
            start, text = match.start(), match.group()
            if match.end() > common or text[0].isspace() or text[-1].isspace():
                continue
            if not self.runs_across(cached, start) and not self.runs_across(prompt, start):
                return start, index
        return None

    def runs_across(self, text: str, j: int) -> bool:
        """Whether a special token's text in ``text`` starts before ``j`` and ends after it."""
        assert self.pattern is not None
        for start in range(max(0, j - self.longest + 1), j):
            match = self.pattern.match(text, start)  # the longest one that starts there
            if match and match.end() > j:
                return True
        return False


def trie_pattern(texts: Iterable[str]) -> str:
    """A regular expression that matches, where it is tried, the longest of ``texts`` that starts there.

    The texts as a trie (``<(?:unused(?:0|1...)|start_of_turn>...)``), so that a position is rejected after one
    character whatever the number of texts: with Gemma's ~6,000 special tokens, 0.05 ms for 5 kB of text instead of
    7.5 ms for their plain alternation, longest first. A text that ends where a longer one goes on is an optional
    end (greedy: the longer one is tried first).
    """
    trie: dict[str, Any] = {}
    for text in texts:
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node[""] = {}  # a text ends here

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in node.items() if char]
        if not branches:
            return ""
        group = "(?:" + "|".join(branches) + ")"
        return group + "?" if "" in node else group

    return build(trie)


def common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (a binary search: slices compare in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
