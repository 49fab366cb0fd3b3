"""The conversation as a tree of messages: editing or regenerating adds a sibling instead of throwing away.

The *visible branch* starts at the root and follows the selected child of each message; it is what the widget
shows and what is sent to the model.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._messages import ChatMessage

__all__ = ["MessageTree"]

_ROOT = ""  # parent id of first messages


class MessageTree:
    """Messages with parent links, the children of each message in creation order, and the selected child.

    Not thread-safe on its own: the conversation guards it with its lock.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, ChatMessage] = {}
        self.children: dict[str, list[str]] = {}
        self.selected: dict[str, str] = {}

    # ------------------------------------------------------------------ reading
    def branch(self) -> list[ChatMessage]:
        """The visible branch, root first."""
        out: list[ChatMessage] = []
        parent = _ROOT
        while parent in self.selected:
            parent = self.selected[parent]
            out.append(self.nodes[parent])
        return out

    def path_to(self, message_id: str) -> list[ChatMessage]:
        """The messages from the root down to ``message_id`` (included)."""
        out = [self.get(message_id)]
        while out[-1].parent is not None:
            out.append(self.nodes[out[-1].parent])
        return out[::-1]

    def last(self) -> ChatMessage | None:
        """Last message of the visible branch."""
        branch = self.branch()
        return branch[-1] if branch else None

    def siblings(self, message_id: str) -> list[str]:
        """Ids of ``message_id`` and its alternatives (same parent), in creation order."""
        return self.children.get(self.nodes[message_id].parent or _ROOT, [])

    def position(self, message_id: str) -> tuple[int, int]:
        """``(index starting at 1, count)`` of the message among its alternatives."""
        siblings = self.siblings(message_id)
        return siblings.index(message_id) + 1, len(siblings)

    def __iter__(self) -> Iterator[ChatMessage]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, message_id: str) -> ChatMessage:
        """The message with this id.

        Raises
        ------
        KeyError
            With a message that names the id, if there is no such message.
        """
        try:
            return self.nodes[message_id]
        except KeyError:
            msg = f"No message with id {message_id!r} in this conversation."
            raise KeyError(msg) from None

    # ------------------------------------------------------------------ changing
    def add(self, message: ChatMessage, parent_id: str | None) -> ChatMessage:
        """Add ``message`` as the newest child of ``parent_id`` (``None``: a first message) and select it."""
        message.parent = parent_id
        key = parent_id or _ROOT
        self.nodes[message.id] = message
        self.children.setdefault(key, []).append(message.id)
        self.selected[key] = message.id
        return message

    def append(self, message: ChatMessage) -> ChatMessage:
        """Add ``message`` after the last message of the visible branch."""
        last = self.last()
        return self.add(message, last.id if last else None)

    def select(self, message_id: str) -> None:
        """Show ``message_id`` instead of its siblings (and the branch below it as last selected)."""
        node = self.get(message_id)
        self.selected[node.parent or _ROOT] = message_id

    def step(self, message_id: str, step: int) -> str:
        """Select the sibling ``step`` places after ``message_id`` (clamped); return the selected id."""
        siblings = self.siblings(message_id)
        index = max(0, min(len(siblings) - 1, siblings.index(message_id) + step))
        self.select(siblings[index])
        return siblings[index]

    def delete(self, message_id: str) -> None:
        """Remove one message; the messages after it move up to its parent, so the rest of the chat stays.

        If it was shown, its selected child takes its place; without children, a sibling does.
        """
        node = self.get(message_id)
        key = node.parent or _ROOT
        orphans = self.children.pop(message_id, [])
        chosen = self.selected.pop(message_id, None)
        for child in orphans:
            self.nodes[child].parent = node.parent
        siblings = self.children.get(key, [])
        index = siblings.index(message_id)
        siblings[index : index + 1] = orphans
        del self.nodes[message_id]
        if not siblings:
            self.children.pop(key, None)
            self.selected.pop(key, None)
        elif self.selected.get(key) == message_id:
            self.selected[key] = chosen or siblings[min(index, len(siblings) - 1)]

    def clear(self) -> None:
        """Remove every message."""
        self.nodes.clear()
        self.children.clear()
        self.selected.clear()
