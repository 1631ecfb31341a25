"""`ocodex mcp list|add|remove`: the configured MCP servers, whether each starts, what its tools cost.

`list` starts every enabled server (concurrently, each within its `startup_timeout_sec`), then prints
each server with its transport, whether it started (or why not) and its tools with the prompt tokens
each tool's schema costs; exit code 1 when an enabled server did not start. `add NAME [--env K=V]...
-- COMMAND ARGS...` (or `add NAME --url URL [--bearer-token-env-var VAR]`) and `remove NAME` edit
`$OCODEX_HOME/config.toml` in place, keeping its comments and layout (`ocodex.mcp.edit`, tomlkit).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ocodex.errors import UsageError, run_reporting


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """`ocodex mcp list|add|remove` (Codex's `codex mcp`)."""
    parser.description = ("MCP servers configured as Codex configures them ([mcp_servers.NAME] in config.toml). "
                          "They run outside the sandbox, as configured; their tools reach the model as "
                          "mcp__SERVER__TOOL.")
    parser.set_defaults(run=run_mcp)
    actions = parser.add_subparsers(dest="mcp_command", metavar="COMMAND")
    listing = actions.add_parser(
        "list", help="start each configured server and show its tools and their token cost",
        description="Start every enabled server (each within its startup_timeout_sec) and show whether it "
                    "started and its tools with the prompt tokens each schema costs. Exit code 1 when an "
                    "enabled server did not start.")
    listing.add_argument("-c", "--config", dest="config", action="append", default=None, metavar="key=value",
                         help="override a config value (dotted key; value parsed as TOML); repeatable")
    listing.add_argument("-p", "--profile", dest="profile", default=None, metavar="NAME",
                         help="use [profiles.NAME] from config.toml")
    listing.add_argument("--json", action="store_true", help="one JSON object per server, per line")
    add = actions.add_parser(
        "add", help="add a server: `add NAME [--env K=V]... -- COMMAND ARGS...` or `add NAME --url URL`",
        description="Add (or replace) [mcp_servers.NAME] in $OCODEX_HOME/config.toml, keeping the file's "
                    "comments and layout.")
    add.add_argument("name", metavar="NAME", help="the server's name: letters, digits, - and _")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="an environment variable for a stdio server; repeatable")
    add.add_argument("--url", help="a streamable HTTP server's URL, instead of a command")
    add.add_argument("--bearer-token-env-var", dest="bearer_token_env_var", metavar="VAR",
                     help="with --url: send Authorization: Bearer $VAR")
    add.add_argument("server_command", nargs="*", metavar="-- COMMAND ARGS",
                     help="the command that starts a stdio server, after --")
    remove = actions.add_parser("remove", aliases=["rm"], help="remove a server from config.toml",
                                description="Remove [mcp_servers.NAME] from $OCODEX_HOME/config.toml, keeping "
                                            "the rest of the file as it is.")
    remove.add_argument("name", metavar="NAME")


def run_mcp(args: argparse.Namespace) -> int:
    command = getattr(args, "mcp_command", None)
    if command == "list":
        return run_reporting(lambda: _list(args, sys.stdout, sys.stderr))
    if command == "add":
        return run_reporting(lambda: _add(args, sys.stderr))
    if command in ("remove", "rm"):
        return run_reporting(lambda: _remove(args, sys.stderr))
    sys.stderr.write("usage: ocodex mcp {list,add,remove} ...; `ocodex mcp --help` for more\n")
    return 2


# ---- list --------------------------------------------------------------------------------------


def _list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ocodex.config import load_settings, ocodex_home
    from ocodex.mcp.safe import one_line

    home = ocodex_home()
    settings = load_settings(home=home, overrides=args.config or [], profile=args.profile)
    for warning in settings.warnings:
        err.write(f"warning: {one_line(warning, 1000)}\n")
    servers = settings.mcp_servers
    if not servers:
        err.write(f"no MCP servers configured in {home / 'config.toml'}; add one with "
                  "`ocodex mcp add NAME -- COMMAND ARGS...`\n")
        return 0
    statuses: dict[str, Any] = {}
    enabled = [server for server in servers.values() if server.enabled]
    if enabled:
        from ocodex.mcp.manager import McpManager

        manager = McpManager()
        try:
            manager.start(enabled)
            statuses = {status.config.name: status for status in manager.wait()}
        finally:
            manager.close()
    rows = [_row(server, statuses.get(server.name)) for server in servers.values()]
    if args.json:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        _print_rows(rows, out)
    return 1 if any(row["enabled"] and not row["started"] for row in rows) else 0


def _row(server: Any, status: Any) -> dict[str, Any]:
    from ocodex.mcp.safe import one_line
    from ocodex.mcp.tools import definitions, spec_tokens

    tools = []
    offered = definitions(status) if status is not None and status.started else []
    for definition in offered:
        summary = definition.tool.description.strip().split("\n", 1)[0]
        tools.append({"name": one_line(definition.tool.name, 100), "model_name": definition.name,
                      "offered": definition.offered, "tokens": definition.tokens(),
                      "description": one_line(summary, 80)})
    return {
        "name": server.name, "transport": server.transport, "target": one_line(server.describe(), 200),
        "enabled": server.enabled, "started": status is not None and status.started,
        "error": None if status is None or status.started else status.error,
        "tools": tools, "schema_tokens": spec_tokens([d for d in offered if d.offered]),
    }


def _print_rows(rows: list[dict[str, Any]], out: TextIO) -> None:
    for number, row in enumerate(rows):
        if number:
            out.write("\n")
        out.write(f"{row['name']}  ({row['transport']}: {row['target']})\n")
        if not row["enabled"]:
            out.write("  disabled (enabled = false)\n")
            continue
        if not row["started"]:
            out.write(f"  did not start: {row['error']}\n")
            continue
        offered = [t for t in row["tools"] if t["offered"]]
        out.write(f"  started: {len(offered)} of {len(row['tools'])} tools offered to the model, "
                  f"~{row['schema_tokens']:,} tokens of schema in every request\n")
        width = max((len(t["model_name"]) for t in row["tools"]), default=0)
        for tool in row["tools"]:
            note = "" if tool["offered"] else "  (not offered: enabled_tools/disabled_tools)"
            out.write(f"    {tool['model_name'].ljust(width)}  ~{tool['tokens']:>5,} tokens  "
                      f"{tool['description']}{note}\n")


# ---- add / remove --------------------------------------------------------------------------------


def _env_pairs(values: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--env {value}: expected KEY=VALUE, e.g. --env API_KEY=abc")
        env[key.strip()] = text
    return env


def _add(args: argparse.Namespace, err: TextIO) -> int:
    from ocodex.config import load_settings, ocodex_home
    from ocodex.mcp.config import valid_name
    from ocodex.mcp.edit import add_server

    name = args.name
    if not valid_name(name):
        raise UsageError(f"invalid MCP server name '{name}': use letters, digits, '-' and '_'")
    words = list(args.server_command or [])
    if words and words[0] == "--":
        words = words[1:]
    table: dict[str, Any] = {}
    if args.url:
        if words or args.env:
            raise UsageError("`ocodex mcp add NAME --url URL` takes no command or --env",
                             "a streamable HTTP server runs elsewhere; a stdio server is `-- COMMAND ARGS...`")
        if not args.url.startswith(("http://", "https://")):
            raise UsageError(f"--url {args.url}: expected an http:// or https:// URL")
        table["url"] = args.url
        if args.bearer_token_env_var:
            table["bearer_token_env_var"] = args.bearer_token_env_var
    else:
        if not words:
            raise UsageError("`ocodex mcp add` needs the command that starts the server",
                             "e.g. ocodex mcp add docs -- npx -y @modelcontextprotocol/server-everything")
        if args.bearer_token_env_var:
            raise UsageError("--bearer-token-env-var applies only with --url")
        table["command"] = words[0]
        if words[1:]:
            table["args"] = words[1:]
        env = _env_pairs(args.env or [])
        if env:
            table["env"] = env
    home = ocodex_home()
    load_settings(home=home)  # a config file that is already broken is reported as such, untouched
    path = home / "config.toml"
    replaced = add_server(path, name, table)
    load_settings(home=home)  # and the edit is one the loader accepts
    err.write(f"{'replaced' if replaced else 'added'} MCP server '{name}' in {path}\n")
    return 0


def _remove(args: argparse.Namespace, err: TextIO) -> int:
    from ocodex.config import load_settings, ocodex_home
    from ocodex.mcp.edit import remove_server

    home = ocodex_home()
    load_settings(home=home)
    path = home / "config.toml"
    remove_server(path, args.name)
    err.write(f"removed MCP server '{args.name}' from {path}\n")
    return 0
