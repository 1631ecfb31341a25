"""A small library for describing config keys: tables, maps, checks, and the messages they give.

A `Spec` is a check (a function that returns the cleaned value or raises `Bad` with what was expected),
a `Table` of known keys, a `MapOf` user-named entries, or `EXTRA` (a Codex key kept but not checked).
The keys themselves are declared in `ocodex.config.keys`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any


class Bad(Exception):
    """A value that does not fit its key; the caller adds the key and the source."""


Check = Callable[[Any], Any]


class Table:
    """A table with known keys."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Spec]) -> None:
        self.fields = fields


class MapOf:
    """A table whose keys are names the user picks (provider ids, profile names)."""

    __slots__ = ("item",)

    def __init__(self, item: Spec) -> None:
        self.item = item


class Extra:
    """A key Codex accepts that ocodex keeps but does not check or use."""


EXTRA = Extra()
Spec = Check | Table | MapOf | Extra


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 60 else f'"{value[:57]}..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a date/time ({value})"


def suggest(word: str, choices: Sequence[str]) -> str | None:
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise Bad(f"expected a string, got {show(value)}")
    return value


def model_name(value: Any) -> str:
    """A model name: a string that is not empty (an empty one would silently mean the default)."""
    name = string(value)
    if not name.strip():
        raise Bad(f"expected a model name, e.g. gpt-oss:20b, got {show(name)}")
    return name


def url(value: Any) -> str:
    url = string(value)
    if not url.startswith(("http://", "https://")):
        raise Bad(f"expected an http:// or https:// URL, got {show(url)}")
    return url


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"expected true or false, got {show(value)}")
    return value


def _range_text(low: float | None, high: float | None, strict_low: bool) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" greater than {low}" if strict_low else f" of at least {low}"
    return ""


def _in_range(value: float, low: float | None, high: float | None, strict_low: bool) -> bool:
    if low is not None and (value <= low if strict_low else value < low):
        return False
    return high is None or value <= high


def integer(low: int | None = None, high: int | None = None, *, strict_low: bool = False) -> Check:
    wanted = "an integer" + _range_text(low, high, strict_low)

    def check(value: Any) -> int:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if not is_int or not _in_range(value, low, high, strict_low):
            raise Bad(f"expected {wanted}, got {show(value)}")
        return value

    return check


def number(low: float | None = None, high: float | None = None, *, strict_low: bool = False) -> Check:
    wanted = "a number" + _range_text(low, high, strict_low)

    def check(value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not _in_range(value, low, high, strict_low):
            raise Bad(f"expected {wanted}, got {show(value)}")
        return float(value)

    return check


def enum(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value in choices:
            return value
        message = f"expected one of {', '.join(choices)}, got {show(value)}"
        guess = suggest(value, choices) if isinstance(value, str) else None
        raise Bad(f"{message}; did you mean '{guess}'?" if guess else message)

    return check


def str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Bad(f"expected a list of strings, got {show(value)}")
    for index, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise Bad(f"expected a list of strings, but item {index} is {show(item)}")
    return list(value)


def str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Bad(f"expected a table of strings, got {show(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise Bad(f"expected a table of strings, but '{key}' is {show(item)}")
    return dict(value)
