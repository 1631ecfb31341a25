"""The typed event model: the contract between the agent core and every face that renders it.

Every event is an immutable value. Two families:

- **Codex events** (`thread.started`, `turn.*`, `item.*`, `error`) mirror Codex's `exec --json` schema:
  each has `to_dict()`, which is exactly the JSON line the `--json` face prints and the session file
  records. An item that starts and ends (a command, a patch) is two values with one id: a new value at
  `item.started` and another at `item.completed`; nothing is mutated in between.
- **ocodex's own events** are for people: the configured session, pull progress, warnings and notes,
  each a kind with typed fields. They live in `ocodex.notes` and are re-exported here; they have no
  `to_dict()`, so they never reach `--json` stdout or a session file.

This module sits at the bottom of the import graph: it imports only `ocodex.protocol` and `ocodex.notes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ocodex.notes import (  # re-exported: faces import every event from here
    AssemblyEnded,
    AssemblyProgress,
    CommandOutput,
    Compacted,
    ConfigWarning,
    ContextSized,
    ContextTight,
    DefaultMissing,
    EffortIgnored,
    EmbeddedAssembling,
    EmbeddedLoading,
    Escalating,
    EscalationUnavailable,
    Failover,
    Level,
    McpServerCost,
    McpServerFailed,
    McpToolsCost,
    McpUnknownTools,
    NoSessionToResume,
    Note,
    OldServer,
    PatchFailed,
    PlainHttp,
    ProbesStale,
    ProjectDocTruncated,
    PullEnded,
    PullProgress,
    PullStarted,
    ServerBusy,
    SessionConfigured,
    SessionNotSaved,
    SessionRepaired,
    SessionResumed,
    Streamed,
    TextToolMode,
    TlsUnverified,
    TurnUndone,
    UsageByModel,
    WrongEndpoint,
)
from ocodex.protocol import Usage  # re-exported: TurnCompleted carries it

__all__ = [
    "AgentMessage",
    "AssemblyEnded",
    "AssemblyProgress",
    "ChangeKind",
    "ChangeStatus",
    "CodexEvent",
    "CommandExecution",
    "CommandOutput",
    "CommandStatus",
    "Compacted",
    "ConfigWarning",
    "ContextSized",
    "ContextTight",
    "DefaultMissing",
    "EffortIgnored",
    "EmbeddedAssembling",
    "EmbeddedLoading",
    "ErrorItem",
    "Escalating",
    "EscalationUnavailable",
    "Event",
    "Failover",
    "FileChange",
    "FileUpdate",
    "Item",
    "ItemCompleted",
    "ItemIds",
    "ItemStarted",
    "ItemUpdated",
    "Level",
    "McpServerCost",
    "McpServerFailed",
    "McpStatus",
    "McpToolCall",
    "McpToolsCost",
    "McpUnknownTools",
    "NoSessionToResume",
    "Note",
    "OldServer",
    "PatchFailed",
    "PlainHttp",
    "ProbesStale",
    "ProjectDocTruncated",
    "PullEnded",
    "PullProgress",
    "PullStarted",
    "Reasoning",
    "Reconnecting",
    "ServerBusy",
    "SessionConfigured",
    "SessionNotSaved",
    "SessionRepaired",
    "SessionResumed",
    "StreamErrorEvent",
    "Streamed",
    "TextToolMode",
    "ThreadStarted",
    "TlsUnverified",
    "TodoEntry",
    "TodoList",
    "TurnCompleted",
    "TurnFailed",
    "TurnStarted",
    "TurnUndone",
    "Usage",
    "UsageByModel",
    "WrongEndpoint",
    "is_codex_event",
]

CommandStatus = Literal["in_progress", "completed", "failed", "declined"]
ChangeStatus = Literal["in_progress", "completed", "failed"]
ChangeKind = Literal["add", "delete", "update"]
McpStatus = Literal["in_progress", "completed", "failed"]


# ---- items -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AgentMessage:
    """What the model said: a remark between tool calls, or the turn's final answer."""

    id: str
    text: str
    type: str = field(default="agent_message", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "text": self.text}


@dataclass(frozen=True, slots=True)
class Reasoning:
    """The model's reasoning text, as it sent it (open models send no separate summary)."""

    id: str
    text: str
    type: str = field(default="reasoning", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "text": self.text}


@dataclass(frozen=True, slots=True)
class CommandExecution:
    """A shell command: `in_progress` when it starts, `completed`/`failed` (or `declined`) when done."""

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


@dataclass(frozen=True, slots=True)
class FileUpdate:
    """One file a patch changed, and how."""

    path: str
    kind: ChangeKind

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class FileChange:
    """The files one patch changed. `diff` is the change as a unified diff (paths relative to the workspace),
    for people; Codex's JSON has no such field, so `to_dict()` leaves it out."""

    id: str
    changes: tuple[FileUpdate, ...]
    status: ChangeStatus = "in_progress"
    diff: str = ""
    type: str = field(default="file_change", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "changes": [c.to_dict() for c in self.changes],
                "status": self.status}


@dataclass(frozen=True, slots=True)
class TodoEntry:
    """One step of the model's plan."""

    text: str
    completed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "completed": self.completed}


@dataclass(frozen=True, slots=True)
class TodoList:
    """The model's plan (update_plan): a new value each time it changes, one id per turn."""

    id: str
    items: tuple[TodoEntry, ...]
    type: str = field(default="todo_list", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "items": [i.to_dict() for i in self.items]}


@dataclass(frozen=True, slots=True)
class McpToolCall:
    """One call of an MCP server's tool: a new value when it starts and when it ends, paired by `id`.

    `result` is `{"content": [MCP content blocks], "structured_content": ...}` once the server answered
    (also when it reported a tool error: `status` is then `failed`); `error` is set instead when the call
    itself failed or was declined."""

    id: str
    server: str
    tool: str
    arguments: Any
    result: dict[str, Any] | None = None
    error: str | None = None
    status: McpStatus = "in_progress"
    type: str = field(default="mcp_tool_call", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "server": self.server, "tool": self.tool,
                "arguments": self.arguments, "result": self.result,
                "error": None if self.error is None else {"message": self.error}, "status": self.status}


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """A problem the model should hear about, shown in the turn (a loop, a cut-off answer, truncation)."""

    id: str
    message: str
    type: str = field(default="error", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "message": self.message}


Item = AgentMessage | Reasoning | CommandExecution | FileChange | McpToolCall | TodoList | ErrorItem


# ---- Codex events --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ThreadStarted:
    """A thread began (or a resumed one continued): its id."""

    thread_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "thread.started", "thread_id": self.thread_id}


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """A turn began."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "turn.started"}


@dataclass(frozen=True, slots=True)
class TurnCompleted:
    """A turn ended with an answer; `usage` is the thread's cumulative total."""

    usage: Usage

    def to_dict(self) -> dict[str, Any]:
        return {"type": "turn.completed", "usage": self.usage.to_dict()}


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """A turn ended without an answer, and why."""

    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "turn.failed", "error": {"message": self.message}}


@dataclass(frozen=True, slots=True)
class ItemStarted:
    """An item began (a command, a patch, a plan)."""

    item: Item

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item.started", "item": self.item.to_dict()}


@dataclass(frozen=True, slots=True)
class ItemUpdated:
    """An item changed (a plan's steps)."""

    item: Item

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item.updated", "item": self.item.to_dict()}


@dataclass(frozen=True, slots=True)
class ItemCompleted:
    """An item is done; for one that started, a new value with the same id."""

    item: Item

    def to_dict(self) -> dict[str, Any]:
        return {"type": "item.completed", "item": self.item.to_dict()}


@dataclass(frozen=True, slots=True)
class StreamErrorEvent:
    """A non-fatal error (Codex's top-level `error` event)."""

    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "error", "message": self.message}


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """A model request being retried after a transient failure; on the wire, Codex's `error` event."""

    attempt: int
    limit: int
    reason: str

    @property
    def message(self) -> str:
        return f"Reconnecting... {self.attempt}/{self.limit} ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "error", "message": self.message}



CodexEvent = (ThreadStarted | TurnStarted | TurnCompleted | TurnFailed | ItemStarted | ItemUpdated
              | ItemCompleted | StreamErrorEvent | Reconnecting)
Event = CodexEvent | Note | PullProgress | PullEnded | AssemblyProgress | AssemblyEnded | Streamed | CommandOutput


def is_codex_event(event: object) -> bool:
    """Whether `event` belongs to Codex's `exec --json` stream (and the session file)."""
    return callable(getattr(event, "to_dict", None))


class ItemIds:
    """Hands out `item_0`, `item_1`, ... for one thread, as Codex does."""

    def __init__(self) -> None:
        self._next = 0

    def next(self) -> str:
        value = f"item_{self._next}"
        self._next += 1
        return value
