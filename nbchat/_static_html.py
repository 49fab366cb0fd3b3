"""Model and user text as HTML outside the widget: ``%%chat`` output and the static transcript of saved notebooks.

Output a user just produced is *trusted* in JupyterLab (shown without its sanitizer), and nbconvert's HTML export
copies ``text/markdown`` and ``text/html`` as they are; so what nbchat puts there must never hold markup from a
model or a user. The text is rendered here by markdown-it-py (the Python port of the parser the widget uses) with
raw HTML off, so every ``<`` of a reply is shown as text; images become a placeholder (nothing is fetched), links
keep only ``http:``, ``https:`` and ``mailto:`` targets (the widget's rule), and the block is marked so that no
math typesetter reads it.
"""

from __future__ import annotations

import html
from typing import Any

from ._i18n import text

__all__ = ["SAFE_LINK_SCHEMES", "markdown_html", "reply_bundle"]

SAFE_LINK_SCHEMES = ("http:", "https:", "mailto:")
_WRAPPER = '<div class="nbchat-static tex2jax_ignore mathjax_ignore">{}</div>'
_md: Any = None


def _image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    alt = self.renderInlineAsText(tokens[idx].children or [], options, env).strip()
    lang = str((env or {}).get("lang", ""))
    label = text("md.imageAlt", lang, alt=alt) if alt else text("md.imageNotLoaded", lang)
    return f"<em>[{html.escape(label)}]</em>"


def _parser() -> Any:
    global _md
    if _md is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        md.enable(["table", "strikethrough"])
        md.validateLink = lambda url: url.strip().lower().startswith(SAFE_LINK_SCHEMES)  # type: ignore[method-assign]
        md.add_render_rule("image", _image)
        _md = md
    return _md


def markdown_html(markdown: str, lang: str = "") -> str:
    """``markdown`` (from a model or a user) as HTML that holds no markup of its own and fetches nothing.

    ``lang`` (``"en"``, ``"zh"``; ``""``: English) is the language of nbchat's own words ("image not loaded").

    Returns
    -------
    str
        A ``<div class="nbchat-static ...">`` with the rendered text.
    """
    return _WRAPPER.format(_parser().render(markdown, {"lang": lang}))


def reply_bundle(
    reply: str, footer: str = "", *, thoughts: str = "", thinking: bool = False, lang: str = ""
) -> dict[str, str]:
    """A display bundle for ``%%chat``: the reply as safe HTML (:func:`markdown_html`), then ``footer`` as escaped
    small text (the model's name comes from the server: it is text too); ``text/plain`` for consoles.

    ``thoughts`` (a reasoning model's reasoning) go first, rendered the same safe way, in a ``<details>`` section:
    open while ``thinking`` (no answer yet), collapsed afterwards. ``lang`` as in :func:`markdown_html`.
    """
    env = {"lang": lang}
    small = f"<p><sub>{html.escape(footer)}</sub></p>" if footer else ""
    body = _parser().render(reply, env)
    plain = f"{reply}\n\n{footer}" if footer else reply
    if thoughts:
        summary = text("thinking.live" if thinking else "py.static.thoughts", lang)
        body = (
            f"<details{' open' if thinking else ''}><summary>{html.escape(summary)}</summary>"
            f"<blockquote>{_parser().render(thoughts, env)}</blockquote></details>{body}"
        )
        plain = f"[{summary}]\n{thoughts}\n\n{plain}"
    return {"text/html": _WRAPPER.format(body + small), "text/plain": plain}
