"""The widgets' language and the texts Python writes into them (notices, status), in English and Simplified Chinese.

Which language a view shows is decided in this order: ``Chat(lang=...)`` / ``Compare(lang=...)``; the administrator's
setting (``$NBCHAT_LANG`` or ``lang`` in the ``$NBCHAT_CONFIG`` file, see :mod:`nbchat._policy`); else the browser
(JupyterLab's language setting when it chose one, else the browser's languages). The browser's catalogue is
``js/i18n.ts``; every key here has the same key and the same texts there (a test keeps them in step), so a notice sent
with its ``key`` is shown in the view's language even when only the browser knows that language.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LANGS", "MESSAGES", "error_notice", "normalize_lang", "notice", "status_text", "text"]

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
        # errors of a failed reply (BackendError.key); a "<name>_key" parameter fills {<name>} from its own key
        "py.err.limitSeconds": "{seconds} s",
        "py.err.limitUnknown": "the timeout",
        "py.err.timeout": (
            "{where} did not answer within {limit}. The server may be busy or still loading the model; send again, or "
            "pass a longer timeout=."
        ),
        "py.err.timeoutFirst": (
            "{where} answered, then sent nothing for {limit} before the first token. The server may be overloaded or "
            "stuck; send again, or pass a longer timeout=."
        ),
        "py.err.timeoutMid": (
            "{where} answered, then sent nothing for {limit} in the middle of the reply. The partial reply is kept. "
            "The server may be overloaded or stuck; send again, or pass a longer timeout=."
        ),
        "py.err.dns": (
            "Could not find the host {host} of {where} (name lookup failed: {cause}). Check the spelling of the URL "
            "and your network/VPN, then send again."
        ),
        "py.err.connect": (
            "Could not connect to {where} ({cause}). Check that the server is running and that the URL (usually ending "
            "in /v1) is right, then send again."
        ),
        "py.err.closed": "{where} closed the connection before sending any reply text ({cause}). Send again.",
        "py.err.broke": (
            "The connection to {where} broke in the middle of the reply ({cause}). The partial reply is kept. Send "
            "again."
        ),
        "py.err.keyHelpSource": "Check the key in {vars} (environment or .env).",
        "py.err.keyHelpServer": "Check api_key= (or $NBCHAT_API_KEY).",
        "py.err.401": "{where} rejected the API key (401: {detail}). {help}",
        "py.err.403": "{where} refused access to model {model} (403: {detail}). {help} Check the plan/region.",
        "py.err.404": (
            "Model {model} was not found at {where} (404: {detail}). List the models it offers with "
            "OpenAIBackend(...).list_models() or GET {base_url}/models, and check that the URL ends in the API version "
            "(/v1)."
        ),
        "py.err.429": (
            "{where} is rate-limiting requests or the quota is used up (429: {detail}). Wait, or check your plan's "
            "limits, then send again."
        ),
        "py.err.429wait": (
            "{where} is rate-limiting requests (429: {detail}) and asks to wait {wait} s; then send again."
        ),
        "py.err.gateway": (
            "{where} answered HTTP {status} ({detail}): the server or a proxy in front of it is overloaded, restarting "
            "or cannot reach the model. Send again in a moment; if it persists, check the server."
        ),
        "py.err.5xx": (
            "{where} failed with HTTP {status} ({detail}). Send again; if it persists, check the server's log."
        ),
        "py.err.400": "{where} rejected the request (400: {detail}). Check the model name and the settings.",
        "py.err.http": "{where} answered HTTP {status} ({detail}).",
        "py.err.event": "{where} reported an error during the reply: {detail}. Send again.",
        "py.err.eventKept": (
            "{where} reported an error during the reply: {detail}. The partial reply is kept. Send again."
        ),
        "py.err.malformed": (
            "{where} sent a malformed chunk in its event stream ({problem}); Send again; if it persists, the server is "
            "not fully OpenAI-compatible (check its version and log)."
        ),
        "py.err.malformedKept": (
            "{where} sent a malformed chunk in its event stream ({problem}); the partial reply is kept. Send again; if "
            "it persists, the server is not fully OpenAI-compatible (check its version and log)."
        ),
        "py.err.notStream": (
            "{where} answered with {kind} instead of an event stream. A proxy, login page or a server that is not "
            "OpenAI-compatible may be in the way; check base_url (usually ending in /v1)."
        ),
        "py.err.noKey": (
            "No API key for {source}: set {vars} in the environment, or put a line {var}=... in a .env file in {cwd} "
            "or a folder above it (not committed to git), or pass api_key=... . Create a key at {url}"
        ),
        "py.err.tooLongLlamacpp": (
            "The prompt has {tokens} tokens, at or beyond the context window of {n_ctx} tokens llama.cpp was loaded "
            "with for {model}. Clear the chat, turn history off, or load the model with a larger n_ctx= (up to its "
            "trained context)."
        ),
        "py.err.tooLong": (
            "The prompt has {tokens} tokens, at or beyond {model}'s context window of {n_ctx}. Clear the chat or turn "
            "history off."
        ),
        "py.err.incomplete": "The reply ended without a finish reason, so it may be cut off. Send again to retry.",
        "py.err.tried": "{error} (Tried {n} times.)",
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
        "py.err.limitSeconds": "{seconds} 秒",
        "py.err.limitUnknown": "设定的超时时间",
        "py.err.timeout": (
            "请求超时：{where} 在 {limit}内没有响应。服务器可能正忙，或者还在加载模型；请重新发送，或传入更长的 "
            "timeout=。"
        ),
        "py.err.timeoutFirst": (
            "等待超时：{where} 已经响应，但在第一个 token 之前的 {limit}内没有再发来任何内容。"
            "服务器可能负载过高或卡住了；请重新发送，或传入更长的 timeout=。"
        ),
        "py.err.timeoutMid": (
            "等待超时：{where} 回复到一半后，{limit}内没有再发来任何内容。已保留部分回复。服务器可能负载过高或卡住了；"
            "请重新发送，或传入更长的 timeout=。"
        ),
        "py.err.dns": (
            "找不到 {where} 的主机 {host}（域名解析失败：{cause}）。请检查 URL 是否拼写正确，以及网络或 VPN 是否正常，"
            "然后重新发送。"
        ),
        "py.err.connect": (
            "无法连接到 {where}（{cause}）。请确认服务器已经启动，并且 URL 正确（通常以 /v1 结尾），然后重新发送。"
        ),
        "py.err.closed": "{where} 还没发来任何回复内容就关闭了连接（{cause}）。请重新发送。",
        "py.err.broke": "与 {where} 的连接在回复中途断开了（{cause}）。已保留部分回复。请重新发送。",
        "py.err.keyHelpSource": "请检查 {vars} 中的 API 密钥（环境变量或 .env 文件）。",
        "py.err.keyHelpServer": "请检查 api_key=（或环境变量 $NBCHAT_API_KEY）。",
        "py.err.401": "{where} 拒绝了这个 API 密钥（401：{detail}）。{help}",
        "py.err.403": (
            "{where} 拒绝访问模型 {model}（403：{detail}）。{help}另外请确认你的套餐和所在地区可以使用这个模型。"
        ),
        "py.err.404": (
            "在 {where} 上找不到模型 {model}（404：{detail}）。可以用 OpenAIBackend(...).list_models() 或 GET "
            "{base_url}/models 查看它提供哪些模型，并确认 URL 以 API 版本（/v1）结尾。"
        ),
        "py.err.429": (
            "请求过于频繁或额度已用完，{where} 拒绝了请求（429：{detail}）。请稍等一会儿，或查看你的套餐额度，"
            "然后重新发送。"
        ),
        "py.err.429wait": "请求过于频繁，{where} 已限流（429：{detail}），要求等待 {wait} 秒；之后请重新发送。",
        "py.err.gateway": (
            "{where} 返回 HTTP {status}（{detail}）：服务器或它前面的代理过载、正在重启，或者连不上模型。"
            "请稍后重新发送；如果一直这样，请检查服务器。"
        ),
        "py.err.5xx": "{where} 出错了，返回 HTTP {status}（{detail}）。请重新发送；如果一直出错，请查看服务器日志。",
        "py.err.400": "{where} 拒绝了这个请求（400：{detail}）。请检查模型名称和各项设置。",
        "py.err.http": "{where} 返回 HTTP {status}（{detail}）。",
        "py.err.event": "{where} 在回复过程中报错：{detail}。请重新发送。",
        "py.err.eventKept": "{where} 在回复过程中报错：{detail}。已保留部分回复。请重新发送。",
        "py.err.malformed": (
            "{where} 的事件流里有一段格式错误的数据（{problem}）。请重新发送；如果一直这样，说明这个服务器并不完全兼容 "
            "OpenAI（请查看它的版本和日志）。"
        ),
        "py.err.malformedKept": (
            "{where} 的事件流里有一段格式错误的数据（{problem}）；已保留部分回复。请重新发送；如果一直这样，"
            "说明这个服务器并不完全兼容 OpenAI（请查看它的版本和日志）。"
        ),
        "py.err.notStream": (
            "{where} 返回的是 {kind}，而不是事件流。中间可能隔着代理或登录页面，或者服务器并不兼容 OpenAI；请检查 "
            "base_url（通常以 /v1 结尾）。"
        ),
        "py.err.noKey": (
            "没有找到 {source} 的 API 密钥：请在环境变量中设置 {choices}，或在 {cwd} 或它的上级文件夹里的 .env "
            "文件中写一行 {var}=...（不要提交到 git），也可以直接传入 api_key=...。API 密钥可以在 {url} 创建。"
        ),
        "py.err.tooLongLlamacpp": (
            "提示词有 {tokens} 个 token，已达到或超过 llama.cpp 为 {model} 加载时设定的上下文窗口（{n_ctx} 个 token）。"
            "请清空对话、关闭“使用对话历史”，或用更大的 n_ctx= 重新加载模型（不超过它训练时的上下文长度）。"
        ),
        "py.err.tooLong": (
            "提示词有 {tokens} 个 token，已达到或超过 {model} 的上下文窗口（{n_ctx} 个 token）。"
            "请清空对话或关闭“使用对话历史”。"
        ),
        "py.err.incomplete": "回复没有正常结束（缺少 finish reason），内容可能被截断了。请重新发送。",
        "py.err.tried": "{error}（共尝试了 {n} 次。）",
    },
}


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


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

    A parameter ``<name>_key`` that names a catalogue key fills ``{<name>}`` with that key's text in ``lang`` (its
    own placeholders from the same parameters), in the order given, as the browser does (``I18n.fromKernel``); so
    ``{"help": "Check api_key=...", "help_key": "py.err.keyHelpServer"}`` is shown in the view's language.

    Raises
    ------
    KeyError
        For a key that is in neither catalogue (a bug in nbchat).
    """
    table = MESSAGES.get(lang) or MESSAGES["en"]
    values = {k: str(v) for k, v in params.items()}
    for name, value in list(values.items()):
        if name.endswith("_key") and value in MESSAGES["en"]:
            values[name[: -len("_key")]] = _fill(table.get(value) or MESSAGES["en"][value], values)
    return _fill(table.get(key) or MESSAGES["en"][key], values)


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{name}`` of ``values`` filled; unknown placeholders stay as written (as in the
    browser), so a text never fails for a parameter it lacks."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def notice(level: str, key: str, lang: str = "", **params: Any) -> dict[str, Any]:
    """A ``{"kind": "notice"}`` message for the browser: its text in ``lang``, and the key to show it in the view's.

    ``params`` are sent as strings; the browser fills them into its own catalogue's text for ``key``.
    """
    shown = {k: str(v) for k, v in params.items()}
    return {"kind": "notice", "level": level, "text": text(key, lang, **shown), "key": key, "params": shown}


def error_notice(error: BaseException, lang: str = "", *, fallback: str | None = None) -> dict[str, Any]:
    """A warning notice for an error met while handling a browser message (a model that could not be added, a
    missing API key): keyed (:func:`notice`) when the error has a catalogue key (``BackendError.key`` and
    ``params``), else ``fallback`` (default ``str(error)``) as written."""
    key, params = getattr(error, "key", None), getattr(error, "params", None)
    if isinstance(key, str) and key in MESSAGES["en"] and isinstance(params, dict):
        return notice("warning", key, lang, **params)
    return {"kind": "notice", "level": "warning", "text": str(error) if fallback is None else fallback}


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
