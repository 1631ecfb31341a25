"""Loop detection: ending a turn that burns context without getting anywhere.

This module owns the rules for "the model is stuck": the same tool call with the same arguments and
the same result `max_repeats` times since the workspace last changed, `max_idle` requests in a row that made no
progress (every call a repeat or an error), or `max_tool_errors` failed tool calls in a row. A stuck
turn raises `Stuck`, which the loop turns into an error item and a failed turn (and which escalation
treats as the small model failing the task).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

from ocodex.errors import OcodexError

FailureKind = Literal["loop", "tool_errors", "context"]


class TaskFailure(OcodexError):
    """The model cannot finish the task this way; `kind` says why (escalation reads it)."""

    kind: FailureKind = "loop"

    def __init__(self, message: str, hint: str | None = None, *, kind: FailureKind = "loop") -> None:
        super().__init__(message, hint)
        self.kind = kind


class Stuck(TaskFailure):
    """A loop or a run of tool errors."""


_WALL_TIME = re.compile(r"^Wall time: .*$", re.MULTILINE)  # the shell tool's timing varies every run


def _canonical(name: str, arguments: str) -> str:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        return f"{name}:{arguments.strip()}"
    return f"{name}:{json.dumps(value, sort_keys=True, separators=(',', ':'))}"


@dataclass(slots=True)
class LoopGuard:
    """Notices a turn going round in circles: the same call with the same result, or only failures."""

    max_repeats: int = 3
    max_idle: int = 6
    max_tool_errors: int = 5
    _seen: dict[str, int] = field(default_factory=dict)
    _idle: int = 0
    _errors: int = 0
    _progress: bool = False

    def start_request(self) -> None:
        self._progress = False

    def record_call(self, name: str, arguments: str, *, success: bool, changed_files: bool,
                    output: str = "") -> None:
        """Account for one executed call; raises `Stuck` when the turn should end.

        A call counts as a repeat only when its `output` is also the same: re-running the tests after
        editing files through the shell (`sed -i`, a script) is a new question with a new answer.
        """
        key = _canonical(name, arguments) + "\0" + _WALL_TIME.sub("", output)
        count = self._seen.get(key, 0) + 1
        self._seen[key] = count
        if changed_files:
            self._seen.clear()  # the same command after an edit is a new question
        if success:
            self._errors = 0
            if count == 1 or changed_files:
                self._progress = True
        else:
            self._errors += 1
        if count >= self.max_repeats:
            raise Stuck(f"loop detected: the model called {name} with the same arguments {count} times "
                        "and got the same result; stopping the turn",
                        hint="try a larger model (-m, or --escalate), or rephrase the task")
        if self._errors >= self.max_tool_errors:
            raise Stuck(f"the model's last {self._errors} tool calls all failed; stopping the turn",
                        hint="try a larger model (-m, or --escalate), or rephrase the task",
                        kind="tool_errors")

    def end_request(self) -> None:
        """After a request whose calls all ran; raises `Stuck` after too many idle requests."""
        self._idle = 0 if self._progress else self._idle + 1
        if self._idle >= self.max_idle:
            raise Stuck(f"loop detected: {self._idle} model requests in a row made no progress "
                        "(only repeated or failing tool calls); stopping the turn",
                        hint="try a larger model (-m, or --escalate), or rephrase the task")
