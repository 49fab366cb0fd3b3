"""Online sources: OpenAI-compatible chat APIs known by name (``"kimi"``, ``"qwen"``, ...), like LazyLLM's.

``nbchat.Chat("kimi:")`` or ``nbchat.Chat(source="kimi")`` chats with the source's default model;
``nbchat.Chat("qwen:qwen-max")`` picks one. API keys come from the environment or from a ``.env`` file.

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

__all__ = ["SOURCES", "Source", "env_or_dotenv", "find_api_key", "get_source", "missing_key_message", "read_dotenv"]

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
    vision_models: tuple[str, ...] = ()

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
        var = f"{self.env_prefix}_BASE_URL"
        return os.environ.get(var) or read_dotenv().get(var) or self.base_url

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
            vision_models=("glm-4v", "glm-4v-plus", "glm-4v-flash"),
        ),
        Source(
            "kimi",
            "Moonshot Kimi",
            "https://api.moonshot.cn/v1",
            "moonshot-v1-8k",
            ("MOONSHOT_API_KEY", "KIMI_API_KEY"),
            "https://platform.moonshot.cn/console/api-keys",
            vision_models=("moonshot-v1-8k-vision-preview", "moonshot-v1-32k-vision-preview"),
        ),
        Source(
            "qwen",
            "Alibaba DashScope (Qwen)",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "qwen-plus",
            ("DASHSCOPE_API_KEY", "QWEN_API_KEY"),
            "https://dashscope.console.aliyun.com/apiKey",
            vision_models=("qwen-vl-plus", "qwen-vl-max"),
        ),
        Source(
            "doubao",
            "Volcengine Ark (Doubao)",
            "https://ark.cn-beijing.volces.com/api/v3",
            None,
            ("ARK_API_KEY", "DOUBAO_API_KEY"),
            "https://console.volcengine.com/ark/region:ark+cn-beijing/apiKey",
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
        ),
        Source(
            "hf",
            "Hugging Face Inference Providers",
            "https://router.huggingface.co/v1",
            "openai/gpt-oss-20b",
            ("HF_TOKEN", "HUGGINGFACE_API_KEY", "HF_API_KEY"),
            "https://huggingface.co/settings/tokens",
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


def read_dotenv() -> dict[str, str]:
    """Values of the nearest ``.env`` file, searched upward from the current directory; ``{}`` if none.

    The values are returned, not written into ``os.environ`` (python-dotenv's ``find_dotenv(usecwd=True)`` and
    ``dotenv_values``).
    """
    try:
        from dotenv import dotenv_values, find_dotenv
    except ImportError:  # python-dotenv is a dependency; stay usable without it
        return {}
    path = find_dotenv(usecwd=True)
    if not path:
        return {}
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


def missing_key_message(source: Source) -> str:
    """What to do when no key was found for ``source``."""
    names = " or ".join(source.all_key_vars())
    cwd = Path.cwd()
    return (
        f"No API key for {source.title}: set {names} in the environment, or put a line "
        f"{source.key_vars[0]}=... in a .env file in {cwd} or a folder above it (not committed to git), or pass "
        f"api_key=... . Create a key at {source.keys_url}"
    )
