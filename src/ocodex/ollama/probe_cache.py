"""What the readiness probes found, remembered per server and model, so a warm run skips them.

One JSON file, `$OCODEX_HOME/cache/oss-probes.json`, maps a key (the server root, the model asked for and the
configured window) to an entry: the Ollama version, the server's spelling of the model and its digest, its
details (capabilities, family, sampling, context length, num_ctx) and the context plan (the model requests go
to, the window, how it was learned). The file is ocodex's own, read and written as `ocodex.cache_file` says
(no symlinks followed, atomic writes, anything odd reads as "nothing cached").
The model's commands never run with write access to `$OCODEX_HOME` unless the user gave them full access.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocodex.cache_file import newest, read_entries, stamped, write_entries

FORMAT = 1
MAX_ENTRIES = 64
"""The oldest entries are dropped beyond this many (servers and models come and go)."""


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
        return read_entries(self.path, FORMAT)

    def get(self, key: ProbeKey) -> dict[str, Any] | None:
        return self._read().get(key.text())

    def put(self, key: ProbeKey, entry: dict[str, Any]) -> None:
        entries = self._read()
        entries[key.text()] = stamped(entry)
        self._write(newest(entries, MAX_ENTRIES))

    def drop(self, key: ProbeKey) -> None:
        entries = self._read()
        if entries.pop(key.text(), None) is not None:
            self._write(entries)

    def _write(self, entries: dict[str, Any]) -> None:
        write_entries(self.path, FORMAT, entries)
