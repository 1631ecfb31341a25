"""Which tools a thread offers its model: the one place that decides, per model and policy.

Every model gets `shell`, its edit format's tool and, unless its profile drops it, `update_plan`. The
edit format (`apply_patch`, `replace` or `whole`, whose tool is `write_file`) and whether the plan tool is
offered are the model's profile's decision (`ocodex.profile`), which the `edit_format` setting
overrides. The shell's schema gains Codex's `with_escalated_permissions` and `justification` only when the
approval policy lets the model ask to leave the sandbox (`on-request`, `untrusted`), so the default
policy's requests are unchanged. Extra tools (MCP servers' tools) join at thread start.

A new edit format: its tool, a line in `_edit_tool`, its name in `ocodex.config.settings.EDIT_FORMATS`,
and the profile that chooses it; the thread reports the format in `SessionConfigured`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ocodex.approval import may_leave_sandbox
from ocodex.config.settings import EDIT_FORMATS
from ocodex.profile import ModelProfile, profile_for
from ocodex.tools.base import Tool
from ocodex.tools.registry import ToolRegistry

__all__ = ["EDIT_FORMATS", "ToolSet", "edit_format_for", "select_tools"]


@dataclass(frozen=True, slots=True)
class ToolSet:
    """The tools a thread offers its model, and the edit format among them."""

    registry: ToolRegistry
    edit_format: str
    profile: ModelProfile


def edit_format_for(model: str, configured: str | None = None) -> str:
    """The edit format for `model`: `configured` (the `edit_format` setting) if given, else its profile's."""
    return profile_for(model, edit_format=configured).edit_format


def _edit_tool(edit_format: str) -> Tool:
    from ocodex.tools import apply_patch, file_edit

    return {"apply_patch": apply_patch.TOOL, "replace": file_edit.REPLACE, "whole": file_edit.WRITE_FILE}[edit_format]


def select_tools(model: str, *, approval_policy: str = "never", edit_format: str | None = None,
                 extra: Sequence[Tool] = (), profile: ModelProfile | None = None) -> ToolSet:
    """The tools for a thread on `model` under `approval_policy`, plus `extra` (their names must not clash
    with the built-in ones). `profile` is the model's (default: from its name and `edit_format`)."""
    from ocodex.tools import plan, shell

    profile = profile or profile_for(model, edit_format=edit_format)
    chosen = profile.edit_format
    tools = [shell.tool(escalation=may_leave_sandbox(approval_policy)), _edit_tool(chosen)]
    if profile.plan_tool:
        tools.append(plan.TOOL)
    names = {tool.name for tool in tools}
    for tool in extra:
        if tool.name in names:
            raise ValueError(f"tool name {tool.name!r} is taken")
        names.add(tool.name)
        tools.append(tool)
    return ToolSet(ToolRegistry(tools), chosen, profile)
