"""Text from an MCP server (names, errors, its stderr) made fit for one line of a message."""

from __future__ import annotations

import re

from ocodex.redact import scrub

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line: control characters (escape sequences included) as spaces, registered secrets
    masked, cut at `limit` characters with `…`."""
    flat = _CONTROL.sub(" ", scrub(str(text))).strip()
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"
