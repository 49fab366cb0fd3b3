"""Prompt formats: turn chat messages into the one string a raw text-generation model reads.

Servers with a chat endpoint apply the model's chat template themselves; raw ``/generate`` endpoints (TGI's
native protocol, ``text_generation.Client``) need the prompt written out. A format is a function
``messages -> prompt`` plus the stop sequences that end the assistant's turn.

Named formats: ``"falcon"`` (the ``System:/User:/Assistant:`` prompt of the Falcon-40B-instruct Gradio lesson)
and ``"chatml"`` (``<|im_start|>role ... <|im_end|>``). A Jinja chat template string (as in a model's
``tokenizer_config.json``) or any function also works.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ._base import Message

__all__ = ["PROMPT_FORMATS", "PromptFormat", "chatml", "falcon", "resolve_prompt_format"]


@dataclasses.dataclass(frozen=True)
class PromptFormat:
    """A way to write messages as one prompt.

    Attributes
    ----------
    name : str
        Shown in :meth:`Backend.describe`.
    render : callable
        ``render(messages) -> str``; the prompt ends where the assistant's reply begins.
    stop : tuple of str
        Stop sequences that end the reply (e.g. the start of the next user turn); added to the user's own.
    """

    name: str
    render: Callable[[list[Message]], str]
    stop: tuple[str, ...] = ()


def falcon(messages: list[Message]) -> str:
    """The Falcon lesson's format, character for character.

    ``System:{instruction}`` first if there is a system message (no space after the colon, as in the lesson),
    then ``\\nUser: {user}\\nAssistant: {assistant}`` per turn, and ``\\nUser: {message}\\nAssistant:`` last.
    Stop sequence: ``"\\nUser:"``.

    Examples
    --------
    >>> falcon([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    'System:Be brief.\\nUser: Hi\\nAssistant:'
    """
    prompt = ""
    for m in messages:
        if m["role"] == "system":
            prompt += f"System:{m['content']}"
        elif m["role"] == "user":
            prompt += f"\nUser: {m['content']}"
        else:
            prompt += f"\nAssistant: {m['content']}"
    return f"{prompt}\nAssistant:"


def chatml(messages: list[Message]) -> str:
    """ChatML (Qwen, SmolLM2, many fine-tunes): ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message, then
    ``<|im_start|>assistant\\n``. Stop sequence: ``"<|im_end|>"``."""
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return f"{body}<|im_start|>assistant\n"


PROMPT_FORMATS: dict[str, PromptFormat] = {
    "falcon": PromptFormat("falcon", falcon, ("\nUser:",)),
    "chatml": PromptFormat("chatml", chatml, ("<|im_end|>",)),
}


def _jinja_format(template: str) -> PromptFormat:
    """Render a Hugging Face chat template the way transformers does: sandboxed, ``add_generation_prompt=True``."""
    try:
        import jinja2
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:  # jinja2 comes with transformers
        from .._errors import MissingDependencyError

        msg = "Chat-template prompt formats need jinja2: pip install jinja2"
        raise MissingDependencyError(msg) from exc

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    compiled = env.from_string(template)

    def render(messages: list[Message]) -> str:
        return compiled.render(messages=messages, add_generation_prompt=True, bos_token="", eos_token="")

    return PromptFormat("chat-template", render)


def resolve_prompt_format(fmt: Any) -> PromptFormat:
    """Turn what the user passed into a :class:`PromptFormat`.

    Parameters
    ----------
    fmt : str, callable or PromptFormat
        A name from :data:`PROMPT_FORMATS` (``"falcon"``, ``"chatml"``), a Jinja chat template (a string with
        ``{%`` or ``{{``), or a function ``messages -> prompt`` (no extra stop sequences; pass ``stop=``).

    Raises
    ------
    ValueError
        If ``fmt`` is a string that is neither a known name nor a template.
    """
    if isinstance(fmt, PromptFormat):
        return fmt
    if isinstance(fmt, str):
        if fmt in PROMPT_FORMATS:
            return PROMPT_FORMATS[fmt]
        if "{%" in fmt or "{{" in fmt:
            return _jinja_format(fmt)
        msg = (
            f"Unknown prompt format {fmt!r}: use one of {', '.join(PROMPT_FORMATS)}, a Jinja chat template, "
            "or a function messages -> prompt."
        )
        raise ValueError(msg)
    if callable(fmt):
        return PromptFormat(getattr(fmt, "__name__", "custom"), fmt)
    msg = f"prompt_format must be a name, a Jinja template or a function, got {type(fmt).__name__}."
    raise TypeError(msg)
