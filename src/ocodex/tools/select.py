"""Which tools a thread offers its model: the one place that decides, per model and policy.

Today every model gets `shell`, `apply_patch` and `update_plan`, and the edit format is "apply_patch".
The shell's schema gains Codex's `with_escalated_permissions` and `justification` only when the
approval policy lets the model ask to leave the sandbox (`on-request`, `untrusted`), so the default
policy's requests are unchanged. Extra tools (MCP servers' tools) join at thread start.

The seam for edit formats (`edit_format = apply_patch | replace | whole`, chosen per model): add the
format's tool module, list it in `EDIT_FORMATS`, and choose it in `edit_format_for`; `select_tools`
puts that tool where `apply_patch` is, and the thread reports the format in `SessionConfigured`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocodex.approval import may_leave_sandbox
from ocodex.tools.base import Tool
from ocodex.tools.registry import ToolRegistry

EDIT_FORMATS = ("apply_patch",)


@dataclass(frozen=True, slots=True)
class ToolSet:
    """The tools a thread offers its model, and the edit format among them."""

    registry: ToolRegistry
    edit_format: str


def edit_format_for(model: str, configured: str | None = None) -> str:
    """The edit format for `model`: `configured` (the `edit_format` setting) if given, else the model's
    default. Every model uses apply_patch until the other formats exist."""
    if configured is not None and configured in EDIT_FORMATS:
        return configured
    return "apply_patch"


def _edit_tool(edit_format: str) -> Tool:
    from ocodex.tools import apply_patch

    return {"apply_patch": apply_patch.TOOL}[edit_format]


def select_tools(model: str, *, approval_policy: str = "never", edit_format: str | None = None,
                 extra: Sequence[Tool] = ()) -> ToolSet:
    """The tools for a thread on `model` under `approval_policy`, plus `extra` (their names must not clash
    with the built-in ones)."""
    from ocodex.tools import plan, shell

    chosen = edit_format_for(model, edit_format)
    tools = [shell.tool(escalation=may_leave_sandbox(approval_policy)), _edit_tool(chosen), plan.TOOL]
    names = {tool.name for tool in tools}
    for tool in extra:
        if tool.name in names:
            raise ValueError(f"tool name {tool.name!r} is taken")
        names.add(tool.name)
        tools.append(tool)
    return ToolSet(ToolRegistry(tools), chosen)
