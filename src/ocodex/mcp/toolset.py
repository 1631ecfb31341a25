"""The MCP part of one run: start the configured servers, report what their tools cost, enforce the budget.

`start_servers(settings.mcp_servers)` is called first thing when a run is assembled, so the servers
(and the SDK import) start while the model server is probed. `PendingServers.finish(...)` then waits
for them, turns a server that did not start into one warning line (the run goes on without it, unless
it is `required`), prints one line with the prompt tokens the MCP tool schemas add to every request,
and refuses the run when they would take more than a quarter of the model's context window, naming
the settings that shrink them. The `McpToolset` it returns holds the tools and closes the servers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocodex.errors import ConfigError, OcodexError
from ocodex.events import Event, Notice
from ocodex.mcp.approval import Approvals, Ask
from ocodex.mcp.config import McpServerConfig
from ocodex.mcp.safe import one_line
from ocodex.tools.base import Tool

if TYPE_CHECKING:
    from ocodex.mcp.manager import McpManager, ServerStatus

SCHEMA_SHARE = 4  # MCP tool schemas may use at most 1/SCHEMA_SHARE of the context window


def schema_tokens(tools: list[Tool]) -> int:
    """Prompt tokens the tools' definitions cost on every request (bytes / 4 of what is sent, as the
    agent's budget counts them)."""
    if not tools:
        return 0
    size = len(json.dumps([t.spec().to_chat() for t in tools], ensure_ascii=False).encode("utf-8"))
    return -(-size // 4)


def start_servers(servers: Mapping[str, McpServerConfig]) -> PendingServers | None:
    """Start every enabled server in the background; None when there is none (the SDK is not imported)."""
    enabled = [server for server in servers.values() if server.enabled]
    if not enabled:
        return None
    from ocodex.mcp.manager import McpManager

    manager = McpManager()
    manager.start(enabled)
    return PendingServers(manager, dict(servers))


@dataclass(slots=True)
class McpToolset:
    """The started servers' tools for one run."""

    manager: McpManager
    tools: list[Tool] = field(default_factory=list)
    statuses: list[ServerStatus] = field(default_factory=list)
    schema_tokens: int = 0
    by_server: dict[str, list[Tool]] = field(default_factory=dict)  # the tools offered, per started server

    def close(self) -> None:
        self.manager.close()


@dataclass(slots=True)
class PendingServers:
    manager: McpManager
    servers: dict[str, McpServerConfig]

    def close(self) -> None:
        self.manager.close()

    def finish(self, *, emit: Callable[[Event], None], context_window: int | None, vision: bool, model: str,
               approval_policy: str, ask: Ask | None = None) -> McpToolset:
        """Wait for the servers and build the run's MCP tools (see the module docstring)."""
        from ocodex.mcp.tools import McpTools

        statuses = self.manager.wait()
        for status in statuses:
            if status.started:
                _warn_unknown_tool_names(status, emit)
                continue
            if status.config.required:
                raise OcodexError(f"MCP server '{status.config.name}' did not start: {status.error}",
                                  f"it is required (mcp_servers.{status.config.name}.required = true); fix it, "
                                  "or set required = false to run without it")
            emit(Notice(f"MCP server '{status.config.name}' did not start: {status.error}; "
                        "continuing without it", "warning"))
        approvals = Approvals(approval_policy, self.servers, ask)
        builder = McpTools(self.manager, approvals, vision=vision, model=f"'{model}'")
        tools = builder.build(statuses)
        by_server: dict[str, list[Tool]] = {status.config.name: [] for status in statuses if status.started}
        for tool in tools:
            by_server[builder.targets[tool.name][0]].append(tool)
        toolset = McpToolset(self.manager, tools, statuses, schema_tokens(tools), by_server)
        started = [s for s in statuses if s.started]
        if started:
            emit(Notice(_cost_line(started, toolset, context_window)))
        _check_budget(started, toolset, context_window)
        return toolset


def _server_tools(status: ServerStatus, toolset: McpToolset) -> list[Tool]:
    return toolset.by_server.get(status.config.name, [])


def _cost_line(started: list[ServerStatus], toolset: McpToolset, window: int | None) -> str:
    parts = []
    for status in started:
        tools = _server_tools(status, toolset)
        parts.append(f"{status.config.name} ({len(tools)} of {len(status.tools)} tools, "
                     f"~{schema_tokens(tools):,} tokens)")
    budget = f" (at most {window // SCHEMA_SHARE:,}: a quarter of the {window:,}-token window)" if window else ""
    return f"mcp: {', '.join(parts)}: ~{toolset.schema_tokens:,} tokens of tool schema in every request{budget}"


def _check_budget(started: list[ServerStatus], toolset: McpToolset, window: int | None) -> None:
    if window is None or toolset.schema_tokens <= window // SCHEMA_SHARE:
        return
    biggest = max(started, key=lambda s: schema_tokens(_server_tools(s, toolset)))
    name = biggest.config.name
    raise ConfigError(
        f"the MCP tools' schemas need ~{toolset.schema_tokens:,} tokens, more than a quarter of the "
        f"{window:,}-token context window ({window // SCHEMA_SHARE:,}); ocodex will not send them",
        hint=f"offer only the tools you need with mcp_servers.{name}.enabled_tools = [\"...\"] (or "
             f"disabled_tools; '{name}' offers {len(biggest.tools)} tools, ~"
             f"{schema_tokens(_server_tools(biggest, toolset)):,} tokens), turn a server off with "
             f"mcp_servers.{name}.enabled = false, or raise the window with -c model_context_window=32768")


def _warn_unknown_tool_names(status: ServerStatus, emit: Callable[[Event], None]) -> None:
    offered = {tool.name for tool in status.tools}
    config = status.config
    for key, names in (("enabled_tools", config.enabled_tools or ()), ("disabled_tools", config.disabled_tools)):
        unknown = [name for name in names if name not in offered]
        if unknown:
            listed = one_line(", ".join(sorted(offered)) or "no tools", 400)
            emit(Notice(one_line(f"mcp_servers.{config.name}.{key} names {', '.join(repr(n) for n in unknown)}, "
                                 f"which '{config.name}' does not offer (it offers: {listed})", 1000), "warning"))
