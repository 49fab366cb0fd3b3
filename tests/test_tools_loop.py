"""The tool loop end to end against the OpenAI-compatible stub (tests/servers/openai_stub.py, model "tools"), which
streams tool calls in the exact wire format of the OpenAI API and vLLM and checks the requests as the OpenAI API
does; each test scripts what the "model" calls."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nbchat
from benchmarks.tools import area  # the same tool the benchmark's rounds call
from nbchat.backends import ToolCallDelta
from nbchat.backends.openai import OpenAIBackend
from nbchat.tools import ToolCall, ToolError


def chat(stub: Any, *tools: Any, **kwargs: Any) -> nbchat.Conversation:
    backend = OpenAIBackend("tools", base_url=f"{stub.url}/v1")
    kwargs.setdefault("tool_approval", "auto")
    return nbchat.Conversation(backend, prepare="now", retries=0, tools=list(tools), **kwargs)


def script(*entries: dict[str, Any]) -> None:
    from tests.servers import openai_stub

    openai_stub.app.state.tool_script.extend(entries)


def tool_requests() -> list[dict[str, Any]]:
    from tests.servers import openai_stub

    return list(openai_stub.app.state.tool_requests)


def call(name: str, arguments: str, id_: str | None = None) -> dict[str, Any]:
    return {"name": name, "arguments": arguments, **({"id": id_} if id_ else {})}


def wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_one_call_result_goes_back_and_messages_have_the_openai_shape(openai_stub) -> None:
    conv = chat(openai_stub, area)
    script({"text": "Let me compute.", "calls": [call("area", '{"width": 3, "height": 4}', "call_1")]})
    assert conv.ask("How big is a 3 by 4 m room?") == "Results: 12.0"
    first, second = tool_requests()
    assert first["tools"] == [nbchat.Tool(area).schema()]
    assert "tool_choice" not in first
    assert "parallel_tool_calls" not in first
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": "Let me compute.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "area", "arguments": '{"width": 3, "height": 4}'}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "12.0"},
    ]  # fmt: skip
    reply = conv.history[-1]
    assert reply.content == "Results: 12.0"
    (round_,) = reply.tool_rounds
    assert round_.content == "Let me compute."
    (done,) = round_.calls
    assert (done.status, done.result, done.name) == ("done", "12.0", "area")
    assert reply.stats["tool_rounds"] == 1
    assert reply.stats["tool_calls"] == 1
    assert conv.messages == [{"role": "user", "content": "How big is a 3 by 4 m room?"}, *second["messages"][-2:],
                             {"role": "assistant", "content": "Results: 12.0"}]  # fmt: skip


def test_parallel_calls_unknown_tool_and_malformed_arguments(openai_stub) -> None:
    conv = chat(openai_stub, area)
    script({"calls": [
        call("area", '{"width": 2, "height": 5}'),
        call("volume", '{"x": 1}'),
        call("area", '{"width": 2, "height": '),  # never closes
        call("area", '{"width": "wide", "height": 1}'),
    ]})  # fmt: skip
    conv.ask("go")
    calls = conv.history[-1].tool_rounds[0].calls
    assert [c.status for c in calls] == ["done", "error", "error", "error"]
    assert calls[0].result == "10.0"
    assert "There is no tool named 'volume'" in calls[1].result
    assert "not a JSON object" in calls[2].result
    assert "width: Input should be a valid number" in calls[3].result
    results = [m for m in tool_requests()[-1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in results] == [c.id for c in calls]  # every call answered, in order


def test_hundred_calls_in_one_turn_are_capped(openai_stub) -> None:
    runs: list[int] = []

    def count(n: int) -> int:
        """Count."""
        runs.append(n)
        return n

    conv = chat(openai_stub, count)
    script({"calls": [call("count", f'{{"n": {n}}}') for n in range(100)], "pieces": 1})
    conv.ask("go")
    round_ = conv.history[-1].tool_rounds[0]
    assert len(round_.calls) == 16
    assert round_.dropped == 84
    assert runs == list(range(16))
    last_result = [m for m in tool_requests()[-1]["messages"] if m["role"] == "tool"][-1]
    assert "84 more calls in this reply were not run" in last_result["content"]


def test_a_raising_tool_returns_its_type_and_message(openai_stub) -> None:
    def divide(a: float, b: float) -> float:
        """Divide."""
        return a / b

    conv = chat(openai_stub, divide)
    script({"calls": [call("divide", '{"a": 1, "b": 0}')]})
    assert conv.ask("1/0?") == "Results: Error: ZeroDivisionError: float division by zero"
    assert conv.history[-1].tool_rounds[0].calls[0].error == "ZeroDivisionError: float division by zero"


def test_max_tool_rounds_then_tool_choice_none(openai_stub) -> None:
    conv = chat(openai_stub, area, max_tool_rounds=2)
    script(*[{"calls": [call("area", '{"width": 1, "height": 1}')]} for _ in range(3)])
    conv.ask("loop forever")
    reply = conv.history[-1]
    assert len(reply.tool_rounds) == 3
    assert [c.status for r in reply.tool_rounds for c in r.calls] == ["done", "done", "error"]
    assert "max_tool_rounds (2)" in (reply.tool_rounds[2].calls[0].error or "")
    assert [r.get("tool_choice") for r in tool_requests()] == [None, None, "none"]
    assert "after 2 rounds" in reply.stats["notice"]


def test_html_and_huge_results_are_text_capped_and_escaped_in_exports(openai_stub, tmp_path: Path) -> None:
    def page() -> str:
        """A hostile page."""
        return "<script>alert(1)</script><img src=x onerror=alert(2)>```</div>" + "y" * (10 * 2**20)

    conv = chat(openai_stub, page)
    script({"calls": [call("page", "{}")]})
    conv.ask("fetch")
    result = conv.history[-1].tool_rounds[0].calls[0].result
    assert len(result) < 33_000
    assert "cut to about 32,000" in result
    sent = next(m for m in tool_requests()[-1]["messages"] if m["role"] == "tool")["content"]
    assert sent == result
    from nbchat._static_html import markdown_html

    static = markdown_html(conv.to_markdown(html=False))
    assert "<script" not in static
    assert "<img" not in static
    assert "&lt;script&gt;" in static
    markdown = conv.to_markdown()
    assert "🔧 **Tool call** `page` · done" in markdown
    fence = next(line for line in markdown.splitlines() if line.startswith("````"))  # longer than the ``` inside
    assert fence.startswith("````")


def test_stop_while_the_model_writes_a_call(openai_stub) -> None:
    conv = chat(openai_stub, area)
    script({"text": "Computing", "calls": [call("area", '{"width": 3, "height": 4}')], "delay": 0.3, "pieces": 20})
    future = conv.send("go")
    wait_for(lambda: conv.partial_reply() and conv.partial_reply()[1])
    time.sleep(0.5)
    conv.stop()
    reply = future.result(10)
    assert reply.status == "stopped"
    (round_,) = reply.tool_rounds
    assert round_.content == "Computing"  # nothing said is lost
    assert [c.status for c in round_.calls] == ["stopped"]


def test_stop_while_waiting_for_approval_and_approve_from_code(openai_stub, tmp_path: Path) -> None:
    conv = chat(openai_stub, area, tool_approval="ask")
    with pytest.raises(ToolError, match='tool_approval="auto"'):
        conv.send("no widget")  # "ask" without a person to ask: refused before anything is added
    assert conv.history == []
    asked: list[ToolCall] = []
    conv.on_tool_approval(asked.append)
    script({"calls": [call("area", '{"width": 1, "height": 2}', "c1")]})
    future = conv.send("go")
    wait_for(lambda: asked)
    assert asked[0].status == "pending"
    conv.stop()
    reply = future.result(10)
    assert reply.status == "stopped"
    assert reply.tool_rounds[0].calls[0].status == "stopped"

    script({"calls": [call("area", '{"width": 1, "height": 2}', "c2")]},
           {"calls": [call("area", '{"width": 2, "height": 2}', "c3")]})  # fmt: skip
    future = conv.send("again")
    wait_for(lambda: len(asked) == 2)
    conv.approve("c2", "chat")  # "Allow for this chat": the next call of area runs without a card
    reply = future.result(10)
    assert [c.status for r in reply.tool_rounds for c in r.calls] == ["done", "done"]
    assert len(asked) == 2
    assert conv.tool_loop.approvals.allowed_for_chat == {"area"}
    path = conv.save(tmp_path / "chat.json")
    loaded = nbchat.Conversation.load(path, OpenAIBackend("tools", base_url=f"{openai_stub.url}/v1"), tools=[area])
    assert loaded.tool_loop.approvals.allowed_for_chat == set()  # "Allow for this chat" is never saved
    with pytest.raises(ToolError, match='tool_approval="ask" needs a person'):
        loaded.send("and now?")  # the loaded chat asks again


def test_stop_while_a_tool_runs(openai_stub) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        """Slow."""
        started.set()
        release.wait(30)
        return "late"

    conv = chat(openai_stub, slow)
    script({"calls": [call("slow", "{}")]})
    future = conv.send("go")
    assert started.wait(10)
    conv.stop()
    reply = future.result(10)
    release.set()
    assert reply.status == "stopped"
    stopped = reply.tool_rounds[0].calls[0]
    assert stopped.status == "stopped"
    assert "may still be running" in (stopped.error or "")


def test_hanging_tool_times_out_and_the_chat_goes_on(openai_stub) -> None:
    release = threading.Event()
    conv = chat(openai_stub, nbchat.tool(lambda: release.wait(30), name="hang"), tool_timeout=0.3)
    script({"calls": [call("hang", "{}")]})
    answer = conv.ask("go")
    release.set()
    assert "did not finish within 0.3 s" in answer


def test_dataframe_and_figure_tools(openai_stub) -> None:
    pd = pytest.importorskip("pandas")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def sales() -> Any:
        """The sales table."""
        return pd.DataFrame({"city": ["Lyon", "Nice"], "sales": [3, 5]})

    def plot() -> Any:
        """Plot the sales."""
        figure, axes = plt.subplots()
        axes.bar(["Lyon", "Nice"], [3, 5])
        return figure

    backend = OpenAIBackend("tools", base_url=f"{openai_stub.url}/v1")
    backend.image_input = True  # a model that sees
    conv = nbchat.Conversation(backend, prepare="now", tools=[sales, plot], tool_approval="auto")
    script({"calls": [call("sales", "{}"), call("plot", "{}")]})
    conv.ask("show me")
    table, figure = conv.history[-1].tool_rounds[0].calls
    assert "Lyon" in table.result
    assert not table.result_attachments
    assert figure.status == "done"
    assert figure.result_attachments[0].kind == "image"
    sent = tool_requests()[-1]["messages"]
    assert sent[-1]["role"] == "user"
    assert sent[-1]["content"][1]["type"] == "image_url"
    plt.close("all")


def test_saved_conversation_with_tool_calls_loads_and_continues(openai_stub, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def plot() -> Any:
        """Plot."""
        figure, axes = plt.subplots()
        axes.plot([1, 2])
        return figure

    conv = chat(openai_stub, area, plot)
    script({"calls": [call("area", '{"width": 3, "height": 4}'), call("plot", "{}")]})
    conv.ask("go")
    path = conv.save(tmp_path / "tools.json")
    plt.close("all")
    loaded = nbchat.Conversation.load(path, OpenAIBackend("tools", base_url=f"{openai_stub.url}/v1"),
                                      tools=[area], tool_approval="auto")  # fmt: skip
    assert loaded.messages == conv.messages
    figure = loaded.history[-1].tool_rounds[0].calls[1]
    assert figure.result_attachments[0].data == conv.history[-1].tool_rounds[0].calls[1].result_attachments[0].data
    script({"calls": [call("area", '{"width": 1, "height": 1}')]})
    assert loaded.ask("and a 1 by 1 room?") == "Results: 1.0"
    history = tool_requests()[-1]["messages"]
    roles = ["user", "assistant", "tool", "tool", "user", "assistant", "user", "assistant", "tool"]
    assert [m["role"] for m in history] == roles  # the figure travels in a user message after the tool messages
    assert history[4]["content"][1]["type"] == "image_url"


def test_messages_setter_folds_tool_calls_back(openai_stub) -> None:
    conv = chat(openai_stub, area)
    shape = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "3 by 4?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "area", "arguments": '{"width": 3, "height": 4}'}}]},
        {"role": "tool", "tool_call_id": "a", "content": "12.0"},
        {"role": "assistant", "content": "12 m²."},
    ]  # fmt: skip
    conv.messages = shape
    assert conv.system_prompt == "Be exact."
    assert conv.messages == shape[1:]
    (reply,) = [m for m in conv.history if m.role == "assistant"]
    assert reply.content == "12 m²."
    assert reply.tool_rounds[0].calls[0].result == "12.0"
    with pytest.raises(ValueError, match="which no earlier assistant message called"):
        conv.messages = [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "zz", "content": "1"}]


def test_request_code_reproduces_tools_by_name(openai_stub) -> None:
    conv = chat(openai_stub, area)
    script({"calls": [call("area", '{"width": 3, "height": 4}')]})
    conv.ask("go")
    code = conv.request_code(conv.history[-1].id)
    assert "tools=[area]," in code
    assert "tool_approval=lambda call: input(" in code
    compile(code, "<copy as code>", "exec")


def test_backends_without_tools_refuse_before_sending() -> None:
    from nbchat.backends.fake import FakeBackend

    conv = nbchat.Conversation(FakeBackend(), prepare="now", tools=[area], tool_approval="auto")
    reply = conv.send("3 by 4?").result(10)
    assert reply.status == "error"
    assert "cannot call tools in nbchat, so nothing was sent" in (reply.error or "")
    assert "OpenAI-compatible servers" in (reply.error or "")
    assert conv.history[0].content == "3 by 4?"  # the user's message is kept


def test_callable_backend_with_a_tools_parameter() -> None:
    seen: list[Any] = []

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        seen.append(tools)
        if messages[-1]["role"] == "tool":
            yield f"It is {messages[-1]['content']} m²."
            return
        yield ToolCallDelta(0, "k1", "area", '{"width": 2, ')
        yield ToolCallDelta(0, "", "", '"height": 3}')

    conv = nbchat.Conversation(model, prepare="now", tools=[area], tool_approval="auto")
    assert conv.ask("2 by 3?") == "It is 6.0 m²."
    assert seen[0] == [nbchat.Tool(area).schema()]
    plain = nbchat.Conversation(lambda message, history: "hi", prepare="now", tools=[area], tool_approval="auto")
    assert "cannot call tools" in (plain.send("x").result(10).error or "")


def test_policy_switches_tools_off_and_caps_rounds_and_time(openai_stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCHAT_TOOLS", "off")
    with pytest.raises(ToolError, match=r"switched off here \(by \$NBCHAT_TOOLS\)"):
        chat(openai_stub, area)
    monkeypatch.setenv("NBCHAT_TOOLS", "on")
    monkeypatch.setenv("NBCHAT_MAX_TOOL_ROUNDS", "1")
    monkeypatch.setenv("NBCHAT_MAX_TOOL_SECONDS", "0.2")
    release = threading.Event()
    conv = chat(openai_stub, area, nbchat.tool(lambda: release.wait(30), name="hang"), max_tool_rounds=5)
    script({"calls": [call("hang", "{}")]}, {"calls": [call("area", '{"width": 1, "height": 1}')]})
    conv.ask("go")
    release.set()
    reply = conv.history[-1]
    assert "did not finish within 0.2 s" in (reply.tool_rounds[0].calls[0].error or "")
    assert "max_tool_rounds (1)" in (reply.tool_rounds[1].calls[0].error or "")
    monkeypatch.setenv("NBCHAT_TOOLS", "off")
    assert "switched off" in (conv.send("again").result(10).error or "")  # read per turn, as every policy key


def test_parallel_tool_calls_and_tool_choice_are_sent(openai_stub) -> None:
    conv = chat(openai_stub, area)
    conv.tool_loop.tool_choice = "required"
    conv.settings = conv.settings.replace(parallel_tool_calls=False)
    script({"calls": [call("area", '{"width": 1, "height": 1}')], "no_ids": True})
    conv.ask("go")
    first, second = tool_requests()
    assert (first["tool_choice"], first["parallel_tool_calls"]) == ("required", False)
    assert "tool_choice" not in second  # later rounds: the model may answer
    assert second["messages"][-1]["tool_call_id"].startswith("call_")  # an id nbchat made for a server that sent none


def test_a_reply_with_tools_fits_the_widget_protocol(openai_stub) -> None:
    import json

    from nbchat import _view

    schema = json.loads((Path(__file__).resolve().parent.parent / "js" / "protocol.json").read_text(encoding="utf-8"))
    conv = chat(openai_stub, area)
    script({"calls": [call("area", '{"width": 3, "height": 4}')]})
    conv.ask("go")
    state = _view.message_state(conv.history[-1])
    assert sorted(state) == sorted(k.rstrip("?") for k in schema["records"]["MessageState"]["fields"])
    assert set(state["stats"]) <= {k.rstrip("?") for k in schema["records"]["ReplyStats"]["fields"]}
    assert state["tool_rounds"][0]["calls"][0]["result"] == "12.0"
    json.dumps(state)  # synced as JSON: no bytes, no objects
