"""SIGTERM and SIGHUP end a run the way Ctrl-C ends a turn: `StopSignals`, installed around a run.

`kill`, a service manager, `timeout`, or a closed terminal (SIGHUP) must not leave a command the model
started running, nor a session or `--json` stream without its end. The CLI installs `StopSignals`
around `exec` and the interactive session; every `Thread` opened meanwhile registers itself
(`opened`/`closed`), so faces wire nothing. While installed:

* a signal during a turn calls `Thread.interrupt("stopped by SIGTERM")`: the turn stops as on Ctrl-C
  (the running command's whole process group is killed, in every sandbox mode, danger-full-access
  included; a patch being committed is finished or rolled back first), `turn.failed` goes to the
  session file and the face, and the history is left valid, so the session can be resumed. Then
  `run_turn` raises `Stopped` instead of `TurnInterrupted` (`raise_if_stopped`): the program ends,
  even an interactive one that would go on after Ctrl-C;
* a signal between turns (while the thread opens, or while a face waits for input) raises `Stopped`
  where the program is;
* `Stopped` is a `SystemExit` with code 128 + the signal (143 for SIGTERM, 129 for SIGHUP): no
  `except Exception` and no Ctrl-C handler swallows it, every `finally` (the thread's `close()`, which
  syncs the session file) runs, and `run_reporting` says `error: stopped by SIGTERM` unless the face has
  shown the turn's failure already.

Only the first signal acts; more while the run winds down are ignored, so they cannot cut short the
session file's close. A signal ignored when ocodex started stays ignored (`nohup` ignores SIGHUP), and
a handler someone else installed first is left alone. Python runs signal handlers in the main thread
only; `StopSignals` entered in another thread installs nothing.

`Thread.close()` runs `held()`: a signal that comes while the thread's connections, MCP servers and
session file are being closed is only recorded, and `Stopped` is raised once they are (so a SIGTERM
at the very end of a run cannot leave an MCP server running or a session file unsynced).

MCP servers (the seam with `mcp/manager`): there is one handler path. `mcp/manager` installs its own
SIGTERM/SIGHUP handler only over the default action, for programs that run servers without
`StopSignals` (`ocodex mcp list`, a library caller). The CLI enters `StopSignals` before any thread
opens, so during `exec` and the interactive session the manager finds a handler and installs none:
the signal interrupts the turn here, `Stopped` unwinds through the face, and the thread's `close()`
(in its `finally`, under `held()`) stops the servers. A signal while they are starting (inside
`Thread.open`) raises `Stopped` there, and `Thread.open` closes what it started.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ocodex.errors import Stopped

if TYPE_CHECKING:
    from ocodex.thread.core import Thread

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def reason(signum: int) -> str:
    """What a turn stopped by `signum` says in its `turn.failed`."""
    return f"stopped by {signal.Signals(signum).name}"


class StopSignals:
    """SIGTERM/SIGHUP handlers for the life of a run (a context manager; one per process at a time)."""

    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal that came
        self.threads: list[Thread] = []  # the open threads a signal interrupts
        self._previous: dict[int, Any] = {}
        self._holds = 0  # how many `held()` sections the main thread is in
        self._pending = False  # a signal came during one: raise `Stopped` when the last ends

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Record a first signal instead of acting on it for the duration, then raise `Stopped`."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
        if self._holds == 0 and self._pending:
            self._pending = False
            self.check()

    def check(self, *, shown: bool = False) -> None:
        """Raise `Stopped` if a signal came; `shown`: the face has already shown the turn's failure."""
        if self.signum is not None:
            raise Stopped(self.signum, reason(self.signum), shown=shown)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum is not None:
            return  # already stopping: let the session file be closed
        self.signum = signum
        if self._holds:  # a thread is being closed: `held` raises once it is
            self._pending = True
            return
        running = [thread for thread in self.threads if thread.running]
        for thread in running:
            thread.interrupt(reason(signum))  # in this (the main) thread: KeyboardInterrupt, right here
        if not running:
            raise Stopped(signum, reason(signum))

    def __enter__(self) -> StopSignals:
        global _active
        if threading.current_thread() is threading.main_thread() and _active is None:
            for number in SIGNALS:
                if signal.getsignal(number) is signal.SIG_DFL:
                    self._previous[number] = signal.signal(number, self._handle)
            _active = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _active
        for number, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(number, previous)
        self._previous.clear()
        self.threads.clear()
        if _active is self:
            _active = None


_active: StopSignals | None = None  # the handlers of the run in progress, if any


def opened(thread: Thread) -> None:
    """`thread` is open: a stop signal interrupts its turns."""
    if _active is not None:
        _active.threads.append(thread)


def closed(thread: Thread) -> None:
    if _active is not None and thread in _active.threads:
        _active.threads.remove(thread)


def held() -> contextlib.AbstractContextManager[None]:
    """While closing a thread: a stop signal is acted on only when the section ends (see above)."""
    if _active is None or threading.current_thread() is not threading.main_thread():
        return contextlib.nullcontext()
    return _active.held()


def raise_if_stopped(*, shown: bool = True) -> None:
    """After a turn was interrupted: `Stopped` if a stop signal did it (the face saw `turn.failed`)."""
    if _active is not None:
        _active.check(shown=shown)
