"""The loop's side of a small model's help: the points where `Agent` hands a turn to its `Assist`.

`AssistedTurn` is mixed into `ocodex.agent.loop.Agent` (which owns the history, the tools and the events); the
decisions are `ocodex.agent.assist.Assist`'s. Here: the turn's opening message, the named check run through
the shell tool (so it is sandboxed, approved and shown like the model's own commands), a fresh attempt's
rewind (files restored through `write_file`, the history cut back to the prompt and recorded as after a
compaction), and a turn ocodex ends itself. A task that adds a command-line option also has its check's
command run without that option, before any change and after an edit that passed: it must print the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocodex.events import AgentMessage, Event, ItemCompleted
from ocodex.tools.base import ToolContext
from ocodex.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from ocodex.agent.assist import Assist

_EXIT_CODE = re.compile(r"^Exit code: (-?\d+)$", re.MULTILINE)  # the shell tool's report


class AssistedTurn:
    """What `Agent` does for its `Assist` (see the module docstring)."""

    assist: Assist | None
    tools: ToolRegistry
    ctx: ToolContext
    messages: list[dict[str, Any]]
    emit: Callable[[Event], None]
    on_compact: Callable[[list[dict[str, Any]]], None] | None
    _turn_start: int
    _opening_args: tuple[str, tuple[int, str] | None]
    add_message: Callable[[dict[str, Any]], None]  # Agent's: append to the history and record it

    def _finish_assisted(self, said: str, result: str) -> str:
        """End a turn ocodex ended (the named check passed, or kept failing): the model's words and the result."""
        text = "\n\n".join(part for part in (said, result) if part) or "Done."
        self.add_message({"role": "assistant", "content": text})
        self.emit(ItemCompleted(AgentMessage(self.ctx.ids.next(), text)))
        return text

    def _assisted_opening(self, prompt: str) -> None:
        """A small model's turn opens with the task's files and what its check says (`Assist.opening`)."""
        assert self.assist is not None
        self.assist.start_turn(prompt)
        check = self.assist.check
        before = self._run_check() if check is not None else None
        if check is not None and check.default is not None:
            self.assist.before(self._run_shell(check.default))
        self._opening_args = (prompt, before)
        opening = self.assist.opening(prompt, before)
        if opening is not None:
            self.add_message({"role": "user", "content": opening})

    def _start_afresh(self) -> None:
        """A small model's fresh attempt (`Assist.restart`): the files it wrote put back as they were, the
        conversation back to the prompt, the opening again with the last failure as a hint. The session
        file gets the rewritten history as after a compaction."""
        assert self.assist is not None
        hint, restore = self.assist.restart()
        for path, text in restore:
            self.tools.call("write_file", json.dumps({"path": path, "content": text}), self.ctx)
        del self.messages[self._turn_start:]
        opening = self.assist.opening(*self._opening_args, hint=hint)
        if opening is not None:
            self.messages.append({"role": "user", "content": opening})
        if self.on_compact is not None:
            self.on_compact(list(self.messages))

    def _run_check(self) -> tuple[int, str] | None:
        """The named check through the shell tool, as a command item: its exit code and output."""
        if self.assist is None or self.assist.check is None:
            return None
        return self._run_shell(self.assist.check.command)

    def _run_shell(self, command: str) -> tuple[int, str] | None:
        """`command` through the shell tool (sandboxed, approved, a command item): its exit code and output."""
        if "shell" not in self.tools.names():
            return None
        result = self.tools.call("shell", json.dumps({"command": ["bash", "-c", command]}), self.ctx)
        match = _EXIT_CODE.search(result.output)
        return (int(match.group(1)) if match else (0 if result.success else 1)), result.output

    def _check_after_edit(self) -> str | None:
        """Run the check the prompt named, after an edit (`ocodex.agent.checks`); what the model reads."""
        assist = self.assist
        if assist is None:
            return None
        assist.edited = True
        ran = self._run_check()
        if ran is None or assist.check is None:
            return None
        default = assist.check.default_to_run(*ran)  # the command without the option the task adds
        return assist.after_check(*ran, self._run_shell(default) if default is not None else None)
