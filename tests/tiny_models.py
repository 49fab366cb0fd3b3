"""Tiny random-weight chat models built in the tests (no download): transformers models in ~1 MB, a GGUF file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json")


def save_tiny_chat_model(target: Path, chat_template: str | None = None) -> Path:
    """Save a 1-layer Llama (hidden size 16) with SmolLM2's tokenizer to ``target``; ``chat_template`` replaces
    SmolLM2's template when given. Needs the embedded model's converted directory (the ``embedded_ready`` fixture)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.servers.transformers_serve import embedded_model_dir

    source = embedded_model_dir()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(target)
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)
    if chat_template is not None:
        (target / "chat_template.jinja").write_text(chat_template)
    return target


def save_scripted_chat_model(
    target: Path, chat_template: str, script: str, special_tokens: list[str], *, qwen2: bool = False
) -> list[int]:
    """Save a 1-layer Llama (``qwen2``: a Qwen2, whose model type transformers has a tool-call parser for) that writes
    ``script`` (greedy), with SmolLM2's tokenizer plus ``special_tokens``.

    The attention and MLP outputs are zero, so the last hidden state is the current token's embedding, and the
    untied output layer maps each token of ``script`` to the next one: the model follows the script after its first
    token (which the chat template's last token leads to), a first-order chain, so a token may appear in ``script``
    only once, and its last token is the end-of-sequence token. Returns the script's token ids.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    from tests.servers.transformers_serve import embedded_model_dir

    config_class, model_class = (Qwen2Config, Qwen2ForCausalLM) if qwen2 else (LlamaConfig, LlamaForCausalLM)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    tokenizer.add_special_tokens({"additional_special_tokens": special_tokens})
    tokenizer.chat_template = chat_template
    ids = tokenizer(script, add_special_tokens=False)["input_ids"]
    assert len(set(ids)) == len(ids), f"a token repeats in the script: {tokenizer.convert_ids_to_tokens(ids)}"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    prompt_end = tokenizer(prompt, add_special_tokens=False)["input_ids"][-1]
    assert prompt_end not in ids, "the prompt's last token starts the chain: it cannot be in the script"
    torch.manual_seed(0)
    config = config_class(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=2048, bos_token_id=1, eos_token_id=ids[-1],
        tie_word_embeddings=False,
    )  # fmt: skip
    model = model_class(config)
    with torch.no_grad():
        layer = model.model.layers[0]
        layer.self_attn.o_proj.weight.zero_()
        layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        head = model.lm_head.weight
        head.mul_(0.01)
        for current, following in zip([prompt_end, *ids[:-1]], ids, strict=True):
            head[following] += 20 * embed[current] / embed[current].norm()
    model.generation_config.eos_token_id = ids[-1]
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return list(ids)


SPM_WORDS = (  # the words whose pieces the SPM vocabulary has
    "the a an and or of to in is it you what which who how why animal animals lion lions zebra savanna grass fast "
    "fastest tell me about please hello world think thinking answer question yes no big small 猫 狮子 大 的"
)


def save_tiny_spm_gguf(target: Path, chat_template: str) -> Path:
    """Write a GGUF file of a 1-layer Llama (hidden size 16, random float32 weights) with a SentencePiece (SPM,
    ``tokenizer.ggml.model = "llama"``) vocabulary made here: ``<unk>``, ``<s>`` (added before every prompt),
    ``</s>``, ChatML's ``<|im_start|>`` and ``<|im_end|>`` (control tokens), ``<think>`` and ``</think>``
    (user-defined), the 256 byte tokens, and every piece of a few words (``▁`` for a space; longer pieces score
    higher, so they merge first). llama.cpp tokenizes any text with it (bytes for what the pieces miss), with
    SentencePiece's space before a text and after each special token. Returns ``target``."""
    import numpy as np

    texts, scores, types = _spm_vocab()
    rng = np.random.default_rng(0)
    n_vocab, n_embd = len(texts), 16
    embed = (rng.standard_normal((n_vocab, n_embd)) * 0.1).astype(np.float32)
    output = (rng.standard_normal((n_vocab, n_embd)) * 0.1).astype(np.float32)
    _write_llama_gguf(target, chat_template, (texts, scores, types), embed, output, rng, eos=4)
    return target


def _spm_vocab() -> tuple[list[str], list[float], list[Any]]:
    """The texts, scores and token types of :func:`save_tiny_spm_gguf`'s vocabulary."""
    import gguf

    specials = [
        ("<unk>", gguf.TokenType.UNKNOWN),
        ("<s>", gguf.TokenType.CONTROL),
        ("</s>", gguf.TokenType.CONTROL),
        ("<|im_start|>", gguf.TokenType.CONTROL),
        ("<|im_end|>", gguf.TokenType.CONTROL),
        ("<think>", gguf.TokenType.USER_DEFINED),
        ("</think>", gguf.TokenType.USER_DEFINED),
    ]
    pieces: dict[str, None] = {"▁": None}
    for word in SPM_WORDS.split():
        text = "▁" + word
        for size in range(1, len(text) + 1):
            for start in range(len(text) - size + 1):
                pieces.setdefault(text[start : start + size])
    texts = [text for text, _ in specials] + [f"<0x{byte:02X}>" for byte in range(256)] + list(pieces)
    types = [kind for _, kind in specials] + [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * len(pieces)
    scores = [0.0] * (len(specials) + 256) + [float(len(piece)) for piece in pieces]

    return texts, scores, types


def save_scripted_gguf(target: Path, chat_template: str, script: list[str], *, after: str = "\n") -> Path:
    """Write a GGUF file of a 1-layer Llama that writes ``script`` greedily, one piece per token, after a prompt whose
    last token is the byte ``after`` (a ChatML prompt ends with ``"<|im_start|>assistant\\n"``).

    The vocabulary is :func:`save_tiny_spm_gguf`'s (``<|im_end|>`` ends a reply) plus each piece of ``script`` as a
    user-defined token, so llama.cpp detokenizes each piece as its text. The attention and MLP outputs are zero, so
    the last hidden state is the current token's embedding, and the output layer maps each token to the next piece:
    a first-order chain, so a piece may appear in ``script`` only once and ``after`` in none; end ``script`` with
    ``"<|im_end|>"`` to end the reply. Returns ``target``.
    """
    import gguf
    import numpy as np

    assert len(set(script)) == len(script), f"a piece repeats in the script: {script}"
    assert after not in script, "the prompt's last token starts the chain: it cannot be a piece"
    texts, scores, types = _spm_vocab()
    for piece in script:
        if piece not in texts:
            texts.append(piece)
            scores.append(0.0)
            types.append(gguf.TokenType.USER_DEFINED)
    ids = [texts.index(piece) for piece in script]
    start = texts.index(f"<0x{ord(after):02X}>")
    rng = np.random.default_rng(0)
    n_vocab, n_embd = len(texts), 64
    embed = rng.standard_normal((n_vocab, n_embd)).astype(np.float32)
    output = (rng.standard_normal((n_vocab, n_embd)) * 0.01).astype(np.float32)
    for current, following in zip([start, *ids[:-1]], ids, strict=True):
        output[following] += 20 * embed[current] / np.linalg.norm(embed[current])
    _write_llama_gguf(target, chat_template, (texts, scores, types), embed, output, rng, eos=4, zero_blocks=True)
    return target


def _write_llama_gguf(
    target: Path,
    chat_template: str,
    vocab: tuple[list[str], list[float], list[Any]],
    embed: Any,
    output: Any,
    rng: Any,
    *,
    eos: int,
    zero_blocks: bool = False,
) -> None:
    """Write a 1-layer Llama GGUF (SPM vocabulary ``vocab``: texts, scores, token types; ``<unk>`` 0, ``<s>`` 1 added
    before every prompt) with these token embeddings and output layer (n_vocab x n_embd each) and random block
    weights; ``zero_blocks``: the attention and MLP outputs are zero, so the last hidden state is the token's own
    embedding."""
    import gguf
    import numpy as np

    texts, scores, types = vocab
    n_embd, n_ff = embed.shape[1], 2 * embed.shape[1]
    writer = gguf.GGUFWriter(target, "llama")
    writer.add_context_length(2048)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    writer.add_rope_dimension_count(n_embd // 2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(texts)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(True)
    writer.add_chat_template(chat_template)

    def weights(*shape: int, zero: bool = False) -> Any:
        return np.zeros(shape, dtype=np.float32) if zero else (rng.standard_normal(shape) * 0.1).astype(np.float32)

    writer.add_tensor("token_embd.weight", embed)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", weights(n_embd, n_embd))
    writer.add_tensor("blk.0.attn_k.weight", weights(n_embd // 2, n_embd))
    writer.add_tensor("blk.0.attn_v.weight", weights(n_embd // 2, n_embd))
    writer.add_tensor("blk.0.attn_output.weight", weights(n_embd, n_embd, zero=zero_blocks))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weights(n_ff, n_embd))
    writer.add_tensor("blk.0.ffn_up.weight", weights(n_ff, n_embd))
    writer.add_tensor("blk.0.ffn_down.weight", weights(n_embd, n_ff, zero=zero_blocks))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
