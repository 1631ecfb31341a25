"""Every configured MCP server of a run, on one background asyncio loop thread.

`McpManager.start(configs)` returns at once: a daemon thread imports the SDK (about a second, so the
caller probes the model server meanwhile) and starts every enabled server concurrently. `wait()` then
gives each server's outcome: its tools, or the one-line reason it did not start within its
`startup_timeout_sec`. `call()` runs one tool call from the caller's thread and blocks until it ends;
Ctrl-C cancels it (the SDK tells the server). `close()` stops every server, concurrently and bounded in
time: a start under way is cut short, a server not yet started never starts, and one whose stop does not
end is cancelled; it is idempotent and also runs at interpreter exit. A Ctrl-C while the SDK loads or the
servers start is the user's: it propagates, and is never reported as a server that failed to start.
The thread that owns the manager calls `close()` from `Thread.close()`, which is where any way of
ending a run (the end of the task, Ctrl-C, a face's own SIGTERM/SIGHUP handling through
`Thread.interrupt`) arrives. What the SDK logs, and the loop's reports of tasks it dropped, never reach
the terminal: every failure also comes back as an exception or a closed stream, a one-line reason.

Signals: a stdio server is in its own process group, out of reach of the terminal's signals, so a
SIGTERM or SIGHUP that nobody handles would leave it running. While servers run, and only if the
program has no handler of its own for them (they are still `SIG_DFL`), these two end the program
through `SystemExit`, so the callers' `finally` blocks and `close()` run. A handler installed before
the servers start is left alone, and one installed while they run is not undone when they stop.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocodex import offmain
from ocodex.mcp.config import McpServerConfig

if TYPE_CHECKING:
    from ocodex.mcp.client import CallOutcome, Connection, ServerTool

IMPORT_TIMEOUT_SEC = 60.0  # the SDK import, on a slow disk
START_SLACK_SEC = 0.5  # beyond a server's startup_timeout_sec before `wait` gives up on it
CALL_GRACE_SEC = 10.0
CLOSE_TIMEOUT_SEC = 10.0  # the SDK gives a stdio server 2 s after stdin closes, then kills its group
CANCEL_TIMEOUT_SEC = 5.0  # after that, for a server cancelled because its stop did not end
_EXIT_SIGNALS = ("SIGTERM", "SIGHUP")


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One server after its start: its tools, or why it has none."""

    config: McpServerConfig
    tools: tuple[ServerTool, ...] = ()
    error: str | None = None  # None: started

    @property
    def started(self) -> bool:
        return self.error is None


class McpManager:
    """The servers of one run. Use `start`, `wait`, `call`, `close` from one (the main) thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="ocodex-mcp", daemon=True)
        self._imported = concurrent.futures.Future[None]()
        self._connections: dict[str, Connection] = {}
        self._ready: dict[str, concurrent.futures.Future[str | None]] = {}
        self._began: dict[str, float] = {}  # when each server's start began (time.monotonic)
        self._ended: list[concurrent.futures.Future[None]] = []  # one per server: its task on the loop ended
        self._tasks: list[asyncio.Task[None]] = []  # those tasks (on the loop thread only)
        self._configs: list[McpServerConfig] = []
        self._closed = False
        self._stopping = False  # read and written on the loop thread only: no server starts once it is set

    # ---- the loop thread -----------------------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        # What the SDK logs and what the loop reports about a task it had to drop reach us anyway, as an
        # exception or a closed stream that becomes a one-line reason. Their tracebacks never reach the terminal.
        self._loop.set_exception_handler(lambda _loop, _context: None)
        import logging

        sdk_log = logging.getLogger("mcp")
        sdk_log.addHandler(logging.NullHandler())
        sdk_log.propagate = False
        try:
            import ocodex.mcp.client  # noqa: F401 - the SDK import, off the caller's thread
        except BaseException as exc:
            self._imported.set_exception(exc)
        else:
            self._imported.set_result(None)
        try:
            self._loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self, config: McpServerConfig, ready: concurrent.futures.Future[str | None]) -> None:
        if self._imported.exception() is not None:  # done before the loop runs anything
            return
        if self._stopping:  # `close` came first (a Ctrl-C while the SDK was still loading)
            if not ready.done():
                ready.set_result("stopped")
            return
        from ocodex.mcp.client import Connection

        connection = Connection(config)
        self._connections[config.name] = connection
        self._began[config.name] = time.monotonic()

        def report(reason: str | None) -> None:
            if not ready.done():
                ready.set_result(reason)

        # At the deadline the start is cut short: say so now, not after the seconds its shutdown takes.
        late = self._loop.call_later(config.startup_timeout_sec, report,
                                     f"no answer within {config.startup_timeout_sec:g} s (startup_timeout_sec)")
        try:
            await connection.serve(report)
        finally:
            late.cancel()
            report(connection.exited or "stopped")

    # ---- the caller's side ---------------------------------------------------------------------

    def start(self, configs: Sequence[McpServerConfig]) -> None:
        """Start every enabled server in `configs` concurrently; returns without waiting."""
        self._configs = [c for c in configs if c.enabled]
        offmain.start(self._thread)
        self._install_signal_handlers()
        atexit.register(self.close)
        for config in self._configs:
            ready = concurrent.futures.Future[str | None]()
            self._ready[config.name] = ready
            ended = concurrent.futures.Future[None]()
            self._ended.append(ended)
            self._loop.call_soon_threadsafe(self._spawn, config, ready, ended)

    def wait(self) -> list[ServerStatus]:
        """Each enabled server's outcome, in configuration order, once each has started or failed."""
        statuses = []
        # Only the loop thread's import failure is the SDK's: a Ctrl-C during this wait is the user's, and
        # propagates (a `result()` would raise both alike).
        concurrent.futures.wait([self._imported], timeout=IMPORT_TIMEOUT_SEC)
        exc = (self._imported.exception() if self._imported.done()
               else TimeoutError(f"not loaded within {IMPORT_TIMEOUT_SEC:g} s"))
        if exc is not None:
            failed = f"the MCP SDK could not be loaded ({type(exc).__name__}: {exc})"
            return [ServerStatus(config, (), failed) for config in self._configs]
        for config in self._configs:
            ready = self._ready[config.name]
            error = None
            while not ready.done():  # a server whose start is cut short is reported at its deadline,
                began = self._began.get(config.name)  # not after the seconds its shutdown takes
                deadline = None if began is None else began + config.startup_timeout_sec + START_SLACK_SEC
                left = 0.05 if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    error = f"no answer within {config.startup_timeout_sec:g} s (startup_timeout_sec)"
                    break
                with contextlib.suppress(concurrent.futures.TimeoutError):
                    ready.result(timeout=left)
            if error is None:
                error = ready.result()
            connection = self._connections.get(config.name)
            tools = tuple(connection.tools) if connection is not None and error is None else ()
            statuses.append(ServerStatus(config, tools, error))
        return statuses

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        """Run one tool call and wait for it. KeyboardInterrupt cancels the call, then propagates."""
        from ocodex.mcp.client import CallOutcome

        connection = self._connections.get(server)
        if connection is None or self._closed:
            return CallOutcome(error=f"MCP server '{server}' is not running")
        ready = self._ready.get(server)
        failed = ready.result() if ready is not None and ready.done() else None
        if failed is not None:  # it never started (it may still be shutting down)
            return CallOutcome(error=f"MCP server '{server}' is not running ({failed})")
        try:
            future = asyncio.run_coroutine_threadsafe(connection.call(tool, arguments), self._loop)
        except RuntimeError:  # the loop is gone (it can only have died with the thread)
            return CallOutcome(error=f"MCP server '{server}' is not running (its connection thread ended)")
        try:
            return future.result(timeout=connection.config.tool_timeout_sec + CALL_GRACE_SEC)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return CallOutcome(error=f"no answer within {connection.config.tool_timeout_sec:g} s "
                                     "(tool_timeout_sec)")
        except BaseException:
            future.cancel()
            raise

    def _spawn(self, config: McpServerConfig, ready: concurrent.futures.Future[str | None],
               ended: concurrent.futures.Future[None]) -> None:
        """On the loop: the task that serves `config`; `ended` resolves when it is over, however it ends."""
        task = self._loop.create_task(self._serve(config, ready))
        task.add_done_callback(lambda _task: ended.set_result(None))
        self._tasks.append(task)

    def _stop_all(self) -> None:
        """On the loop: stop every server, and any whose start has not begun yet never starts."""
        self._stopping = True
        for connection in self._connections.values():
            connection.stop()

    def _cancel_all(self) -> None:
        """On the loop: cancel every server's task (the SDK still stops a stdio server's process group)."""
        for task in self._tasks:
            task.cancel()

    def close(self) -> None:
        """Stop every server and the loop thread; bounded in time, safe to call twice.

        A server whose stop has not ended within `CLOSE_TIMEOUT_SEC` is cancelled (the SDK still kills its
        process group). A Ctrl-C meanwhile cancels them at once; it propagates once they are stopped."""
        if self._closed:
            return
        self._closed = True
        _closing.append(id(self))  # a second SIGTERM while the servers stop must not cut that short
        interrupted = False
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop is closed: its thread is ending
                self._loop.call_soon_threadsafe(self._stop_all)
            try:
                pending = concurrent.futures.wait(self._ended, timeout=CLOSE_TIMEOUT_SEC).not_done
            except KeyboardInterrupt:
                interrupted, pending = True, {f for f in self._ended if not f.done()}
            if pending:
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._cancel_all)
                deadline = time.monotonic() + CANCEL_TIMEOUT_SEC
                while pending and (left := deadline - time.monotonic()) > 0:
                    try:
                        pending = concurrent.futures.wait(pending, timeout=left).not_done
                    except KeyboardInterrupt:  # bounded already: a further Ctrl-C does not leave a server running
                        interrupted = True
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        _closing.remove(id(self))
        self._restore_signal_handlers()
        if interrupted:
            raise KeyboardInterrupt
        if _deferred and not _closing and threading.current_thread() is threading.main_thread():
            raise SystemExit(128 + _deferred.pop())  # the signal that came while the servers stopped

    # ---- signals -------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with _signal_lock:
            if not _running:  # the first manager of the process takes the signals (they share them)
                for name in _EXIT_SIGNALS:
                    number = getattr(signal, name, None)
                    if number is not None and signal.getsignal(number) is signal.SIG_DFL:
                        _previous[number] = signal.signal(number, _exit_on_signal)
            _running.add(id(self))

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with _signal_lock:
            _running.discard(id(self))
            if _running:
                return
            for number, previous in _previous.items():
                with contextlib.suppress(ValueError, OSError):
                    if signal.getsignal(number) is _exit_on_signal:  # a handler installed since stays
                        signal.signal(number, previous)
            _previous.clear()


_signal_lock = threading.Lock()
_running: set[int] = set()  # the managers whose servers run, for the signal handlers they share
_previous: dict[int, Any] = {}


_closing: list[int] = []  # managers stopping their servers right now
_deferred: list[int] = []  # a signal that came meanwhile: delivered once they have stopped


def _exit_on_signal(number: int, _frame: object) -> None:
    if _closing:
        _deferred.append(number)
        return
    raise SystemExit(128 + number)
