"""Comparing release versions like 1.10.2."""


def _numbers(version: str) -> list[int]:
    parts = version.split(".")
    if not all(part.isdigit() and part.isascii() for part in parts):
        raise ValueError(f"not a version: {version!r}")
    return [int(part) for part in parts]


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version `a` is lower than, equal to or higher than `b` (see docs/versions.md)."""
    left, right = _numbers(a), _numbers(b)
    width = max(len(left), len(right))
    left += [0] * (width - len(left))
    right += [0] * (width - len(right))
    return (left > right) - (left < right)


def latest(versions: list[str]) -> str:
    """The highest of `versions` (see docs/versions.md)."""
    if not versions:
        raise ValueError("no versions")
    best = versions[0]
    _numbers(best)
    for version in versions[1:]:
        if compare_versions(version, best) > 0:
            best = version
    return best
