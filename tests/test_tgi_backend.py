"""The TGI backend: prompt formats, and the Falcon lesson's client against a scripted TGI server.

The server (tests/servers/tgi_stub.py) follows TGI's documented protocol; it is driven through the real
``text_generation.Client``/``AsyncClient`` (object form), ``huggingface_hub.(Async)InferenceClient`` objects, and the
``"tgi:http://..."`` spec (huggingface_hub's async client inside).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import nbchat
from nbchat.backends import resolve_backend
from nbchat.backends.prompt_formats import chatml, falcon, resolve_prompt_format
from nbchat.backends.tgi import TGIBackend

# text-generation 0.7 calls pydantic's deprecated .dict(); not nbchat's warning to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:text_generation")

SAVANNA = "Lions, elephants, giraffes, zebras and cheetahs live in the savanna."
BASIC_KEY = "hf_basic_SECRET_4242"


# ---------------------------------------------------------------------------------------------- prompt formats
def test_falcon_format_is_the_lessons_character_for_character() -> None:
    def lesson(message: str, chat_history: list[tuple[str, str]], instruction: str) -> str:  # from the seed
        prompt = f"System:{instruction}"
        for user_message, bot_message in chat_history:
            prompt = f"{prompt}\nUser: {user_message}\nAssistant: {bot_message}"
        return f"{prompt}\nUser: {message}\nAssistant:"

    messages = [
        {"role": "system", "content": "A legal assistant."},
        {"role": "user", "content": "Which animals live in the savanna?"},
        {"role": "assistant", "content": "Lions."},
        {"role": "user", "content": "Which of these is the strongest?"},
    ]
    expected = lesson(
        "Which of these is the strongest?", [("Which animals live in the savanna?", "Lions.")], "A legal assistant."
    )
    assert falcon(messages) == expected
    # without a system message, the lesson's first version: no "System:" line
    assert falcon(messages[1:2]) == "\nUser: Which animals live in the savanna?\nAssistant:"
    assert resolve_prompt_format("falcon").stop == ("\nUser:",)


def test_chatml_and_custom_formats() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]
    assert (
        chatml(messages) == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    custom = resolve_prompt_format(lambda ms: " | ".join(m["content"] for m in ms))
    assert custom.render(messages) == "S | Hi"
    with pytest.raises(ValueError, match="falcon"):
        resolve_prompt_format("vicuna")


def test_jinja_chat_template_renders_like_transformers(nbchat_cache, embedded_ready) -> None:
    """A chat template string renders exactly as the tokenizer's apply_chat_template does."""
    from transformers import AutoTokenizer

    from tests.servers.transformers_serve import embedded_model_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Which animals live in the savanna?"},
    ]
    expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert resolve_prompt_format(tokenizer.chat_template).render(messages) == expected


# ---------------------------------------------------------------------------------------------- against the server
KINDS = [
    "text_generation.Client",
    "text_generation.AsyncClient",
    "huggingface_hub.InferenceClient",
    "huggingface_hub.AsyncInferenceClient",
    "tgi: spec",
]


def make_client(kind: str, url: str) -> Any:
    """The lesson's client (and its siblings) for ``url``; ``"tgi: spec"`` is the string form."""
    if kind == "tgi: spec":
        return f"tgi:{url}"
    if kind.startswith("huggingface_hub."):
        import huggingface_hub

        client_class = getattr(huggingface_hub, kind.split(".")[1])
        return client_class(base_url=url, headers={"authorization": None})
    try:
        import text_generation
    except ImportError as exc:  # a missing test dependency is a failure with the fix, not a skip
        pytest.fail(f"{exc}: pip install 'nbchat[tgi]' && pip install --no-deps text-generation")
    if kind == "text_generation.AsyncClient":
        return text_generation.AsyncClient(url, timeout=120)
    return text_generation.Client(url, headers={"Authorization": f"Basic {BASIC_KEY}"}, timeout=120)


@pytest.fixture(params=KINDS)
def tgi_chat(request: pytest.FixtureRequest, tgi_stub) -> Any:
    """A factory: Conversation(<client of this kind>, prompt_format="falcon", **settings)."""

    def make(**kwargs: Any) -> nbchat.Conversation:
        backend = resolve_backend(
            make_client(request.param, tgi_stub.url), prompt_format=kwargs.pop("prompt_format", "falcon")
        )
        kwargs.setdefault("retries", 0)  # retries are tested on their own, in test_retries_only_before_any_text
        return nbchat.Conversation(backend, prepare="now", **kwargs)

    return make


def test_the_falcon_lesson(tgi_chat, tgi_stub) -> None:
    """Two questions: the second is only answerable with the first in the prompt; stop sequences never show."""
    conv = tgi_chat(system_prompt="A conversation with a zoologist.", max_new_tokens=1024, temperature=0.7)
    deltas: list[str] = []
    conv.subscribe(lambda e: deltas.append(e.text) if e.kind == "delta" else None)
    assert conv.ask("Which animals live in the savanna?") == SAVANNA
    assert len(deltas) > 1
    assert conv.ask("Which of these is the strongest?") == "Of these, the elephant is the strongest."
    body = tgi_stub.requests[-1]
    assert body["inputs"] == (
        "System:A conversation with a zoologist.\nUser: Which animals live in the savanna?\n"
        f"Assistant: {SAVANNA}\nUser: Which of these is the strongest?\nAssistant:"
    )
    params = body["parameters"]
    assert params["stop"] == ["\nUser:"]
    assert params["do_sample"] is True
    assert params["temperature"] == 0.7
    assert params.get("top_p") is None  # TGI rejects top_p=1.0: left out
    stats = conv.history[-1].stats
    assert stats["finish_reason"] == "stop"  # TGI said "stop_sequence"
    assert stats["tokens"] > 0
    assert conv.backend.model == "stub/falcon-7b-instruct"  # from GET /info
    assert conv.backend.context_window == 2048


def test_greedy_sends_no_temperature(tgi_chat, tgi_stub) -> None:
    conv = tgi_chat(temperature=0)  # the stub, like TGI, answers 422 to temperature <= 0
    assert conv.ask("Which animals live in the savanna?") == SAVANNA
    params = tgi_stub.requests[-1]["parameters"]
    assert params["do_sample"] is False
    assert params.get("temperature") is None


def test_max_new_tokens_gives_length(tgi_chat) -> None:
    conv = tgi_chat(max_new_tokens=3)
    assert conv.ask("Which animals live in the savanna?") == "Lions, elephants"
    assert conv.history[-1].stats["finish_reason"] == "length"
    assert conv.history[-1].stats["tokens"] == 3


def test_chatml_format_and_user_stop_sequences(tgi_chat, tgi_stub) -> None:
    conv = tgi_chat(prompt_format="chatml", stop=["giraffes"])
    assert conv.ask("Which animals live in the savanna?") == "Lions, elephants, "
    assert tgi_stub.requests[-1]["inputs"].endswith("<|im_start|>assistant\n")
    assert tgi_stub.requests[-1]["parameters"]["stop"] == ["giraffes", "<|im_end|>"]


@pytest.mark.parametrize(
    ("question", "status", "partial", "words"),
    [
        ("trigger-generation-error", "error", "You said", ["failed while generating", "CUDA out of memory"]),
        ("trigger-overloaded", "error", "", ["overloaded", "send again"]),
    ],
)
def test_server_errors_keep_partial_text(tgi_chat, question: str, status: str, partial: str, words: list[str]) -> None:
    conv = tgi_chat()
    with pytest.raises(nbchat.GenerationError) as info:
        conv.ask(question)
    assert conv.history[-1].status == status
    assert conv.history[-1].content == partial
    for word in words:
        assert word in str(info.value)
    assert BASIC_KEY not in str(info.value)


def test_validation_error_says_what_to_change(tgi_chat) -> None:
    conv = tgi_chat(max_new_tokens=2000)
    with pytest.raises(nbchat.GenerationError, match="max_new_tokens"):
        conv.ask("hi")


def test_stop_mid_stream(tgi_chat) -> None:
    conv = tgi_chat()
    future = conv.send("trigger-slow")
    while not (conv.partial_reply() or ("", ""))[1]:
        time.sleep(0.01)
    started = time.perf_counter()
    conv.stop()
    reply = future.result(timeout=5)
    assert time.perf_counter() - started < 1.0
    assert reply.status == "stopped"
    assert reply.content.startswith("word")
    assert conv.ask("Which animals live in the savanna?") == SAVANNA


@pytest.mark.parametrize("kind", ["text_generation.AsyncClient", "huggingface_hub.AsyncInferenceClient", "tgi: spec"])
def test_stop_before_the_first_token_with_async_clients(tgi_stub, kind: str) -> None:
    conv = nbchat.Conversation(resolve_backend(make_client(kind, tgi_stub.url)), prepare="now")
    future = conv.send("trigger-hang")
    time.sleep(0.3)
    started = time.perf_counter()
    conv.stop()
    assert future.result(timeout=5).status == "stopped"
    assert time.perf_counter() - started < 0.5  # the pending request is cancelled, not waited out


def test_connection_refused() -> None:
    from tests.servers._runner import free_port

    url = f"http://127.0.0.1:{free_port()}"
    for spec in (make_client("text_generation.Client", url), f"tgi:{url}"):
        conv = nbchat.Conversation(spec, prepare="now", retries=0)
        with pytest.raises(nbchat.GenerationError, match="server is running"):
            conv.ask("hi")


@pytest.mark.parametrize(("question", "requests"), [("trigger-overloaded", 2), ("trigger-generation-error", 1)])
def test_retries_only_before_any_text(tgi_chat, tgi_stub, question: str, requests: int) -> None:
    """Overloaded before the first token: sent again (bounded); failed after text arrived: never sent again."""
    conv = tgi_chat(retries=1)
    with pytest.raises(nbchat.GenerationError):
        conv.ask(question)
    assert len(tgi_stub.requests) == requests


def test_secrets_stay_out_of_describe_and_repr(tgi_stub) -> None:
    backend = TGIBackend(make_client("text_generation.Client", tgi_stub.url))
    url_backend = TGIBackend(f"tgi:{tgi_stub.url}", token=BASIC_KEY, headers={"X-Api-Key": BASIC_KEY})
    for b in (backend, url_backend):
        assert BASIC_KEY not in repr(b) + str(b.describe()) + repr(nbchat.Conversation(b, prepare="lazy"))
    assert url_backend.describe()["prompt_format"] == "falcon"


def test_bad_targets() -> None:
    with pytest.raises(ValueError, match="http"):
        TGIBackend("tgi:localhost:8080")
    with pytest.raises(TypeError):
        TGIBackend(42)


def test_think_tags_become_reasoning(tgi_chat, tgi_stub) -> None:
    conv = tgi_chat()
    assert conv.ask("trigger-think") == "Lions sleep a lot."
    reply = conv.history[-1]
    assert reply.reasoning == "The user wants a thought. Lions sleep 20 hours."
    conv.ask("again")
    assert "Lions sleep 20 hours" not in str(tgi_stub.requests[-1])  # the thoughts are not sent back


def test_tools_are_refused_before_sending_naming_the_messages_api(tgi_chat, tgi_stub) -> None:
    """TGI's native API has no tools; its Messages API (``/v1``) does, through the OpenAI backend."""

    def area(width: float, height: float) -> float:
        """Area of a rectangle."""
        return width * height

    sent = len(tgi_stub.requests)
    conv = tgi_chat(tools=[area], tool_approval="auto")
    reply = conv.send("3 by 4?").result(60)
    assert reply.status == "error"
    assert "cannot call tools in nbchat, so nothing was sent" in (reply.error or "")
    assert "TGI through its Messages API at the server's /v1 URL" in (reply.error or "")
    assert len(tgi_stub.requests) == sent  # nothing reached the server
    assert conv.history[0].content == "3 by 4?"
