"""The edit tools for models that do not write Codex patches: `write_file` (a file's complete new text) and
`replace` (one exact piece of a file's text, whitespace-tolerant: `ocodex.patch.replace`).

Both go through the same machinery as `apply_patch` (`ocodex.patch.apply.rewrite_files`): paths relative to
the working directory or absolute inside a writable root, never through a symlink out of it, protected
names (`.git`, `.ocodex`, nested repositories) refused in workspace-write, all or nothing. A change emits a
`file_change` item; a refusal emits none and tells the model exactly why, with the file's lines around the
place when an old text was not found. The approval gate sees the same `PatchRequest` (files and a unified
diff) a patch gives.
"""

from __future__ import annotations

import difflib
from dataclasses import replace as with_changes
from pathlib import Path
from typing import Any

from ocodex.approval import PatchRequest, needs_approval
from ocodex.events import FileChange, FileUpdate, ItemCompleted, ItemStarted, PatchFailed
from ocodex.tools.apply_patch import Journal, protected_path
from ocodex.tools.base import Tool, ToolContext, ToolError, ToolResult

# As in `ocodex.tools.apply_patch`, the patch machinery is imported by the calls that use it.

UNCHANGED = "nothing was changed."  # how a result that changed no file ends
WRITE_DESCRIPTION = ("Write a file: its complete new content (every line, not only the changed ones). "
                     "Creates the file if it does not exist. Paths are relative to the working directory.")
WRITE_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "The file's path."},
                   "content": {"type": "string", "description": "The whole new content of the file."}},
    "required": ["path", "content"],
}
REPLACE_DESCRIPTION = ("Replace one piece of a file: `old` is the exact current text (a few whole lines, "
                       "appearing once in the file), `new` what it becomes. Paths are relative to the "
                       "working directory.")
REPLACE_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "The file's path."},
                   "old": {"type": "string", "description": "The exact lines to replace."},
                   "new": {"type": "string", "description": "The lines that replace them."}},
    "required": ["path", "old", "new"],
}


def _string(args: dict[str, Any], key: str, tool: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        shape = "path, content" if tool == "write_file" else "path, old, new"
        raise ToolError(f"{tool} needs {key!r} as a string (arguments: {shape})")
    return value


def _path(args: dict[str, Any], tool: str) -> str:
    path = _string(args, "path", tool).strip()
    if not path:
        raise ToolError(f"{tool} needs a non-empty 'path'")
    return path


def _roots(ctx: ToolContext) -> list[Path]:
    # workspace-write: cwd plus `writable_roots`/--add-dir (not /tmp, which only commands get); else cwd
    return with_changes(ctx.policy, include_tmp=False).writable() or [ctx.cwd]


def _new_text(args: dict[str, Any], tool: str, path: str) -> Any:
    """The rewrite function for `rewrite_files`."""
    if tool == "write_file":
        content = _string(args, "content", tool)
        if content and not content.endswith("\n"):
            content += "\n"
        return lambda _old: content
    old, new = _string(args, "old", tool), _string(args, "new", tool)
    from ocodex.patch.chunks import HunkRejected
    from ocodex.patch.replace import replace_text

    def rewrite(text: str | None) -> str:
        if text is None:
            raise HunkRejected(f"{path} does not exist; use the whole file to create it")
        return replace_text(text, old, new, path=path)
    return rewrite


def edit(tool: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    """Carry out one `write_file` or `replace` call."""
    from ocodex.patch.apply import format_summary, rewrite_files
    from ocodex.patch.parser import PatchError
    from ocodex.sandbox.policy import PROTECTED_SUBPATHS

    path = _path(args, tool)
    if ctx.policy.mode == "read-only":
        return ToolResult(f"{tool} rejected: the sandbox is read-only, so files cannot be changed. Tell the "
                          "user which change you would make instead.", success=False)
    roots = _roots(ctx)
    if ctx.policy.mode == "workspace-write" and (protected := protected_path([path], ctx.cwd, roots)):
        return _failed(ctx, f"{tool} rejected: {protected} is read-only in the workspace-write sandbox "
                            f"({', '.join(PROTECTED_SUBPATHS)} stay read-only). No files were changed.")
    journal = Journal(ctx)  # the turn's snapshot (for /undo) and the diff shown, as for apply_patch
    try:
        changes = rewrite_files([(path, _new_text(args, tool, path))], ctx.cwd, roots, tool=tool, journal=journal)
    except PatchError as exc:
        return _failed(ctx, f"{exc}\nNo files were changed.")
    except OSError as exc:
        return _failed(ctx, f"{tool} failed while writing: {exc}")
    if not changes:
        return ToolResult(f"{path} already has exactly this content; {UNCHANGED}")
    updates = tuple(FileUpdate(str(change.path), change.kind) for change in changes)
    item_id = ctx.ids.next()
    ctx.emit(ItemStarted(FileChange(item_id, updates)))
    ctx.emit(ItemCompleted(FileChange(item_id, updates, "completed", diff=journal.diff)))
    return ToolResult(format_summary(changes, ctx.cwd))


def _failed(ctx: ToolContext, message: str) -> ToolResult:
    ctx.emit(PatchFailed(message.splitlines()[0]))
    return ToolResult(message, success=False)


def _describe(tool: str, args: dict[str, Any], ctx: ToolContext) -> PatchRequest | None:
    """The approval request (the file and a unified diff), when the policy asks about edits."""
    if not needs_approval(ctx.approvals.policy, PatchRequest((), "")):
        return None
    from ocodex.patch.chunks import HunkRejected
    from ocodex.tools.patch_preview import read_text

    path = _path(args, tool)
    old = read_text(ctx.cwd / path)
    try:
        new = _new_text(args, tool, path)(old)
    except HunkRejected:
        return None  # the edit itself will say why it cannot be made
    diff = "".join(difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{path}" if old is not None else "/dev/null", f"b/{path}"))
    return PatchRequest(((path, "update" if old is not None else "add"),), diff)


WRITE_FILE = Tool("write_file", WRITE_DESCRIPTION, WRITE_PARAMETERS,
                  lambda args, ctx: edit("write_file", args, ctx),
                  approval=lambda args, ctx: _describe("write_file", args, ctx))
REPLACE = Tool("replace", REPLACE_DESCRIPTION, REPLACE_PARAMETERS,
               lambda args, ctx: edit("replace", args, ctx),
               approval=lambda args, ctx: _describe("replace", args, ctx))
EDIT_TOOLS = ("apply_patch", "write_file", "replace")
"""The tools that change files (the loop guard counts a successful one as progress)."""
