"""Codex-style `-c key=value` overrides: the dotted key and the TOML-or-string value.

Pure parsing; which keys exist and what they may hold is `ocodex.config.keys`'s. A `-c` that cannot
be parsed is a usage error (exit 2), as is any bad value given on the command line.
"""

from __future__ import annotations

import tomllib
from typing import Any

from ocodex.errors import ConfigError, UsageError

OVERRIDE_EXAMPLE = '-c model="gpt-oss:20b"'


def _bad(message: str) -> ConfigError:
    return ConfigError(message, exit_code=UsageError.exit_code)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one `-c key=value` the way Codex does.

    The text is split on its first `=`. The key is a dotted path (TOML-quoted segments such as
    `model_providers."my.host".base_url` are understood). The value is parsed as a TOML value; if it is
    not one, it is kept as a string, trimmed, with one pair of surrounding quotes removed.
    """
    path, value, _raw = split_override(text)
    return path, value


def split_override(text: str) -> tuple[list[str], Any, str]:
    key_text, sep, value_text = text.partition("=")
    if not sep:
        raise _bad(f"-c '{text}': expected key=value but there is no '=', e.g. {OVERRIDE_EXAMPLE}")
    path = parse_key(key_text, text)
    raw = _unquote(value_text)
    return path, _parse_value(value_text, raw), raw


def parse_key(key_text: str, override: str | None = None) -> list[str]:
    key = key_text.strip()
    shown = key_text if override is None else override
    if '"' in key or "'" in key:
        path = parse_quoted_key(key)
        if path is None:
            raise _bad(f"-c '{shown}': the key is not a valid TOML dotted key, "
                              'e.g. model_providers."my.host".base_url')
    else:
        path = [part.strip() for part in key.split(".")]
    if not all(path):
        raise _bad(f"-c '{shown}': expected key=value with a non-empty key, e.g. {OVERRIDE_EXAMPLE}")
    return path


def parse_quoted_key(key: str) -> list[str] | None:
    if "\n" in key or "\r" in key:
        return None
    try:
        node: Any = tomllib.loads(key + " = 0")
    except (ValueError, RecursionError):
        return None
    path: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        (name, node), = node.items()
        path.append(name)
    return path if node == 0 and not isinstance(node, dict) else None


def _parse_value(value_text: str, raw: str) -> Any:
    try:
        doc = tomllib.loads("_x_ = " + value_text)
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError; so is int() overflow
        return raw
    if set(doc) != {"_x_"}:  # a newline smuggled in more keys: not a single value
        return raw
    return doc["_x_"]


def _unquote(value_text: str) -> str:
    value = value_text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value
