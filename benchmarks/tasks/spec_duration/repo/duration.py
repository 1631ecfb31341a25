"""Parsing human-written durations."""


def parse_duration(text: str) -> int:
    """The number of seconds in `text`, e.g. "1h30m" -> 5400 (see docs/duration.md)."""
    raise NotImplementedError
