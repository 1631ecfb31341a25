"""One conversation's lifecycle, owned by one object: the `Thread` (see `ocodex.thread.core`).

- `core`: `Thread` (open, run a turn, interrupt, compact, switch model, new thread, close), the `Face`
  protocol every front end implements, and `ThreadStatus`;
- `assembly`: settings -> what a thread runs on (connection, server readiness, model, tools, prompt,
  agent); `SERVERS` is where a provider's model is made ready;
- `recording`: the session file (lock, create or continue, restore history and usage, record);
- `escalation`: the small -> large model retry policy.

The names are loaded on first use: `ocodex.thread.signals`, which the CLI installs before the
interactive prompt is drawn, must not import the core (providers, httpx, tools) on its way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocodex.thread.core import Face, Thread, ThreadStatus

__all__ = ["Face", "Thread", "ThreadStatus"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ocodex.thread import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
