"""What the readiness probes found, remembered per server and model, so a warm run skips them.

One JSON file, `$OCODEX_HOME/cache/oss-probes.json`, maps a key (the server root, the model asked for and the
configured window) to an entry: the Ollama version, the server's spelling of the model and its digest, its
details (capabilities, family, sampling, context length, num_ctx) and the context plan (the model requests go
to, the window, how it was learned). The file is ocodex's own: the folder is created 0700, the file is read
without following a symlink and written through a temp file renamed into place (atomic, never a half-written
file), and anything unreadable, corrupt or of an unknown shape reads as "nothing cached" and is overwritten.
The model's commands never run with write access to `$OCODEX_HOME` unless the user gave them full access.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
MAX_ENTRIES = 64
"""The oldest entries are dropped beyond this many (servers and models come and go)."""
MAX_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ProbeKey:
    """Which probes an entry stands for: the server, the model asked for, and the configured window."""

    root: str
    model: str
    window: int | None  # model_context_window, which changes the plan

    def text(self) -> str:
        return f"{self.root}|{self.model}|{self.window or ''}"


class ProbeCache:
    """The probe cache under `home` (`$OCODEX_HOME`)."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "cache"
        self.path = self.folder / "oss-probes.json"

    def _read(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return {}
        try:
            with os.fdopen(fd, "rb") as handle:
                data = json.loads(handle.read(MAX_BYTES + 1) or b"{}")
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
            return {}
        return {key: value for key, value in data["entries"].items() if isinstance(value, dict)}

    def get(self, key: ProbeKey) -> dict[str, Any] | None:
        return self._read().get(key.text())

    def put(self, key: ProbeKey, entry: dict[str, Any]) -> None:
        entries = self._read()
        entries[key.text()] = {**entry, "saved": time.time()}
        if len(entries) > MAX_ENTRIES:
            newest = sorted(entries.items(), key=lambda item: item[1].get("saved", 0), reverse=True)[:MAX_ENTRIES]
            entries = dict(newest)
        self._write(entries)

    def drop(self, key: ProbeKey) -> None:
        entries = self._read()
        if entries.pop(key.text(), None) is not None:
            self._write(entries)

    def _write(self, entries: dict[str, Any]) -> None:
        """Atomically replace the file; a cache that cannot be written is only a slower next run."""
        with contextlib.suppress(OSError):
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.folder.is_symlink():
                return
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".oss-probes.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as out:
                    json.dump({"format": FORMAT, "entries": entries}, out)
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
