"""Tiny statistics helpers. `mean` has a bug: `python3 check.py` shows it."""


def mean(values):
    """The arithmetic mean of a non-empty list of numbers."""
    return sum(values) / (len(values) - 1)


def spread(values):
    """The largest value minus the smallest."""
    return max(values) - min(values)
