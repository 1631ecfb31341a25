"""The `shell` tool: run a command in the sandbox and report its exit code and (capped) output.

Codex's classic arguments: `command` (argv list, or a string run with `bash -lc`), `workdir`,
`timeout_ms`, and, when the approval policy lets the model ask to leave the sandbox,
`with_escalated_permissions` with a `justification`. A command that is really
`apply_patch <<'EOF' ... EOF` is applied in-process instead. The JSONL item keeps the whole output;
the model gets head + tail within `output_limit_bytes`.

Approvals: `describe` tells the registry's gate what would run (and whether outside the sandbox);
after a sandboxed failure the gate is asked again whether to re-run it outside the sandbox
(`on-failure`, or `on-request` when the sandbox refused it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocodex.approval import ApprovalRequest, CommandRequest
from ocodex.events import CommandExecution, CommandOutput, ItemCompleted, ItemStarted
from ocodex.sandbox.policy import SandboxPolicy
from ocodex.tools.apply_patch import request_for, run_patch
from ocodex.tools.base import Tool, ToolContext, ToolError, ToolResult
from ocodex.tools.env import tool_env
from ocodex.tools.truncate import truncate_middle

if TYPE_CHECKING:
    from ocodex.sandbox.run import ExecResult

DESCRIPTION = "Run a shell command and return its exit code and output."

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {
            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
            "description": 'argv list, e.g. ["bash", "-lc", "ls -la"]',
        },
        "workdir": {"type": "string", "description": "directory to run in (default: cwd)"},
        "timeout_ms": {"type": "integer", "description": "time limit in milliseconds"},
    },
    "required": ["command"],
}

# Codex's shell arguments for asking to run outside the sandbox (offered under on-request/untrusted).
ESCALATION_PARAMETERS: dict[str, Any] = {
    "with_escalated_permissions": {
        "type": "boolean",
        "description": "run the command without the sandbox (the user is asked first)",
    },
    "justification": {
        "type": "string",
        "description": "with with_escalated_permissions: one sentence telling the user why",
    },
}

_SHAPE = '{"command": ["bash", "-lc", "ls -la"], "workdir": "src", "timeout_ms": 10000}'

def _text(value: str, what: str) -> str:
    """`value` if the OS can take it as an argument or path: no NUL byte, no lone surrogate."""
    if "\x00" in value:
        raise ToolError(f"shell: the {what} contains a NUL byte, which no command or path can hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError(f"shell: the {what} contains a lone surrogate (invalid Unicode); "
                        "send it as valid UTF-8 text") from None
    return value


def _argv(command: Any) -> list[str]:
    argv = _parse_argv(command)
    for arg in argv:
        _text(arg, "command")
    return argv


def _parse_argv(command: Any) -> list[str]:
    if isinstance(command, str) and command.strip().startswith("["):
        # An argv list sent as JSON text, as small models often do: '["ls", "-la"]'.
        with contextlib.suppress(ValueError):
            decoded = json.loads(command)
            if isinstance(decoded, list) and decoded and all(isinstance(a, str) for a in decoded):
                command = decoded
    if isinstance(command, str) and command.strip():
        return ["bash", "-lc", command]
    if isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        if len(command) == 1 and " " in command[0].strip() and not os.path.exists(command[0]):
            return ["bash", "-lc", command[0]]  # ["ls -la"]: a command line, not a program's name
        return list(command)
    raise ToolError(f"shell: `command` must be a list of strings or a string, e.g. {_SHAPE}")


def _workdir(value: Any, ctx: ToolContext) -> Path:
    if value is None or value == "":
        return ctx.cwd
    if not isinstance(value, str):
        raise ToolError(f"shell: `workdir` must be a string path, e.g. {_SHAPE}")
    shown = repr(value) if len(value) <= 200 else f"{value[:200]!r}... ({len(value)} characters)"
    try:
        path = (ctx.cwd / _text(value, "workdir")).resolve()
        if not path.is_dir():
            raise ToolError(f"shell: workdir {shown} is not a directory")
    except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES
        raise ToolError(f"shell: workdir {shown} cannot be used: {exc.strerror or exc}") from None
    return path


def _timeout_s(value: Any, ctx: ToolContext) -> tuple[float, str]:
    """The time limit in seconds, and a note for the model when its `timeout_ms` was capped."""
    if value is None:
        return min(ctx.default_timeout_ms, ctx.max_timeout_ms) / 1000, ""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # "5000": a number sent as a string
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:  # NaN too
        raise ToolError(f"shell: `timeout_ms` must be a positive integer, e.g. {_SHAPE}")
    if value > ctx.max_timeout_ms:  # 10**400 and 1e999 (infinity) too
        return ctx.max_timeout_ms / 1000, (f"\nNote: timeout_ms was capped at {ctx.max_timeout_ms} "
                                           "(tool_timeout_max_ms).")
    return float(value) / 1000, ""


_NOT_TEXT = frozenset("\ufffd" + "".join(map(chr, range(32)))) - frozenset("\t\n\r\f\b\x1b")


def _looks_binary(output: str) -> bool:
    """Over 30% undecodable bytes and control characters (NUL included) in the first 8 KiB.

    A ratio, not "any NUL": `find -print0` or `git ls-files -z` output is text a model can read.
    """
    sample = output[:8192]
    return sum(ch in _NOT_TEXT for ch in sample) * 10 > len(sample) * 3


def _report(result: ExecResult, ctx: ToolContext) -> str:
    if _looks_binary(result.output):
        size = len(result.output.encode("utf-8", "surrogatepass"))
        body = (f"[binary output, about {size} bytes, not shown: inspect binary data with "
                "`file`, `xxd FILE | head` or `strings FILE | head` instead]\n")
    else:
        body = truncate_middle(result.output, ctx.output_limit_bytes)
    text = f"Exit code: {result.exit_code}\nWall time: {result.duration_s:.1f} seconds\nOutput:\n{body}"
    if result.sandbox_denied:
        text += (f"\n\nNote: the {ctx.policy.mode} sandbox blocked this command. "
                 "Do not try to work around it; tell the user what you could not do.")
    return text


def _escalated(args: dict[str, Any]) -> bool:
    value = args.get("with_escalated_permissions")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _justification(args: dict[str, Any]) -> str | None:
    value = args.get("justification")
    return value.strip() if isinstance(value, str) and value.strip() else None


def describe(args: dict[str, Any], ctx: ToolContext) -> ApprovalRequest | None:
    """What the call would run, for the approval gate (for an `apply_patch` heredoc: the patch)."""
    argv = _argv(args.get("command", args.get("cmd")))
    workdir = _workdir(args.get("workdir"), ctx)
    from ocodex.patch.heredoc import extract_patch_from_command

    shell_patch = extract_patch_from_command(argv)
    if shell_patch is not None:
        target = (workdir / shell_patch.workdir).resolve() if shell_patch.workdir else workdir
        return request_for(shell_patch.patch, target, ctx)
    outside = _escalated(args) and ctx.policy.sandboxed
    return CommandRequest(tuple(argv), str(workdir), _justification(args), outside_sandbox=outside)


def declined(request: ApprovalRequest, ctx: ToolContext) -> None:
    if isinstance(request, CommandRequest):
        ctx.emit(ItemCompleted(CommandExecution(ctx.ids.next(), request.command, status="declined")))


def _run(argv: list[str], workdir: Path, timeout_s: float, policy: SandboxPolicy, ctx: ToolContext) -> ExecResult:
    from ocodex.sandbox.run import ExecResult, run_command  # (bubblewrap's argv, seccomp) with the first command

    item_id = ctx.ids.next()
    command = shlex.join(argv)
    ctx.emit(ItemStarted(CommandExecution(item_id, command)))
    if policy == ctx.policy and ctx.env is not None:
        env = ctx.env
    else:  # outside the sandbox, as approved: the environment that goes with that policy
        env = ctx.env_for(policy) if ctx.env_for is not None else tool_env(policy=policy)
    try:
        if "/" not in argv[0] and shutil.which(argv[0], path=env.get("PATH")) is None:
            # Checked here so every sandbox mode answers alike (bwrap would say `execvp` and exit 1).
            raise FileNotFoundError(errno.ENOENT, "command not found")
        result = run_command(argv, cwd=workdir, policy=policy, timeout_s=timeout_s, env=env,
                             on_output=lambda text: ctx.emit(CommandOutput(item_id, text)))
    except OSError as exc:
        result = ExecResult(exit_code=127, output=f"{argv[0]}: {exc.strerror or exc}\n", timed_out=False,
                            duration_s=0.0, sandbox_denied=False)
    status = "completed" if result.exit_code == 0 else "failed"
    ctx.emit(ItemCompleted(CommandExecution(item_id, command, result.output, result.exit_code, status)))
    return result


def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
    command = args.get("command", args.get("cmd"))  # `cmd`: gpt-oss's container.exec spelling
    argv = _argv(command)
    workdir = _workdir(args.get("workdir"), ctx)
    timeout_s, capped = _timeout_s(args.get("timeout_ms"), ctx)

    from ocodex.patch.heredoc import extract_patch_from_command

    shell_patch = extract_patch_from_command(argv)
    if shell_patch is not None:
        target = (workdir / shell_patch.workdir).resolve() if shell_patch.workdir else workdir
        return run_patch(shell_patch.patch, target, ctx)

    # The registry's gate has already allowed a request to leave the sandbox.
    unsandboxed = replace(ctx.policy, mode="danger-full-access")
    policy = unsandboxed if _escalated(args) and ctx.policy.sandboxed else ctx.policy
    result = _run(argv, workdir, timeout_s, policy, ctx)
    if result.exit_code == 0 or not policy.sandboxed or result.timed_out:
        return ToolResult(_report(result, ctx) + capped, success=result.exit_code == 0)
    request = CommandRequest(tuple(argv), str(workdir),
                             "the sandbox refused it" if result.sandbox_denied
                             else f"it failed in the sandbox (exit {result.exit_code})")
    if ctx.approvals.retry_outside_sandbox(request, failed=True, sandbox_refused=result.sandbox_denied):
        again = _run(argv, workdir, timeout_s, unsandboxed, ctx)
        return ToolResult("Run again outside the sandbox, as the user approved.\n" + _report(again, ctx) + capped,
                          success=again.exit_code == 0)
    return ToolResult(_report(result, ctx) + capped, success=False)


def tool(*, escalation: bool = False) -> Tool:
    """The shell tool; with `escalation`, its schema offers `with_escalated_permissions`/`justification`."""
    parameters = PARAMETERS
    if escalation:
        parameters = {**PARAMETERS, "properties": {**PARAMETERS["properties"], **ESCALATION_PARAMETERS}}
    return Tool("shell", DESCRIPTION, parameters, handle, approval=describe, declined=declined)


TOOL = tool()
