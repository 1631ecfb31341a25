"""Server-sent events: turning a stream of text lines into `data:` payloads.

Only the `data` field matters to the wire formats ocodex speaks; `event:` names are returned too for
formats that need them (the Responses API). Comments (`:`) and unknown fields are skipped. Data left
at the end of the stream without its closing blank line is still returned, marked `complete=False`:
the connection may have been cut in the middle of that event, so a parser that cannot read it should
treat the stream as broken off (retryable), not as malformed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ocodex.errors import StreamError


@dataclass(slots=True)
class SseEvent:
    event: str | None
    data: str
    complete: bool = True


def iter_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Yield one `SseEvent` per blank-line-terminated block that carries data."""
    event: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield SseEvent(event, "\n".join(data), complete=False)


def json_object(event: SseEvent) -> dict[str, Any]:
    """The event's data as a JSON object; a `StreamError` (retryable if the event was cut) otherwise."""
    try:
        value = json.loads(event.data)
    except ValueError as exc:
        if not event.complete:
            raise StreamError("the model stream broke off in the middle of an event; the answer is "
                              "incomplete", retryable=True) from exc
        raise StreamError(f"model stream sent invalid JSON: {event.data[:200]!r}") from exc
    if not isinstance(value, dict):
        raise StreamError(f"model stream sent an unexpected event: {event.data[:200]!r}")
    return value
