"""One MCP server connection through the official `mcp` SDK: start it, list its tools, call them, stop it.

This is the only module that imports the SDK, and only `ocodex.mcp.manager` imports it, on its event
loop thread, when at least one server is configured. Everything here is a coroutine on that loop.

A connection lives inside one task (`Connection.serve`): the SDK's transports are context managers
that must be entered and left by the same task, so that task connects (within `startup_timeout_sec`,
the `initialize` handshake and the tool listing both), reports ready, waits to be told to stop, then
leaves the SDK's context, which closes a stdio server's stdin and kills its process group if it does
not exit, or ends an HTTP server's session. Calls run as their own tasks on the open session.

What leaves this module is plain data: tool listings as `ServerTool`, results as `CallOutcome` with the
content blocks in their wire (JSON) shape. Errors are one-line strings, never tracebacks. A stdio server's
stderr goes to a private temporary file, never to the terminal; its last line explains a failed start.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, Implementation

from ocodex import __version__
from ocodex.mcp.config import McpConfigProblem, McpServerConfig
from ocodex.mcp.safe import one_line
from ocodex.redact import register_headers, register_secret

MAX_TOOL_PAGES = 100  # a server whose tools/list never ends its pagination cannot hang a start
_SENSITIVE_NAME = re.compile(r"auth|key|token|secret|password|credential|cookie", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool | None = None  # the server's readOnlyHint, when it gave one


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one `tools/call` came back with: the result's content blocks in their JSON shape, or an error."""

    content: list[dict[str, Any]] = field(default_factory=list)
    structured_content: Any = None
    is_error: bool = False
    error: str | None = None  # the call itself failed (timeout, crash, protocol error): no result


def describe_exception(exc: BaseException, url: str | None = None) -> str:
    """One line for whatever went wrong, looking inside exception groups for the first real cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if url is not None and isinstance(exc, httpx2.TransportError):
        return one_line(f"cannot reach {url} ({describe_exception(exc)})")
    if isinstance(exc, MCPError):
        return one_line(exc.message or f"MCP error {exc.code}")
    if isinstance(exc, FileNotFoundError):
        return one_line(f"cannot run {exc.filename or 'the command'}: no such file or directory")
    if isinstance(exc, PermissionError):
        return one_line(f"cannot run {exc.filename or 'the command'}: permission denied")
    if isinstance(exc, httpx2.HTTPStatusError):
        return one_line(f"HTTP {exc.response.status_code} from {exc.request.url}")
    if isinstance(exc, httpx2.TransportError):
        return one_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    text = str(exc)
    return one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _register_secrets(config: McpServerConfig, headers: dict[str, str]) -> None:
    """Header values that authenticate, and `env` values under secret-looking names, are masked in output."""
    register_headers(headers)
    for name, value in config.env.items():
        if _SENSITIVE_NAME.search(name):
            register_secret(value)


class Connection:
    """One configured server: `serve` owns its SDK session from connect to disconnect."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.client: Client | None = None
        self.tools: list[ServerTool] = []
        self.stopped = anyio.Event()  # set by `stop()`: `serve` then disconnects
        self._starting: anyio.CancelScope | None = None  # the start under way, which `stop()` cuts short
        self.exited: str | None = None  # why the connection ended, once it has
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115

    def stop(self) -> None:
        self.stopped.set()
        if self._starting is not None:  # still connecting: no reason to wait for it to finish
            self._starting.cancel()

    def stderr_tail(self) -> str:
        """The last line the server wrote on stderr, if any."""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            lines = [line for line in self._stderr.read()[-8192:].splitlines() if line.strip()]
            if lines:
                return one_line(lines[-1], 200)
        return ""

    async def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        """The SDK transport for this server (not yet entered); an HTTP client it needs is closed by `stack`."""
        config = self.config
        if config.command is not None:
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(command=config.command, args=list(config.args),
                                           env=config.stdio_environment(), cwd=config.cwd,
                                           encoding_error_handler="replace")
            return stdio_client(params, errlog=self._stderr)
        headers = config.request_headers()
        _register_secrets(config, headers)
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)))
        return streamable_http_client(config.url or "", http_client=http)

    async def serve(self, ready: Callable[[str | None], None]) -> None:
        """Connect and list the tools, then `ready(None)` (or `ready(reason)` if that failed), then hold
        the session open until `stop()`. Never raises, except to let a cancellation through."""
        config = self.config
        reported = False
        try:
            _register_secrets(config, {})
            # The deadline covers connecting and listing only. The scope encloses the SDK's contexts
            # (a deadline scope inside them would be left while their task groups are still open).
            with anyio.CancelScope(deadline=anyio.current_time() + config.startup_timeout_sec) as scope:
                self._starting = scope
                async with contextlib.AsyncExitStack() as stack:
                    client = Client(await self._transport(stack), mode="legacy", cache=None,
                                    client_info=Implementation(name="ocodex", version=__version__))
                    self.client = await stack.enter_async_context(client)
                    self.tools = await self._list_tools(self.client)
                    scope.deadline = math.inf
                    self._starting = None
                    reported = True
                    ready(None)
                    await self.stopped.wait()
            if scope.cancelled_caught and not reported:
                self.exited = ("stopped" if self.stopped.is_set()
                               else f"no answer within {config.startup_timeout_sec:g} s (startup_timeout_sec)")
        except McpConfigProblem as problem:
            self.exited = problem.message
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                self.exited = "stopped"
                raise
            self.exited = describe_exception(exc, config.url)  # any other failure: a one-line reason
        finally:
            self.client = None
            if self.exited is None:
                self.exited = "stopped"
            if not reported:
                tail = self.stderr_tail()
                reason = self.exited
                if tail and tail not in reason:
                    reason = f"{reason} (its stderr: {tail})"
                ready(reason)
            with contextlib.suppress(OSError):
                self._stderr.close()

    async def _list_tools(self, client: Client) -> list[ServerTool]:
        tools: list[ServerTool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                annotations = tool.annotations
                tools.append(ServerTool(tool.name, tool.description or "", dict(tool.input_schema or {}),
                                        getattr(annotations, "read_only_hint", None)))
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        """Call `tool`; every failure comes back as `CallOutcome(error=...)`."""
        client = self.client
        if client is None:
            reason = self.exited or "not connected"
            return CallOutcome(error=f"MCP server '{self.config.name}' is not running ({reason})")
        timeout = self.config.tool_timeout_sec
        try:
            result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            return CallOutcome(error=self._call_error(exc, timeout))
        except TimeoutError:
            return CallOutcome(error=f"no answer within {timeout:g} s (tool_timeout_sec)")
        except Exception as exc:
            return CallOutcome(error=self._crashed(describe_exception(exc)))
        content = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
        return CallOutcome(content=content, structured_content=result.structured_content,
                           is_error=bool(result.is_error))

    def _call_error(self, exc: MCPError, timeout: float) -> str:
        if exc.code == REQUEST_TIMEOUT:
            return f"no answer within {timeout:g} s (tool_timeout_sec)"
        if exc.code == CONNECTION_CLOSED and "closed" in (exc.message or "").lower():
            return self._crashed("the connection to the server closed")
        return one_line(f"the server answered with an error: {exc.message or exc.code}")

    def _crashed(self, what: str) -> str:
        tail = self.stderr_tail()
        return f"{what}; the server may have crashed" + (f" (its stderr: {tail})" if tail else "")
