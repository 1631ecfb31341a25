"""Approvals: what a tool call must ask a person first, as Codex's `approval_policy` decides it.

Owns the requests a face answers (`CommandRequest`, `PatchRequest`, `McpToolRequest`, `PullRequest`), the answers
("yes", "no", "always"), the policy table, and the `ApprovalGate` every tool call passes through (the
registry asks it before a handler runs; the shell asks it again before re-running a command outside
the sandbox). A "no" reaches the model as a denied result, in those words (`denied()`).

| policy | asks before |
|---|---|
| `untrusted` | any command but a known read-only one; every patch; every MCP tool call |
| `on-request` | a command the model asks to run outside the sandbox (`with_escalated_permissions` and a |
| | `justification`); re-running a command the sandbox refused; every MCP tool call |
| `on-failure` | re-running a failed sandboxed command outside the sandbox |
| `never` | nothing: a request to leave the sandbox is refused, a failure is the model's to handle |

An MCP tool whose `approval_mode` is `prompt` asks under every policy (`never` included: a face that
cannot ask, exec's, answers no); one whose mode is `approve` never asks (its tool declares no request).

Not a tool call but asked the same way: a `PullRequest`, before a model download over `PULL_ASK_BYTES`,
under every policy; a face that can ask a person asks, one that cannot (a script's) answers yes.

"always" approves the same request (the same command line, patches at all, the same MCP tool) for the
rest of the thread. Pure logic, no I/O: the face's `approve` is the only way out.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["yes", "no", "always"]
Policy = Literal["untrusted", "on-request", "on-failure", "never"]
POLICIES: tuple[Policy, ...] = ("untrusted", "on-request", "on-failure", "never")


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """Run `argv` in `cwd`. `outside_sandbox`: without the sandbox; `reason`: the model's justification,
    or why ocodex asks (a failed or refused sandboxed run)."""

    argv: tuple[str, ...]
    cwd: str
    reason: str | None = None
    outside_sandbox: bool = False
    retry: bool = False  # asked after the command failed (or was refused) inside the sandbox

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True, slots=True)
class PatchRequest:
    """Apply a patch: the files it touches (path, kind) and a unified diff of the change."""

    files: tuple[tuple[str, str], ...]
    diff: str


@dataclass(frozen=True, slots=True)
class McpToolRequest:
    """Call an MCP server's tool with these arguments (the server runs outside the sandbox)."""

    server: str
    tool: str
    arguments: Any = None
    prompt: bool = False  # the tool's approval_mode is "prompt": asked under every policy


@dataclass(frozen=True, slots=True)
class PullRequest:
    """Download `model` (`size` bytes, as the server reported when the pull began) onto the Ollama server at
    `server`. Asked under every policy once a pull passes `PULL_ASK_BYTES`: a face on a terminal asks the
    person, a script's face pulls (the seed guide's behaviour) and names the alternative."""

    model: str
    size: int
    server: str


PULL_ASK_BYTES = 4 * 1024**3  # a pull larger than this is asked about first, where someone can answer

ApprovalRequest = CommandRequest | PatchRequest | McpToolRequest | PullRequest


def denied(request: ApprovalRequest) -> str:
    """What the model reads after a "no"."""
    match request:
        case CommandRequest():
            what = f"running `{request.command}`" + (" outside the sandbox" if request.outside_sandbox else "")
        case PatchRequest():
            what = "this patch; no files were changed"
        case McpToolRequest():
            what = f"the {request.server} tool {request.tool}"
        case PullRequest():
            what = f"downloading {request.model}"
    return (f"denied: the user did not approve {what}. Do not try it again; continue another way, or ask the user "
            "in your final message.")


def refused(policy: str) -> str:
    """What the model reads when it asks to leave the sandbox under a policy that never asks."""
    return (f"refused: the approval policy is {policy}, so commands cannot run outside the sandbox and nobody "
            "can be asked; run it inside the sandbox, or tell the user what you could not do.")


# ---- the policy table ------------------------------------------------------------------------------

# Commands that read and never write, for `untrusted` (Codex's known-safe list, trimmed).
_READ_ONLY = frozenset({
    "cat", "cd", "cut", "echo", "expr", "false", "file", "grep", "egrep", "fgrep", "head", "id", "ls", "nl",
    "paste", "pwd", "rev", "rg", "seq", "stat", "tail", "tr", "true", "uname", "uniq", "wc", "which", "whoami",
    "tree", "du", "df", "basename", "dirname", "realpath", "readlink", "printf", "sort", "date", "env", "diff",
})
_GIT_READ_ONLY = frozenset({"status", "log", "diff", "show", "branch", "blame", "ls-files", "rev-parse", "grep"})
_FIND_WRITES = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf",
                          "-fls"})
_SEPARATORS = frozenset({"&&", "||", "|", ";"})
_UNSAFE_TOKENS = (">", "<", "`", "$(", "&")


def _simple_read_only(words: list[str]) -> bool:
    if not words:
        return False
    program = words[0].rsplit("/", 1)[-1]
    if program == "git":
        return len(words) > 1 and words[1] in _GIT_READ_ONLY
    if program == "find":
        return not any(word in _FIND_WRITES for word in words[1:])
    if program == "sed":  # `sed -n '1,80p' FILE` reads; `sed -i` writes
        return "-n" in words[1:] and not any(w.startswith(("-i", "--in-place")) for w in words[1:])
    if program in ("sort", "env", "date"):  # sort -o writes; env runs its arguments; date -s sets the clock
        return len(words) == 1 or (program == "sort" and not any(w.startswith("-o") for w in words[1:]))
    return program in _READ_ONLY


def is_read_only(argv: tuple[str, ...] | list[str]) -> bool:
    """Whether a command only reads: a known read-only program, or a `bash -lc` script made of such
    commands joined by `&&`, `||`, `;` or `|`, with no redirection, substitution or background job."""
    words = list(argv)
    if len(words) == 3 and words[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh") and words[1] in ("-lc", "-c"):
        script = words[2]
        if any(token in script for token in _UNSAFE_TOKENS if token != "&") or "&" in script.replace("&&", ""):
            return False
        try:
            lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            return False
        part: list[str] = []
        for token in [*tokens, ";"]:
            if token in _SEPARATORS:
                if part and not _simple_read_only(part):
                    return False
                part = []
            elif token and all(c in "();<>|&" for c in token):
                return False  # another operator: a subshell, a redirection
            else:
                part.append(token)
        return bool(tokens)
    return _simple_read_only(words)


def needs_approval(policy: str, request: ApprovalRequest) -> bool:
    """Whether `policy` asks a person before `request` runs (see the module's table)."""
    if (isinstance(request, McpToolRequest) and request.prompt) or isinstance(request, PullRequest):
        return True
    if policy == "never":
        return False
    match request:
        case CommandRequest(retry=True):
            return policy in ("on-failure", "on-request", "untrusted")
        case CommandRequest(outside_sandbox=True):
            return policy in ("on-request", "untrusted")
        case CommandRequest():
            return policy == "untrusted" and not is_read_only(request.argv)
        case PatchRequest():
            return policy == "untrusted"
        case McpToolRequest():
            return policy in ("untrusted", "on-request")
    return False


def may_leave_sandbox(policy: str) -> bool:
    """Whether the model may ask to run a command outside the sandbox (`with_escalated_permissions`)."""
    return policy in ("on-request", "untrusted")


def retries_unsandboxed(policy: str, *, failed: bool, sandbox_refused: bool) -> bool:
    """Whether, after a sandboxed command failed, the person is asked to run it again without the sandbox:
    `on-failure` for any failure, `on-request`/`untrusted` when the sandbox refused it."""
    if policy == "on-failure":
        return failed
    return policy in ("on-request", "untrusted") and sandbox_refused


def _key(request: ApprovalRequest) -> tuple[Any, ...]:
    match request:
        case CommandRequest():
            return ("command", request.argv, request.outside_sandbox or request.retry)
        case PatchRequest():
            return ("patch",)
        case McpToolRequest():
            return ("mcp", request.server, request.tool)
        case PullRequest():
            return ("pull", request.server, request.model)
    return ("?",)


Verdict = Literal["allowed", "denied", "refused"]


@dataclass
class ApprovalGate:
    """The thread's one gate: the policy in force, the face that answers, and what it said "always" to."""

    policy: str = "never"
    ask: Callable[[ApprovalRequest], Decision] | None = None
    always: set[tuple[Any, ...]] = field(default_factory=set)

    def decide(self, request: ApprovalRequest) -> Verdict:
        """"allowed" when `request` may go ahead (the policy does not ask, it was approved "always" before,
        or the face answers yes/always now); "denied" when the face says no (a face that cannot ask counts
        as no); "refused" for a request to leave the sandbox that this policy never allows."""
        if isinstance(request, CommandRequest) and request.outside_sandbox and not request.retry \
                and not may_leave_sandbox(self.policy):
            return "refused"
        if not needs_approval(self.policy, request):
            return "allowed"
        key = _key(request)
        if key in self.always:
            return "allowed"
        answer = self.ask(request) if self.ask is not None else ("yes" if isinstance(request, PullRequest) else "no")
        if answer == "always":
            self.always.add(key)
        return "allowed" if answer in ("yes", "always") else "denied"

    def retry_outside_sandbox(self, request: CommandRequest, *, failed: bool, sandbox_refused: bool) -> bool:
        """After `request` failed inside the sandbox: whether to run it again outside it (asked, per policy)."""
        if not retries_unsandboxed(self.policy, failed=failed, sandbox_refused=sandbox_refused):
            return False
        retry = CommandRequest(request.argv, request.cwd, request.reason, outside_sandbox=True, retry=True)
        return self.decide(retry) == "allowed"

    def refusal(self, request: ApprovalRequest, verdict: Verdict) -> str:
        """What the model reads when the gate stopped `request`."""
        return refused(self.policy) if verdict == "refused" else denied(request)
