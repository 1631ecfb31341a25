"""`ocodex mcp add` / `ocodex mcp remove`: one `[mcp_servers.NAME]` table in or out of config.toml.

The rest of the file stays as the user wrote it, comments and formatting included: a new table is
rendered by tomlkit and inserted after the last `[mcp_servers.*]` table (or at the end), a removed one
is cut out line by line (its header, keys and sub-tables; the comments just above the next table stay
with that table). Every edit is checked: the new text must parse to exactly the old settings plus or
minus that one server. A file laid out so that the line edit cannot do that (an inline `mcp_servers`
table, say) is edited through tomlkit's document model instead, checked the same way; if that fails
too, nothing is written. The file is replaced atomically (a temp file, then a rename; the target of a
symlink is what changes) and keeps its permissions (0600 when it is new).
"""

from __future__ import annotations

import contextlib
import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ocodex.config.overrides import parse_quoted_key
from ocodex.errors import ConfigError

_Path = tuple[str, ...]


def _parse_path(text: str) -> _Path | None:
    """The dotted key of a `[header]` or `key =` left-hand side, or None (read as `-c` reads its keys)."""
    path = parse_quoted_key(text) if text.strip() else None
    return tuple(path) if path else None


def _header(line: str) -> _Path | None:
    stripped = line.strip()
    if not stripped.startswith("[") or stripped.startswith("[["):
        return None
    inside, close, _rest = stripped[1:].partition("]")
    return _parse_path(inside) if close else None


def _blocks(lines: list[str]) -> list[tuple[_Path, int, int]]:
    """(table path, first line, end line) of each `[table]` block; the root block has path ()."""
    starts = [(0, ())] + [(i, h) for i, line in enumerate(lines) if (h := _header(line)) is not None]
    out = []
    for number, (start, path) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(lines)
        out.append((path, start, end))
    return out


def _trailing_trivia(lines: list[str], start: int, end: int) -> int:
    """Where the comments and blank lines at the end of a block begin (they belong to what follows)."""
    cut = end
    while cut > start + 1 and (not lines[cut - 1].strip() or lines[cut - 1].lstrip().startswith("#")):
        cut -= 1
    return cut


def _is_server(path: _Path, name: str) -> bool:
    return path[:2] == ("mcp_servers", name)


def _render(name: str, table: Mapping[str, Any]) -> str:
    import tomlkit

    document = tomlkit.document()
    servers = tomlkit.table(is_super_table=True)
    body = tomlkit.table()
    for key, value in table.items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            body[key] = inline
        else:
            body[key] = value
    servers[name] = body
    document["mcp_servers"] = servers
    return tomlkit.dumps(document)


def _line_add(text: str, name: str, table: Mapping[str, Any]) -> str:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    rendered = _render(name, table)
    ours = [b for b in _blocks(lines) if b[0][:1] == ("mcp_servers",)]
    if not ours:
        spacer = ["\n"] if lines and lines[-1].strip() else []
        return "".join([*lines, *spacer, rendered])
    _path, start, end = ours[-1]
    at = _trailing_trivia(lines, start, end)
    return "".join([*lines[:at], "\n", rendered, *lines[at:]])


def _line_remove(text: str, name: str) -> str:
    lines = text.splitlines(keepends=True)
    keep = [True] * len(lines)
    blocks = _blocks(lines)
    for index, (path, start, end) in enumerate(blocks):
        if not _is_server(path, name):
            continue
        following_removed = index + 1 < len(blocks) and _is_server(blocks[index + 1][0], name)
        stop = end if following_removed else _trailing_trivia(lines, start, end)
        for number in range(start, stop):
            keep[number] = False
    # Keys that set the server from above it: `docs = {...}` under [mcp_servers], `mcp_servers.docs.x = 1`.
    for path, start, end in blocks:
        if _is_server(path, name):
            continue
        for number in range(start + (1 if path else 0), end):
            left = lines[number].split("=", 1)[0] if "=" in lines[number] else ""
            key = _parse_path(left.strip()) if left.strip() and not left.lstrip().startswith("#") else None
            if key is not None and _is_server((*path, *key), name):
                keep[number] = False
    kept: list[str] = []
    cut = False  # lines were removed since the last kept line
    for line, wanted in zip(lines, keep, strict=True):
        if not wanted:
            cut = True
            continue
        if cut and not line.strip() and (not kept or not kept[-1].strip()):
            continue  # no run of blank lines where a table was taken out
        kept.append(line)
        cut = False
    while kept and not kept[-1].strip() and (len(kept) == 1 or not kept[-2].strip()):
        kept.pop()
    return "".join(kept)


def _model_edit(text: str, name: str, table: Mapping[str, Any] | None) -> str:
    import tomlkit

    document = tomlkit.parse(text)
    servers = document.get("mcp_servers")
    if table is None:
        if servers is not None and name in servers:
            del servers[name]
        return tomlkit.dumps(document)
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        document["mcp_servers"] = servers
    servers[name] = copy.deepcopy(dict(table))
    return tomlkit.dumps(document)


def _checked(candidates: list[Any], expected: dict[str, Any]) -> str | None:
    """The first candidate edit whose text parses to exactly `expected`."""
    for make in candidates:
        try:
            text = make()
            if tomllib.loads(text) == expected:
                return text
        except Exception:  # a candidate that fails is simply not used
            continue
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {getattr(exc, 'strerror', None) or exc}") from None


def _write(path: Path, text: str) -> None:
    target = Path(os.path.realpath(path))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    tmp = target.with_name(f".{target.name}.ocodex-tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            if tmp.exists():
                tmp.unlink()
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}",
                          f"check that {target.parent} is writable; nothing was changed") from None


def add_server(path: Path, name: str, table: Mapping[str, Any]) -> bool:
    """Put `[mcp_servers.NAME]` = `table` into the file (replacing a server of that name); True when
    one was replaced."""
    text = _read(path)
    old = tomllib.loads(text)
    replaced = isinstance(old.get("mcp_servers"), dict) and name in old["mcp_servers"]
    expected = copy.deepcopy(old)
    expected.setdefault("mcp_servers", {})[name] = copy.deepcopy(dict(table))
    base = _line_remove(text, name) if replaced else text
    new = _checked([lambda: _line_add(base, name, table), lambda: _model_edit(text, name, table)], expected)
    if new is None:
        raise ConfigError(f"{path}: could not add [mcp_servers.{name}] without changing other settings",
                          "add the table by hand; nothing was changed")
    _write(path, new)
    return replaced


def remove_server(path: Path, name: str) -> None:
    """Take `[mcp_servers.NAME]` out of the file; a ConfigError when there is no such server."""
    text = _read(path)
    old = tomllib.loads(text)
    servers = old.get("mcp_servers") if isinstance(old.get("mcp_servers"), dict) else {}
    if name not in servers:
        known = ", ".join(sorted(servers)) or "none"
        raise ConfigError(f"no MCP server named '{name}' in {path} (configured: {known})",
                          "`ocodex mcp list` shows the configured servers")
    expected = copy.deepcopy(old)
    del expected["mcp_servers"][name]
    if not expected["mcp_servers"] and not _has_own_header(text):
        del expected["mcp_servers"]
    candidates = [lambda: _line_remove(text, name), lambda: _model_edit(text, name, None)]
    new = _checked(candidates, expected)
    if new is None and "mcp_servers" not in expected:  # an `[mcp_servers]` left empty is fine too
        new = _checked(candidates, {**expected, "mcp_servers": {}})
    if new is None:
        raise ConfigError(f"{path}: could not remove [mcp_servers.{name}] without changing other settings",
                          "remove the table by hand; nothing was changed")
    _write(path, new)


def _has_own_header(text: str) -> bool:
    return any(_header(line) == ("mcp_servers",) for line in text.splitlines())
