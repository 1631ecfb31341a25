"""The `update_plan` tool: the model's step list, shown to the user as the turn's `todo_list` item."""

from __future__ import annotations

from typing import Any

from ocodex.events import ItemStarted, ItemUpdated, TodoEntry, TodoList
from ocodex.tools.base import Tool, ToolContext, ToolError, ToolResult

STATUSES = ("pending", "in_progress", "completed")

DESCRIPTION = "Record or update your step-by-step plan. At most one step is in_progress at a time."

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "explanation": {"type": "string"},
        "plan": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"step": {"type": "string"},
                               "status": {"type": "string", "enum": list(STATUSES)}},
                "required": ["step", "status"],
            },
        },
    },
    "required": ["plan"],
}

_SYNONYMS = {"done": "completed", "complete": "completed", "finished": "completed", "todo": "pending",
             "not_started": "pending", "doing": "in_progress", "active": "in_progress",
             "started": "in_progress", "inprogress": "in_progress"}

_SHAPE = '{"plan": [{"step": "Read the code", "status": "in_progress"}, {"step": "...", "status": "pending"}]}'


def _entries(plan: Any) -> list[TodoEntry]:
    if not isinstance(plan, list) or not plan:
        raise ToolError(f"update_plan needs a non-empty `plan` list, e.g. {_SHAPE}")
    entries = []
    for number, step in enumerate(plan, 1):
        if isinstance(step, str) and step.strip():
            step = {"step": step}  # a bare list of step names: all pending
        if not isinstance(step, dict) or not isinstance(step.get("step"), str):
            raise ToolError(f"update_plan: plan item {number} needs a `step` string, e.g. {_SHAPE}")
        status = step.get("status", "pending")
        if isinstance(status, str):  # "In Progress", "in-progress", "done": what small models write
            status = status.strip().lower().replace("-", "_").replace(" ", "_")
            status = _SYNONYMS.get(status, status)
        if status not in STATUSES:
            raise ToolError(f"update_plan: plan item {number} has status {status!r}; "
                            f"use one of {', '.join(STATUSES)}")
        entries.append(TodoEntry(step["step"], status == "completed"))
    return entries


def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    entries = _entries(args.get("plan"))
    if ctx.plan is None:
        ctx.plan = TodoList(ctx.ids.next(), entries)
        ctx.emit(ItemStarted(ctx.plan))
    else:  # a new value with the same id: the item as shown before is never changed
        ctx.plan = TodoList(ctx.plan.id, entries)
        ctx.emit(ItemUpdated(ctx.plan))
    return ToolResult("Plan updated")


TOOL = Tool("update_plan", DESCRIPTION, PARAMETERS, handle)
