"""Formatting helpers."""


def format_size(size):
    """A byte count for people: 512 B, 1.5 KiB, 3.0 MiB."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
