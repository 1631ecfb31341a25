"""The context-window rule, stated once: which window a session gets, how big one an agent session
needs, and what ocodex suggests.

The agent's token budget (`agent/context`), the Ollama window sizing (`ollama/window`) and
`ocodex doctor` all take the rule from here, so the three never disagree.
"""

from __future__ import annotations

from typing import Literal

SMALL_WINDOW = 16384
"""Tokens below which an agent session soon loses its start: system prompt, tools and a few files."""
SUGGESTED_WINDOW = 32768
"""The window ocodex suggests: its prompt is lean (~1k tokens), so 32k leaves room for real work at half the
KV-cache memory of the 64k Ollama's docs suggest for heavier agents."""

WindowSource = Literal["configured", "loaded", "num_ctx", "unknown"]


def effective_window(*, configured: int | None = None, loaded: int | None = None, num_ctx: int | None = None,
                     trained: int | None = None) -> tuple[int | None, WindowSource]:
    """The window a session gets, and where it comes from: `model_context_window` if set, else what the
    loaded runner allocated (`/api/ps`), else the Modelfile's `num_ctx`, else unknown; never more than
    the model was trained for."""
    window: int | None
    source: WindowSource
    if configured:
        window, source = configured, "configured"
    elif loaded:
        window, source = loaded, "loaded"
    elif num_ctx:
        window, source = num_ctx, "num_ctx"
    else:
        return None, "unknown"
    return (min(window, trained) if trained else window), source


def is_small(window: int, trained: int | None) -> bool:
    """Whether `window` is too small for an agent session while the model could take a larger one."""
    return window < SMALL_WINDOW and (trained is None or trained > window)


def rule_text() -> str:
    """The rule in words, the same in README, the run-time line and `ocodex doctor`."""
    return (f"an agent session needs a context window of at least {SMALL_WINDOW:,} tokens "
            f"(ocodex suggests {SUGGESTED_WINDOW:,})")
