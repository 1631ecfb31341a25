"""`[mcp_servers.NAME]`: one MCP server's settings with Codex's keys, and what they resolve to.

`ocodex.config` checks each key's type as it reads every layer (file, profile, `-c`); this module
builds the typed `McpServerConfig` from the merged table: exactly one transport (`command` for a
stdio server, `url` for streamable HTTP), no key of the other transport, Codex's defaults (10 s to
start, 60 s per tool call). It also resolves what a server gets at start: the environment of a stdio
server (Codex's short list of inherited variables, then `env_vars`, then `env`) and the headers of an
HTTP one (`http_headers`, `env_http_headers`, `bearer_token_env_var`).

Nothing here imports the MCP SDK: `ocodex.config` imports this module on every run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_STARTUP_TIMEOUT_SEC = 10.0
DEFAULT_TOOL_TIMEOUT_SEC = 60.0
# What a stdio server inherits from our environment before `env_vars` and `env` (Codex's list):
# enough to find programs and a home, never a credential.
INHERITED_ENV_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ")
STDIO_ONLY = ("command", "args", "env", "env_vars", "cwd")
HTTP_ONLY = ("url", "bearer_token_env_var", "http_headers", "env_http_headers")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class McpConfigProblem(Exception):
    """A server table that cannot be used; `key` is the offending key below the table, if one is."""

    def __init__(self, message: str, key: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One configured MCP server, after validation."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    env_vars: tuple[str, ...] = ()
    cwd: str | None = None
    url: str | None = None
    bearer_token_env_var: str | None = None
    http_headers: Mapping[str, str] = field(default_factory=dict)
    env_http_headers: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_sec: float = DEFAULT_STARTUP_TIMEOUT_SEC
    tool_timeout_sec: float = DEFAULT_TOOL_TIMEOUT_SEC
    enabled: bool = True
    required: bool = False
    enabled_tools: tuple[str, ...] | None = None  # None: every tool the server offers
    disabled_tools: tuple[str, ...] = ()
    default_tools_approval_mode: str = "auto"
    tool_approval_modes: Mapping[str, str] = field(default_factory=dict)  # [mcp_servers.X.tools.T] approval_mode

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    def describe(self) -> str:
        """The command line or the URL, for listings and messages."""
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return self.url or ""

    def allows(self, tool: str) -> bool:
        """Whether `tool` is offered to the model: in `enabled_tools` (when set), and not in `disabled_tools`."""
        if self.enabled_tools is not None and tool not in self.enabled_tools:
            return False
        return tool not in self.disabled_tools

    def approval_mode(self, tool: str) -> str:
        """`tools.TOOL.approval_mode`, else `default_tools_approval_mode`: auto, prompt or approve."""
        return self.tool_approval_modes.get(tool, self.default_tools_approval_mode)

    def stdio_environment(self, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
        """The whole environment a stdio server starts with: the inherited short list, the variables
        `env_vars` names (when set), then `env`. Shell functions exported by bash are never passed."""
        env: dict[str, str] = {}
        for name in (*INHERITED_ENV_VARS, *self.env_vars):
            value = environ.get(name)
            if value is not None and not value.startswith("()"):
                env[name] = value
        env.update(self.env)
        return env

    def request_headers(self, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
        """Headers for every request to an HTTP server. Raises `McpConfigProblem` when the variable
        `bearer_token_env_var` names is unset or empty (the server would only refuse us)."""
        headers = dict(self.http_headers)
        for header, var in self.env_http_headers.items():
            value = environ.get(var, "")
            if value.strip():
                headers[header] = value
        if self.bearer_token_env_var:
            token = environ.get(self.bearer_token_env_var, "").strip()
            if not token:
                raise McpConfigProblem(f"the environment variable {self.bearer_token_env_var} "
                                       "(bearer_token_env_var) is not set",
                                       ("bearer_token_env_var",))
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def credential_vars(self) -> set[str]:
        """Environment variables that hold this server's credentials: kept from the model's tools."""
        names = set(self.env_http_headers.values())
        if self.bearer_token_env_var:
            names.add(self.bearer_token_env_var)
        return names


def _timeout(table: Mapping[str, Any], key: str, default: float) -> float:
    if key in table:
        return float(table[key])
    if key == "startup_timeout_sec" and "startup_timeout_ms" in table:  # Codex's older spelling
        return table["startup_timeout_ms"] / 1000
    return default


def _env_var_names(value: Any) -> tuple[str, ...]:
    """`env_vars` entries: names, or `{name = "X"}` tables (Codex accepts both)."""
    names = []
    for entry in value or ():
        names.append(entry if isinstance(entry, str) else entry["name"])
    return tuple(names)


def server_from_table(name: str, table: Mapping[str, Any]) -> McpServerConfig:
    """A typed server from its merged, type-checked table (see `ocodex.config`)."""
    command, url = table.get("command"), table.get("url")
    if command is not None and url is not None:
        raise McpConfigProblem("has both `command` (a stdio server) and `url` (a streamable HTTP server); "
                               "keep one")
    if command is None and url is None:
        raise McpConfigProblem("needs `command` (a stdio server, e.g. command = \"npx\") or `url` "
                               "(a streamable HTTP server)")
    if command is not None and not command.strip():
        raise McpConfigProblem("`command` is empty; give the program that starts the server", ("command",))
    wrong = HTTP_ONLY if command is not None else STDIO_ONLY
    for key in wrong:
        if key in table:
            transport = "stdio servers (command)" if command is not None else "streamable HTTP servers (url)"
            raise McpConfigProblem(f"`{key}` is not supported for {transport}", (key,))
    tools = table.get("tools") or {}
    return McpServerConfig(
        name=name,
        command=command,
        args=tuple(table.get("args") or ()),
        env=dict(table.get("env") or {}),
        env_vars=_env_var_names(table.get("env_vars")),
        cwd=table.get("cwd"),
        url=url,
        bearer_token_env_var=table.get("bearer_token_env_var"),
        http_headers=dict(table.get("http_headers") or {}),
        env_http_headers=dict(table.get("env_http_headers") or {}),
        startup_timeout_sec=_timeout(table, "startup_timeout_sec", DEFAULT_STARTUP_TIMEOUT_SEC),
        tool_timeout_sec=_timeout(table, "tool_timeout_sec", DEFAULT_TOOL_TIMEOUT_SEC),
        enabled=table.get("enabled", True),
        required=table.get("required", False),
        enabled_tools=tuple(table["enabled_tools"]) if "enabled_tools" in table else None,
        disabled_tools=tuple(table.get("disabled_tools") or ()),
        default_tools_approval_mode=table.get("default_tools_approval_mode", "auto"),
        tool_approval_modes={tool: spec["approval_mode"] for tool, spec in tools.items()
                             if "approval_mode" in spec},
    )


def valid_name(name: str) -> bool:
    """Whether `name` is a server name `ocodex mcp add` accepts (Codex's rule: letters, digits, - and _)."""
    return bool(_NAME_RE.match(name))
