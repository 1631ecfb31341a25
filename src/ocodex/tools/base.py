"""What every tool shares: its declaration, the context a handler runs in, and its result.

A tool is declared once as a `Tool` (name, description, JSON schema, handler, and optionally what it
must have approved). The agent loop looks tools up by name, validates nothing itself, and hands the raw
arguments to the registry, whose gate asks `approval(args, ctx)` what the call would do and lets
`ctx.approvals` decide before the handler runs. Handlers return a `ToolResult` whose `output` is what the
model reads. Bad arguments are a `ToolError`, which becomes an error result the model can correct.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.approval import ApprovalGate, ApprovalRequest
from ocodex.events import Event, ItemIds, TodoList

if TYPE_CHECKING:
    from ocodex.patch.undo import TurnSnapshot
    from ocodex.protocol import ToolSpec
    from ocodex.sandbox import SandboxPolicy


class ToolError(Exception):
    """The call cannot be carried out; the message goes back to the model verbatim."""


@dataclass(slots=True)
class ToolContext:
    """Everything a handler may touch."""

    cwd: Path
    policy: SandboxPolicy
    emit: Callable[[Event], None]
    ids: ItemIds
    output_limit_bytes: int = 10_000
    default_timeout_ms: int = 120_000
    max_timeout_ms: int = 3_600_000  # the longest `timeout_ms` a model may ask for (tool_timeout_max_ms)
    env: dict[str, str] | None = None  # the tools' environment under `policy` (`ocodex.tools.env`)
    env_for: Callable[[SandboxPolicy], dict[str, str]] | None = None  # ... and under another policy
    plan: TodoList | None = None  # the turn's todo_list item as last shown, once update_plan has been called
    approvals: ApprovalGate = field(default_factory=ApprovalGate)
    snapshot: TurnSnapshot | None = None  # the running turn's: an edit records what it replaces (for /undo)


@dataclass(slots=True)
class ToolResult:
    """What the model reads back from a call, and whether the call succeeded."""

    output: str
    success: bool = True
    images: list[str] = field(default_factory=list)  # data URLs the model sees after the output (vision)


Handler = Callable[[dict[str, Any], ToolContext], ToolResult]
Describe = Callable[[dict[str, Any], ToolContext], ApprovalRequest | None]
Declined = Callable[[ApprovalRequest, ToolContext], None]


@dataclass(slots=True)
class Tool:
    """A tool as declared once: its schema, handler, and what it must have approved."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    approval: Describe | None = None  # what the call would do, for the gate (None: nothing to approve)
    declined: Declined | None = None  # shows a call the gate stopped (e.g. a `declined` command item)

    def spec(self) -> ToolSpec:
        from ocodex.protocol import ToolSpec

        return ToolSpec(self.name, self.description, self.parameters)
