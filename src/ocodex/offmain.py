"""Threads other than the main one never take the process's signals: `start`, `block_here`.

Python runs signal handlers in the main thread only, but the kernel gives a signal sent to the process
(Ctrl-C's SIGINT, `kill`'s SIGTERM, a closed terminal's SIGHUP) to any thread that does not block it. One
taken by a helper thread sets Python's flag and nothing more: a main thread asleep in a wait (an MCP call's
result, a socket read) is not woken, so the run goes on as if nothing came until that wait ends by itself.
Every helper thread ocodex starts therefore blocks these signals from birth (`start`: the mask is inherited
from the starting thread), or, for pool workers, from its first instruction (`block_here` as the pool's
initializer). Threads a helper starts (asyncio's and anyio's) inherit its mask.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1",
                                                       "SIGUSR2", "SIGALRM", "SIGWINCH", "SIGTSTP", "SIGCONT")
                    if hasattr(signal, name))


def start(thread: threading.Thread) -> None:
    """`thread.start()`, the new thread blocking `SIGNALS` from its first instruction on."""
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def block_here() -> None:
    """Block `SIGNALS` in the calling (helper) thread: a `ThreadPoolExecutor`'s `initializer`."""
    if hasattr(signal, "pthread_sigmask") and threading.current_thread() is not threading.main_thread():
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
