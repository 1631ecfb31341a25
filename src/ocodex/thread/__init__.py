"""One conversation's lifecycle, owned by one object: the `Thread` (see `ocodex.thread.core`).

- `core`: `Thread` (open, run a turn, interrupt, compact, switch model, new thread, close), the `Face`
  protocol every front end implements, and `ThreadStatus`;
- `assembly`: settings -> what a thread runs on (connection, server readiness, model, tools, prompt,
  agent); `SERVERS` is where a provider's model is made ready;
- `recording`: the session file (lock, create or continue, restore history and usage, record);
- `escalation`: the small -> large model retry policy.
"""

from ocodex.thread.core import Face, Thread, ThreadStatus

__all__ = ["Face", "Thread", "ThreadStatus"]
