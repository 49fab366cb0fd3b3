"""A Python function as a tool: its name, description and the JSON schema of its parameters, and the validation of
the arguments a model writes.

The schema comes from the signature and type hints through pydantic (a model made with ``pydantic.create_model``,
its ``model_json_schema()``); parameter descriptions come from the docstring (numpy, Google or reST style) through
``docstring-parser``. Nothing here writes JSON schema by hand.
"""

from __future__ import annotations

import inspect
import json
import keyword
import re
import threading
import typing
from collections.abc import Callable, Iterable
from typing import Any

from .._errors import NbchatError

__all__ = ["NAME_PATTERN", "Tool", "ToolArgumentsError", "ToolError", "as_tools", "tool"]

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""The OpenAI API's rule for function names (letters, digits, ``_`` and ``-``, at most 64)."""
CANCEL_PARAMETER = "cancel"
"""A parameter of this name, annotated ``threading.Event``, is not part of the schema: it receives an event that is
set when the user presses Stop or the call runs out of time (cooperative cancellation)."""


class ToolError(NbchatError):
    """A tool cannot be made or used (a bad function, duplicate names, approval "ask" without a person to ask, tools
    switched off by the administrator); the message says what to do."""


class ToolArgumentsError(ToolError, ValueError):
    """The model's arguments do not fit the tool's parameters; the message is written for the model to correct them."""


class Tool:
    """A Python function the model may call.

    Parameters
    ----------
    fn : callable
        The function. Its parameters (name, type hint, default) become the tool's JSON schema: ``str``, ``int``,
        ``float``, ``bool``, ``Literal[...]`` and ``Enum`` (choices), ``list[...]``, ``dict``, ``X | None``
        (optional), pydantic models and dataclasses (objects). A parameter without a hint takes any JSON value.
        ``*args`` is refused; ``**kwargs`` is ignored. A parameter ``cancel: threading.Event`` is left out of the
        schema and receives an event set on Stop or time-out (see :data:`CANCEL_PARAMETER`).
    name : str, optional
        The name the model sees; default: the function's ``__name__``. Letters, digits, ``_`` and ``-``, at most 64.
    description : str, optional
        What the tool does, for the model; default: the docstring's text before its parameter sections.
    timeout : float, optional
        Seconds this tool may run; default: the conversation's ``tool_timeout``.

    Attributes
    ----------
    parameters : dict
        The JSON schema of the arguments (``{"type": "object", "properties": ..., "required": [...]}``); each
        property's ``description`` from the docstring.
    server : str
        The MCP server a tool comes from (:class:`nbchat.MCPServer`); ``""`` for a Python function.

    Raises
    ------
    ToolError
        If ``fn`` is not callable, has ``*args``, a parameter name pydantic cannot take (leading ``_``), a type hint
        pydantic cannot make a schema for, or ``name`` is not a valid tool name.
    """

    server: str = ""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> None:
        if isinstance(fn, Tool):  # a tool again, with some of its settings changed
            given: Tool = fn
            name = name or given.name
            description = description if description is not None else given.description
            timeout = timeout if timeout is not None else given.timeout
            fn = given.fn
        if not callable(fn):
            msg = f"A tool must be a function, got {type(fn).__name__}: pass the function itself, e.g. tools=[area]."
            raise ToolError(msg)
        self.fn: Callable[..., Any] = fn
        self.name: str = name or str(getattr(fn, "__name__", "") or type(fn).__name__)
        if not NAME_PATTERN.fullmatch(self.name):
            msg = f"Tool name {self.name!r} is not valid: use letters, digits, '_' and '-' (at most 64); pass name=."
            raise ToolError(msg)
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            msg = f"timeout must be a number of seconds > 0, got {timeout!r}."
            raise ToolError(msg)
        self.timeout: float | None = None if timeout is None else float(timeout)
        doc = _parse_docstring(inspect.getdoc(fn) or "")
        self.description: str = description if description is not None else doc[0]
        self._model, self.takes_cancel = _arguments_model(fn, self.name, doc[1])
        self.parameters = _schema(self._model)

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool entry: ``{"type": "function", "function": {"name", "description",
        "parameters"}}``."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def validate(self, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments for the function from the model's ``arguments`` (a JSON text or a dict).

        Values are converted as pydantic does in its default (lax) mode (``"3"`` → 3 for an ``int``); a pydantic
        model parameter receives an instance.

        Raises
        ------
        ToolArgumentsError
            If the text is not a JSON object or a value does not fit; the message names each problem and the
            parameters, for the model to call again.
        """
        import pydantic

        value = self.arguments_object(arguments)
        try:
            model = self._model.model_validate(value)
        except pydantic.ValidationError as exc:
            problems = "; ".join(_problem(e) for e in exc.errors(include_url=False)[:10])
            msg = (
                f"Invalid arguments for {self.name}: {problems}. Call it again with arguments that fit its "
                f"parameters: {json.dumps(self.parameters, ensure_ascii=False)[:2000]}"
            )
            raise ToolArgumentsError(msg) from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    def arguments_object(self, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """The model's ``arguments`` (a JSON text or a dict) as a dict, not yet checked against the parameters.

        Raises
        ------
        ToolArgumentsError
            If the text is not JSON or not an object; the message shows the model the expected shape.
        """
        if isinstance(arguments, str):
            try:
                value = json.loads(arguments) if arguments.strip() else {}
            except ValueError as exc:
                msg = (
                    f"The arguments of {self.name} are not valid JSON ({exc}); write them as one JSON object, e.g. "
                    f"{_example(self.parameters)}."
                )
                raise ToolArgumentsError(msg) from None
        else:
            value = arguments
        if not isinstance(value, dict):
            msg = f"The arguments of {self.name} must be a JSON object, got {type(value).__name__}."
            raise ToolArgumentsError(msg)
        return dict(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function itself."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.name}({', '.join(self.parameters.get('properties', {}))})>"


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Any:
    """Make a :class:`Tool` of a function; as a decorator, with or without arguments.

    Examples
    --------
    >>> @tool
    ... def area(width: float, height: float) -> float:
    ...     '''Area of a rectangle.'''
    ...     return width * height
    >>> area.name
    'area'

    Raises
    ------
    ToolError
        As :class:`Tool`.
    """
    if fn is None:
        return lambda f: Tool(f, name=name, description=description, timeout=timeout)
    return Tool(fn, name=name, description=description, timeout=timeout)


def as_tools(items: Iterable[Any] | None) -> list[Tool]:
    """``items`` (functions or :class:`Tool` objects) as tools, checked for duplicate names.

    Raises
    ------
    ToolError
        For a duplicate name (the message says how to rename one), or an item that cannot be a tool.
    """
    if items is None:
        return []
    if callable(items) and not isinstance(items, (list, tuple)):
        items = [items]
    tools = [item if isinstance(item, Tool) else Tool(item) for item in items]
    seen: set[str] = set()
    for t in tools:
        if t.name in seen:
            msg = f"Two tools are named {t.name!r}; rename one: nbchat.tool(fn, name='...')."
            raise ToolError(msg)
        seen.add(t.name)
    return tools


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (the text before the sections) and each parameter's description, any common style."""
    if not doc.strip():
        return "", {}
    import docstring_parser

    parsed = docstring_parser.parse(doc)
    text = "\n\n".join(t for t in (parsed.short_description, parsed.long_description) if t)
    return text.strip(), {p.arg_name: (p.description or "").strip() for p in parsed.params}


def _arguments_model(fn: Callable[..., Any], name: str, described: dict[str, str]) -> tuple[Any, bool]:
    """A pydantic model of ``fn``'s parameters, and whether ``fn`` takes a ``cancel`` event."""
    import pydantic

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        msg = f"{name} has no readable signature ({exc}); wrap it in a def with typed parameters."
        raise ToolError(msg) from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - a hint naming something not importable here: the raw annotations
        hints = {}
    fields: dict[str, Any] = {}
    takes_cancel = False
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            msg = f"{name}(*{param.name}) cannot be a tool: the model passes named arguments; use a list parameter."
            raise ToolError(msg)
        if param.kind is param.VAR_KEYWORD:
            continue
        hint = hints.get(param.name, param.annotation)
        if param.name == CANCEL_PARAMETER and hint in (threading.Event, "threading.Event", "Event"):
            takes_cancel = True
            continue
        if param.name.startswith("_") or keyword.iskeyword(param.name):
            msg = f"{name}: parameter {param.name!r} cannot be a tool argument (no leading '_'); rename it."
            raise ToolError(msg)
        annotation = Any if hint is param.empty else hint
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, pydantic.Field(default, description=described.get(param.name) or None))
    config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False, protected_namespaces=())
    try:
        return pydantic.create_model(f"{name}_arguments", __config__=config, **fields), takes_cancel
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError, NameError) as exc:
        msg = f"{name}: a parameter's type hint cannot be described to a model ({exc}). Use JSON-like types."
        raise ToolError(msg) from None


def _schema(model: Any) -> dict[str, Any]:
    """The JSON schema of ``model`` without pydantic's generated titles (noise in every prompt)."""
    import pydantic
    from pydantic.json_schema import GenerateJsonSchema

    class NoTitles(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    try:
        schema = model.model_json_schema(schema_generator=NoTitles)
    except pydantic.PydanticInvalidForJsonSchema as exc:
        msg = f"A parameter's type cannot be written as JSON schema ({exc}). Use JSON-like types."
        raise ToolError(msg) from None
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return dict(schema)


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
    given = error.get("input")
    shown = json.dumps(given, ensure_ascii=False, default=repr)[:80] if error.get("type") != "missing" else ""
    return f"{where}: {error.get('msg', 'invalid')}" + (f" (got {shown})" if shown else "")


def _example(schema: dict[str, Any]) -> str:
    names = list(schema.get("properties", {}))[:3]
    return "{" + ", ".join(f'"{n}": ...' for n in names) + "}"
