"""Head+tail truncation of tool output, the way Codex does it (`codex-rs/utils/output-truncation`).

This module owns how a long tool output is shortened before the model reads it: the start and the
end are kept, the middle is replaced by a `…N chars truncated…` marker line, and a header tells the
model the output was cut and how big it was. Cuts fall on line boundaries when that does not waste
much of the budget, and never inside a UTF-8 character. Token counts are the usual bytes/4 estimate.
"""

from __future__ import annotations

HEADER_TEMPLATE = (
    "Warning: truncated output (original token count: {tokens})\nTotal output lines: {lines}\n\n"
)
MARKER_TEMPLATE = "…{removed} chars truncated…"
# Lone surrogates (e.g. from surrogateescape-decoded bytes) survive the round trip unchanged.
_ERRORS = "surrogatepass"


def approx_tokens(text: str) -> int:
    """Estimated token count: UTF-8 bytes / 4, rounded up."""
    return -(-len(text.encode("utf-8", _ERRORS)) // 4)


def count_lines(text: str) -> int:
    """Lines as Rust's `str::lines()` counts them: a trailing newline does not start a new line."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def truncate_middle(text: str, max_bytes: int) -> str:
    """Return `text` unchanged if it fits in `max_bytes` UTF-8 bytes, else its head and tail.

    The kept head and tail together use at most `max_bytes` bytes; the header and the marker line
    come on top of that.
    """
    data = text.encode("utf-8", _ERRORS)
    if len(data) <= max_bytes:
        return text
    budget = max(max_bytes, 0)
    head_budget = budget // 2
    head_end = _head_cut(data, head_budget)
    tail_start = _tail_cut(data, budget - head_budget)
    head = data[:head_end].decode("utf-8", _ERRORS)
    tail = data[tail_start:].decode("utf-8", _ERRORS)
    removed = len(data[head_end:tail_start].decode("utf-8", _ERRORS))
    header = HEADER_TEMPLATE.format(tokens=approx_tokens(text), lines=count_lines(text))
    separator = "" if not head or head.endswith("\n") else "\n"
    return f"{header}{head}{separator}{MARKER_TEMPLATE.format(removed=removed)}\n{tail}"


def _head_cut(data: bytes, budget: int) -> int:
    """End index of the kept head: after the last newline in budget, unless that keeps under half."""
    end = _char_start_at_or_before(data, budget)
    newline = data.rfind(b"\n", 0, end)
    if newline >= 0 and newline + 1 >= budget / 2:
        return newline + 1
    return end


def _tail_cut(data: bytes, budget: int) -> int:
    """Start index of the kept tail: after the first newline in budget, unless that keeps under half."""
    start = _char_start_at_or_after(data, len(data) - budget)
    newline = data.find(b"\n", start)
    if newline >= 0 and len(data) - (newline + 1) >= budget / 2:
        return newline + 1
    return start


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _char_start_at_or_before(data: bytes, index: int) -> int:
    index = min(max(index, 0), len(data))
    while 0 < index < len(data) and _is_continuation(data[index]):
        index -= 1
    return index


def _char_start_at_or_after(data: bytes, index: int) -> int:
    index = min(max(index, 0), len(data))
    while index < len(data) and _is_continuation(data[index]):
        index += 1
    return index
