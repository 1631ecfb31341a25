"""The `apply_patch` tool: edit files with a patch in the Codex format, atomically, inside the workspace.

Also used by the shell tool when a model sends `apply_patch <<'EOF' ... EOF` as a command. A patch that
does not verify changes nothing and produces no `file_change` item (as in Codex); the model reads
exactly which hunk failed and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocodex.events import FileChange, FileUpdate, ItemCompleted, ItemStarted
from ocodex.patch.apply import apply_patch, format_summary
from ocodex.patch.parser import PatchError, parse_patch
from ocodex.tools.base import Tool, ToolContext, ToolError, ToolResult

DESCRIPTION = ("Edit files with a patch: *** Begin Patch, then *** Add File: / *** Update File: / "
               "*** Delete File: hunks, then *** End Patch. Paths are relative to the working directory.")

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The whole patch text."}},
    "required": ["input"],
}

def run_patch(text: str, workdir: Path, ctx: ToolContext) -> ToolResult:
    """Verify and apply `text`, emitting a file_change item on success."""
    if ctx.policy.mode == "read-only":
        return ToolResult("apply_patch rejected: the sandbox is read-only, so files cannot be changed. "
                          "Tell the user which change you would make instead.", success=False)
    root = ctx.cwd
    try:
        patch = parse_patch(text)
        changes = apply_patch(patch, workdir if _inside(workdir, root) else root)
    except PatchError as exc:
        message = str(exc)
        if not message.startswith("apply_patch"):
            message = f"apply_patch verification failed: {message}"
        if "files were changed" not in message and "left changed" not in message:
            message += "\nNo files were changed."
        return ToolResult(message, success=False)
    except OSError as exc:
        return ToolResult(f"apply_patch failed while writing: {exc}", success=False)
    updates = [FileUpdate(str(change.path), change.kind) for change in changes]
    item = FileChange(ctx.ids.next(), updates)
    ctx.emit(ItemStarted(item))
    item.status = "completed"
    ctx.emit(ItemCompleted(item))
    return ToolResult(format_summary(changes, root))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    text = args.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ToolError('apply_patch needs {"input": "*** Begin Patch\\n...\\n*** End Patch"}')
    return run_patch(text, ctx.cwd, ctx)


TOOL = Tool("apply_patch", DESCRIPTION, PARAMETERS, handle)
