"""The context-window rule, stated once: how big a window an agent session needs, and what ocodex suggests.

The agent's token budget (`agent/context`), the Ollama window sizing (`ollama/window`) and
`ocodex doctor` all read these numbers from here, so the three never disagree.
"""

from __future__ import annotations

SMALL_WINDOW = 16384
"""Tokens below which an agent session soon loses its start: system prompt, tools and a few files."""
SUGGESTED_WINDOW = 32768
"""The window ocodex suggests: its prompt is lean (~1k tokens), so 32k leaves room for real work at half the
KV-cache memory of the 64k Ollama's docs suggest for heavier agents."""
