"""The `--json` face: one Codex-schema JSON object per line on stdout, nothing else there.

`Notice` events are for people, so they go to stderr as plain lines.
"""

from __future__ import annotations

from typing import TextIO

from ocodex import jsontext
from ocodex.events import Event, Notice
from ocodex.redact import scrub, scrub_value
from ocodex.render.safe import terminal_safe


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
        # One line per event for every reader (odd line breaks escaped), lone surrogates escaped too.
        self.out.write(jsontext.dumps(scrub_value(event.to_dict())) + "\n")
        self.out.flush()

    def final_message(self, text: str) -> None:
        """The final answer is already an agent_message item; nothing more goes to stdout."""
