"""Tiny random-weight chat models built in the tests (no download): real transformers models in ~1 MB."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def save_scripted_chat_model(target: Path, chat_template: str, script: str, special_tokens: list[str]) -> list[int]:
    """Save a 1-layer Llama that writes ``script`` (greedy), with SmolLM2's tokenizer plus ``special_tokens``.

    The attention and MLP outputs are zero, so the last hidden state is the current token's embedding, and the
    untied output layer maps each token of ``script`` to the next one: the model follows the script after its first
    token (which the chat template's last token leads to), a first-order chain, so a token may appear in ``script``
    only once, and its last token is the end-of-sequence token. Returns the script's token ids.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tests.servers.transformers_serve import embedded_model_dir

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
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=2048, bos_token_id=1, eos_token_id=ids[-1],
        tie_word_embeddings=False,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
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
