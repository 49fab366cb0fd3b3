"""Provenance: what a conversation asked of which model, kept without secrets.

:func:`spec_record` is how the model was asked for (saved files and "Copy as code" recreate it from this), and a
:class:`SentRequest` is what was sent for one reply (:meth:`nbchat.Conversation.request_of`). Neither ever holds an
API key, a header or a client object.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from ._messages import ChatMessage
from ._redact import redact_text, redact_url
from ._settings import GenerationSettings
from .backends import Backend

__all__ = ["SentRequest", "spec_record"]

# Backend options never copied into a spec record (saved files, "Copy as code"): keys, tokens, headers, ...
_SECRET_OPTION = re.compile(r"key|token|secret|passw|auth|credential|header|cookie", re.IGNORECASE)


def spec_record(spec: Any, model: str | None, source: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """How a conversation's model was asked for, as plain values (:attr:`nbchat.Conversation.spec`).

    Parameters
    ----------
    spec, model, source, options
        The ``Conversation`` arguments of the same names (``options``: its ``**backend_options``).

    Returns
    -------
    dict
        ``spec``: the spec string or path with credentials in a URL removed (``None`` for a Python object or the
        default), ``object``: whether it was a Python object (a file cannot recreate it), ``model``, ``source``,
        ``options``: the options with plain values (str, int, float, bool; strings redacted), leaving out any whose
        name looks secret (key, token, header, ...) and ``origin``.
    """
    plain = {
        k: redact_text(v) if isinstance(v, str) else v
        for k, v in options.items()
        if isinstance(v, (str, int, float, bool)) and not _SECRET_OPTION.search(k) and k != "origin"
    }
    return {
        "spec": redact_url(os.fspath(spec)) if isinstance(spec, (str, os.PathLike)) else None,
        "object": not (spec is None or isinstance(spec, (str, os.PathLike))),
        "model": model,
        "source": source,
        "options": plain,  # plain values only: keys, headers and client objects are never saved
    }


@dataclasses.dataclass(frozen=True)
class SentRequest:
    """What a conversation sent for one reply, kept for its provenance (:meth:`nbchat.Conversation.request_of`).

    Attributes
    ----------
    system_prompt : str
        The system prompt at the time ("" for none).
    messages : list of ChatMessage
        The history messages sent, the question last (after excluded and left-out ones were dropped).
    settings : GenerationSettings
        The settings the reply was generated with.
    """

    system_prompt: str
    messages: list[ChatMessage]
    settings: GenerationSettings

    def provenance(self, backend: Backend, stats: dict[str, Any]) -> dict[str, Any]:
        """Backend, settings, the exact messages (and prompt) sent, and ``stats`` (the reply's), as one dict.

        The messages are rendered as ``backend`` sends them (images as parts or as placeholders, reasoning or not),
        and ``prompt`` is ``backend.render_prompt(messages)`` (``None`` for a backend that sends messages, not text).
        """
        images = backend.image_input is not False
        head = [{"role": "system", "content": self.system_prompt}] if self.system_prompt.strip() else []
        messages = head + [d for m in self.messages for d in m.to_openai_list(images, reasoning=backend.send_reasoning)]
        return {
            **backend.describe(),
            "settings": dataclasses.asdict(self.settings),
            "system_prompt": self.system_prompt,
            "messages": messages,
            "prompt": backend.render_prompt(messages),
            "stats": dict(stats),
            "thinking_switch": backend.thinking_switch,  # how thinking= reaches this model, in words
        }
