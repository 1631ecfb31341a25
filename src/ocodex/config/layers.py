"""The sources of settings as layers: config files, profiles, `-c` overrides and flags, each checked
against `ocodex.config.keys` and named in every message (`file:line:column` for TOML errors, `file:line`
for a bad value or an unknown key), then merged key by key, remembering which layer set each value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ocodex.config.keys import PROFILE, ROOT, spec_at
from ocodex.config.overrides import parse_quoted_key, split_override
from ocodex.config.schema import Bad, Extra, MapOf, Spec, Table, show, suggest
from ocodex.config.settings import KeyPath
from ocodex.errors import ConfigError, UsageError


def dotted(path: Sequence[str]) -> str:
    def bare(part: str) -> bool:
        return bool(part) and all(c.isascii() and (c.isalnum() or c in "-_") for c in part)

    return ".".join(part if bare(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
                    for part in path)


class Layer:
    """One source of settings, and how to name it in messages."""

    __slots__ = ("command_line", "key", "label", "text", "where")

    def __init__(self, label: str, where: str, key: KeyPath | None = None, text: str | None = None, *,
                 command_line: bool = False) -> None:
        self.label = label  # "/home/u/.ocodex/config.toml", "-c model=x", "command line", "profile 'x' (...)"
        self.where = where  # for warnings: "in /home/u/.ocodex/config.toml"
        self.key = key  # for a -c layer, its own key: no need to repeat it in messages
        self.text = text  # a file layer's text: messages name the line of the key
        self.command_line = command_line  # -c or a flag: its errors are usage errors (exit 2)

    def _at(self, path: Sequence[str]) -> str:
        line = key_line(self.text, path) if self.text is not None else None
        return self.label if line is None else f"{self.label}:{line}"

    def error(self, path: Sequence[str], message: str) -> ConfigError:
        code = UsageError.exit_code if self.command_line else None
        if self.key is not None and tuple(path) in ((), self.key):
            return ConfigError(f"{self.label}: {message}", exit_code=code)
        return ConfigError(f"{self._at(path)}: {dotted(path)}: {message}", exit_code=code)

    def unknown(self, path: Sequence[str], known: Sequence[str]) -> str:
        where = f"in {self._at(path)}" if self.text is not None else self.where
        message = f"unknown config key '{dotted(path)}' {where} (ignored)"
        guess = suggest(path[-1], known)
        return f"{message}; did you mean '{dotted([*path[:-1], guess])}'?" if guess else message


def key_line(text: str, path: Sequence[str]) -> int | None:
    """The line of a TOML file that sets `path`, or the table or key holding it that comes closest;
    None when nothing does. A plain scan of `[table]` headers and `key =` lines: used for messages only."""
    table: list[str] = []
    best, best_depth = None, 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            header = stripped.lstrip("[").split("]", 1)[0]
            found = parse_quoted_key(header) if header.strip() else None
            if found is None:
                continue
            table = found
            candidate = table
        elif "=" in stripped and not stripped.startswith("#"):
            found = parse_quoted_key(stripped.split("=", 1)[0].strip())
            if found is None:
                continue
            candidate = [*table, *found]
        else:
            continue
        depth = len(candidate)
        if depth > best_depth and tuple(candidate) == tuple(path[:depth]):
            best, best_depth = number, depth
    return best


def check(value: Any, spec: Spec, path: KeyPath, layer: Layer, warnings: list[str]) -> Any:
    """Validate `value` against `spec`; return it cleaned of unknown keys (each one a warning)."""
    if isinstance(spec, Extra):
        return value
    if isinstance(spec, Table | MapOf):
        if not isinstance(value, dict):
            raise layer.error(path, f"expected a table, got {show(value)}")
        return _check_table(value, spec, path, layer, warnings)
    try:
        return spec(value)
    except Bad as bad:
        raise layer.error(path, str(bad)) from None


def _check_table(value: dict[str, Any], spec: Table | MapOf, path: KeyPath, layer: Layer,
                 warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(spec, MapOf):
            if not key.strip():
                raise layer.error(path, "names here cannot be empty")
            out[key] = check(item, spec.item, (*path, key), layer, warnings)
        elif key in spec.fields:
            out[key] = check(item, spec.fields[key], (*path, key), layer, warnings)
        else:
            warnings.append(layer.unknown((*path, key), list(spec.fields)))
    return out


def _nest(path: Sequence[str], value: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
    root = {} if into is None else into
    node = root
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return root


def override_layer(text: str, warnings: list[str]) -> tuple[Layer, dict[str, Any]]:
    path, value, raw = split_override(text)
    layer = Layer(f"-c {text}", f"in -c {text}", tuple(path), command_line=True)
    return layer, check(_nest(path, _coerce_for_key(path, value, raw)), ROOT, (), layer, warnings)


def _coerce_for_key(path: Sequence[str], value: Any, raw: str) -> Any:
    """`-c model=3` means the string "3": a bare scalar that does not fit its key but whose text does
    becomes that text."""
    spec = spec_at(path)
    if isinstance(value, str | list | dict) or not callable(spec) or isinstance(spec, Extra):
        return value
    try:
        return spec(value)
    except Bad:
        pass
    try:
        return spec(raw)
    except Bad:
        return value


def flags_layer(flags: Mapping[str, Any], warnings: list[str]) -> tuple[Layer, dict[str, Any]]:
    layer = Layer("command line", "on the command line", command_line=True)
    nested: dict[str, Any] = {}
    for key, value in flags.items():
        if value is not None:
            _nest(key.split("."), value, nested)
    return layer, check(nested, ROOT, (), layer, warnings)


def _read_toml(path: Path) -> tuple[dict[str, Any], str] | None:
    """The parsed file and its text, or None if it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, exc)) from None


def _toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    head, marker, tail = message.rpartition(" (at line ")
    if marker and tail.endswith(")"):
        line, _, column = tail[:-1].partition(", column ")
        if line.isdigit() and column.isdigit():
            return f"{path}:{line}:{column}: invalid TOML: {head}"
    return f"{path}: invalid TOML: {message}"


def file_layer(path: Path, spec: Table, warnings: list[str], sources: list[Path]
                ) -> tuple[Layer, dict[str, Any]] | None:
    read = _read_toml(path)
    if read is None:
        return None
    data, text = read
    sources.append(path)
    layer = Layer(str(path), f"in {path}", text=text)
    return layer, check(data, spec, (), layer, warnings)


# ----------------------------------------------------------------------------------------- profiles


def _profile_file(home: Path, name: str) -> Path | None:
    separators = [sep for sep in (os.sep, os.altsep, "/") if sep]
    plain = name.strip() and name not in (".", "..") and not any(sep in name for sep in separators)
    return home / f"{name}.config.toml" if plain else None


def profile_layers(name: str, home: Path, profiles: Mapping[str, Any], warnings: list[str],
                    sources: list[Path], *, command_line: bool = False) -> list[tuple[Layer, dict[str, Any]]]:
    """The layers of profile `name`; `command_line`: named by `-p`/`-c profile=` (an unknown one: exit 2)."""
    config_path = home / "config.toml"
    layers: list[tuple[Layer, dict[str, Any]]] = []
    if name in profiles:
        layers.append((Layer(f"profile '{name}' ({config_path})", f"in profile '{name}'"), profiles[name]))
    path = _profile_file(home, name)
    layer = file_layer(path, PROFILE, warnings, sources) if path is not None else None
    if layer is not None:
        layers.append(layer)
    if not layers:
        raise ConfigError(_unknown_profile(name, home, profiles),
                          exit_code=UsageError.exit_code if command_line else None)
    return layers


def _unknown_profile(name: str, home: Path, profiles: Mapping[str, Any]) -> str:
    config_path = home / "config.toml"
    in_table = sorted(profiles)
    try:
        in_files = sorted(p.name.removesuffix(".config.toml") for p in home.glob("*.config.toml"))
    except OSError:
        in_files = []
    if not in_table and not in_files:
        return (f"unknown profile '{name}'; no profiles are defined "
                f"(add [profiles.{name}] to {config_path}, or create {home / (name + '.config.toml')})")
    known = ", ".join(sorted({*in_table, *in_files}))
    if in_files and in_table:
        where = f"[profiles.*] in {config_path} and {home}/*.config.toml"
    elif in_files:
        where = f"{home}/*.config.toml"
    else:
        where = str(config_path)
    return f"unknown profile '{name}'; known profiles: {known} (defined in {where})"


def merge_layers(layers: Sequence[tuple[Layer, dict[str, Any]]]
                  ) -> tuple[dict[str, Any], dict[KeyPath, Layer]]:
    merged: dict[str, Any] = {}
    origins: dict[KeyPath, Layer] = {}
    for layer, data in layers:
        _merge(merged, data, layer, origins, ())
    return merged, origins


def _merge(into: dict[str, Any], new: Mapping[str, Any], layer: Layer, origins: dict[KeyPath, Layer],
           prefix: KeyPath) -> None:
    """Deep-merge `new` into `into`: tables merge, anything else replaces. Records each leaf's layer."""
    for key, value in new.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            if not isinstance(into.get(key), dict):
                _forget(origins, path)
                into[key] = {}
            _merge(into[key], value, layer, origins, path)
        else:
            _forget(origins, path)
            into[key] = list(value) if isinstance(value, list) else value
            origins[path] = layer


def _forget(origins: dict[KeyPath, Layer], path: KeyPath) -> None:
    for stale in [p for p in origins if p[: len(path)] == path]:
        del origins[stale]
