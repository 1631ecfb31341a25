"""JSON text ocodex writes (session files, `--json` lines, request bodies) that every reader can take.

Model and server strings may hold lone surrogates (a JSON `"\\ud800"` decodes to one), which no UTF-8
stream can carry: writing them raw would crash the writer. They are written as `\\udXXX` escapes,
which is valid JSON and reads back to the same string, so nothing is lost. The line breaks that
`str.splitlines()` and JavaScript readers see inside strings (U+0085, U+2028, U+2029) are escaped
too, so one record stays one line. Everything else is UTF-8 as is (not `\\u` escapes, as Codex writes).
"""

from __future__ import annotations

import json
import re
from typing import Any

_ESCAPED = re.compile("[\ud800-\udfff\x85\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(value: Any, *, indent: int | None = None, default: Any = None) -> str:
    """`value` as JSON text: compact (or indented), non-ASCII kept, lone surrogates and odd line breaks
    escaped. These characters can only occur inside JSON strings, where an escape means the same."""
    separators = (",", ":") if indent is None else None
    text = json.dumps(value, ensure_ascii=False, separators=separators, indent=indent, default=default)
    return _ESCAPED.sub(_escape, text)


def encode(value: Any) -> bytes:
    """`value` as a UTF-8 JSON request body (httpx's own encoder fails on a lone surrogate)."""
    return dumps(value).encode("utf-8")
