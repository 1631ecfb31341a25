"""A thread's MCP servers: started once, their tools offered to each model the thread runs on.

`start_servers(settings.mcp_servers)` is called by `Thread.open` before the model server is probed,
so the servers (and the SDK import) start meanwhile; the thread keeps them for its whole life (a
model switch, an escalation or `/new` reuses them) and stops them when it closes. `McpServers.offer`
is what the thread's assembly calls for each model, once its context window is known: it waits for the
servers (the first time only: a server that did not start is one `McpServerFailed` warning, unless it
is `required`, and tool names in `enabled_tools`/`disabled_tools` that the server lacks are one
`McpUnknownTools` each), builds the model's `mcp__SERVER__TOOL` tools (images only for a vision model),
says what their schemas cost (`McpToolsCost`), and refuses them when they would take more than a
quarter of the window, naming the settings that shrink them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ocodex.errors import ConfigError, OcodexError
from ocodex.events import Event, McpServerCost, McpServerFailed, McpToolsCost, McpUnknownTools
from ocodex.mcp.config import McpServerConfig
from ocodex.tools.base import Tool

if TYPE_CHECKING:
    from ocodex.mcp.manager import McpManager, ServerStatus

SCHEMA_SHARE = 4  # MCP tool schemas may use at most 1/SCHEMA_SHARE of the context window
Emit = Callable[[Event], None]


def schema_tokens(tools: list[Tool]) -> int:
    """Prompt tokens the tools' definitions cost on every request (bytes / 4 of what is sent, as the
    agent's budget counts them)."""
    if not tools:
        return 0
    size = len(json.dumps([t.spec().to_chat() for t in tools], ensure_ascii=False).encode("utf-8"))
    return -(-size // 4)


def start_servers(servers: Mapping[str, McpServerConfig]) -> McpServers | None:
    """Start every enabled server in the background; None when there is none (the SDK is not imported)."""
    enabled = [server for server in servers.values() if server.enabled]
    if not enabled:
        return None
    from ocodex.mcp.manager import McpManager

    manager = McpManager()
    manager.start(enabled)
    return McpServers(manager)


@dataclass(frozen=True, slots=True)
class McpOffer:
    """The MCP tools one model of a thread is offered, and what their schemas cost (None: no server started)."""

    tools: tuple[Tool, ...] = ()
    cost: McpToolsCost | None = None


@dataclass(slots=True)
class McpServers:
    """A thread's running servers. `offer` per model; `close` once (it is idempotent)."""

    manager: McpManager
    _statuses: list[ServerStatus] | None = field(default=None, init=False)

    def close(self) -> None:
        self.manager.close()

    def statuses(self, emit: Emit) -> list[ServerStatus]:
        """Each server's outcome, waiting for them the first time (and saying then what went wrong)."""
        if self._statuses is None:
            statuses = self.manager.wait()
            for status in statuses:
                if status.started:
                    _warn_unknown_tool_names(status, emit)
                    continue
                name = status.config.name
                if status.config.required:
                    raise OcodexError(f"MCP server '{name}' did not start: {status.error}",
                                      f"it is required (mcp_servers.{name}.required = true); fix it, "
                                      "or set required = false to run without it")
                emit(McpServerFailed(name, status.error or "stopped"))
            self._statuses = statuses
        return self._statuses

    def offer(self, *, emit: Emit, context_window: int | None, vision: bool, model: str) -> McpOffer:
        """The tools for `model` (see the module docstring); raises `ConfigError` over the schema budget."""
        from ocodex.mcp.tools import McpTools

        started = [status for status in self.statuses(emit) if status.started]
        if not started:
            return McpOffer()
        builder = McpTools(self.manager, vision=vision, model=f"'{model}'")
        tools = builder.build(started)
        by_server: dict[str, list[Tool]] = {status.config.name: [] for status in started}
        for tool in tools:
            by_server[builder.targets[tool.name][0]].append(tool)
        budget = None if context_window is None else context_window // SCHEMA_SHARE
        cost = McpToolsCost(tuple(McpServerCost(s.config.name, len(by_server[s.config.name]), len(s.tools),
                                                schema_tokens(by_server[s.config.name])) for s in started),
                            schema_tokens(tools), context_window, budget)
        if context_window is not None and budget is not None and cost.tokens > budget:
            raise _over_budget(cost, context_window, budget)
        return McpOffer(tuple(tools), cost)


def _over_budget(cost: McpToolsCost, window: int, budget: int) -> ConfigError:
    biggest = max(cost.servers, key=lambda server: server.tokens)
    name = biggest.server
    return ConfigError(
        f"the MCP tools' schemas need ~{cost.tokens:,} tokens, more than a quarter of the "
        f"{window:,}-token context window ({budget:,}); ocodex will not send them",
        hint=f"offer only the tools you need with mcp_servers.{name}.enabled_tools = [\"...\"] (or "
             f"disabled_tools; '{name}' offers {biggest.total} tools, ~{biggest.tokens:,} tokens), turn a "
             f"server off with mcp_servers.{name}.enabled = false, or raise the window with "
             "-c model_context_window=32768")


def _warn_unknown_tool_names(status: ServerStatus, emit: Emit) -> None:
    from ocodex.mcp.safe import one_line

    offered = tuple(one_line(tool.name, 100) for tool in status.tools)
    config = status.config
    for key, names in (("enabled_tools", config.enabled_tools or ()), ("disabled_tools", config.disabled_tools)):
        unknown = tuple(name for name in names if name not in {tool.name for tool in status.tools})
        if unknown:
            emit(McpUnknownTools(config.name, key, unknown, offered))  # type: ignore[arg-type]
