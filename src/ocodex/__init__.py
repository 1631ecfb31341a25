"""ocodex: a terminal coding agent for open models served by Ollama."""

import sys as _sys

__version__ = "0.1.0"

# httpx imports its command-line client (click, rich's console, pygments) whenever those are installed,
# and they are (rich is ours, click comes with the MCP SDK): a third of httpx's import time, for a `main()`
# ocodex never calls. A None entry makes that one import fail, and httpx then defines a stub in its place.
if "httpx" not in _sys.modules:
    _sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
