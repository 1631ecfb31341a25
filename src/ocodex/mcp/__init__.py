"""MCP servers, configured as Codex configures them (`[mcp_servers.NAME]`), as tools for the model.

- `config`: one server's settings, checked across keys, and the environment / headers they resolve to;
- `client`: one connection through the official `mcp` SDK (imported only there, and only when a
  server is configured);
- `manager`: every configured server on one background asyncio loop thread, started concurrently and
  stopped at exit, Ctrl-C and SIGTERM;
- `tools`: MCP tools as ocodex `Tool`s named `mcp__SERVER__TOOL`, their results as model text and images;
- `toolset`: what a run uses: start, report tool costs, enforce the schema budget, close;
- `approval`: when an MCP tool call must be approved first;
- `edit`: `ocodex mcp add/remove`, editing config.toml with tomlkit.

Importing this package imports nothing heavy.
"""
