"""Structured replies (``ask(..., schema=...)``): the OpenAI ``response_format`` on the wire, checked by the stub as
OpenAI's API reference shapes it (tests/servers/openai_stub.py, model "verbatim" answers the JSON a test writes),
validation, the error that keeps the raw text, and the backends that constrain or refuse."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Literal

import pydantic
import pytest

import nbchat
from nbchat._structured import StructuredReplyError, response_format
from nbchat.backends.openai import OpenAIBackend
from tests import test_magic


class City(pydantic.BaseModel):
    """A city and how many people live there."""

    name: str
    population: int
    country: str | None = None


CITY_SCHEMA = {
    "title": "city",
    "type": "object",
    "properties": {"name": {"type": "string"}, "kind": {"enum": ["town", "city"]}},
    "required": ["name", "kind"],
    "additionalProperties": False,
}


def verbatim(stub: Any, **kwargs: Any) -> nbchat.Conversation:
    return nbchat.Conversation(OpenAIBackend("verbatim", base_url=f"{stub.url}/v1"), prepare="now", retries=0,
                               **kwargs)  # fmt: skip


def test_pydantic_schema_goes_out_as_openai_strict_json_schema_and_comes_back_validated(openai_stub: Any) -> None:
    conv = verbatim(openai_stub)
    city = conv.ask('{"name": "Lyon", "population": 522250, "country": "France"}', schema=City)
    assert city == City(name="Lyon", population=522250, country="France")
    sent = openai_stub.requests[-1]["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {
            "name": "City",
            "description": "A city and how many people live there.",
            "schema": {
                "type": "object",
                "title": "City",
                "description": "A city and how many people live there.",
                "properties": {
                    "name": {"title": "Name", "type": "string"},
                    "population": {"title": "Population", "type": "integer"},
                    "country": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Country"},
                },
                "required": ["name", "population", "country"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    reply = conv.history[-1]
    assert reply.content == '```json\n{\n  "name": "Lyon",\n  "population": 522250,\n  "country": "France"\n}\n```'
    assert reply.stats["schema"] == "City"
    assert "```json" in conv.to_markdown()
    assert conv.ask("Plain text again.") == "Plain text again."  # the schema was for that question only
    assert "response_format" not in openai_stub.requests[-1]


def test_dict_schema_returns_the_json_value(openai_stub: Any) -> None:
    conv = verbatim(openai_stub)
    assert conv.ask('{"name": "Oslo", "kind": "city"}', schema=CITY_SCHEMA) == {"name": "Oslo", "kind": "city"}
    assert openai_stub.requests[-1]["response_format"]["json_schema"]["name"] == "city"


def test_a_schema_the_stub_rejects_is_the_servers_400(openai_stub: Any) -> None:
    conv = verbatim(openai_stub)
    loose = {"title": "loose", "type": "object", "properties": {"a": {"type": "string"}}}
    with pytest.raises(nbchat.GenerationError, match="'additionalProperties' is required to be supplied"):
        conv.ask('{"a": "x"}', schema=loose)


def test_a_reply_that_ignores_the_schema_raises_with_its_raw_text_kept(openai_stub: Any) -> None:
    conv = verbatim(openai_stub)
    with pytest.raises(StructuredReplyError, match=r"The reply does not fit City: .*population") as info:
        conv.ask('{"name": "Lyon", "population": "many"}', schema=City)
    assert info.value.text == '{"name": "Lyon", "population": "many"}'
    reply = conv.history[-1]
    assert reply.status == "error"
    assert reply.content == '{"name": "Lyon", "population": "many"}'
    with pytest.raises(StructuredReplyError, match="not JSON") as info:
        conv.ask("Sure! Lyon has about half a million people.", schema=CITY_SCHEMA)
    assert info.value.partial == "Sure! Lyon has about half a million people."
    assert conv.history[-2].content == "Sure! Lyon has about half a million people."  # the question is kept too


def test_a_reply_cut_by_max_new_tokens_says_so_and_keeps_its_text(openai_stub: Any) -> None:
    conv = verbatim(openai_stub, max_new_tokens=3)
    with pytest.raises(StructuredReplyError, match=r"reached max_new_tokens \(3\) before its JSON was complete"):
        conv.ask('{"name": "Lyon", "population": 522250, "country": "France"}', schema=City)
    assert conv.history[-1].content == '{"name": "Lyon", "population":'
    assert conv.history[-1].stats["finish_reason"] == "length"


def test_regenerate_keeps_the_schema(openai_stub: Any) -> None:
    conv = verbatim(openai_stub)
    conv.ask('{"name": "Oslo", "kind": "city"}', schema=CITY_SCHEMA)
    conv.regenerate().result(30)
    assert openai_stub.requests[-1]["response_format"]["json_schema"]["name"] == "city"
    assert conv.history[-1].content.startswith("```json")


def test_a_callable_with_a_response_format_parameter_receives_it() -> None:
    seen: list[Any] = []

    def model(message: str, history: list[Any], response_format: Any = None) -> str:
        seen.append(response_format)
        return '{"name": "Kyoto", "kind": "city"}' if response_format else "free text"

    conv = nbchat.Conversation(model, prepare="now")
    assert conv.ask("Which city?", schema=CITY_SCHEMA) == {"name": "Kyoto", "kind": "city"}
    assert seen[-1] == response_format(CITY_SCHEMA)
    assert conv.ask("And now?") == "free text"
    assert seen[-1] is None


def test_a_callable_without_one_is_validated_like_any_reply() -> None:
    conv = nbchat.Conversation(lambda message, history: "no JSON here", prepare="now")
    with pytest.raises(StructuredReplyError):
        conv.ask("Which city?", schema=City)


def test_transformers_refuses_before_sending(tmp_path: Path) -> None:
    from tests.tiny_models import save_tiny_chat_model

    path = save_tiny_chat_model(tmp_path / "tiny")
    conv = nbchat.Conversation(str(path), backend="transformers", prepare="lazy")
    with pytest.raises(nbchat.NbchatError, match="cannot hold a reply to a JSON schema, so nothing was sent"):
        conv.ask("Which city?", schema=City)
    assert conv.history == []


def test_bad_schemas_and_settings_are_refused() -> None:
    conv = nbchat.Conversation(lambda message, history: "x", prepare="now")
    with pytest.raises(nbchat.NbchatError, match="pydantic model class or a JSON-schema dict"):
        conv.ask("x", schema=Literal["a"])
    with pytest.raises(nbchat.NbchatError, match="must be a JSON schema"):
        conv.ask("x", schema={"name": "no type"})
    with pytest.raises(TypeError, match="response_format must be"):
        nbchat.GenerationSettings(response_format={"type": "json_object"})
    assert json.loads(json.dumps(response_format(City)))  # plain JSON, ready for any wire


def json_model(message: str, history: list[Any], response_format: Any = None) -> str:
    """A callable model that answers the JSON of a city when asked for a structured reply."""
    return '{"name": "Lyon", "kind": "city"}' if response_format else f"You said: {message}"


shell = test_magic.shell  # the fixture: a real IPython shell with nbchat loaded


def test_chat_magic_schema_shows_formatted_json_and_keeps_the_object(shell: Any) -> None:
    from IPython.utils.capture import capture_output

    shell.user_ns.update({"bot": json_model, "City": CITY_SCHEMA})
    with capture_output() as shown:
        shell.run_cell_magic("chat", "-m bot --schema City", "Name a city.")
    html = str(shown.outputs[-1].data.get("text/html", ""))
    assert "&quot;name&quot;: &quot;Lyon&quot;" in html
    assert "<pre" in html  # a code block: formatted JSON
    assert shell.user_ns["_chat_result"] == {"name": "Lyon", "kind": "city"}
    with capture_output() as refused:
        shell.run_cell_magic("chat", "-m bot --schema Nowhere", "Name a city.")
    assert "Not sent: --schema names &#x27;Nowhere&#x27;" in str(refused.outputs[-1].data.get("text/html", ""))


def test_chat_ask_passes_the_schema_through(comms: Any) -> None:
    chat = nbchat.Chat(json_model)
    assert chat.ask("Name a city.", schema=CITY_SCHEMA) == {"name": "Lyon", "kind": "city"}
    assert chat.conversation.history[-1].content.startswith("```json\n{\n")


ENGINES = [
    "llama.cpp",
    pytest.param(
        "llama-cpp-python",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python (optional) is not installed"
        ),
    ),
]


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
@pytest.mark.parametrize("engine", ENGINES)
def test_embedded_model_answers_in_the_schema_on_both_llama_cpp_engines(engine: str) -> None:
    """The 135M model alone rarely writes valid JSON; under llama.cpp's grammar from the schema it must."""

    class Town(pydantic.BaseModel):
        name: str
        population: int

    conv = nbchat.Conversation(backend=engine, prepare="now", temperature=0, max_new_tokens=64)
    town = conv.ask("Give the name and population of Lyon as JSON.", schema=Town)
    assert isinstance(town, Town)
    assert town.name  # whatever the small model knows, the shape is right
    reply = conv.history[-1]
    assert reply.stats["finish_reason"] == "stop"
    assert conv.request_of(reply.id)["settings"]["response_format"]["json_schema"]["name"] == "Town"
    short = nbchat.Conversation(backend=engine, prepare="now", temperature=0, max_new_tokens=5)
    with pytest.raises(StructuredReplyError, match=r"reached max_new_tokens \(5\)") as info:
        short.ask("Give the name and population of Lyon as JSON.", schema=Town)
    assert info.value.text.startswith('{"')  # the grammar's start, kept
    assert short.history[-1].content == info.value.text
