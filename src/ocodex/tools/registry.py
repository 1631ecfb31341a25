"""The tool set offered to the model, and dispatch of a model's tool call to its handler.

Dispatch is the one gate every call goes through: unknown names, arguments that are not a JSON
object and `ToolError`s all become error results the model can read and correct. So does any other
exception a handler raises (a bug, or arguments no check foresaw): the model sees its type and
message, the terminal no traceback, and the turn goes on. Only Ctrl-C (KeyboardInterrupt) and
ocodex's own user-facing errors pass through. Every result has the registered secrets
(`ocodex.redact`) masked before the model reads it. A call whose tool says what it would do
(`Tool.approval`) runs only if the thread's `ApprovalGate` allows it; otherwise the model reads why
(denied by the user, or refused by the policy). Which tools a thread gets is `ocodex.tools.select`'s
decision; extra tools (MCP's) join the same registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ocodex.errors import OcodexError
from ocodex.protocol import ToolSpec
from ocodex.redact import scrub
from ocodex.tools.base import Tool, ToolContext, ToolError, ToolResult

# Names small models use for the tools they were trained with (gpt-oss: `container.exec`).
_ALIASES = {"bash": "shell", "exec": "shell", "container.exec": "shell", "run_shell_command": "shell",
            "shell_command": "shell", "applypatch": "apply_patch", "apply-patch": "apply_patch",
            "update-plan": "update_plan", "plan": "update_plan"}


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}

    @classmethod
    def default(cls) -> ToolRegistry:
        """The built-in tools with the default policy's schemas (what `ocodex.tools.select` gives a model
        trained on apply_patch under `approval_policy = never`)."""
        from ocodex.tools.select import select_tools

        return select_tools("", approval_policy="never").registry

    def specs(self) -> list[ToolSpec]:
        return [tool.spec() for tool in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)

    def resolve(self, name: str) -> str:
        """The offered tool a model meant: `functions.shell`, `shell<|channel|>commentary`, `bash`, or an
        MCP tool by its own name (`search` for the one offered `mcp__docs__search`) when only one has it."""
        if name in self._tools:
            return name
        bare = name.split("<|", 1)[0].strip().removeprefix("functions.")
        bare = _ALIASES.get(bare.lower(), bare)
        if bare in self._tools:
            return bare
        mcp = [tool for tool in self._tools if tool.startswith("mcp__") and tool.endswith(f"__{bare}")]
        return mcp[0] if len(mcp) == 1 else name

    def call(self, name: str, arguments: str, ctx: ToolContext) -> ToolResult:
        """Run one call; what comes back is what the model reads, secrets masked."""
        result = self._call(name, arguments, ctx)
        return ToolResult(scrub(result.output), success=result.success, images=result.images)

    def _call(self, name: str, arguments: str, ctx: ToolContext) -> ToolResult:
        name = self.resolve(name)
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(f"error: unknown tool {name!r}; available tools: {', '.join(self._tools)}",
                              success=False)
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError) as exc:
            problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            return ToolResult(f"error: the arguments for {name} are not valid JSON ({problem}); "
                              f"send one JSON object matching the tool's schema", success=False)
        if not isinstance(args, dict):
            return ToolResult(f"error: the arguments for {name} must be a JSON object", success=False)
        try:
            request = tool.approval(args, ctx) if tool.approval is not None else None
            if request is not None:
                verdict = ctx.approvals.decide(request)
                if verdict != "allowed":
                    if tool.declined is not None:
                        tool.declined(request, ctx)
                    return ToolResult(ctx.approvals.refusal(request, verdict), success=False)
            return tool.handler(args, ctx)
        except ToolError as exc:
            return ToolResult(f"error: {exc}", success=False)
        except OcodexError:
            raise
        except Exception as exc:  # never a traceback: the model reads what went wrong and may retry
            detail = str(exc)[:500]
            return ToolResult(f"error: {name} failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
                              + "; check the arguments, or do it another way", success=False)
