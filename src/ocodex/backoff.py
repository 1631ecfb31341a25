"""How long to wait before retrying a request to a server: the one rule, for the agent loop's model
requests and the Ollama client's management calls alike."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float = 0.25, cap: float = 10.0, retry_after: float | None = None,
                  retry_after_cap: float = 60.0) -> float:
    """Seconds to wait before retry number `attempt` (from 1): what the server asked for (`Retry-After`,
    at most `retry_after_cap`), else `base` doubled per attempt, at most `cap`, with ±20% jitter so that
    clients that failed together do not come back together."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), retry_after_cap)
    return min(base * 2 ** (attempt - 1), cap) * random.uniform(0.8, 1.2)
