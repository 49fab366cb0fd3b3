"""Local vision-language models: a tiny random-weight LLaVA built here (no download) sees the attached image.

The model is a real ``LlavaForConditionalGeneration`` (1-layer CLIP vision tower, 1-layer Llama) with a word-level
tokenizer and a chat template written for it, saved as a model directory the way the hub ships one, and loaded by
nbchat through ``AutoProcessor`` + ``AutoModelForImageTextToText``. A text-only model of the same kind refuses an
image before anything reaches it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

import nbchat
from nbchat._attachments import AttachmentError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
Image = pytest.importorskip("PIL.Image")

WORDS = ["<unk>", "<s>", "</s>", "<image>", "user", "assistant", "system", ":", *(f"w{i}" for i in range(40))]
# A template in the shape of HF's LLaVA templates: content is a list of {"type": "text"|"image"} parts.
TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {% for p in m['content'] %}"
    "{% if p['type'] == 'image' %}<image> {% else %}{{ p['text'] }} {% endif %}{% endfor %}</s> {% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )


def _text_config() -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    target = tmp_path_factory.mktemp("vlm") / "tiny-llava"
    vision = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16, patch_size=8
    )
    config = LlavaConfig(vision_config=vision, text_config=_text_config(), image_token_index=WORDS.index("<image>"))
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(target)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}),
        tokenizer=_tokenizer(),
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=TEMPLATE,
    )
    processor.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def tiny_text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import LlamaForCausalLM

    target = tmp_path_factory.mktemp("llm") / "tiny-text"
    torch.manual_seed(0)
    LlamaForCausalLM(_text_config()).save_pretrained(target)
    tokenizer = _tokenizer()
    tokenizer.chat_template = TEMPLATE.replace("{% for p in m['content'] %}", "{% for p in [m] %}").replace(
        "p['text']", "p['content']"
    )
    tokenizer.save_pretrained(target)
    return target


def png(color: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_pixels_of_the_attachment_reach_the_vision_model(tiny_vlm: Path) -> None:
    conv = nbchat.Conversation(str(tiny_vlm), prepare="now", max_new_tokens=4, temperature=0, device="cpu")
    backend = conv.backend
    assert backend.image_input is True
    seen: list[Any] = []

    def record(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        pixels = kwargs.get("pixel_values", args[0] if args else None)
        seen.append(pixels.clone())

    # generate() encodes the images before the language model's forward calls: watch the vision tower's input
    hook = backend._model.model.vision_tower.register_forward_pre_hook(record, with_kwargs=True)
    try:
        conv.ask("w1 w2", attachments=[png("red")])
        red = seen[-1]
        conv.clear()
        conv.ask("w1 w2", attachments=[png("blue")])
        blue = seen[-1]
    finally:
        hook.remove()
    assert red.shape == (1, 3, 16, 16)  # the image processor's crop size
    assert not torch.equal(red, blue)  # the pixels are the attached image's own
    # the red image: channel 0 (R) is above channel 2 (B) after normalisation, and the other way round for blue
    assert red[0, 0].mean() > red[0, 2].mean()
    assert blue[0, 2].mean() > blue[0, 0].mean()
    prompt = conv.request_of(conv.history[-1].id)["prompt"]
    assert prompt.startswith("user : w1 w2 <image>")
    assert conv.context_usage()["used"] > len(prompt.split())  # the image's tokens are counted as the model sees them


def test_a_text_only_local_model_refuses_images_cleanly(tiny_text_model: Path) -> None:
    conv = nbchat.Conversation(str(tiny_text_model), prepare="now", max_new_tokens=3, temperature=0, device="cpu")
    assert conv.backend.image_input is False
    with pytest.raises(AttachmentError, match="tiny-text \\(transformers\\) cannot see images"):
        conv.ask("w1", attachments=[png("red")])
    assert conv.history == []
    conv.ask("w1 w2", attachments=[{"a": 1}])  # text attachments still go, inside the text
    assert conv.history[0].attachments[0].kind == "text"
