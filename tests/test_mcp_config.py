"""`[mcp_servers.NAME]` as Codex writes it: every key, its checks (file:line errors, unknown-key warnings,
`-c` overrides), the environment and headers a server gets, and the approval rules for its tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocodex.approval import ApprovalGate, ApprovalRequest, Decision, McpToolRequest, needs_approval
from ocodex.config import load_settings
from ocodex.errors import ConfigError
from ocodex.mcp.config import INHERITED_ENV_VARS, McpConfigProblem, server_from_table
from ocodex.mcp.tools import approval_request, declined_error

# Codex's docs/config.md, "MCP integration", copied unchanged (the STDIO and the Streamable HTTP
# examples and the "Other configuration options").
CODEX_DOC_TABLES = '''
# The top-level table name must be `mcp_servers`
# The sub-table name (`server-name` in this example) can be anything you would like.
[mcp_servers.server_name]
command = "npx"
# Optional
args = ["-y", "mcp-server"]
# Optional: propagate additional env vars to the MCP server.
# A default whitelist of env vars will be propagated to the MCP server.
# https://github.com/openai/codex/blob/main/codex-rs/rmcp-client/src/utils.rs#L82
env = { "API_KEY" = "value" }
# Optional: Additional list of environment variables that will be whitelisted in the MCP server's environment.
env_vars = ["API_KEY2"]

# Optional: cwd that the command will be run from
cwd = "/Users/<user>/code/my-server"
# Optional: override the default 10s startup timeout
startup_timeout_sec = 20
# Optional: override the default 60s per-tool timeout
tool_timeout_sec = 30
# Optional: disable a server without removing it
enabled = false
# Optional: only expose a subset of tools from this server
enabled_tools = ["search", "summarize"]
# Optional: hide specific tools (applied after `enabled_tools`, if set)
disabled_tools = ["search"]

[mcp_servers.figma]
url = "https://mcp.figma.com/mcp"
# Optional environment variable containing a bearer token to use for auth
bearer_token_env_var = "ENV_VAR"
# Optional map of headers with hard-coded values.
http_headers = { "HEADER_NAME" = "HEADER_VALUE" }
# Optional map of headers whose values will be replaced with the environment variable.
env_http_headers = { "HEADER_NAME" = "ENV_VAR" }
'''


def write(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text)
    return path


def error_of(home: Path, *overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(home=home, overrides=overrides, env={})
    return info.value.message


def test_codex_documentation_tables_load_unchanged(home: Path) -> None:
    write(home, CODEX_DOC_TABLES)
    settings = load_settings(home=home, env={})
    assert settings.warnings == []
    stdio, http = settings.mcp_servers["server_name"], settings.mcp_servers["figma"]
    assert (stdio.transport, stdio.command, stdio.args) == ("stdio", "npx", ("-y", "mcp-server"))
    assert dict(stdio.env) == {"API_KEY": "value"} and stdio.env_vars == ("API_KEY2",)
    assert (stdio.cwd, stdio.startup_timeout_sec, stdio.tool_timeout_sec) == ("/Users/<user>/code/my-server", 20, 30)
    assert stdio.enabled is False
    assert [t for t in ("search", "summarize", "other") if stdio.allows(t)] == ["summarize"]
    assert (http.transport, http.url, http.bearer_token_env_var) == ("http", "https://mcp.figma.com/mcp", "ENV_VAR")
    assert dict(http.http_headers) == {"HEADER_NAME": "HEADER_VALUE"}
    assert (http.startup_timeout_sec, http.tool_timeout_sec, http.enabled) == (10.0, 60.0, True)  # Codex's defaults


def test_overrides_define_and_change_servers(home: Path) -> None:
    write(home, '[mcp_servers.docs]\ncommand = "docs-server"\n')
    settings = load_settings(home=home, env={}, overrides=[
        'mcp_servers.echo.command="python3"', "mcp_servers.echo.args=['-m', 'echo']",
        "mcp_servers.docs.enabled=false", "mcp_servers.docs.tool_timeout_sec=2.5",
        "mcp_servers.web={url='http://127.0.0.1:1/mcp', startup_timeout_ms=1500}"])
    echo, docs, web = (settings.mcp_servers[n] for n in ("echo", "docs", "web"))
    assert (echo.command, echo.args) == ("python3", ("-m", "echo"))
    assert (docs.command, docs.enabled, docs.tool_timeout_sec) == ("docs-server", False, 2.5)
    assert web.startup_timeout_sec == 1.5  # Codex's older startup_timeout_ms


def test_bad_values_name_the_file_line_and_key(home: Path) -> None:
    path = write(home, '[mcp_servers.docs]\ncommand = "d"\n\ntool_timeout_sec = "slow"\n')
    assert error_of(home) == \
        f'{path}:4: mcp_servers.docs.tool_timeout_sec: expected a number greater than 0, got "slow"'
    path = write(home, '[mcp_servers.docs]\nargs = "-y"\ncommand = "d"\n')
    assert error_of(home) == f'{path}:2: mcp_servers.docs.args: expected a list of strings, got "-y"'
    path = write(home, 'model = "m"\n[mcp_servers.both]\ncommand = "d"\nurl = "http://h/mcp"\n')
    assert error_of(home).startswith(f"{path}:2: mcp_servers.both: has both `command` (a stdio server) and `url`")
    path = write(home, '[mcp_servers.none]\nenabled = true\n')
    assert error_of(home).startswith(f"{path}:1: mcp_servers.none: needs `command` (a stdio server")
    path = write(home, '[mcp_servers.web]\nurl = "http://h/mcp"\nenv = { A = "1" }\n')
    assert error_of(home) == (f"{path}:3: mcp_servers.web.env: `env` is not supported for streamable HTTP "
                              "servers (url)")
    path = write(home, '[mcp_servers.x]\ncommand = "d"\ndefault_tools_approval_mode = "ask"\n')
    assert "expected one of auto, prompt, approve" in error_of(home)
    write(home, "")
    assert error_of(home, "mcp_servers.x.url=localhost:3000") == \
        '-c mcp_servers.x.url=localhost:3000: expected an http:// or https:// URL, got "localhost:3000"'
    assert error_of(home, "mcp_servers.x.command=''").endswith("`command` is empty; give the program that "
                                                               "starts the server")
    assert "item 1 is 3" in error_of(home, "mcp_servers.x.env_vars=[3]")


def test_unknown_keys_warn_and_codex_only_keys_are_accepted(home: Path) -> None:
    path = write(home, '[mcp_servers.docs]\ncommand = "d"\ncomand = "typo"\nrequired = false\nscopes = ["a"]\n'
                       'supports_parallel_tool_calls = true\n[mcp_servers.docs.tools.search]\n'
                       'approval_mode = "approve"\n')
    settings = load_settings(home=home, env={})
    assert settings.warnings == [f"unknown config key 'mcp_servers.docs.comand' in {path}:3 (ignored); "
                                 "did you mean 'mcp_servers.docs.command'?"]
    assert settings.mcp_servers["docs"].approval_mode("search") == "approve"
    assert settings.mcp_servers["docs"].approval_mode("other") == "auto"


def test_a_stdio_server_gets_codex_s_short_environment_then_env_vars_then_env() -> None:
    ours = {"PATH": "/bin", "HOME": "/h", "OPENAI_API_KEY": "sk-secret", "MY_TOKEN": "t", "EXTRA": "x",
            "BASH_FUNC_f%%": "() { :; }", "TERM": "() { evil; }"}
    server = server_from_table("s", {"command": "c", "env_vars": ["EXTRA", {"name": "MISSING"}],
                                     "env": {"API_KEY": "value", "PATH": "/opt/bin"}})
    assert server.stdio_environment(ours) == {"HOME": "/h", "EXTRA": "x", "API_KEY": "value", "PATH": "/opt/bin"}
    assert "OPENAI_API_KEY" in ours and set(INHERITED_ENV_VARS) >= {"PATH", "HOME", "USER"}


def test_an_http_server_s_headers_and_its_credentials() -> None:
    server = server_from_table("w", {"url": "https://h/mcp", "bearer_token_env_var": "W_TOKEN",
                                     "http_headers": {"X-Team": "core", "authorization": "old"},
                                     "env_http_headers": {"X-Key": "W_KEY", "X-None": "UNSET"}})
    headers = server.request_headers({"W_TOKEN": " tok123 ", "W_KEY": "k"})
    assert headers == {"X-Team": "core", "X-Key": "k", "Authorization": "Bearer tok123"}
    assert server.credential_vars() == {"W_TOKEN", "W_KEY", "UNSET"}
    with pytest.raises(McpConfigProblem, match=r"W_TOKEN \(bearer_token_env_var\) is not set"):
        server.request_headers({})


@pytest.mark.parametrize(("policy", "mode", "asks"), [
    ("never", "auto", False), ("on-failure", "auto", False), ("on-request", "auto", True),
    ("untrusted", "auto", True), ("untrusted", "approve", False), ("never", "approve", False),
    ("never", "prompt", True), ("on-failure", "prompt", True),
])
def test_when_a_call_needs_approval(policy: str, mode: str, asks: bool) -> None:
    """Core's table decides (`ocodex.approval`); a tool's approval_mode says what it asks for."""
    config = server_from_table("docs", {"command": "d", "default_tools_approval_mode": mode})
    request = approval_request(config, "search", {"q": "x"})
    assert (request is not None and needs_approval(policy, request)) is asks
    assert (request is None) is (mode == "approve")


def test_a_tools_own_mode_wins_and_always_is_remembered_per_tool() -> None:
    config = server_from_table("docs", {"command": "d", "default_tools_approval_mode": "approve",
                                        "tools": {"rm": {"approval_mode": "prompt"}}})
    assert approval_request(config, "search", {}) is None  # the server's default
    asked: list[ApprovalRequest] = []
    answers = iter(["no", "always"])

    def ask(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return next(answers)

    gate = ApprovalGate("never", ask)  # "prompt" asks even where the policy asks nothing
    rm = approval_request(config, "rm", {"path": "/"})
    assert rm == McpToolRequest("docs", "rm", {"path": "/"}, prompt=True)
    assert gate.decide(rm) == "denied"
    assert gate.decide(rm) == "allowed" and gate.decide(McpToolRequest("docs", "rm", {}, prompt=True)) == "allowed"
    assert len(asked) == 2  # "always" holds for the tool, whatever its arguments
    assert ApprovalGate("never", None).decide(rm) == "denied"  # a face that cannot ask counts as no
    assert declined_error(config, "rm") == ('the call was not approved; to let it run without asking, set '
                                            'mcp_servers.docs.tools.rm.approval_mode = "approve"')
    assert declined_error(config, "other").endswith('set mcp_servers.docs.default_tools_approval_mode = "approve"')
