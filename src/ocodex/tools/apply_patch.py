"""The `apply_patch` tool: edit files with a patch in the Codex format, atomically, inside the workspace.

Also used by the shell tool when a model sends `apply_patch <<'EOF' ... EOF` as a command. A patch that
does not verify changes nothing and produces no `file_change` item (as in Codex); the model reads
exactly which hunk failed and why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.approval import PatchRequest, needs_approval
from ocodex.events import FileChange, FileUpdate, ItemCompleted, ItemStarted, PatchFailed
from ocodex.tools.base import Tool, ToolContext, ToolError, ToolResult

if TYPE_CHECKING:
    from ocodex.patch.commit import Write
    from ocodex.patch.parser import Patch

# The patch machinery (`ocodex.patch`) is imported by the calls that use it: declaring the tool for a
# model's first request needs none of it, and a one-shot `exec` that edits nothing never loads it.

DESCRIPTION = ("Edit files with a patch: *** Begin Patch, then *** Add File: / *** Update File: / "
               "*** Delete File: hunks, then *** End Patch. Paths are relative to the working directory "
               "(or absolute, inside a writable root).")

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The whole patch text."}},
    "required": ["input"],
}

def run_patch(text: str, workdir: Path, ctx: ToolContext) -> ToolResult:
    """Verify and apply `text`, emitting a file_change item on success.

    A failure has no item (as in Codex), so a person watching sees its first line as a notice.
    """
    result = _run_patch(text, workdir, ctx)
    if not result.success:
        ctx.emit(PatchFailed(result.output.splitlines()[0]))
    return result


def _run_patch(text: str, workdir: Path, ctx: ToolContext) -> ToolResult:
    from ocodex.patch.apply import apply_patch, format_summary
    from ocodex.patch.parser import PatchError, parse_patch
    from ocodex.sandbox.policy import PROTECTED_SUBPATHS

    if ctx.policy.mode == "read-only":
        return ToolResult("apply_patch rejected: the sandbox is read-only, so files cannot be changed. "
                          "Tell the user which change you would make instead.", success=False)
    root = ctx.cwd
    # workspace-write: cwd plus `writable_roots`/--add-dir (not /tmp, which only commands get); else cwd
    roots = replace(ctx.policy, include_tmp=False).writable() or [root]
    if not any(_inside(workdir, top) for top in roots):
        return ToolResult(f"apply_patch rejected: the patch would apply in {workdir}, outside the workspace "
                          f"{root}. No files were changed.", success=False)
    base = workdir
    try:
        patch = parse_patch(text)
        if ctx.policy.mode == "workspace-write" and (protected := _protected_target(patch, base, roots)):
            return ToolResult(f"apply_patch rejected: {protected} is read-only in the workspace-write "
                              f"sandbox ({', '.join(PROTECTED_SUBPATHS)} stay read-only). No files were "
                              "changed.", success=False)
        journal = Journal(ctx)
        changes = apply_patch(patch, base, roots, journal)
    except PatchError as exc:
        message = str(exc)
        if not message.startswith("apply_patch"):
            message = f"apply_patch verification failed: {message}"
        if "files were changed" not in message and "left changed" not in message:
            message += "\nNo files were changed."
        return ToolResult(message, success=False)
    except OSError as exc:
        return ToolResult(f"apply_patch failed while writing: {exc}", success=False)
    updates = tuple(FileUpdate(str(change.path), change.kind) for change in changes)
    item_id = ctx.ids.next()
    ctx.emit(ItemStarted(FileChange(item_id, updates)))
    ctx.emit(ItemCompleted(FileChange(item_id, updates, "completed", diff=journal.diff)))
    return ToolResult(format_summary(changes, root))


class Journal:
    """What an edit tool is about to write (`apply_patch`, `write_file`, `replace`): into the turn's snapshot
    (for /undo), and as a diff for people."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.diff = ""

    def __call__(self, writes: Sequence[Write]) -> None:
        from ocodex.tools.patch_preview import written_diff

        if self.ctx.snapshot is not None:
            self.ctx.snapshot.record(writes)
        self.diff = written_diff(writes, self.ctx.cwd)


def _protected_target(patch: Patch, base: Path, roots: list[Path]) -> str | None:
    """The first path the patch writes that `sandbox.protected` protects (`vendor/lib/.git/...`, `.GIT`)."""
    rels = [rel for hunk in patch.hunks for rel in (hunk.path, getattr(hunk, "move_to", None)) if rel]
    return protected_path(rels, base, roots)


def protected_path(rels: list[str], base: Path, roots: list[Path]) -> str | None:
    """The first of `rels` (relative to `base`) that `sandbox.protected` protects, or None.

    Shown relative to the workspace (absolute when it lies in another writable root).
    """
    from ocodex.sandbox.protected import ProtectionUnknown, scan

    try:
        protection = scan(roots)
    except ProtectionUnknown as exc:
        return f"this workspace ({exc})"
    workspace = Path(os.path.abspath(roots[0])) if roots else base
    for rel in rels:
        path = Path(os.path.normpath(base / rel))
        if protection.covers(path):
            try:
                return path.relative_to(workspace).as_posix()
            except ValueError:
                return str(path)
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def request_for(text: str, workdir: Path, ctx: ToolContext) -> PatchRequest | None:
    """The approval request for a patch (its files and a unified diff), when the policy asks about
    patches; None otherwise, or when the patch does not parse (the applier then says why)."""
    if not needs_approval(ctx.approvals.policy, PatchRequest((), "")):
        return None
    from ocodex.patch.parser import PatchError, parse_patch
    from ocodex.tools.patch_preview import files_of, preview

    try:
        patch = parse_patch(text)
    except PatchError:
        return None
    return PatchRequest(files_of(patch), preview(patch, workdir))


def _text(args: dict[str, Any]) -> str:
    text = args.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ToolError('apply_patch needs {"input": "*** Begin Patch\\n...\\n*** End Patch"}')
    return text


def describe(args: dict[str, Any], ctx: ToolContext) -> PatchRequest | None:
    return request_for(_text(args), ctx.cwd, ctx)


def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    return run_patch(_text(args), ctx.cwd, ctx)


TOOL = Tool("apply_patch", DESCRIPTION, PARAMETERS, handle, approval=describe)
