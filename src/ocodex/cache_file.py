"""ocodex's own small JSON caches under `$OCODEX_HOME/cache`: read and written safely, never trusted blindly.

A cache file holds `{"format": N, "entries": {key: {...}}}`. The folder is created 0700; the file is read
without following a symlink (and at most `MAX_BYTES`), and written through a temp file renamed into place
(atomic: never a half-written file), never into a folder that is a symlink. Anything unreadable, corrupt or
of another format reads as "nothing cached" and is overwritten; a cache that cannot be written only makes
the next run slower. Users: `ocodex.ollama.probe_cache` (what the server probes found) and
`ocodex.sandbox.verified` (that the sandbox probe passed here).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

MAX_BYTES = 1 << 20


def read_entries(path: Path, format_: int) -> dict[str, dict[str, Any]]:
    """The entries of the cache file at `path`, or {} for anything but a readable file of `format_`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return {}
    try:
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read(MAX_BYTES + 1) or b"{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != format_ or not isinstance(data.get("entries"), dict):
        return {}
    return {key: value for key, value in data["entries"].items() if isinstance(value, dict)}


def newest(entries: dict[str, dict[str, Any]], keep: int) -> dict[str, dict[str, Any]]:
    """At most `keep` of `entries`, the most recently saved."""
    if len(entries) <= keep:
        return entries
    return dict(sorted(entries.items(), key=lambda item: item[1].get("saved", 0), reverse=True)[:keep])


def stamped(entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` with the time it is saved."""
    return {**entry, "saved": time.time()}


def write_entries(path: Path, format_: int, entries: dict[str, dict[str, Any]]) -> None:
    """Atomically replace the cache file at `path` (its folder created 0700); errors are swallowed."""
    folder = path.parent
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.is_symlink():
            return
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"format": format_, "entries": entries}, out)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
