"""The human face of `ocodex exec`: progress on stderr, the final answer alone on stdout.

Colours are plain ANSI escapes, used only when the stream is a terminal (or `--color always`), so
piping stdout into a file or another program gets exactly the answer text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TextIO

from ocodex.events import (
    AgentMessage,
    CommandExecution,
    ErrorItem,
    Event,
    FileChange,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    Notice,
    Reasoning,
    StreamErrorEvent,
    ThreadStarted,
    TodoList,
    TurnCompleted,
    TurnFailed,
)
from ocodex.redact import scrub

_STYLES = {"bold": "1", "dim": "2", "italic": "3", "red": "31", "green": "32", "yellow": "33",
           "blue": "34", "magenta": "35", "cyan": "36"}
_KIND = {"add": "A", "update": "M", "delete": "D"}
_PREVIEW_LINES = 6


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(line: str) -> str:
    """A line of a command's output made safe for the terminal: what follows its last carriage
    return (as a terminal would show a progress line), with escape sequences and other control
    characters shown as U+FFFD, so a file the model `cat`s cannot drive the user's terminal."""
    return _CONTROL.sub("\ufffd", line.rstrip("\r").rsplit("\r", 1)[-1])


def _clean(text: str) -> str:
    """Model-written text (messages, reasoning) with control characters other than newline and tab
    shown as U+FFFD: a model must not be able to drive the user's terminal either."""
    return _CONTROL.sub("\ufffd", text)


class HumanRenderer:
    def __init__(self, out: TextIO, err: TextIO, *, color: bool,
                 answer: Callable[[str], None] | None = None) -> None:
        self.out = out
        self.err = err
        self.color = color
        self.answer = answer  # prints the final answer (e.g. as Markdown); default: plain text on `out`
        # An agent message is held back until we know whether it is the final answer (which goes
        # to stdout only) or a remark between tool calls (shown here on stderr).
        self._pending_message: str | None = None
        self._last_error: str | None = None  # a failed turn repeating its error item is not shown twice
        self._last_plan: list[tuple[str, bool]] | None = None  # nor an unchanged plan

    def style(self, text: str, *names: str) -> str:
        if not self.color or not names:
            return text
        codes = ";".join(_STYLES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def line(self, text: str = "") -> None:
        self.err.write(scrub(text) + "\n")  # registered secrets never reach the terminal
        self.err.flush()

    def __call__(self, event: Event) -> None:
        ends_turn = isinstance(event, TurnCompleted) or (
            isinstance(event, ItemCompleted) and isinstance(event.item, TodoList))
        if self._pending_message is not None and not ends_turn:
            self.line(self.style("ocodex", "magenta", "bold"))
            self.line(_clean(self._pending_message))
            self._pending_message = None
        match event:
            case Notice(message=message, level=level):
                prefix = self.style("warning: ", "yellow", "bold") if level == "warning" else ""
                self.line(prefix + (message if level == "warning" else self.style(message, "dim")))
            case ThreadStarted(thread_id=thread_id):
                self.line(self.style(f"session id: {thread_id}", "dim"))
            case ItemStarted(item=CommandExecution() as item):
                self.line(self.style("exec ", "magenta", "bold") + self.style(item.command, "bold"))
            case ItemCompleted(item=item):
                self._completed(item)
            case ItemStarted(item=TodoList() as item) | ItemUpdated(item=TodoList() as item):
                self._plan(item)
            case StreamErrorEvent(message=message):
                self.line(self.style(message, "yellow"))
            case TurnCompleted(usage=usage):
                total = usage.input_tokens + usage.output_tokens
                self.line(self.style("tokens used", "magenta", "bold") + self.style(
                    f" {total:,} (in {usage.input_tokens:,}, cached {usage.cached_input_tokens:,}, "
                    f"out {usage.output_tokens:,})", "dim"))
            case TurnFailed(message=message):
                if message != self._last_error:
                    self.line(self.style("error: ", "red", "bold") + message)
            case _:
                pass

    def _completed(self, item: object) -> None:
        match item:
            case AgentMessage(text=text):
                self._pending_message = text
            case Reasoning(text=text):
                self.line(self.style("thinking", "magenta", "italic"))
                self.line(self.style(_clean(text), "dim", "italic"))
            case CommandExecution() as command:
                ok = command.exit_code == 0
                mark = self.style("✓", "green") if ok else self.style("✗", "red")
                self.line(f"{mark} exit {command.exit_code}")
                output = command.aggregated_output.rstrip("\n")
                total = output.count("\n") + 1 if output else 0  # up to 8 MiB: count, don't split it all
                for text in output.split("\n", _PREVIEW_LINES)[:min(total, _PREVIEW_LINES)]:
                    self.line(self.style("  " + _printable(text), "dim"))
                if total > _PREVIEW_LINES:
                    self.line(self.style(f"  … {total - _PREVIEW_LINES} more lines", "dim"))
            case FileChange() as change:
                self.line(self.style("apply_patch", "magenta", "bold") + f" {change.status}")
                for update in change.changes:
                    self.line(f"  {self.style(_KIND[update.kind], 'cyan')} {update.path}")
            case TodoList() as plan:
                self._plan(plan)
            case ErrorItem(message=message):
                self._last_error = message
                self.line(self.style("error: ", "red", "bold") + message)

    def _plan(self, plan: TodoList) -> None:
        shown = [(entry.text, entry.completed) for entry in plan.items]
        if shown == self._last_plan:  # the turn's end completes the item: no need to repeat it
            return
        self._last_plan = shown
        self.line(self.style("plan", "magenta", "bold"))
        for entry in plan.items:
            box = "[x]" if entry.completed else "[ ]"
            self.line(f"  {box} {entry.text}")

    def final_message(self, text: str) -> None:
        self._pending_message = None
        text = scrub(text)
        if self.out.isatty():
            text = _clean(text)
        if self.answer is not None:
            self.answer(text)
            return
        self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()
