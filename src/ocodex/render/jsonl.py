"""The `--json` face: one Codex-schema JSON object per line on stdout, nothing else there.

ocodex's own events are for people, so they go to stderr as plain lines (their `text()`); a pull's
progress becomes sparse plain lines there too, never a bar (a program is reading). As exec's face it
never asks for approval: it says no.
"""

from __future__ import annotations

from typing import TextIO

from ocodex import jsontext
from ocodex.approval import ApprovalRequest, Decision, PullRequest
from ocodex.errors import output_failed
from ocodex.events import AssemblyEnded, AssemblyProgress, Event, Note, PullEnded, PullProgress, is_codex_event
from ocodex.redact import scrub, scrub_value
from ocodex.render.progress import PullDrawing
from ocodex.render.safe import terminal_safe


class JsonlRenderer:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self._pull = PullDrawing(err, tty=False)

    def approve(self, request: ApprovalRequest) -> Decision:
        """exec never asks (as Codex exec): a tool's question is answered no; a large pull goes ahead, as the
        seed guide says a script's pull does."""
        return "yes" if isinstance(request, PullRequest) else "no"

    def __call__(self, event: Event) -> None:
        self.on_event(event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, PullProgress | PullEnded | AssemblyProgress | AssemblyEnded):
            self._pull(event)
            return
        if not is_codex_event(event):
            if isinstance(event, Note):
                self.err.write(f"{terminal_safe(scrub(event.text()))}\n")
                self.err.flush()
            return
        # Last line of defence: a registered secret (API key, proxy password) that reached an event,
        # e.g. because the model printed a config file, is masked before it is printed.
        # One line per event for every reader (odd line breaks escaped), lone surrogates escaped too.
        try:
            self.out.write(jsontext.dumps(scrub_value(event.to_dict())) + "\n")  # type: ignore[union-attr]
            self.out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # e.g. `> /dev/full`: the run stops (the session file has the event)
            raise output_failed(exc, run=True) from None

    def final_message(self, text: str) -> None:
        """The final answer is already an agent_message item; nothing more goes to stdout."""
