"""The `--json` face: one Codex-schema JSON object per line on stdout, nothing else there.

`Notice` events are for people, so they go to stderr as plain lines.
"""

from __future__ import annotations

import json
from typing import TextIO

from ocodex.events import Event, Notice


class JsonlRenderer:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            self.err.write(f"{event.message}\n")
            self.err.flush()
            return
        self.out.write(json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
        self.out.flush()

    def final_message(self, text: str) -> None:
        """The final answer is already an agent_message item; nothing more goes to stdout."""
