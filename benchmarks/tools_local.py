"""Tools on the local llama.cpp engine (xllamacpp), on the embedded SmolLM2-135M-Instruct.

- How many of 20 fixed tool questions (arithmetic, unit conversions, a lookup) the model calls right: the right tool
  with the right arguments, without a grammar (the same prompt; what the model writes read as a call if it is one),
  with ``tool_choice`` left to the model (a call or an answer, constrained to one of the two by a grammar) and with
  ``tool_choice="required"`` (a call is forced). A figure to report, not a goal: the model has 135M parameters and
  its chat template no tool section.
- Tokens llama.cpp evaluates for the round after a tool result, with the prefix cache, beside the whole prompt
  (what an engine without the cache evaluates).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Literal

from ._report import Figure

Unit = Literal["km", "mi", "kg", "lb", "C", "F"]


def multiply(a: float, b: float) -> float:
    """Multiply two numbers.

    Parameters
    ----------
    a : float
        The first factor.
    b : float
        The second factor.
    """
    return a * b


def add(a: float, b: float) -> float:
    """Add two numbers.

    Parameters
    ----------
    a : float
        The first term.
    b : float
        The second term.
    """
    return a + b


def convert_units(value: float, from_unit: Unit, to_unit: Unit) -> float:
    """Convert a length, mass or temperature between units.

    Parameters
    ----------
    value : float
        The amount, in ``from_unit``.
    from_unit : str
        The unit of ``value``.
    to_unit : str
        The unit wanted.
    """
    raise NotImplementedError  # only the call is measured, never run


def capital_of(country: str) -> str:
    """Look up the capital city of a country.

    Parameters
    ----------
    country : str
        The country's English name.
    """
    raise NotImplementedError


QUESTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("What is 1234 * 5678?", "multiply", {"a": 1234, "b": 5678}),
    ("Multiply 17 by 23.", "multiply", {"a": 17, "b": 23}),
    ("What is 48 times 12?", "multiply", {"a": 48, "b": 12}),
    ("Compute 3.5 * 4.", "multiply", {"a": 3.5, "b": 4}),
    ("What is the product of 99 and 101?", "multiply", {"a": 99, "b": 101}),
    ("What is 4821 + 1399?", "add", {"a": 4821, "b": 1399}),
    ("Add 250 and 175.", "add", {"a": 250, "b": 175}),
    ("What is 12.5 plus 7.25?", "add", {"a": 12.5, "b": 7.25}),
    ("Sum 1000 and 2345.", "add", {"a": 1000, "b": 2345}),
    ("What is 77 + 88?", "add", {"a": 77, "b": 88}),
    ("Convert 5 km to miles.", "convert_units", {"value": 5, "from_unit": "km", "to_unit": "mi"}),
    ("How many pounds is 70 kg?", "convert_units", {"value": 70, "from_unit": "kg", "to_unit": "lb"}),
    ("Convert 100 degrees C to F.", "convert_units", {"value": 100, "from_unit": "C", "to_unit": "F"}),
    ("Convert 26.2 miles to km.", "convert_units", {"value": 26.2, "from_unit": "mi", "to_unit": "km"}),
    ("What is 150 lb in kg?", "convert_units", {"value": 150, "from_unit": "lb", "to_unit": "kg"}),
    ("What is the capital of France?", "capital_of", {"country": "France"}),
    ("Look up the capital of Japan.", "capital_of", {"country": "Japan"}),
    ("Which city is the capital of Kenya?", "capital_of", {"country": "Kenya"}),
    ("Find the capital of Brazil.", "capital_of", {"country": "Brazil"}),
    ("What's the capital city of Canada?", "capital_of", {"country": "Canada"}),
]
"""The fixed questions: (question, the tool to call, its arguments)."""


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return abs(float(got) - float(want)) < 1e-9
    if isinstance(want, str) and isinstance(got, str):
        return got.strip().casefold() == want.casefold()
    return bool(got == want)


def right_call(deltas: list[Any], name: str, arguments: dict[str, Any]) -> bool:
    """True when the reply's deltas hold exactly one call, of ``name`` with ``arguments``."""
    from nbchat.tools import ToolCallAssembler

    calls = ToolCallAssembler()
    for delta in deltas:
        if not isinstance(delta, str) and hasattr(delta, "arguments"):
            calls.add(delta)
    made = calls.calls()
    if len(made) != 1 or made[0].name != name:
        return False
    got = made[0].parsed_arguments() or {}
    return set(got) == set(arguments) and all(_same(got[k], v) for k, v in arguments.items())


def tools_local_figures() -> list[Figure]:
    """Calls right out of :data:`QUESTIONS` with and without a forced call; tokens evaluated per round with the
    prefix cache beside the whole prompt."""
    import nbchat
    from nbchat._settings import GenerationSettings
    from nbchat.backends import GenerationInfo
    from nbchat.backends._llama_tools import read_generic
    from nbchat.backends.llamacpp import LlamaCppBackend
    from nbchat.tools import Tool

    functions = [multiply, add, convert_units, capital_of]
    schemas = tuple(Tool(fn).schema() for fn in functions)
    backend = LlamaCppBackend.embedded()
    backend.prepare()
    figures = []
    kinds = (
        ("none", "no grammar (the tools described, free text read as a call)"),
        (None, "grammar: a call or an answer, the model chooses"),
        ("required", 'grammar: a call, tool_choice="required"'),
    )
    for choice, label in kinds:
        right = 0
        for question, name, arguments in QUESTIONS:
            settings = GenerationSettings(max_new_tokens=80, temperature=0, tools=schemas, tool_choice=choice)
            messages = [{"role": "user", "content": question}]
            deltas = list(backend.stream(messages, settings, GenerationInfo(), threading.Event()))
            if choice == "none":  # the same prompt, unconstrained: did the model write a well-formed call itself?
                deltas = [read_generic("".join(d for d in deltas if isinstance(d, str)).strip())]
            right += right_call(deltas, name, arguments)
        note = ("right tool and arguments; llama.cpp; SmolLM2's template has no tool section, so the tools are "
                "described in the system message; a figure, not a goal")  # fmt: skip
        figures.append(Figure(f"tool questions called right, embedded model, {label}", right, f"of {len(QUESTIONS)}",
                              note=note))  # fmt: skip
    backend.close()

    conv = nbchat.Conversation(LlamaCppBackend.embedded(), tools=[multiply], tool_approval="auto", max_tool_rounds=1,
                               temperature=0, max_new_tokens=60, prepare="now")  # fmt: skip
    reply = conv.send("What is 1234 * 5678?").result(timeout=600)
    stats = reply.stats
    rounds = stats.get("tool_rounds", 0)
    whole = stats.get("prompt_tokens")
    evaluated = None if whole is None else whole - (stats.get("cached_tokens") or 0)
    figures.append(
        Figure(
            "tokens evaluated, round after a tool result (prefix cache)",
            evaluated,
            "tokens",
            reference=whole,
            reference_name="whole prompt",
            note=f"embedded model, llama.cpp; {rounds} round(s) of calls: "
            f"{json.dumps([c.name for r in reply.tool_rounds for c in r.calls])}",
        )
    )
    conv.close()
    return figures
