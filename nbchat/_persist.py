"""Conversations as files and text: versioned JSON, a Markdown transcript, and "copy as code" snippets.

The file format (``"format": "nbchat.conversation"``, ``"version": 2``)::

    {
      "format": "nbchat.conversation", "version": 2,
      "model": {"spec": "openai:gpt-4o-mini" | null (embedded), "model": str | null, "source": str | null,
                "object": bool (the model was a Python object: pass it again to load),
                "options": {...plain values, never keys...}, "backend": "openai", "name": "gpt-4o-mini"},
      "settings": {"system_prompt": str, "max_new_tokens": int, "temperature": float, "top_p": float,
                   "stop": [str], "use_history": bool (older files: "history"), "thinking": bool | null (optional)},
      "messages": [{"id", "parent", "role", "content", "reasoning" (optional, default ""), "status", "error",
                    "error_i18n" (optional: {"key": str, "params": {str: str}} or null: the error's UI catalogue
                    key, so a widget shows it in its language), "stats", "pinned", "excluded", "created",
                    "attachments": [{"kind", "media_type", "name", "sha256", "text", "width", "height", "thumbnail",
                    "note", "mode" (documents: "whole" | "relevant"), "passages" (documents: ids sent)}, ...],
                    "feedback" (optional: {"rating": "up"|"down"|null, "comment", "time"} or null),
                    "tool_rounds" (optional: [{"content", "reasoning", "dropped", "calls": [{"id", "name",
                    "arguments" (JSON text as the model wrote it), "status", "result", "result_attachments" (as
                    "attachments"), "error", "duration_s", "reason", "server"}, ...]}, ...])},
                   ...],                 # every message of every branch, parents first
      "selected": {"<parent id or empty>": "<child id shown>", ...},
      "images": {"<sha256>": "<base64 of the image bytes>", ...}  # each image once, however often attached
      "documents": {"<sha256 of the original file>": {"name", "media_type", "unit", "pages", "size", "converter",
                    "note", "passages": [{"id", "unit", "number", "part", "heading", "text"}, ...]}, ...}
    }

Tool calls are saved with their results; whether a call may run is never saved ("Allow for this chat" lives in
memory), and a call saved as pending or running loads as stopped: opening a file runs nothing.
``"documents"`` (optional) keeps each attached document once with its extracted text and passages, so a reloaded
chat cites the same pages without the original file; replies' ``stats["citations"]`` keep what they cited.

Version 1 (before attachments: no ``"attachments"``, no ``"images"``) is still read.

API keys are never written: they live in the environment, ``.env`` or client objects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ._attachments import AttachmentError, approx_tokens, attachment_from_dict
from ._errors import NbchatError
from ._i18n import text
from ._messages import ChatMessage
from ._settings import GenerationSettings
from ._tree import MessageTree
from .documents import Document, DocumentError, policy_limits
from .tools._calls import ToolCall, ToolRound, new_call_id

__all__ = [
    "FORMAT",
    "LOADABLE_OPTIONS",
    "VERSION",
    "ConversationFileError",
    "SavedConversation",
    "conversation_json",
    "conversation_to_dict",
    "read_conversation",
    "read_tree",
    "request_code",
    "to_markdown",
    "tree_from_dict",
    "validate_messages",
    "write_conversation",
]

FORMAT = "nbchat.conversation"
VERSION = 2
_READABLE = (1, 2)  # versions this nbchat reads
_ROLES = ("user", "assistant")
_STATUSES = ("done", "stopped", "error", "incomplete")
_MAX_FILE_BYTES = 256 * 1024 * 1024
LOADABLE_OPTIONS = frozenset(
    {
        "backend",  # the engine of a .gguf file: "llama.cpp", "llama-cpp-python" or "transformers"
        "name",
        "context_window",
        "timeout",
        "max_retries",
        "prompt_format",  # a name, or a Jinja chat template (rendered in jinja2's sandbox)
        "prefix_cache",
        "device",
        "dtype",
        "n_ctx",
        "n_threads",
        "n_gpu_layers",
        "seed",
        "requantize",  # only "Q8_0" or None (checked), a copy in nbchat's own cache directory
    }
)
"""Backend options a conversation file may set. Anything else (``base_url``, ``save_to``, ``headers``, ...) could
send a key elsewhere or touch files: :meth:`Conversation.load` refuses it, and it must be passed in code."""


class ConversationFileError(NbchatError, ValueError):
    """A conversation file or message list is malformed; the message says where."""


# ---------------------------------------------------------------------------------------------- to and from dicts
def conversation_to_dict(
    tree: MessageTree,
    *,
    spec: Mapping[str, Any],
    description: Mapping[str, Any],
    system_prompt: str,
    settings: GenerationSettings,
    use_history: bool,
) -> dict[str, Any]:
    """The file format above, from plain data (a new dict; JSON-serialisable).

    Parameters
    ----------
    tree : MessageTree
        Every message; the caller holds whatever lock guards it. Streaming messages are left out.
    spec : mapping
        How the model was given (``Conversation.spec``: ``spec``, ``model``, ``source``, ``object``, ``options``).
    description : mapping
        ``Backend.describe()``: its ``backend`` and ``model`` are saved as ``backend`` and ``name``.
    system_prompt, settings, use_history
        The conversation's system message, generation settings and "send earlier turns" switch.
    """
    ordered: list[ChatMessage] = []
    stack = list(reversed(tree.children.get("", [])))
    while stack:  # depth-first, children in creation order: parents always come first
        node = tree.nodes[stack.pop()]
        ordered.append(node)
        stack.extend(reversed(tree.children.get(node.id, [])))
    kept_messages = [m for m in ordered if m.status != "streaming"]
    messages = [m.to_dict() for m in kept_messages]
    images = {a.sha256: base64.b64encode(a.data).decode("ascii") for m in kept_messages for a in m.images()}
    documents = {
        a.sha256: a.document.to_dict()
        for m in kept_messages
        for a in m.attachments
        if a.kind == "document" and a.document is not None
    }
    kept = {m["id"] for m in messages}
    selected = {k: v for k, v in tree.selected.items() if v in kept}
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": {**spec, "backend": description.get("backend"), "name": description.get("model")},
        "settings": {
            "system_prompt": system_prompt,
            "max_new_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "stop": list(settings.stop),
            "use_history": use_history,
            "thinking": settings.thinking,
        },
        "messages": messages,
        "selected": selected,
        "images": images,
        **({"documents": documents} if documents else {}),
    }


def tree_from_dict(data: Any) -> MessageTree:
    """Rebuild the message tree of a file-format dict, checking every field.

    Raises
    ------
    ConversationFileError
        Naming the first problem found (wrong format or version, a bad message, a dangling parent, ...).
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        msg = f'Not an nbchat conversation: expected a JSON object with "format": "{FORMAT}".'
        raise ConversationFileError(msg)
    if data.get("version") not in _READABLE:
        msg = (
            f"Unsupported conversation file version {data.get('version')!r}; this nbchat reads versions "
            f"{', '.join(map(str, _READABLE))}. A newer nbchat wrote it: upgrade nbchat to open it."
        )
        raise ConversationFileError(msg)
    messages, selected = data.get("messages"), data.get("selected", {})
    if not isinstance(messages, list) or not isinstance(selected, dict):
        msg = '"messages" must be a list and "selected" an object.'
        raise ConversationFileError(msg)
    blobs = _images(data.get("images", {}))
    documents = _documents(data.get("documents", {}))
    tree = MessageTree()
    for n, raw in enumerate(messages):
        message = _message_from_dict(raw, n, tree, blobs, documents)
        tree.add(message, message.parent)
    for parent, child in selected.items():
        if not isinstance(child, str) or child not in tree.nodes or (tree.nodes[child].parent or "") != parent:
            msg = f'"selected" names {child!r} as the shown child of {parent!r}, which it is not.'
            raise ConversationFileError(msg)
        tree.selected[parent] = child
    return tree


def _images(raw: Any) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        msg = '"images" must be an object mapping SHA-256 hashes to base64 image bytes.'
        raise ConversationFileError(msg)
    out: dict[str, bytes] = {}
    for key, value in raw.items():
        try:
            data = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
        except (binascii.Error, ValueError):
            data = b""
        if not data or hashlib.sha256(data).hexdigest() != key:
            msg = f'"images" entry {str(key)[:16]!r}… is not base64 bytes with that SHA-256.'
            raise ConversationFileError(msg)
        out[key] = data
    return out


def _documents(raw: Any) -> dict[str, Document]:
    """The saved documents, checked, within the administrator's page limit."""
    if not isinstance(raw, dict):
        msg = '"documents" must be an object mapping SHA-256 hashes to documents.'
        raise ConversationFileError(msg)
    limits = policy_limits()
    out: dict[str, Document] = {}
    for key, value in raw.items():
        try:
            doc = Document.from_dict(value)
        except DocumentError as exc:
            msg = f'"documents" entry {str(key)[:16]!r}…: {exc}'
            raise ConversationFileError(msg) from exc
        if doc.sha256 != key or doc.pages > limits.max_pages or doc.chars > limits.max_chars:
            msg = f'"documents" entry {doc.name!r} does not match its key or is over the limits for documents.'
            raise ConversationFileError(msg)
        out[key] = doc
    return out


def _message_from_dict(
    raw: Any, n: int, tree: MessageTree, blobs: dict[str, bytes], documents: dict[str, Document] | None = None
) -> ChatMessage:
    where = f"message {n}"
    if not isinstance(raw, dict):
        msg = f"{where} is not an object."
        raise ConversationFileError(msg)
    checks: dict[str, Callable[[Any], bool]] = {
        "id": lambda v: isinstance(v, str) and v != "" and v not in tree.nodes,
        "parent": lambda v: v is None or (isinstance(v, str) and v in tree.nodes),
        "role": lambda v: v in _ROLES,
        "content": lambda v: isinstance(v, str),
        "status": lambda v: v in _STATUSES,
        "error": lambda v: v is None or isinstance(v, str),
        "stats": lambda v: isinstance(v, dict),
        "pinned": lambda v: isinstance(v, bool),
        "excluded": lambda v: isinstance(v, bool),
        "created": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }
    for key, ok in checks.items():
        if key not in raw or not ok(raw[key]):
            msg = f"{where} has a missing or invalid {key!r}: {str(raw.get(key))[:80]!r}."
            raise ConversationFileError(msg)
    reasoning = raw.get("reasoning", "")  # optional: files written before reasoning was kept have none
    if not isinstance(reasoning, str):
        msg = f"{where} has an invalid 'reasoning': {str(reasoning)[:80]!r} (expected text)."
        raise ConversationFileError(msg)
    attachments = raw.get("attachments", [])
    if not isinstance(attachments, list):
        msg = f"{where} has attachments that are not a list."
        raise ConversationFileError(msg)
    try:
        parts = [attachment_from_dict(a, blobs, documents) for a in attachments]
        rounds = raw.get("tool_rounds", [])  # optional: files written before tools have none
        if not isinstance(rounds, list):
            msg = "tool_rounds is not a list."
            raise ValueError(msg)
        tool_rounds = [ToolRound.from_dict(r, blobs) for r in rounds]
    except (AttachmentError, ValueError) as exc:
        msg = f"{where}: {exc}"
        raise ConversationFileError(msg) from exc
    return ChatMessage(
        tool_rounds=tool_rounds,
        attachments=parts,
        role=raw["role"],
        content=raw["content"],
        reasoning=reasoning,
        status=raw["status"],
        error=raw["error"],
        error_i18n=_error_i18n_from_dict(raw.get("error_i18n"), where),
        stats=dict(raw["stats"]),
        id=raw["id"],
        parent=raw["parent"],
        pinned=raw["pinned"],
        excluded=raw["excluded"],
        created=float(raw["created"]),
        feedback=_feedback_from_dict(raw.get("feedback"), where),
    )


def _error_i18n_from_dict(raw: Any, where: str) -> dict[str, Any] | None:
    """The optional ``error_i18n`` of a saved message (files written before it existed have none)."""
    if raw is None:
        return None
    params = raw.get("params", {}) if isinstance(raw, dict) else None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("key"), str)
        or not isinstance(params, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    ):
        msg = f'{where} has an invalid "error_i18n": {str(raw)[:80]!r} (expected {{"key": text, "params": {{...}}}}).'
        raise ConversationFileError(msg)
    return {"key": raw["key"], "params": dict(params)}


def _feedback_from_dict(raw: Any, where: str) -> dict[str, Any] | None:
    """The optional ``feedback`` of a saved message (files written before it existed have none)."""
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("rating") not in ("up", "down", None)
        or not isinstance(raw.get("comment", ""), str)
        or isinstance(raw.get("time", 0.0), bool)
        or not isinstance(raw.get("time", 0.0), (int, float))
    ):
        msg = f'{where} has an invalid "feedback": {str(raw)[:80]!r} (expected rating "up", "down" or null).'
        raise ConversationFileError(msg)
    return {"rating": raw.get("rating"), "comment": raw.get("comment", ""), "time": float(raw.get("time", 0.0))}


def validate_messages(value: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """Check a list of OpenAI-style messages for ``conversation.messages = [...]``.

    A user message's ``content`` may be a list of content parts: ``{"type": "text", "text": ...}`` (joined into
    the text) and ``{"type": "image_url", "image_url": {"url": "data:image/...;base64,..."}}`` (an image
    attachment; only data URLs: nothing is fetched), as :attr:`nbchat.Conversation.messages` gives them.

    Tool calls fold back into one assistant turn: an assistant message with ``tool_calls`` (``[{"id", "type":
    "function", "function": {"name", "arguments"}}]``), the ``{"role": "tool", "tool_call_id", "content"}`` messages
    after it, and further such rounds, up to the next assistant message without ``tool_calls`` (the final answer)
    or the next user message. A result's call is ``done``; a call without a result message ``stopped``. The user
    message nbchat adds after a round to carry image results is folded back into the round's calls.

    Returns
    -------
    (str or None, list of dict)
        The leading system message's content (or None), and the user/assistant messages as ``{"role",
        "content": str, "attachments": [Attachment, ...], "tool_rounds": [ToolRound, ...]}``.

    Raises
    ------
    ConversationFileError
        Naming the first bad message and what is expected.
    """
    if not isinstance(value, (list, tuple)):
        msg = f"messages must be a list of {{'role': ..., 'content': ...}} dicts, got {type(value).__name__}."
        raise ConversationFileError(msg)
    system: str | None = None
    out: list[dict[str, Any]] = []
    for n, m in enumerate(value):
        if isinstance(m, dict) and (m.get("role") == "tool" or m.get("tool_calls")):
            _fold_tool_message(m, n, out)
            continue
        if _images_of_round(m, out):
            continue
        if not isinstance(m, dict) or not isinstance(m.get("content"), (str, list)):
            msg = f"messages[{n}] must be a dict with a string 'content', got {str(m)[:80]!r}."
            raise ConversationFileError(msg)
        role = m.get("role")
        if role == "system" and n == 0 and isinstance(m["content"], str):
            system = m["content"]
            continue
        if role not in _ROLES:
            msg = f"messages[{n}] has role {role!r}; use 'user' or 'assistant' (a 'system' message only first)."
            raise ConversationFileError(msg)
        content = m["content"]
        attachments: list[Any] = []
        if isinstance(content, list):
            content, attachments = _from_parts(content, f"messages[{n}]")
        if role == "assistant" and _open_turn(out):
            out[-1]["content"], out[-1]["open"] = content, False  # the final answer of a turn with tool calls
            continue
        out.append({"role": role, "content": content, "attachments": attachments, "tool_rounds": []})
    for record in out:
        record.pop("open", None)
        record.pop("image_calls", None)
    return system, out


def _open_turn(out: list[dict[str, Any]]) -> bool:
    """Whether the last record is an assistant turn with tool rounds still waiting for its final answer."""
    return bool(out) and out[-1]["role"] == "assistant" and bool(out[-1].get("open"))


def _fold_tool_message(m: dict[str, Any], n: int, out: list[dict[str, Any]]) -> None:
    """An assistant message with ``tool_calls`` (a new round) or a ``tool`` result (into its call)."""
    where = f"messages[{n}]"
    if m.get("role") == "tool":
        call_id = m.get("tool_call_id")
        rounds = out[-1]["tool_rounds"] if _open_turn(out) else []
        call = next((c for c in (rounds[-1].calls if rounds else []) if c.id == call_id), None)
        if call is None:
            msg = f"{where} is a tool result for {str(call_id)[:40]!r}, which no earlier assistant message called."
            raise ConversationFileError(msg)
        content = m.get("content")
        if isinstance(content, list):
            content = "\n\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            msg = f"{where}: a tool result's content must be text."
            raise ConversationFileError(msg)
        shown = _SHOWN_NEXT.search(content)
        if shown:  # images that follow in the round's user message: folded back into this call
            content = content[: shown.start()]
            out[-1].setdefault("image_calls", []).extend([call] * max(1, shown.group().count("[image ")))
        call.result, call.status = content, "done"
        return
    if m.get("role") != "assistant" or not isinstance(m.get("tool_calls"), list):
        msg = f"{where}: only an assistant message may have tool_calls (a list)."
        raise ConversationFileError(msg)
    content = m.get("content") or ""
    if not isinstance(content, str):
        msg = f"{where}: an assistant message with tool_calls must have text content (or none)."
        raise ConversationFileError(msg)
    calls = []
    for entry in m["tool_calls"]:
        function = entry.get("function") if isinstance(entry, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        arguments = function.get("arguments", "") if isinstance(function, dict) else None
        if not isinstance(name, str) or not isinstance(arguments, str):
            msg = f'{where}: each tool call must be {{"id", "type": "function", "function": {{"name", "arguments"}}}}.'
            raise ConversationFileError(msg)
        call_id = entry.get("id") if isinstance(entry.get("id"), str) and entry.get("id") else new_call_id()
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments, status="stopped"))
    round_ = ToolRound(content=content, calls=calls)
    if _open_turn(out):
        out[-1]["tool_rounds"].append(round_)
    else:
        out.append({"role": "assistant", "content": "", "attachments": [], "tool_rounds": [round_], "open": True})


def _images_of_round(m: Any, out: list[dict[str, Any]]) -> bool:
    """Fold the user message that carries a round's image results back into its calls (True when it was one)."""
    if not (isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), list) and _open_turn(out)):
        return False
    parts = m["content"]
    first = parts[0] if parts and isinstance(parts[0], dict) else {}
    if not str(first.get("text", "")).startswith(_ROUND_IMAGES):
        return False
    _, images = _from_parts(parts, "a round's images")
    for call, image in zip(
        out[-1].pop("image_calls", []), images, strict=False
    ):  # a missing image: the call keeps none
        call.result_attachments.append(image)
    return True


_ROUND_IMAGES = "Images returned by the tool calls above"  # see nbchat.tools.ToolRound.to_openai_list
_SHOWN_NEXT = re.compile(r"\n?\[[^\n]*\(shown in the next message\)\]\Z")


def _from_parts(parts: list[Any], where: str) -> tuple[str, list[Any]]:
    from ._attachments import image_attachment

    texts: list[str] = []
    images: list[Any] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
            continue
        image = part.get("image_url") if kind == "image_url" else None
        url = image.get("url") if isinstance(image, dict) else None
        head, _, payload = url.partition(",") if isinstance(url, str) else ("", "", "")
        if not (head.startswith("data:image/") and head.endswith(";base64")):
            msg = f"{where}: content parts must be text or image_url parts with a data:image/...;base64 URL."
            raise ConversationFileError(msg)
        try:
            images.append(image_attachment(base64.b64decode(payload, validate=True), f"image {len(images) + 1}",
                                           max_side=2**31))  # fmt: skip
        except (binascii.Error, ValueError) as exc:
            msg = f"{where}: an image part is not a readable base64 image: {exc}"
            raise ConversationFileError(msg) from exc
    return "\n\n".join(texts), images


# ---------------------------------------------------------------------------------------------- files
def conversation_json(data: Mapping[str, Any]) -> str:
    """The file's text for ``data`` (from :func:`conversation_to_dict`): what :func:`write_conversation` writes."""
    return json.dumps(data, ensure_ascii=False, indent=1)


def write_conversation(data: Mapping[str, Any], path: Path) -> Path:
    """Write ``data`` (from :func:`conversation_to_dict`) as JSON to ``path``; returns ``path``.

    Atomic (temporary file, then rename), so an interrupted save never leaves half a file.
    """
    text = conversation_json(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            msg = f"{path} is larger than {_MAX_FILE_BYTES // 2**20} MiB; not a conversation nbchat wrote."
            raise ConversationFileError(msg)
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"Could not read the conversation file {path}: {exc}"
        raise ConversationFileError(msg) from exc


def read_tree(path: Path) -> MessageTree:
    """The message tree saved in ``path`` (for ``save_to=`` autosave files)."""
    return tree_from_dict(_read_json(path))


class SavedConversation(NamedTuple):
    """What :func:`read_conversation` found: the messages, and how to build the conversation again."""

    tree: MessageTree
    """Every saved message, validated."""
    spec: Any
    """The model spec to pass to ``Conversation``: the caller's, else the saved one (``None``: embedded model)."""
    options: dict[str, Any]
    """Keyword arguments for ``Conversation``: saved ``model``/``source``, backend options and settings,
    overridden by the caller's."""


def read_conversation(path: Path, spec: Any, options: Mapping[str, Any]) -> SavedConversation:
    """Read and check a saved file; ``spec`` and ``options`` override what the file says.

    Raises
    ------
    ConversationFileError
        If the file is not a valid conversation, its model was a Python object and ``spec`` is None, or it sets
        a backend option not in :data:`LOADABLE_OPTIONS` that ``options`` does not override.
    """
    data = _read_json(path)
    tree = tree_from_dict(data)  # validate everything before building anything
    saved_model, settings = data.get("model") or {}, dict(data.get("settings") or {})
    if spec is None and saved_model.get("object"):
        msg = (
            f"{path} was saved from a {saved_model.get('backend')} model given as a Python object "
            f"({saved_model.get('name')!r}); pass it again: Conversation.load(path, your_model)."
        )
        raise ConversationFileError(msg)
    saved_options = saved_model.get("options") or {}
    if not isinstance(saved_options, dict):
        msg = f'{path}: "model.options" must be an object, got {type(saved_options).__name__}.'
        raise ConversationFileError(msg)
    refused = sorted(k for k in saved_options if k not in LOADABLE_OPTIONS and k not in options)
    if refused:
        name = refused[0]
        msg = (
            f"{path} sets the option {name!r}, which a conversation file may not set (a shared file must not send "
            f"your key elsewhere, write files or change how nbchat connects). If you trust it, pass it in code: "
            f"Conversation.load({str(path)!r}, {name}=...). "
            f"Options a file may set: {', '.join(sorted(LOADABLE_OPTIONS))}."
        )
        raise ConversationFileError(msg)
    kwargs: dict[str, Any] = dict(saved_options)
    if spec is None and saved_model.get("spec") is not None:
        kwargs["origin"] = "file"  # the file's model gets no key from the environment or .env it was not set up with
    for key in ("model", "source"):
        if saved_model.get(key) is not None:
            kwargs[key] = saved_model[key]
    names = ("system_prompt", "max_new_tokens", "temperature", "top_p", "stop", "use_history", "thinking")
    kwargs.update({k: v for k, v in settings.items() if k in names})
    if "history" in settings and "use_history" not in settings:  # a file saved before the switch was renamed
        kwargs["use_history"] = settings["history"]
    kwargs.update(options)
    return SavedConversation(tree, spec if spec is not None else saved_model.get("spec"), kwargs)


# ---------------------------------------------------------------------------------------------- text
def to_markdown(
    history: list[ChatMessage],
    *,
    system_prompt: str,
    description: Mapping[str, Any],
    html: bool = True,
    lang: str = "",
) -> str:
    """A readable transcript: the system message, then each message of ``history`` with its status.

    ``description`` is ``Backend.describe()`` (its ``model`` and ``backend`` head the transcript).

    A reply's reasoning comes before it: with ``html=True`` as a collapsed ``<details>`` section (Markdown files,
    GitHub), with ``html=False`` as a quote (for renderers that show raw HTML as text, as the static transcript of
    saved notebooks does: :func:`nbchat._static_html.markdown_html`). ``lang`` (``"en"``, ``"zh"``; ``""``:
    English) is the language of a message's status note ("stopped by the user", an error).
    """
    info = description
    lines = [f"*Conversation with {info.get('model')} ({info.get('backend')}), saved by nbchat.*", ""]
    if system_prompt.strip():
        lines += [f"> **System:** {_quote(system_prompt)}", ""]
    for m in history:
        who = "User" if m.role == "user" else "Assistant"
        lines += [f"**{who}:**", ""]
        if m.reasoning:
            lines += [*(_thinking_details(m) if html else _thinking_quote(m)), ""]
        for round_ in m.tool_rounds:
            lines += [round_.content, ""] if round_.content else []
            for call in round_.calls:
                lines += [*tool_call_markdown(call), ""]
            if round_.dropped:
                lines += [f"*{round_.dropped} more calls asked for in this reply were not run.*", ""]
        if m.content or not m.tool_rounds:
            lines += [m.content or f"*{text('py.transcript.noText', lang)}*", ""]
        for a in m.attachments:
            if a.kind == "document":
                size = f"{a.mode or 'not sent'}: {len(a.passages)} passages"
            else:
                size = f"{a.width}×{a.height}" if a.kind == "image" else f"~{approx_tokens(a.text)} tokens"
            lines += [f"*📎 {a.name} ({a.media_type}, {size})*", ""]
        lines += _citation_lines(m.stats.get("citations"))
        if m.status in ("stopped", "incomplete", "error"):
            lines += [f"*— {text(f'py.transcript.{m.status}', lang, error=m.error)}*", ""]
    return "\n".join(lines).rstrip() + "\n"


RESULT_PREVIEW_CHARS = 2000
"""Characters of a tool result shown in the Markdown transcript (the saved file keeps the whole result)."""


def tool_call_markdown(call: ToolCall) -> list[str]:
    """Markdown lines for one tool call: tool, status, duration, the arguments (pretty JSON) and a preview of the
    result. Everything the model or the tool wrote is inside code spans and fences longer than any backtick run in
    it, so none of it is read as Markdown or HTML (in files, GitHub, and the static transcript)."""
    duration = f" · {call.duration_s:.2f} s" if call.duration_s is not None else ""
    server = f" · {_code_span(call.server)}" if call.server else ""
    parsed = call.parsed_arguments()
    arguments = json.dumps(parsed, ensure_ascii=False, indent=1) if parsed is not None else call.arguments
    lines = [
        f"🔧 **Tool call** {_code_span(call.name)}{server} · {call.status}{duration}",
        "",
        *_fence(arguments, "json"),
    ]
    if call.status == "declined":
        lines += ["", "Declined" + (":" if call.reason else "."), *(_fence(call.reason) if call.reason else [])]
    if call.error:
        lines += ["", "Error:", *_fence(call.error)]
    elif call.result:
        preview = call.result[:RESULT_PREVIEW_CHARS]
        more = len(call.result) - len(preview)
        lines += ["", "Result" + (f" (first {len(preview):,} of {len(call.result):,} characters):" if more else ":")]
        lines += _fence(preview)
    for a in call.result_attachments:
        size = f"{a.width}×{a.height}" if a.kind == "image" else f"~{approx_tokens(a.text)} tokens"
        lines += ["", f"*📎 {_code_span(a.name)} ({a.media_type}, {size})*"]
    return lines


def _fence(text: str, info: str = "text") -> list[str]:
    """``text`` as a fenced code block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", text, fence]


def _code_span(text: str) -> str:
    """``text`` (one line) as a Markdown code span that its own backticks cannot close."""
    text = " ".join(text.split())[:200] or "?"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}" if longest else f"{ticks}{text}{ticks}"


def _citation_lines(citations: Any) -> list[str]:
    """A reply's citations as a Markdown list after it: each marker, checked or not, and the passage's start."""
    if not isinstance(citations, list) or not citations:
        return []
    lines = ["*Sources:*", ""]
    for c in citations:
        if not isinstance(c, dict):
            continue
        mark = "✓" if c.get("verified") else f"unverified ({c.get('reason') or 'not sent'})"
        quote = " ".join(str(c.get("text", "")).split())[:160]
        quote = quote.replace("*", "\\*").replace("_", "\\_").replace("<", "&lt;")
        lines.append(f"- {c.get('marker')} {mark}" + (f": “{quote}…”" if quote else ""))
    return [*lines, ""]


def _thinking_summary(m: ChatMessage) -> str:
    summary = "Thoughts (stopped)" if m.status == "stopped" and not m.content else "Thoughts"
    seconds = m.stats.get("thinking_s")
    return f"{summary} · {seconds:.0f} s" if isinstance(seconds, (int, float)) else summary


def _thinking_quote(m: ChatMessage) -> list[str]:
    """The reasoning as a Markdown quote headed by its summary (no HTML of its own)."""
    return [f"> *{_thinking_summary(m)}*", ">", *(f"> {line}" if line else ">" for line in m.reasoning.splitlines())]


def _thinking_details(m: ChatMessage) -> list[str]:
    """Markdown lines: the reasoning of ``m`` as a collapsed ``<details>`` block; its text cannot close the block or
    add HTML.

    ``<`` and ``&`` are escaped, so a ``</details>`` or a tag in the reasoning shows as text (markdown renderers
    then sanitize the rest as they do for the answer).
    """
    summary = _thinking_summary(m)
    text = m.reasoning.replace("&", "&amp;").replace("<", "&lt;")
    return ["<details>", f"<summary>{summary}</summary>", "", text, "", "</details>"]


def _quote(text: str) -> str:
    return text.replace("\n", "\n> ")


def request_code(request: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    """A runnable Python snippet that sends exactly ``request`` again with nbchat.

    Parameters
    ----------
    request : mapping
        ``Conversation.request_of(message_id)``: backend, model, settings and the messages sent.
    spec : mapping
        ``Conversation.spec``: how the model was given (a Python object becomes a ``MODEL`` placeholder).
    """
    settings = request["settings"]
    messages = request["messages"]
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    history = [m for m in messages if m["role"] != "system"]
    question = history.pop() if history and history[-1]["role"] == "user" else {"content": ""}
    if spec["object"]:
        what = f"{request.get('backend')} model object {request.get('model')!r}"
        model_line = f"    MODEL,  # the {what}: define MODEL first"
    else:
        model_line = f"    {spec['spec']!r},"
    args = [model_line]
    for key in ("model", "source"):
        if spec.get(key) is not None:
            args.append(f"    {key}={spec[key]!r},")
    options = dict(spec.get("options") or {})
    local_file = not spec["object"] and (spec["spec"] is None or str(spec["spec"]).lower().endswith(".gguf"))
    if local_file and request.get("backend") in ("llama.cpp", "llama-cpp-python", "transformers"):
        options.setdefault("backend", request["backend"])  # the engine that answered, wherever the code runs
    args += [f"    {k}={v!r}," for k, v in options.items()]
    tools = [t["function"]["name"] for t in settings.get("tools") or () if isinstance(t.get("function"), dict)]
    if tools:  # by name: the functions themselves are the user's code
        args += [
            f"    tools=[{', '.join(n if n.isidentifier() else f'nbchat.tool(FUNCTION, name={n!r})' for n in tools)}],"
            "  # your functions: define them first",
            "    tool_approval=lambda call: input(f'Run {call.name}({call.arguments})? [y/N] ').lower() == 'y',",
        ]
    args += [
        f"    system_prompt={system!r},",
        f"    max_new_tokens={settings['max_new_tokens']!r},",
        f"    temperature={settings['temperature']!r},",
        f"    top_p={settings['top_p']!r},",
        f"    stop={list(settings['stop'])!r},",
        *([f"    thinking={settings['thinking']!r},"] if settings.get("thinking") is not None else []),
        "    prepare='now',",
    ]
    body = ",\n".join(f"    {m!r}" for m in history)
    text, images = question["content"], []
    if isinstance(text, list):  # content parts: the text parts, then each image's bytes
        images = [p["image_url"]["url"].partition(",")[2] for p in text if p.get("type") == "image_url"]
        text = "\n\n".join(p["text"] for p in text if p.get("type") == "text")
    attach = ", attachments=[" + ", ".join(f"base64.b64decode({i!r})" for i in images) + "]" if images else ""
    return "\n".join(
        [
            *(["import base64"] if images else []),
            "import nbchat",
            "",
            "conv = nbchat.Conversation(",
            *args,
            ")",
            f"conv.messages = [\n{body},\n]" if history else "conv.messages = []",
            f"print(conv.ask({text!r}{attach}))",
            "",
        ]
    )
