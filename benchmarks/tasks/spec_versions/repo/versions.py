"""Comparing release versions like 1.10.2."""


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version `a` is lower than, equal to or higher than `b` (see docs/versions.md)."""
    raise NotImplementedError


def latest(versions: list[str]) -> str:
    """The highest of `versions` (see docs/versions.md)."""
    raise NotImplementedError
