"""Tools from Python functions: the JSON schema (pydantic, docstrings through docstring-parser), argument validation
with errors written for the model, streamed-call assembly (hostile streams), running with time limits and Stop,
result conversion and caps, approval. No server here: test_tools_loop.py runs the loop against the OpenAI stub."""

from __future__ import annotations

import enum
import itertools
import json
import threading
from typing import Literal

import pydantic
import pytest

from nbchat.backends import ToolCallDelta
from nbchat.tools import (
    Approvals,
    Tool,
    ToolArgumentsError,
    ToolCall,
    ToolCallAssembler,
    ToolError,
    ToolRound,
    as_tools,
    tool,
)
from nbchat.tools._run import DEFAULT_RESULT_CHARS, convert_result, run_call


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Point(pydantic.BaseModel):
    x: float
    y: float


def weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int | None = None) -> str:
    """Get the weather forecast for a city.

    Looks it up in a table.

    Parameters
    ----------
    city : str
        The city's name, e.g. "Lyon".
    unit : {"celsius", "fahrenheit"}
        Temperature unit.
    days : int, optional
        How many days ahead.
    """
    return f"{city}: 21 {unit}"


def distance(points: list[Point], scale: float = 1.0, unit: Unit = Unit.CELSIUS) -> float:
    """Length of a path through points.

    Args:
        points: The points, in order.
        scale: Multiplies the result.
        unit: An enum parameter.
    """
    return scale * sum(((b.x - a.x) ** 2 + (b.y - a.y) ** 2) ** 0.5 for a, b in itertools.pairwise(points))


def test_schema_from_numpy_docstring_literal_optional_default() -> None:
    t = Tool(weather)
    assert t.name == "weather"
    assert t.description == "Get the weather forecast for a city.\n\nLooks it up in a table."
    params = t.parameters
    assert params["type"] == "object"
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string", "description": 'The city\'s name, e.g. "Lyon".'}
    assert params["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert params["properties"]["unit"]["default"] == "celsius"
    assert params["properties"]["unit"]["description"] == "Temperature unit."
    days = params["properties"]["days"]
    assert {"type": "integer"} in days["anyOf"]
    assert {"type": "null"} in days["anyOf"]
    assert days["description"] == "How many days ahead."
    assert "title" not in json.dumps(params)  # pydantic's generated titles are noise in every prompt
    assert t.schema() == {"type": "function", "function": {"name": "weather", "description": t.description,
                                                           "parameters": params}}  # fmt: skip


def test_schema_from_google_docstring_list_of_pydantic_models_and_enum() -> None:
    t = Tool(distance)
    params = t.parameters
    assert t.description == "Length of a path through points."
    points = params["properties"]["points"]
    assert points["type"] == "array"
    assert points["description"] == "The points, in order."
    ref = points["items"]["$ref"].rsplit("/", 1)[-1]
    assert params["$defs"][ref]["properties"]["x"] == {"type": "number"}
    unit_ref = params["properties"]["unit"]["$ref"].rsplit("/", 1)[-1]
    assert params["$defs"][unit_ref]["enum"] == ["celsius", "fahrenheit"]
    kwargs = t.validate('{"points": [{"x": 0, "y": 0}, {"x": 3, "y": 4}], "unit": "fahrenheit"}')
    assert isinstance(kwargs["points"][0], Point)
    assert kwargs["unit"] is Unit.FAHRENHEIT
    assert t.fn(**kwargs) == 5.0


def test_validation_errors_are_written_for_the_model() -> None:
    t = Tool(weather)
    with pytest.raises(ToolArgumentsError) as info:
        t.validate('{"unit": "kelvin", "extra": 1}')
    text = str(info.value)
    assert "city: Field required" in text
    assert "unit: Input should be 'celsius' or 'fahrenheit'" in text
    assert '(got "kelvin")' in text
    assert "extra: Extra inputs are not permitted" in text
    assert '"required": ["city"]' in text  # the parameters, to call again
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        t.validate('{"city": "Ly')  # an argument JSON that never closes
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        t.validate("[1, 2]")
    assert t.validate('{"city": "Lyon", "days": "3"}') == {"city": "Lyon", "unit": "celsius", "days": 3}


def test_bad_functions_and_names_are_refused() -> None:
    def star(*numbers: int) -> int:
        return sum(numbers)

    def private(_x: int) -> int:
        return _x

    with pytest.raises(ToolError, match=r"\*numbers"):
        Tool(star)
    with pytest.raises(ToolError, match="leading '_'"):
        Tool(private)
    with pytest.raises(ToolError, match="not valid"):
        Tool(weather, name="get weather!")
    with pytest.raises(ToolError, match="must be a function"):
        Tool("weather")  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="Two tools are named 'weather'"):
        as_tools([weather, tool(distance, name="weather")])


def test_decorator_and_cancel_parameter_left_out_of_the_schema() -> None:
    @tool(timeout=3)
    def wait(seconds: float, cancel: threading.Event) -> str:
        """Wait."""
        cancel.wait(seconds)
        return "ok"

    assert isinstance(wait, Tool)
    assert wait.timeout == 3.0
    assert wait.takes_cancel
    assert list(wait.parameters["properties"]) == ["seconds"]


# ---------------------------------------------------------------------------------------------- assembly
def test_assembler_joins_deltas_by_index_and_caps_calls() -> None:
    calls = ToolCallAssembler(max_calls=16)
    calls.add(ToolCallDelta(0, "call_a", "weather", ""))
    calls.add(ToolCallDelta(1, "call_b", "distance", '{"poi'))
    calls.add(ToolCallDelta(0, "", "", '{"city": '))
    calls.add(ToolCallDelta(1, "", "", 'nts": []}'))
    calls.add(ToolCallDelta(0, "", "", '"Lyon"}'))
    got = calls.calls()
    assert [(c.id, c.name, c.arguments) for c in got] == [
        ("call_a", "weather", '{"city": "Lyon"}'),
        ("call_b", "distance", '{"points": []}'),
    ]
    many = ToolCallAssembler()
    for n in range(100):  # 100 calls in one turn
        many.add(ToolCallDelta(n, f"c{n}", "weather", '{"city": "x"}'))
    assert len(many.calls()) == 16
    assert many.dropped == 84
    no_ids = ToolCallAssembler()
    no_ids.add(ToolCallDelta(0, "", "weather", "{}"))
    first = no_ids.calls()[0].id
    assert first.startswith("call_")
    assert no_ids.calls()[0].id == first


def test_round_expands_to_the_openai_list_with_every_call_answered() -> None:
    done = ToolCall("c1", "weather", '{"city": "Lyon"}', status="done", result="sunny")
    declined = ToolCall("c2", "weather", "{}", status="declined", reason="not now")
    stopped = ToolCall("c3", "weather", "{}", status="stopped")
    messages = ToolRound("Let me check.", "", [done, declined, stopped], dropped=2).to_openai_list()
    assert messages[0] == {"role": "assistant", "content": "Let me check.", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Lyon"}'}},
        {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
        {"id": "c3", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
    ]}  # fmt: skip
    assert [m["tool_call_id"] for m in messages[1:]] == ["c1", "c2", "c3"]
    assert messages[1]["content"] == "sunny"
    assert messages[2]["content"] == "The user declined this call. Reason: not now"
    assert messages[3]["content"].startswith("The user stopped this call")
    assert "2 more calls in this reply were not run" in messages[3]["content"]


# ---------------------------------------------------------------------------------------------- running
def test_run_call_result_error_and_hanging_tool() -> None:
    never = threading.Event()
    t_hang = Tool(lambda: never.wait(), name="hang")
    call = ToolCall("c1", "hang", "{}")
    run_call(t_hang, call, threading.Event(), timeout=0.3)
    assert call.status == "error"
    assert "did not finish within 0.3 s" in (call.error or "")
    assert "may still be running" in (call.error or "")
    never.set()

    def fails(x: int) -> int:
        raise ValueError(f"bad x {x}")

    call = ToolCall("c2", "fails", '{"x": 2}')
    run_call(Tool(fails), call, threading.Event(), timeout=5)
    assert (call.status, call.error, call.result) == ("error", "ValueError: bad x 2", "Error: ValueError: bad x 2")
    call = ToolCall("c3", "fails", '{"x": "two"}')
    run_call(Tool(fails), call, threading.Event(), timeout=5)
    assert call.status == "error"
    assert "x: Input should be a valid integer" in call.result
    call = ToolCall("c4", "weather", '{"city": "Lyon"}')
    run_call(Tool(weather), call, threading.Event(), timeout=5)
    assert (call.status, call.result) == ("done", "Lyon: 21 celsius")
    assert call.duration_s is not None


def test_stop_while_a_function_runs_cooperative_and_not() -> None:
    told: list[bool] = []

    def polite(cancel: threading.Event) -> str:
        told.append(cancel.wait(30))
        return "ended early"

    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    call = ToolCall("c1", "polite", "{}")
    run_call(Tool(polite), call, stop, timeout=30)
    assert told == [True]  # the function was told through its cancel event
    assert call.status == "stopped"
    assert call.result == "ended early"

    release = threading.Event()
    stubborn = Tool(lambda: release.wait(30), name="stubborn")
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    call = ToolCall("c2", "stubborn", "{}")
    run_call(stubborn, call, stop, timeout=30)
    assert call.status == "stopped"
    assert "may still be running in the background" in (call.error or "")
    release.set()


def test_results_are_converted_and_capped() -> None:
    assert convert_result({"a": [1, 2]}, "t") == ('{"a": [1, 2]}', [])
    assert convert_result(None, "t") == ("null", [])
    assert convert_result(Point(x=1, y=2), "t") == ('{"x":1.0,"y":2.0}', [])
    text, parts = convert_result("x" * 10 * 2**20, "t")  # 10 MB of text
    assert len(text) < DEFAULT_RESULT_CHARS + 200
    assert not parts
    assert "the result had 10,485,760 characters; cut to about 32,000" in text
    html = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    assert convert_result(html, "t") == (html, [])  # kept as text: views escape it (test_tools_loop.py)


def test_dataframe_and_figure_results() -> None:
    pd = pytest.importorskip("pandas")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame({"city": ["Lyon", "Nice"], "sales": [3, 5]})
    text, parts = convert_result(frame, "sales_table")
    assert "shape (2, 2)" in text
    assert "Lyon" in text
    assert "sales: int64" in text
    assert not parts
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3])
    text, parts = convert_result(figure, "plot")
    plt.close(figure)
    assert text == ""
    assert len(parts) == 1
    assert parts[0].kind == "image"
    assert parts[0].media_type == "image/png"
    call = ToolCall("c1", "plot", "{}", status="done", result=text, result_attachments=parts)
    seen = ToolRound("", "", [call]).to_openai_list(images=True)
    assert "(shown in the next message)" in seen[1]["content"]
    assert seen[2]["role"] == "user"
    assert seen[2]["content"][1]["type"] == "image_url"
    blind = ToolRound("", "", [call]).to_openai_list(images=False)
    assert len(blind) == 2
    assert blind[1]["content"].startswith("[[image plot,")


# ---------------------------------------------------------------------------------------------- approval
def test_approval_modes() -> None:
    call = ToolCall("c1", "weather", "{}")
    stop = threading.Event()
    assert Approvals("auto").decide(call, stop).allowed
    assert Approvals(lambda c: c.name == "weather").decide(call, stop).allowed
    refused = Approvals(lambda c: False).decide(call, stop)
    assert refused is not None
    assert not refused.allowed

    def broken(c: ToolCall) -> bool:
        raise RuntimeError("no")

    failed = Approvals(broken).decide(call, stop)
    assert failed is not None
    assert not failed.allowed
    assert "RuntimeError: no" in failed.reason
    with pytest.raises(ToolError, match="must be 'ask', 'auto' or a function"):
        Approvals("yes")
    asking = Approvals("ask")
    with pytest.raises(ToolError, match=r'tool_approval="auto".*tool_approval=lambda call'):
        asking.require_decider()


def test_ask_waits_for_a_person_and_allow_for_this_chat() -> None:
    approvals = Approvals("ask")
    shown: list[str] = []
    approvals.add_asker(lambda c: shown.append(c.id))
    approvals.require_decider()
    stop = threading.Event()
    first = ToolCall("c1", "weather", "{}")
    threading.Timer(0.1, lambda: approvals.answer("c1", "chat")).start()
    decision = approvals.decide(first, stop)
    assert decision is not None
    assert decision.allowed
    assert shown == ["c1"]
    assert approvals.decide(ToolCall("c2", "weather", "{}"), stop) == decision  # allowed for this chat: no card
    assert shown == ["c1"]
    threading.Timer(0.1, lambda: approvals.answer("c3", "decline", "too costly")).start()
    declined = approvals.decide(ToolCall("c3", "other", "{}"), stop)
    assert declined is not None
    assert (declined.allowed, declined.reason) == (False, "too costly")
    with pytest.raises(KeyError):
        approvals.answer("c9", "once")
    threading.Timer(0.1, stop.set).start()
    assert approvals.decide(ToolCall("c4", "other", "{}"), stop) is None  # Stop while waiting for approval
    assert approvals.waiting() == []
