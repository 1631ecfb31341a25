"""When an MCP tool call must be approved before it runs, and asking for that approval.

MCP servers run outside the model's sandbox, as the user configured them (as in Codex), so the
approval policy is what stands between the model and a server's tools:

- a tool whose `approval_mode` (`[mcp_servers.X.tools.T]`, else the server's
  `default_tools_approval_mode`) is `approve` runs without asking, and one set to `prompt` always asks;
- otherwise (`auto`, the default) `approval_policy = "untrusted"` asks before every call, and the other
  policies (`never`, `on-request`, `on-failure`) let the call run.

A call that must be approved goes to the face's `ask` callback, answered `yes`, `no` or `always` (yes
for this tool for the rest of the run). Without one (exec: nobody can answer) the call is declined
with a message naming the settings that would let it run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ocodex.mcp.config import McpServerConfig

Answer = Literal["yes", "no", "always"]


@dataclass(frozen=True, slots=True)
class McpApprovalRequest:
    """What a face shows to let a person decide on one call."""

    server: str
    tool: str
    arguments: Mapping[str, Any]

    def describe(self) -> str:
        args = json.dumps(dict(self.arguments), ensure_ascii=False)
        if len(args) > 200:
            args = args[:199] + "…"
        return f"MCP tool {self.server}.{self.tool} {args}"


Ask = Callable[[McpApprovalRequest], Answer]


def needs_approval(policy: str, mode: str) -> bool:
    """Whether a call of a tool with approval `mode` must be approved under `approval_policy`."""
    if mode == "approve":
        return False
    if mode == "prompt":
        return True
    return policy == "untrusted"


@dataclass(slots=True)
class Approvals:
    """The run's gate for MCP tool calls."""

    policy: str
    servers: Mapping[str, McpServerConfig]
    ask: Ask | None = None
    always: set[tuple[str, str]] = field(default_factory=set)

    def check(self, server: str, tool: str, arguments: Mapping[str, Any]) -> str | None:
        """None when the call may run; else why it may not (the message the model and the item get)."""
        config = self.servers[server]
        mode = config.approval_mode(tool)
        if not needs_approval(self.policy, mode) or (server, tool) in self.always:
            return None
        if mode == "prompt":
            key = (f"mcp_servers.{server}.tools.{tool}.approval_mode" if tool in config.tool_approval_modes
                   else f"mcp_servers.{server}.default_tools_approval_mode")
            why, fix = f"{key} = \"prompt\"", f"set {key} = \"approve\""
        else:
            why = f"approval_policy = \"{self.policy}\""
            fix = (f"set mcp_servers.{server}.default_tools_approval_mode = \"approve\", "
                   "or another approval_policy")
        if self.ask is None:
            return (f"MCP tool call {server}.{tool} requires approval ({why}), but nobody can approve it "
                    f"in this run; to let it run, {fix}")
        answer = self.ask(McpApprovalRequest(server, tool, arguments))
        if answer == "always":
            self.always.add((server, tool))
            return None
        if answer == "yes":
            return None
        return f"the user declined the MCP tool call {server}.{tool}"
