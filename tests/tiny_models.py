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
