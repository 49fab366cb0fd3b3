"""Online sources: OpenAI-compatible chat APIs known by name (``"kimi"``, ``"qwen"``, ...), like LazyLLM's.

``nbchat.Chat("kimi:")`` or ``nbchat.Chat(source="kimi")`` chats with the source's default model;
``nbchat.Chat("qwen:qwen-max")`` picks one. API keys come from the environment or from a ``.env`` file.

Where a key may go is decided here, in one place (:func:`source_credentials`, :func:`server_key`):

- a source's key goes to the source's official endpoint, to a base URL set in the same place as the key (the same
  call: ``base_url=`` with ``api_key=``; the environment; the same ``.env`` file), or to one set in the environment
  (the kernel's own configuration: an administrator's gateway);
- ``$NBCHAT_API_KEY``, the key of servers named by URL, goes only to a URL named in code or by the administrator
  (``$NBCHAT_DEFAULT_MODEL``);
- a base URL from a less trusted place (a conversation file, a ``.env`` file, a widget message) never receives a
  key it did not come with: that is refused with an error that says how to pass both.

Default models follow LazyLLM's table where it names one, except where the model was retired:
openai's ``gpt-3.5-turbo`` became ``gpt-4o-mini``; doubao (Volcengine Ark) has no usable default because Ark
needs an endpoint id or model id of your own account.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from .._errors import BackendError

__all__ = [
    "ORIGINS",
    "SOURCES",
    "Source",
    "dotenv_file",
    "env_or_dotenv",
    "find_api_key",
    "get_source",
    "missing_key_error",
    "missing_key_message",
    "read_dotenv",
    "server_key",
    "source_credentials",
]

ORIGINS = ("code", "environment", "file", "browser")
"""Where a spec or base URL came from: the user's own call, the administrator's environment
(``$NBCHAT_DEFAULT_MODEL``), a conversation file (``load``), a widget message (Compare's *Add model*)."""

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Source:
    """One online source.

    Attributes
    ----------
    name : str
        Short name used in specs: ``"kimi"`` in ``"kimi:moonshot-v1-8k"``.
    title : str
        Provider's name for messages.
    base_url : str
        OpenAI-compatible endpoint (ends in the API version, e.g. ``/v1``). Overridden by ``$NBCHAT_<NAME>_BASE_URL``.
    default_model : str or None
        Model used when none is given; ``None`` when the source has no usable default.
    key_vars : tuple of str
        Environment variables holding the API key, in the order they are looked up (after
        ``NBCHAT_<NAME>_API_KEY``).
    keys_url : str
        Where to create a key.
    tokens_field : str
        Request field for the reply length: ``"max_tokens"`` (most servers), ``"max_completion_tokens"`` (OpenAI,
        required by its reasoning models) or ``"max_new_tokens"`` (SenseNova's compatible mode).
    zero_temperature : bool
        Whether the API accepts ``temperature=0``; if not, greedy requests leave the temperature out.
    model_hint : str
        Extra help shown when no model is given and there is no default.
    thinking : str
        How ``thinking=`` (on/off; ``None`` sends nothing) reaches this source's reasoning models:

        - ``"enable_thinking"``: ``"enable_thinking": true/false`` in the body (DashScope's Qwen3 / qwen-plus).
        - ``"thinking_type"``: ``"thinking": {"type": "enabled" | "disabled"}`` (Zhipu GLM-4.5 and later,
          Volcengine Ark's Doubao seed models).
        - ``"reasoning_effort"``: ``"reasoning_effort": "high" | "low"`` (OpenAI's o-series and gpt-5, gpt-oss on
          Hugging Face): these models always reason; off asks for as little as the API allows.
        - ``"model:<thinking>|<plain>"``: the switch is the choice of model (DeepSeek: ``deepseek-reasoner`` or
          ``deepseek-chat``; Kimi: ``kimi-k2-thinking`` or ``kimi-k2-0905-preview``); applied only when the chat
          uses one of the two.
        - ``""``: none (SenseNova); the reply carries a notice that the setting was not applied.
    vision_models : tuple of str
        Models of this source known to take images (checked against the provider's model list); the default
        model, when not among them, is known not to. Other models: unknown (images are sent, the server decides).
    """

    name: str
    title: str
    base_url: str
    default_model: str | None
    key_vars: tuple[str, ...]
    keys_url: str
    tokens_field: str = "max_tokens"
    zero_temperature: bool = True
    model_hint: str = ""
    thinking: str = ""
    vision_models: tuple[str, ...] = ()

    @property
    def thinking_help(self) -> str:
        """How ``thinking=`` is sent to this source, in words (``""`` when it has no switch)."""
        if self.thinking.startswith("model:"):
            thinker, plain = self.thinking.removeprefix("model:").split("|")
            return f"model choice: {thinker} (on) / {plain} (off)"
        names = {
            "enable_thinking": "enable_thinking",
            "thinking_type": 'thinking: {"type": "enabled" | "disabled"}',
            "reasoning_effort": "reasoning_effort high (on) / low (off)",
        }
        return names.get(self.thinking, "")

    def sees_images(self, model: str | None) -> bool | None:
        """Whether ``model`` takes images: ``True``/``False`` when known (see :attr:`vision_models`), else ``None``."""
        if model in self.vision_models:
            return True
        return False if model == self.default_model else None

    @property
    def env_prefix(self) -> str:
        """``NBCHAT_<NAME>``: prefix of the variables that override the base URL and key."""
        return f"NBCHAT_{self.name.upper()}"

    def resolved_base_url(self) -> str:
        """``$NBCHAT_<NAME>_BASE_URL`` if set (environment or ``.env``), else :attr:`base_url`."""
        return self.configured_base_url()[0]

    def configured_base_url(self) -> tuple[str, str]:
        """``(url, where)``: ``$NBCHAT_<NAME>_BASE_URL`` from the environment (``"environment"``), else from the
        nearest ``.env`` (``".env"``), else the official :attr:`base_url` (``"official"``)."""
        var = f"{self.env_prefix}_BASE_URL"
        if os.environ.get(var):
            return os.environ[var], "environment"
        dotenv = read_dotenv()
        if dotenv.get(var):
            return dotenv[var], ".env"
        return self.base_url, "official"

    def all_key_vars(self) -> tuple[str, ...]:
        """Every variable that may hold the key, in lookup order."""
        return (f"{self.env_prefix}_API_KEY", *self.key_vars)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "openai",
            "OpenAI",
            "https://api.openai.com/v1",
            "gpt-4o-mini",  # LazyLLM's gpt-3.5-turbo is retired
            ("OPENAI_API_KEY",),
            "https://platform.openai.com/api-keys",
            tokens_field="max_completion_tokens",
            thinking="reasoning_effort",
            vision_models=("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini"),
        ),
        Source(
            "sensenova",
            "SenseNova",
            "https://api.sensenova.cn/compatible-mode/v1",
            "SenseChat-5",
            ("SENSENOVA_API_KEY",),
            "https://console.sensecore.cn/aistudio/management/api-key",
            tokens_field="max_new_tokens",
            zero_temperature=False,
        ),
        Source(
            "glm",
            "Zhipu GLM",
            "https://open.bigmodel.cn/api/paas/v4/",
            "glm-4",
            ("ZHIPUAI_API_KEY", "GLM_API_KEY"),
            "https://open.bigmodel.cn/usercenter/apikeys",
            thinking="thinking_type",
            vision_models=("glm-4v", "glm-4v-plus", "glm-4v-flash"),
        ),
        Source(
            "kimi",
            "Moonshot Kimi",
            "https://api.moonshot.cn/v1",
            "moonshot-v1-8k",
            ("MOONSHOT_API_KEY", "KIMI_API_KEY"),
            "https://platform.moonshot.cn/console/api-keys",
            thinking="model:kimi-k2-thinking|kimi-k2-0905-preview",
            vision_models=("moonshot-v1-8k-vision-preview", "moonshot-v1-32k-vision-preview"),
        ),
        Source(
            "qwen",
            "Alibaba DashScope (Qwen)",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "qwen-plus",
            ("DASHSCOPE_API_KEY", "QWEN_API_KEY"),
            "https://dashscope.console.aliyun.com/apiKey",
            thinking="enable_thinking",
            vision_models=("qwen-vl-plus", "qwen-vl-max"),
        ),
        Source(
            "doubao",
            "Volcengine Ark (Doubao)",
            "https://ark.cn-beijing.volces.com/api/v3",
            None,
            ("ARK_API_KEY", "DOUBAO_API_KEY"),
            "https://console.volcengine.com/ark/region:ark+cn-beijing/apiKey",
            thinking="thinking_type",
            model_hint=(
                "Doubao needs the model id or the inference endpoint id (ep-...) of a model activated in your "
                "Volcengine Ark console, e.g. nbchat.Chat('doubao:ep-20240101000000-abcde') or "
                "nbchat.Chat(source='doubao', model='doubao-seed-1-6-250615')."
            ),
        ),
        Source(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com/v1",
            "deepseek-chat",
            ("DEEPSEEK_API_KEY",),
            "https://platform.deepseek.com/api_keys",
            thinking="model:deepseek-reasoner|deepseek-chat",
        ),
        Source(
            "hf",
            "Hugging Face Inference Providers",
            "https://router.huggingface.co/v1",
            "openai/gpt-oss-20b",
            ("HF_TOKEN", "HUGGINGFACE_API_KEY", "HF_API_KEY"),
            "https://huggingface.co/settings/tokens",
            thinking="reasoning_effort",
        ),
    )
}


def get_source(name: str) -> Source:
    """The source called ``name`` (case-insensitive).

    Raises
    ------
    BackendError
        If there is no such source; the message lists the known ones.
    """
    source = SOURCES.get(name.strip().lower())
    if source is None:
        msg = (
            f"Unknown online source {name!r}. Known sources: {', '.join(SOURCES)}. For any other "
            "OpenAI-compatible API pass its URL: nbchat.Chat('https://host/v1', model='...', api_key='...')."
        )
        raise BackendError(msg)
    return source


def dotenv_file() -> Path | None:
    """The nearest ``.env`` file, searched upward from the current directory (python-dotenv's
    ``find_dotenv(usecwd=True)``); ``None`` if there is none."""
    try:
        from dotenv import find_dotenv
    except ImportError:  # python-dotenv is a dependency; stay usable without it
        return None
    path = find_dotenv(usecwd=True)
    return Path(path) if path else None


def read_dotenv() -> dict[str, str]:
    """Values of the nearest ``.env`` file (:func:`dotenv_file`); ``{}`` if none.

    The values are returned, not written into ``os.environ`` (python-dotenv's ``dotenv_values``).
    """
    path = dotenv_file()
    if path is None:
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v}


def env_or_dotenv(*names: str) -> str | None:
    """The first of ``names`` set in the environment, else the first set in the nearest ``.env``; else ``None``."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    dotenv = read_dotenv()
    return next((dotenv[n] for n in names if dotenv.get(n)), None)


def find_api_key(source: Source) -> tuple[str | None, str | None]:
    """Look up ``source``'s API key.

    Order: each of :meth:`Source.all_key_vars` in the environment, then the same variables in the nearest
    ``.env`` file (the environment wins).

    Returns
    -------
    (key, where) : tuple
        The key and a description of where it was found (``"$KIMI_API_KEY"``, ``".env: KIMI_API_KEY"``), or
        ``(None, None)``.
    """
    for var in source.all_key_vars():
        if os.environ.get(var):
            return os.environ[var], f"${var}"
    dotenv = read_dotenv()
    for var in source.all_key_vars():
        if dotenv.get(var):
            return dotenv[var], f".env: {var}"
    return None, None


def source_credentials(
    source: Source, *, base_url: str | None = None, api_key: str | None = None, origin: str = "code"
) -> tuple[str, str]:
    """The base URL to use for ``source`` and the key to send there: the one place that decides where a key goes.

    Parameters
    ----------
    source : Source
        The online source.
    base_url : str, optional
        A base URL given with the spec (``base_url=``); from ``origin``. Default: ``$NBCHAT_<NAME>_BASE_URL``
        (environment, then ``.env``), else the official endpoint.
    api_key : str, optional
        A key passed in the same call. Default: :func:`find_api_key` (environment, then ``.env``).
    origin : {"code", "environment", "file", "browser"}, default "code"
        Where ``base_url`` came from (see :data:`ORIGINS`).

    Returns
    -------
    (base_url, api_key) : tuple of str

    Raises
    ------
    BackendError
        If no key is found (the message names the variables and ``.env``), or if the key would go to a base URL
        set in a less trusted place than the key (see the module docstring); the message says where each came
        from and how to pass both in code.
    """
    if base_url:
        url, url_from = base_url, origin
    else:
        url, url_from = source.configured_base_url()
    key: str | None
    if api_key is not None:
        key, key_from = api_key, "code"
    else:
        key, where = find_api_key(source)
        if key is None:
            raise missing_key_error(source)
        key_from = ".env" if str(where).startswith(".env") else "environment"
    if url_from in ("official", "environment") or url_from == key_from:
        return url, key
    from .._redact import redact_url

    places = {
        "code": "base_url= in code",
        "environment": "the environment",
        "file": "a conversation file",
        "browser": "the browser",
        ".env": f"{dotenv_file() or '.env'}",
    }
    var = f"{source.env_prefix}_BASE_URL"
    msg = (
        f"Refusing to send the {source.title} key from {places[key_from]} to {redact_url(url)} (set by "
        f"{places.get(url_from, url_from)}): a key goes only to {source.title}'s own endpoint ({source.base_url}), "
        f"to a base URL set in the same place as the key, or to ${var} in the environment. To use this URL, pass "
        f"both in code: nbchat.Chat('{source.name}:...', base_url=..., api_key=...), or put {var} next to the key."
    )
    raise BackendError(msg)


def server_key(api_key: str | None = None, origin: str = "code") -> str | None:
    """The key for a server named by URL: ``api_key`` if given, else ``$NBCHAT_API_KEY`` (environment, then
    ``.env``) when the URL was named in code or by the administrator (``origin`` ``"code"`` or
    ``"environment"``); never for a URL from a conversation file or the browser. ``None``: send no key."""
    if api_key is not None:
        return api_key
    if origin in ("code", "environment"):
        return env_or_dotenv("NBCHAT_API_KEY")
    return None


def missing_key_message(source: Source) -> str:
    """What to do when no key was found for ``source`` (the text of :func:`missing_key_error`)."""
    return str(missing_key_error(source))


def missing_key_error(source: Source) -> BackendError:
    """The error for a missing key of ``source``: which variables to set, where a ``.env`` file goes, where to
    create a key; with its catalogue key ``py.err.noKey`` so a widget shows it in its own language."""
    params = {
        "source": source.title,
        "vars": " or ".join(source.all_key_vars()),
        "choices": " / ".join(source.all_key_vars()),
        "var": source.key_vars[0],
        "cwd": Path.cwd(),
        "url": source.keys_url,
    }
    return BackendError.from_key("py.err.noKey", params)
