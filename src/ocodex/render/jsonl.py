"""The `--json` face: one Codex-schema JSON object per line on stdout, nothing else there.

`Notice` events are for people, so they go to stderr as plain lines.
"""

from __future__ import annotations

import json
from typing import TextIO

from ocodex.events import Event, Notice
from ocodex.redact import scrub, scrub_value
from ocodex.render.safe import terminal_safe

# Characters other than "\n" that Python's str.splitlines() (and some JavaScript readers) treat as line
# breaks. JSON may carry them raw inside strings; escaped, one event stays one line for every reader.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class JsonlRenderer:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            self.err.write(f"{terminal_safe(scrub(event.message))}\n")
            self.err.flush()
            return
        # Last line of defence: a registered secret (API key, proxy password) that reached an event,
        # e.g. because the model printed a config file, is masked before it is printed.
        line = json.dumps(scrub_value(event.to_dict()), ensure_ascii=False, separators=(",", ":"))
        for char, escaped in _LINE_BREAKS.items():
            if char in line:
                line = line.replace(char, escaped)
        self.out.write(line + "\n")
        self.out.flush()

    def final_message(self, text: str) -> None:
        """The final answer is already an agent_message item; nothing more goes to stdout."""
