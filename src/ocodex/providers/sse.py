"""Server-sent events: turning a stream of text lines into `data:` payloads.

Only the `data` field matters to the wire formats ocodex speaks; `event:` names are returned too for
formats that need them (the Responses API). Comments (`:`) and unknown fields are skipped. Data left
at the end of the stream without its closing blank line is still returned, marked `complete=False`:
the connection may have been cut in the middle of that event, so a parser that cannot read it should
treat the stream as broken off (retryable), not as malformed. A UTF-8 byte order mark before the
first line is not part of it (the SSE spec: a stream may start with one), so the first event is kept.

`json_object` and the `field_*` helpers read what the wire formats put in each event; anything of the
wrong type (a `content` of 5, `tool_calls` as a string, JSON nested 100,000 deep) is a `StreamError`
naming the field, never a traceback.
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
    first = True
    for raw in lines:
        line = raw.rstrip("\r\n")
        if first:
            line, first = line.removeprefix("\ufeff"), False
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
    except RecursionError:
        raise StreamError("model stream sent JSON nested too deeply to read") from None
    except ValueError as exc:
        if not event.complete:
            raise StreamError("the model stream broke off in the middle of an event; the answer is "
                              "incomplete", retryable=True) from exc
        raise StreamError(f"model stream sent invalid JSON: {event.data[:200]!r}") from exc
    if not isinstance(value, dict):
        raise StreamError(f"model stream sent an unexpected event: {event.data[:200]!r}")
    return value


def wrong_field(where: str, value: Any, wanted: str) -> StreamError:
    """The error for a field of the wrong type, naming it and showing (a little of) what came."""
    shown = json.dumps(value, ensure_ascii=False)[:80] if isinstance(value, str | int | float | bool) \
        else type(value).__name__
    return StreamError(f"model stream sent {where} = {shown}, not {wanted}; the server (or a proxy) is "
                       "not speaking the API as expected")


def field_text(data: dict[str, Any], key: str, where: str) -> str:
    """`data[key]` as text: "" when absent or null, a `StreamError` when it is not a string."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise wrong_field(f"{where}.{key}", value, "a string")
    return value


def field_object(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """`data[key]` as an object: {} when absent or null, a `StreamError` when it is something else."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise wrong_field(f"{where}.{key}", value, "an object")
    return value


def field_list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    """`data[key]` as a list: [] when absent or null, a `StreamError` when it is something else."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_field(f"{where}.{key}", value, "a list")
    return value


def field_count(data: dict[str, Any], key: str, where: str) -> int:
    """A token count: an integer, or one written as a string ("12"); 0 when absent; else a `StreamError`."""
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 18:
        return int(value.strip())
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise wrong_field(f"{where}.{key}", value, "a token count")
    return value
