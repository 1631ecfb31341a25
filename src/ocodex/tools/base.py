"""What every tool shares: its declaration, the context a handler runs in, and its result.

A tool is declared once as a `Tool` (name, description, JSON schema, handler). The agent loop looks
tools up by name, validates nothing itself, and hands the raw arguments to the handler; handlers
return a `ToolResult` whose `output` is what the model reads. Bad arguments are a `ToolError`, which
the loop turns into an error result the model can correct.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.events import Event, ItemIds, TodoList

if TYPE_CHECKING:
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
    env: dict[str, str] | None = None
    plan: TodoList | None = None  # the turn's todo_list item, once update_plan has been called


@dataclass(slots=True)
class ToolResult:
    output: str
    success: bool = True


Handler = Callable[[dict[str, Any], ToolContext], ToolResult]


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler

    def spec(self) -> ToolSpec:
        from ocodex.protocol import ToolSpec

        return ToolSpec(self.name, self.description, self.parameters)
