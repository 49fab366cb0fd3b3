"""``%%chat``: the cell body is the prompt, the answer streams into the cell output (like jupyter-ai's ``%%ai``).

``%load_ext nbchat`` registers it. Each kernel (so each notebook) keeps one conversation per model spec, so
follow-up cells continue the chat.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ._conversation import Conversation, wait_for_reply
from ._errors import GenerationError, NbchatError
from ._i18n import normalize_lang, text
from ._interpolate import interpolate
from ._persist import tool_call_markdown
from ._policy import current_policy
from ._static_html import reply_bundle
from ._structured import parse_reply
from .tools import MCPServer, ToolError

__all__ = ["ChatMagics", "load_ipython_extension"]

_REFRESH_S = 0.1  # how often the streaming output is redrawn


@magics_class
class ChatMagics(Magics):
    """The ``%%chat`` cell magic; ``conversations`` maps each model spec used to its conversation."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.conversations: dict[str, Conversation] = {}

    @magic_arguments()
    @argument("-m", "--model", default=None, help="model spec (default: the embedded SmolLM2-135M-Instruct)")
    @argument("--temperature", type=float, default=None, help="sampling temperature, 0 = greedy")
    @argument("--max-new-tokens", type=int, default=None, help="reply length limit in tokens")
    @argument("--system", default=None, help="system message for this conversation")
    @argument("--no-use-history", action="store_true", help="send this prompt alone, without earlier turns")
    @argument("--no-history", action="store_true", help=argparse.SUPPRESS)  # the old name, for one release
    @argument(
        "--thinking", choices=("on", "off", "default"), default=None, help="reasoning models: think first, or not"
    )
    @argument("--new", action="store_true", help="start a new conversation with this model")
    @argument("--raw", action="store_true", help="send the cell as typed: no {name} interpolation")
    @argument(
        "--tools", default=None, help="comma-separated names of notebook functions or MCP servers, or mcp, mcp:NAME"
    )
    @argument("--approve", choices=("auto",), default=None, help="run the model's tool calls without asking (auto)")
    @argument("--schema", default=None, help="a structured reply: the name of a pydantic model or JSON-schema dict")
    @cell_magic
    def chat(self, line: str, cell: str) -> str | None:
        """Send the cell as a prompt; the reply streams into the output as Markdown, rendered without any markup of
        its own (raw HTML in a reply is shown as text, images are not fetched: see :mod:`nbchat._static_html`).

        Usage: ``%%chat [-m MODEL] [--temperature T] [--max-new-tokens N] [--system TEXT] [--no-use-history]
        [--thinking on|off|default] [--new] [--raw] [--tools NAME,NAME --approve auto] [--schema NAME]``.

        ``--schema City`` asks for a structured reply (see :meth:`nbchat.Conversation.ask`): ``City`` is a pydantic
        model class or a JSON-schema dict of the notebook; the reply shows as formatted JSON, and the validated
        object is the notebook's ``_chat_result`` variable.

        ``--tools area,plot_sales`` gives the model the notebook's functions of those names as tools (see
        :mod:`nbchat.tools`); the output has no buttons to approve a call, so ``--approve auto`` must say that every
        call may run (else nothing is sent). Each call shows in the output (tool, arguments, status, result).

        A reasoning model's thoughts stream as a quote, then fold into a collapsed "Thoughts" section. Interrupt the
        kernel to stop a reply (its partial text and thoughts are kept; so does a running tool call, marked stopped).

        ``{name}``, ``{In[3]}``, ``{Out[3]}`` and ``{Err}`` in the cell are filled in from the notebook: plain
        values as text, anything else (DataFrame, figure, image, the last error) as an attachment (see
        :func:`nbchat._interpolate.interpolate`); ``{{`` and ``}}`` are literal braces.
        """
        from IPython.display import display

        lang = normalize_lang(current_policy().lang) or ""  # the output's words: the administrator's language
        args = parse_argstring(self.chat, line)
        args.model, args.system = _unquote(args.model), _unquote(args.system)
        conv = self._conversation(args.model, new=args.new)
        changes = {
            k: v
            for k, v in (("temperature", args.temperature), ("max_new_tokens", args.max_new_tokens))
            if v is not None
        }
        if args.thinking is not None:
            changes["thinking"] = {"on": True, "off": False, "default": None}[args.thinking]
        if changes:
            conv.settings = conv.settings.replace(**changes)
        if args.system is not None:
            conv.system_prompt = args.system
        if args.no_history:
            warnings.warn("%%chat --no-history is deprecated: use --no-use-history.", DeprecationWarning, stacklevel=2)
        conv.use_history = not (args.no_use_history or args.no_history)
        if args.tools is not None or args.approve is not None:
            try:
                self._set_tools(conv, args.tools, args.approve, lang)
            except (NbchatError, ValueError) as exc:
                display(reply_bundle("", text("py.magic.notSent", lang, error=exc), lang=lang), raw=True)
                return None
        schema = None
        if args.schema is not None:
            schema = self.shell.user_ns.get(args.schema) if self.shell is not None else None
            if schema is None:
                error = text("py.magic.noSchema", lang, name=repr(args.schema))
                display(reply_bundle("", text("py.magic.notSent", lang, error=error), lang=lang), raw=True)
                return None
        prompt = cell.strip()
        objects: list[Any] = []
        names: list[str] = []
        try:
            if not args.raw and self.shell is not None:
                prompt, objects, names = interpolate(prompt, self.shell.user_ns, tokens=conv.attachment_tokens)
            attachments = conv.make_attachments(objects, names)
            future = conv.send(prompt, attachments=attachments, schema=schema)
        except (NbchatError, ValueError) as exc:  # nothing was sent: say why, in the output
            key = "py.magic.notSentTools" if isinstance(exc, ToolError) else "py.magic.notSent"
            display(reply_bundle("", text(key, lang, error=exc), lang=lang), raw=True)
            return None
        handle = display(reply_bundle("…", lang=lang), raw=True, display_id=True)
        shown: tuple[str, int] = ("", 0)
        try:
            while not future.done():
                partial = conv.partial_reply()
                so_far = partial[1] if partial else ""
                thoughts = conv.partial_reasoning()
                if (so_far, len(thoughts)) != shown:  # thoughts stream in an open section until the answer starts
                    bundle = reply_bundle(so_far + " ▌", thoughts=thoughts, thinking=not so_far, lang=lang)
                    handle.update(bundle, raw=True)
                    shown = (so_far, len(thoughts))
                time.sleep(_REFRESH_S)
        except KeyboardInterrupt:  # interrupting the kernel stops the reply; its text is kept
            conv.stop()
        try:
            reply_text = wait_for_reply(conv, future, None)
        except GenerationError as exc:
            handle.update(reply_bundle(exc.partial, text("py.magic.error", lang, error=exc), lang=lang), raw=True)
            return None
        reply = conv.history[-1]
        if schema is not None and self.shell is not None:  # the validated object, for the next cell
            self.shell.user_ns["_chat_result"] = parse_reply(reply_text, schema)
        if reply.tool_rounds:  # each call as a block (tool, arguments, status, result), then the answer
            blocks = [r.content + "\n" if r.content else "" for r in reply.tool_rounds]
            calls = ["\n".join(tool_call_markdown(c)) for r in reply.tool_rounds for c in r.calls]
            reply_text = "\n\n".join([*filter(None, blocks), *calls, reply_text])
        stats = reply.stats
        key = "py.magic.footerStopped" if reply.status == "stopped" else "py.magic.footer"
        footer = text(key, lang, model=stats.get("model"), tokens=stats.get("tokens") or "?")
        handle.update(reply_bundle(reply_text, footer, thoughts=reply.reasoning, lang=lang), raw=True)
        return None

    def _set_tools(self, conv: Conversation, names: str | None, approve: str | None, lang: str = "") -> None:
        """``--tools a,b``: the notebook's functions of those names; ``--approve auto``: calls run without asking."""
        if approve is not None:
            conv.tool_loop.approvals.mode = approve
        if names is None:
            return
        namespace = self.shell.user_ns if self.shell is not None else {}
        functions: list[Any] = []
        for name in (n.strip() for n in names.split(",") if n.strip()):
            if name == "mcp" or name.startswith("mcp:"):  # the MCP settings file's servers (nbchat.mcp_servers)
                functions.append(name)
                continue
            if not callable(namespace.get(name)) and not isinstance(namespace.get(name), MCPServer):
                raise ValueError(text("py.magic.noTool", lang, name=repr(name)))
            functions.append(namespace[name])
        conv.tools = functions

    def _conversation(self, model: str | None, *, new: bool) -> Conversation:
        """The conversation for ``-m MODEL``: a variable of the notebook (a Chat, Conversation, backend or
        function) if one has that name, else a model spec string; one conversation per name, kept across cells."""
        key = model or ""
        if not new and key in self.conversations:
            return self.conversations[key]
        value = self.shell.user_ns.get(key) if key.isidentifier() and self.shell is not None else None
        if isinstance(value, Conversation):
            conv = value
        elif isinstance(getattr(value, "conversation", None), Conversation):  # an nbchat.Chat
            conv = value.conversation  # type: ignore[union-attr]
        else:
            conv = Conversation(value if value is not None else (model or None))
        self.conversations[key] = conv
        return conv


def _unquote(value: str | None) -> str | None:
    """IPython's argument parser keeps quotes: ``--system 'Be brief.'`` → ``Be brief.``."""
    if value is not None and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%chat`` (called by ``%load_ext nbchat``)."""
    ipython.register_magics(ChatMagics)
