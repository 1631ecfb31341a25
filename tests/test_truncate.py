"""Tests for head+tail truncation of tool output (ocodex.tools.truncate)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.tools.truncate import approx_tokens, count_lines, truncate_middle

MARKER_RE = re.compile(r"…(\d+) chars truncated…\n")
HEADER_RE = re.compile(
    r"Warning: truncated output \(original token count: (\d+)\)\nTotal output lines: (\d+)\n\n")


def split(result: str, original: str) -> tuple[re.Match[str], str, int, str]:
    """Header match, kept head, removed char count and kept tail of a truncated result.

    The marker sits on its own line, so a newline is inserted before it when the head was cut
    mid-line; the head's length follows from the original's length, the tail and the count.
    """
    header = HEADER_RE.match(result)
    assert header is not None, result[:200]
    body = result[header.end():]
    marker = MARKER_RE.search(body)
    assert marker is not None, body[:200]
    removed, tail = int(marker.group(1)), body[marker.end():]
    before = body[: marker.start()]
    head = before[: len(original) - removed - len(tail)]
    assert before in (head, head + "\n")
    assert before == head or not head.endswith("\n")
    return header, head, removed, tail


def test_short_text_unchanged() -> None:
    assert truncate_middle("hello\nworld\n", 100) == "hello\nworld\n"
    assert truncate_middle("", 0) == ""
    text = "x" * 50
    assert truncate_middle(text, 50) is text


def test_approx_tokens_is_bytes_over_four_rounded_up() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("abcd") == 1
    assert approx_tokens("abcde") == 2
    assert approx_tokens("é") == 1  # 2 bytes


def test_count_lines_like_rust_lines() -> None:
    assert count_lines("") == 0
    assert count_lines("a") == 1
    assert count_lines("a\n") == 1
    assert count_lines("a\nb") == 2


def test_long_output_gets_header_marker_head_and_tail() -> None:
    lines = [f"line {i:04d}" for i in range(1000)]
    text = "\n".join(lines) + "\n"
    result = truncate_middle(text, 200)
    header, head, removed, tail = split(result, text)
    assert header.group(1) == str(approx_tokens(text))
    assert header.group(2) == "1000"
    assert head.startswith("line 0000\nline 0001\n")
    assert tail.endswith("line 0998\nline 0999\n")
    assert len(head) + removed + len(tail) == len(text)
    assert len(head.encode()) + len(tail.encode()) <= 200


def test_cuts_on_line_boundaries_when_cheap() -> None:
    text = "".join(f"{i:09d}\n" for i in range(100))  # 10-byte lines
    _, head, _, tail = split(truncate_middle(text, 105), text)
    assert head.endswith("\n") and head == text[: len(head)]
    assert tail == text[len(text) - len(tail):]
    assert tail.startswith("0000000") and len(tail) % 10 == 0


def test_single_long_line_is_cut_mid_line() -> None:
    text = "a" * 5000
    _, head, removed, tail = split(truncate_middle(text, 1000), text)
    assert head == "a" * 500 and tail == "a" * 500
    assert removed == 4000


def test_never_splits_utf8_characters() -> None:
    text = "€" * 1000  # 3 bytes each
    _, head, removed, tail = split(truncate_middle(text, 100), text)
    assert set(head) == {"€"} and set(tail) == {"€"}
    assert len(head.encode()) <= 50 and len(tail.encode()) <= 50
    assert len(head) + removed + len(tail) == 1000


def test_zero_budget_keeps_only_header_and_marker() -> None:
    result = truncate_middle("abc\ndef\n", 0)
    _, head, removed, tail = split(result, "abc\ndef\n")
    assert (head, removed, tail) == ("", 8, "")


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_characters="…"), max_size=400),
       max_bytes=st.integers(min_value=0, max_value=300))
def test_truncation_properties(text: str, max_bytes: int) -> None:
    result = truncate_middle(text, max_bytes)
    if len(encoded(text)) <= max_bytes:
        assert result == text
        return
    _, head, removed, tail = split(result, text)
    assert text.startswith(head)
    assert text.endswith(tail)
    assert len(head) + removed + len(tail) == len(text)
    assert len(encoded(head)) + len(encoded(tail)) <= max_bytes
    assert len(encoded(result)) <= max_bytes + 200


def encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
