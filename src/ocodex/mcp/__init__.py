"""MCP servers, configured as Codex configures them (`[mcp_servers.NAME]`), as tools for the model.

- `config`: one server's settings, checked across keys, and the environment / headers they resolve to;
- `client`: one connection through the official `mcp` SDK (imported only there, and only when a
  server is configured);
- `manager`: every configured server of a thread on one background asyncio loop thread, started
  concurrently and stopped when the thread closes (and at exit, Ctrl-C, SIGTERM and SIGHUP);
- `tools`: MCP tools as ocodex `Tool`s named `mcp__SERVER__TOOL` (what each call asks the approval
  gate, by its `approval_mode`), their results as model text and images;
- `toolset`: a thread's servers: started once, their tools offered per model (failures, the schema
  cost, the budget), closed with the thread;
- `edit`: `ocodex mcp add/remove`, editing config.toml with tomlkit;
- `safe`: server text on one line, controls out and secrets masked.

Importing this package imports nothing heavy.
"""
