"""The typed event model: the contract between the agent core and every face that renders it.

Events and items mirror Codex's `exec --json` schema (thread.started, turn.*, item.*, error), so the
JSONL printer is a plain `to_json()` per event. `Notice` is ocodex's own: progress and status lines
meant for a person (model chosen, pull progress, token usage); the JSONL face sends them to stderr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ocodex.protocol import Usage as Usage  # re-exported: TurnCompleted carries it

CommandStatus = Literal["in_progress", "completed", "failed", "declined"]
ChangeStatus = Literal["in_progress", "completed", "failed"]
ChangeKind = Literal["add", "delete", "update"]


# ---- items -------------------------------------------------------------------------------------

@dataclass(slots=True)
class AgentMessage:
    id: str
    text: str
    type: str = field(default="agent_message", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "text": self.text}


@dataclass(slots=True)
class Reasoning:
    id: str
    text: str
    type: str = field(default="reasoning", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "text": self.text}


@dataclass(slots=True)
class CommandExecution:
    id: str
    command: str
    aggregated_output: str = ""
    exit_code: int | None = None
    status: CommandStatus = "in_progress"
    type: str = field(default="command_execution", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "command": self.command,
                "aggregated_output": self.aggregated_output, "exit_code": self.exit_code,
                "status": self.status}


@dataclass(slots=True)
class FileUpdate:
    path: str
    kind: ChangeKind

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind}


@dataclass(slots=True)
class FileChange:
    id: str
    changes: list[FileUpdate]
    status: ChangeStatus = "in_progress"
    type: str = field(default="file_change", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "changes": [c.to_dict() for c in self.changes],
                "status": self.status}


@dataclass(slots=True)
class TodoEntry:
    text: str
    completed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "completed": self.completed}


@dataclass(slots=True)
class TodoList:
    id: str
    items: list[TodoEntry]
    type: str = field(default="todo_list", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "items": [i.to_dict() for i in self.items]}


@dataclass(slots=True)
class ErrorItem:
    id: str
    message: str
    type: str = field(default="error", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "message": self.message}


Item = AgentMessage | Reasoning | CommandExecution | FileChange | TodoList | ErrorItem


# ---- events ------------------------------------------------------------------------------------

@dataclass(slots=True)
class ThreadStarted:
    thread_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "thread.started", "thread_id": self.thread_id}


@dataclass(slots=True)
class TurnStarted:
    def to_dict(self) -> dict[str, Any]:
        return {"type": "turn.started"}


@dataclass(slots=True)
class TurnCompleted:
    usage: Usage

    def to_dict(self) -> dict[str, Any]:
        return {"type": "turn.completed", "usage": self.usage.to_dict()}


@dataclass(slots=True)
class TurnFailed:
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "turn.failed", "error": {"message": self.message}}


@dataclass(slots=True)
class ItemStarted:
    item: Item

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item.started", "item": self.item.to_dict()}


@dataclass(slots=True)
class ItemUpdated:
    item: Item

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item.updated", "item": self.item.to_dict()}


@dataclass(slots=True)
class ItemCompleted:
    item: Item

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item.completed", "item": self.item.to_dict()}


@dataclass(slots=True)
class StreamErrorEvent:
    """A non-fatal error, such as a retry (`Reconnecting... 1/5`); Codex's top-level `error` event."""

    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "error", "message": self.message}


@dataclass(slots=True)
class Notice:
    """A line for a person (ocodex-only; never on stdout in --json mode)."""

    message: str
    level: Literal["info", "warning"] = "info"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "notice", "level": self.level, "message": self.message}


Event = (ThreadStarted | TurnStarted | TurnCompleted | TurnFailed | ItemStarted | ItemUpdated
         | ItemCompleted | StreamErrorEvent | Notice)


class ItemIds:
    """Hands out `item_0`, `item_1`, ... for one process, as Codex does."""

    def __init__(self) -> None:
        self._next = 0

    def next(self) -> str:
        value = f"item_{self._next}"
        self._next += 1
        return value
