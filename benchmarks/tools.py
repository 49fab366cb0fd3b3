"""nbchat's own time per round of tool calls: a turn with one call beside the same turn without tools.

The model is a Python function with a ``tools`` parameter that answers at once (no model time), and the tool
returns at once (no function time), so what is left is nbchat's: assembling the streamed call, validating the
arguments, approval, running the function in its thread, converting the result, appending the round to the history,
building the second request, and the events and state updates of the views. Measured per run as the difference
between a turn with a call and a turn without tools, side by side (the median of the differences):

- ``auto`` approval on a bare :class:`~nbchat.Conversation`;
- ``ask`` through the Chat widget: the card's click arrives as the browser's ``{"kind": "approve"}`` message and is
  dispatched as any browser message is (a recording comm stands in for the browser);
- converting a matplotlib figure result (an image for the model and the card's preview), on its own.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from ._report import Figure


def area(width: float, height: float) -> float:
    """Area of a rectangle.

    Parameters
    ----------
    width : float
        Width in metres.
    height : float
        Height in metres.
    """
    return width * height


def _model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
    """Asks for one call of ``area`` (its arguments in three pieces, as a server streams them), then answers."""
    from nbchat.backends import ToolCallDelta

    if not tools or messages[-1]["role"] == "tool":
        yield "The area is 6 square metres."
        return
    yield ToolCallDelta(0, f"call_{len(messages)}", "area", '{"width"')
    yield ToolCallDelta(0, "", "", ": 2, ")
    yield ToolCallDelta(0, "", "", '"height": 3}')


def _turn_ms(ask: Any, clear: Any) -> float:
    clear()
    start = time.perf_counter()
    ask("What is the area of a 2 m by 3 m room?")
    return (time.perf_counter() - start) * 1000


def _paired(runs: int, plain: tuple[Any, Any], tools: tuple[Any, Any]) -> tuple[float, float]:
    """(median of per-run differences tools − plain, median plain), in ms, after a warm-up turn of each."""
    _turn_ms(*plain)
    _turn_ms(*tools)
    differences, base = [], []
    for _ in range(runs):
        without = _turn_ms(*plain)
        differences.append(_turn_ms(*tools) - without)
        base.append(without)
    return statistics.median(differences), statistics.median(base)


def tools_figures(runs: int) -> list[Figure]:
    """nbchat's time per tool round (auto, and "ask" through the widget) and a figure result's conversion."""
    import nbchat
    from nbchat.testing import recording_comms
    from nbchat.tools._run import convert_result

    turns = max(20, runs * 20)
    plain = nbchat.Conversation(_model, prepare="now", retries=0)
    auto = nbchat.Conversation(_model, prepare="now", retries=0, tools=[area], tool_approval="auto")
    auto_ms, plain_ms = _paired(turns, (plain.ask, plain.clear), (auto.ask, auto.clear))
    assert auto.history[-1].tool_rounds[0].calls[0].status == "done"

    with recording_comms():
        bare = nbchat.Chat(_model, prepare="now", retries=0)
        chat = nbchat.Chat(_model, prepare="now", retries=0, tools=[area])  # "ask": the view decides

        def click(call: Any) -> None:  # the browser's message, dispatched as every browser message is
            chat._handle_custom_msg({"kind": "approve", "id": call.id, "decision": "once", "reason": ""}, [])

        chat.conversation.on_tool_approval(click)
        ask_ms, chat_ms = _paired(turns, (bare.ask, bare.clear), (chat.ask, chat.clear))
        assert chat.conversation.history[-1].tool_rounds[0].calls[0].status == "done"
        bare.close()
        chat.close()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(50), [i * i for i in range(50)])
    convert_result(fig, "plot")  # warm-up (Pillow, the PNG encoder)
    figure_ms = statistics.median(_timed_ms(lambda: convert_result(fig, "plot")) for _ in range(max(3, runs * 2)))
    plt.close(fig)
    for conv in (plain, auto):
        conv.close()
    return [
        Figure(
            "nbchat's time per tool round (auto approval, Conversation)",
            auto_ms,
            "ms",
            plain_ms,
            "the same turn without tools",
            goal="≤ 5 ms",
            met=auto_ms <= 5,
            note=f"median of {turns} paired turns; model and function take no time",
        ),
        Figure(
            "nbchat's time per tool round (ask: the approve message through the Chat widget)",
            ask_ms,
            "ms",
            chat_ms,
            "the same turn in a Chat without tools",
            goal="≤ 5 ms",
            met=ask_ms <= 5,
            note="the person's click itself not counted",
        ),
        Figure(
            "converting a matplotlib figure result (600×400 PNG for the model)",
            figure_ms,
            "ms",
            note="Agg rendering and PNG encoding; the card's JPEG preview is made once per image",
        ),
    ]


def _timed_ms(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000
