"""The human face of `ocodex exec`: progress on stderr, the final answer alone on stdout.

Colours are plain ANSI escapes, used only when the stream is a terminal (or `--color always`), so
piping stdout into a file or another program gets exactly the answer text. Every string an event
carries (model text, commands, paths, server messages, session data) passes `terminal_safe` before
it is styled and printed: only this renderer's own colour codes reach the terminal. A command's
output is previewed in a few lines, each cut to about the terminal's width. ocodex's own events are
said with their `text()` (warnings prefixed), and a pull's progress is drawn from its `PullProgress`
events (a rich bar on a terminal, sparse lines on a pipe). Every file change is shown with its paths
relative to the workspace and the first lines of its diff (`render.diff`). On a terminal a turn also
gets a live indicator below the output (`render.live`: seconds, tokens/s, the running command's last
lines); a pipe gets plain lines only. As exec's face it answers approval requests by policy, which for
exec is never to ask: it says no.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import TextIO

from ocodex.approval import ApprovalRequest, Decision, PullRequest
from ocodex.errors import output_failed
from ocodex.events import (
    AgentMessage,
    AssemblyEnded,
    AssemblyProgress,
    CommandExecution,
    ErrorItem,
    Event,
    FileChange,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    McpToolCall,
    Note,
    PullEnded,
    PullProgress,
    Reasoning,
    Reconnecting,
    SessionConfigured,
    StreamErrorEvent,
    ThreadStarted,
    TodoList,
    TurnCompleted,
    TurnFailed,
)
from ocodex.redact import scrub
from ocodex.render.diff import summary
from ocodex.render.live import LiveRegion, Ticker, TurnProgress, columns
from ocodex.render.progress import PullDrawing
from ocodex.render.safe import terminal_safe, valid_unicode

_STYLES = {"bold": "1", "dim": "2", "italic": "3", "red": "31", "green": "32", "yellow": "33",
           "blue": "34", "magenta": "35", "cyan": "36"}
_KIND = {"add": "A", "update": "M", "delete": "D"}
_PREVIEW_LINES = 6
DIFF_LINES = 8  # of each file's diff shown after a change


_ELLIPSIS = "…"


def _cut(line: str, width: int) -> str:
    """One line of a command's output, at most `width` characters (a CRLF's CR is a line ending)."""
    line = line.removesuffix("\r")
    if len(line) <= width:
        return line
    return f"{line[:max(width - 1, 1)]}{_ELLIPSIS} ({len(line) - width + 1:,} more chars)"


def _mcp_call(call: McpToolCall) -> str:
    """`server.tool {arguments}` on one line, the arguments cut at 160 characters."""
    import json

    args = json.dumps(call.arguments, ensure_ascii=False)
    if len(args) > 160:
        args = args[:159] + "…"
    return f"{call.server}.{call.tool} {args}"  # made terminal-safe where it is styled


def _mcp_text(result: dict | None) -> str:
    """An MCP result's content as preview text: its text blocks, one `[kind]` marker for anything else."""
    parts = []
    for block in (result or {}).get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            mime = block.get("mimeType") or (block.get("resource") or {}).get("mimeType")
            parts.append(f"[{block.get('type', 'content')}{' ' + str(mime) if mime else ''}]")
    return "\n".join(parts) if parts else "(no content)"


class HumanRenderer:
    def __init__(self, out: TextIO, err: TextIO, *, color: bool,
                 answer: Callable[[str], None] | None = None, live: bool | None = None,
                 progress: TurnProgress | None = None) -> None:
        self.out = out
        self.err = err
        self.color = color
        self.answer = answer  # prints the final answer (e.g. as Markdown); default: plain text on `out`
        # An agent message is held back until we know whether it is the final answer (which goes
        # to stdout only) or a remark between tool calls (shown here on stderr).
        self._pending_message: str | None = None
        self._last_error: str | None = None  # a failed turn repeating its error item is not shown twice
        self._last_plan: list[tuple[str, bool]] | None = None  # nor an unchanged plan
        self._mcp_started: set[str] = set()  # MCP calls under way (one completed unstarted was declined)
        self.width = max(shutil.get_terminal_size((100, 24)).columns - 4, 40)  # of an output preview line
        self._pull = PullDrawing(err)
        self.cwd: str | None = None  # the workspace, once the session is configured: paths are shown from it
        # A terminal gets a live region below the output while a turn runs (default: when `err` is one).
        self.live = LiveRegion(err) if (_isatty(err) if live is None else live) else None
        self.progress = progress or TurnProgress()
        self._ticker = Ticker(self.redraw)

    def style(self, text: str, *names: str) -> str:
        """`text` made terminal-safe, then coloured."""
        text = terminal_safe(text)
        if not self.color or not names:
            return text
        codes = ";".join(_STYLES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def note(self, text: str) -> None:
        """A line of the face's own (a banner, the prompt echo), dimmed."""
        self.line(self.style(text, "dim"))

    def line(self, text: str = "") -> None:
        text = scrub(text) + "\n"  # registered secrets never reach the terminal
        if self.live is not None:
            self.live.print(text)
            return
        self.err.write(text)
        self.err.flush()

    def redraw(self) -> None:
        """Draw the live region again (the ticker calls this a few times a second)."""
        if self.live is None:
            return
        with self.live.lock:
            if not self.progress.running:
                return
            self.progress.frame += 1
            self.live.show(self.progress.lines(columns(self.live.stream), self.style))

    def approve(self, request: ApprovalRequest) -> Decision:
        """exec asks about nothing the model does (as Codex exec: its policy is `never`, so a tool's question
        is answered no). A large pull is asked about when a person is at the terminal (stdin and stderr
        are one), and goes ahead in a script, as the seed guide has it."""
        if not isinstance(request, PullRequest):
            return "no"
        stdin = sys.stdin
        if stdin is None or not _isatty(stdin) or not _isatty(self.err):
            return "yes"
        question = (self.style("? ", "yellow", "bold") + self.style(
            f"{request.model} is not on the server: download {request.size / 1024**3:.1f} GiB to it?", "bold")
            + " " + self.style("[y/N]", "dim") + " ")
        try:
            self.err.write(question)
            self.err.flush()
            answer = stdin.readline()
        except (OSError, ValueError):
            return "no"
        return "yes" if answer.strip().lower() in ("y", "yes") else "no"

    def __call__(self, event: Event) -> None:
        self.on_event(event)

    def on_event(self, event: Event) -> None:
        if self.live is None:
            self._render(event)
            return
        with self.live.lock:
            running = self.progress.running
            self.progress.observe(event)
            if not self.progress.running:
                self._ticker.stop()
                self.live.clear()
            self._render(event)
            if self.progress.running:
                if not running:
                    self._ticker.start()
                self.redraw()

    def _render(self, event: Event) -> None:
        ends_turn = isinstance(event, TurnCompleted) or (
            isinstance(event, ItemCompleted) and isinstance(event.item, TodoList))
        if self._pending_message is not None and not ends_turn:
            self.line(self.style("ocodex", "magenta", "bold"))
            self.line(terminal_safe(self._pending_message))
            self._pending_message = None
        match event:
            case PullProgress() | PullEnded() | AssemblyProgress() | AssemblyEnded():
                self._pull(event)
            case ThreadStarted(thread_id=thread_id):
                self.line(self.style(f"session id: {thread_id}", "dim"))
            case SessionConfigured(cwd=cwd):
                self.cwd = cwd
                self.line(self.style(event.text(), "dim"))
            case ItemStarted(item=CommandExecution() as item):
                self.line(self.style("exec ", "magenta", "bold") + self.style(item.command, "bold"))
            case ItemStarted(item=McpToolCall() as item):
                self._mcp_started.add(item.id)
                self.line(self.style("mcp ", "magenta", "bold") + self.style(_mcp_call(item), "bold"))
            case ItemCompleted(item=item):
                self._completed(item)
            case ItemStarted(item=TodoList() as item) | ItemUpdated(item=TodoList() as item):
                self._plan(item)
            case StreamErrorEvent(message=message) | Reconnecting(message=message):
                self.line(self.style(message, "yellow"))
            case TurnCompleted(usage=usage):
                total = usage.input_tokens + usage.output_tokens
                self.line(self.style("tokens used", "magenta", "bold") + self.style(
                    f" {total:,} (in {usage.input_tokens:,}, cached {usage.cached_input_tokens:,}, "
                    f"out {usage.output_tokens:,})", "dim"))
            case TurnFailed(message=message):
                if message != self._last_error:
                    self.line(self.style("error: ", "red", "bold") + terminal_safe(message))
            case _ if isinstance(event, Note):  # ocodex's own events: warnings and notes
                if event.level == "warning":
                    self.line(self.style("warning: ", "yellow", "bold") + self.style(event.text()))
                else:
                    self.line(self.style(event.text(), "dim"))
            case _:
                pass

    def _completed(self, item: object) -> None:
        match item:
            case AgentMessage(text=text):
                self._pending_message = text
            case Reasoning(text=text):
                self.line(self.style("thinking", "magenta", "italic"))
                self.line(self.style(text, "dim", "italic"))
            case CommandExecution(status="declined") as command:
                self.line(self.style("declined", "yellow", "bold") + " " + self.style(command.command))
            case CommandExecution() as command:
                ok = command.exit_code == 0
                mark = self.style("✓", "green") if ok else self.style("✗", "red")
                self.line(f"{mark} exit {command.exit_code}")
                output = command.aggregated_output.rstrip("\n")
                total = output.count("\n") + 1 if output else 0  # up to 8 MiB: count, don't split it all
                for text in output.split("\n", _PREVIEW_LINES)[:min(total, _PREVIEW_LINES)]:
                    self.line(self.style("  " + _cut(text, self.width), "dim"))
                if total > _PREVIEW_LINES:
                    self.line(self.style(f"  … {total - _PREVIEW_LINES} more lines", "dim"))
            case McpToolCall() as call:
                self._mcp_result(call)
            case FileChange() as change:
                self.line(self.style("apply_patch", "magenta", "bold") + f" {change.status}")
                if change.diff:
                    self.line("\n".join(summary(change.diff, self.style, lines_per_file=DIFF_LINES)))
                    return
                for update in change.changes:
                    self.line(f"  {self.style(_KIND[update.kind], 'cyan')} {self.style(self.shown(update.path))}")
            case TodoList() as plan:
                self._plan(plan)
            case ErrorItem(message=message):
                self._last_error = message
                self.line(self.style("error: ", "red", "bold") + terminal_safe(message))

    def _mcp_result(self, call: McpToolCall) -> None:
        if call.id not in self._mcp_started:  # stopped by the approval gate before it started
            self.line(self.style("declined", "yellow", "bold") + " " + self.style(f"mcp {_mcp_call(call)}"))
            if call.error:
                self.line(self.style(f"  {call.error}", "dim"))
            return
        self._mcp_started.discard(call.id)
        ok = call.status == "completed"
        mark = self.style("✓", "green") if ok else self.style("✗", "red")
        text = f"error: {call.error}" if call.error is not None else _mcp_text(call.result)
        lines = text.rstrip("\n").split("\n", _PREVIEW_LINES)
        self.line(f"{mark} {terminal_safe(_cut(lines[0], self.width))}")
        for line in lines[1:_PREVIEW_LINES]:
            self.line(self.style("  " + _cut(line, self.width), "dim"))
        if len(lines) > _PREVIEW_LINES:
            self.line(self.style("  …", "dim"))

    def shown(self, path: str) -> str:
        """`path` relative to the workspace when inside it."""
        if self.cwd is None:
            return path
        relative = os.path.relpath(path, self.cwd)
        return path if relative == ".." or relative.startswith("../") else relative

    def _plan(self, plan: TodoList) -> None:
        shown = [(entry.text, entry.completed) for entry in plan.items]
        if shown == self._last_plan:  # the turn's end completes the item: no need to repeat it
            return
        self._last_plan = shown
        self.line(self.style("plan", "magenta", "bold"))
        for entry in plan.items:
            box = "[x]" if entry.completed else "[ ]"
            self.line(f"  {box} {terminal_safe(entry.text)}")

    def final_message(self, text: str) -> None:
        self._pending_message = None
        # On a pipe the answer is printed exactly (lone surrogates, which UTF-8 cannot carry, as U+FFFD).
        text = valid_unicode(scrub(text))
        if self.out.isatty():
            text = terminal_safe(text)
        if self.answer is not None:
            self.answer(text)
            return
        try:
            self.out.write(text.rstrip("\n") + "\n")
            self.out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # e.g. `> /dev/full`
            raise output_failed(exc, run=True) from None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
