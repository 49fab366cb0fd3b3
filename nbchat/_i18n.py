"""The widgets' language and the texts Python writes into them (notices, status), in English and Simplified Chinese.

Which language a view shows is decided in this order: ``Chat(lang=...)`` / ``Compare(lang=...)``; the administrator's
setting (``$NBCHAT_LANG`` or ``lang`` in the ``$NBCHAT_CONFIG`` file, see :mod:`nbchat._policy`); else the browser
(JupyterLab's language setting when it chose one, else the browser's languages). The browser's catalogue is
``js/i18n.ts``; every key here has the same key and the same texts there (a test keeps them in step), so a notice sent
with its ``key`` is shown in the view's language even when only the browser knows that language.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LANGS", "MESSAGES", "normalize_lang", "notice", "status_text", "text"]

LANGS = ("en", "zh")
"""Languages with a complete catalogue: English, Simplified Chinese."""

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "py.busy": "A reply is still being generated; wait for it or press Stop, then send again.",
        "py.empty": "The message is empty; type something to send.",
        "py.refused": "{label}: {value} was refused, {kept} is kept. {reason}",
        "py.lowered": (
            "{label} is at most {kept} here (the model's context window, or a limit set for this installation); "
            "{value} was lowered to {kept}."
        ),
        "py.status.loading": "loading {model}…",
        "py.status.ready": "ready",
        "py.status.readyOn": "ready · {device}",
        "py.status.generating": "generating with {model}…",
        "py.status.loadingHidden": "loading…",
        "py.status.generatingHidden": "generating…",
        "py.fixed": "{label} is fixed on this page.",
        "options.system": "System message",
        "options.history": "Use history",
        "options.thinking": "Thinking",
        "options.maxNewTokens": "Max new tokens",
        "options.temperature": "Temperature",
        "export.failed": "Export failed: {reason}",
    },
    "zh": {
        "py.busy": "回复还在生成中；请等它结束或点击停止，然后再发送。",
        "py.empty": "消息是空的，请先输入内容再发送。",
        "py.refused": "{label}：{value} 无效，仍使用 {kept}。{reason}",
        "py.lowered": "这里的{label}最多为 {kept}（受模型的上下文窗口或本机设定的上限限制）；{value} 已调低为 {kept}。",
        "py.status.loading": "正在加载 {model}…",
        "py.status.ready": "就绪",
        "py.status.readyOn": "就绪 · {device}",
        "py.status.generating": "{model} 正在生成…",
        "py.status.loadingHidden": "正在加载…",
        "py.status.generatingHidden": "正在生成…",
        "py.fixed": "{label}在这个页面上是固定的。",
        "options.system": "系统提示词",
        "options.history": "使用对话历史",
        "options.thinking": "思考",
        "options.maxNewTokens": "最大生成长度",
        "options.temperature": "温度",
        "export.failed": "导出失败：{reason}",
    },
}


def normalize_lang(value: str | None) -> str | None:
    """``"zh-CN"``, ``"zh_Hans"``, ``"ZH"`` → ``"zh"``; ``"en-GB"`` → ``"en"``; ``""``, ``"auto"`` → ``""``.

    Returns
    -------
    str or None
        A language of :data:`LANGS`, ``""`` (let the browser decide), or ``None`` for a language nbchat does not
        speak.
    """
    tag = (value or "").strip().lower()
    if tag in ("", "auto"):
        return ""
    base = tag.replace("_", "-").split("-")[0]
    return base if base in LANGS else None


def text(key: str, lang: str = "", **params: Any) -> str:
    """The text of ``key`` in ``lang`` (English when ``lang`` is ``""`` or unknown), placeholders filled.

    Raises
    ------
    KeyError
        For a key that is in neither catalogue (a bug in nbchat).
    """
    table = MESSAGES.get(lang) or MESSAGES["en"]
    template = table.get(key) or MESSAGES["en"][key]
    return template.format_map({k: str(v) for k, v in params.items()})


def notice(level: str, key: str, lang: str = "", **params: Any) -> dict[str, Any]:
    """A ``{"kind": "notice"}`` message for the browser: its text in ``lang``, and the key to show it in the view's.

    ``params`` are sent as strings; the browser fills them into its own catalogue's text for ``key``.
    """
    shown = {k: str(v) for k, v in params.items()}
    return {"kind": "notice", "level": level, "text": text(key, lang, **shown), "key": key, "params": shown}


def status_text(status: str, text_now: str, model: str, device: str | None) -> dict[str, Any]:
    """The key and parameters of a conversation's status line when it is one of the standard ones, else ``{}``.

    ``text_now`` is ``Conversation.status_text``; a progress line from a backend (``"downloading … 40%"``) or an
    error stays as written (it has no key, the view shows it as is).
    """
    if status == "loading" and text_now == f"loading {model}…":
        return {"key": "py.status.loading", "params": {"model": model}}
    if status == "ready" and text_now == "ready":
        return {"key": "py.status.ready", "params": {}}
    if status == "ready" and device and text_now == f"ready · {device}":
        return {"key": "py.status.readyOn", "params": {"device": device}}
    if status == "generating" and text_now == f"generating with {model}…":
        return {"key": "py.status.generating", "params": {"model": model}}
    return {}
