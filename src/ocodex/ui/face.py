"""The interactive session's face: the human renderer on one terminal, live, with approval questions.

It renders the thread's events as exec's human face does (commands, diffs, plans, notes), on stdout, and
adds what a person at the keyboard needs: the reply and reasoning streamed into the live region as they
arrive (`render.live`), answers as Markdown (rich, imported with the first answer), a footer after each
turn (model, context used of the window, sandbox and approval policy), and approval questions answered
with one key (`y`, `n`, `a` for always) read by the turn's `TurnKeys`.

Everything that comes from the model, a command, a session file or the server passes `terminal_safe`
(the renderer's `style`/`line`, `markup_safe` for rich), and registered secrets are masked.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocodex.approval import ApprovalRequest, CommandRequest, Decision, McpToolRequest, PatchRequest, PullRequest
from ocodex.events import Event, SessionConfigured, TurnCompleted, TurnFailed
from ocodex.render.diff import coloured
from ocodex.render.human import HumanRenderer
from ocodex.render.live import TurnProgress, columns, rows
from ocodex.render.progress import PullDrawing

if TYPE_CHECKING:
    from ocodex.thread import ThreadStatus
    from ocodex.ui.keys import TurnKeys

_DECISIONS: dict[str, Decision] = {"y": "yes", "n": "no", "a": "always"}
PATCH_QUESTION_LINES = 30  # of a patch's diff shown in its question; the rest is counted


class CurrentStdout:
    """Writes to whatever `sys.stdout` is now: the line editor replaces it while a prompt is shown (so
    text printed then appears above the prompt)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.__stdout__.isatty() if sys.__stdout__ is not None else False

    def fileno(self) -> int:
        return sys.__stdout__.fileno() if sys.__stdout__ is not None else 1


def footer(status: ThreadStatus) -> str:
    """model · context used/window (%) · sandbox · approval: what a person checks between turns."""
    parts = [status.model]
    window, used = status.context_window, status.last_prompt_tokens
    if window and used is not None:
        parts.append(f"context {used:,}/{window:,} ({min(100, round(100 * used / window))}%)")
    elif window:
        parts.append(f"context 0/{window:,} (0%)")
    else:
        parts.append("context window unknown")
    parts.append(f"{status.sandbox} · approval {status.approval}")
    return " · ".join(parts)


def context_bar(used: int | None, window: int | None, width: int = 30) -> str:
    """`[######--------]  1,234 / 4,096 tokens (30%)`, for /status."""
    if not window:
        return "unknown (the server does not report the window)"
    used = used or 0
    share = min(1.0, used / window)
    filled = round(share * width)
    return f"[{'#' * filled}{'-' * (width - filled)}]  {used:,} / {window:,} tokens ({round(100 * share)}%)"


class TerminalFace(HumanRenderer):
    """The live terminal face of the interactive session."""

    def __init__(self, *, color: bool, tty: bool, status: Callable[[], ThreadStatus | None] | None = None) -> None:
        # On a terminal everything goes to stdout, in order; on pipes answers go to stdout, the rest to stderr.
        out: Any = CurrentStdout() if tty else sys.stdout
        err: Any = out if tty else sys.stderr
        progress = TurnProgress(stream_text=True, interrupt_hint="esc to interrupt")
        super().__init__(out, err, color=color, answer=self._markdown if tty else None, live=tty, progress=progress)
        self.tty = tty
        self._pull = PullDrawing(err, tty=False)  # sparse lines: a bar would fight the prompt for the screen
        self.status = status
        self.keys: TurnKeys | None = None  # the running turn's keyboard, for approval questions

    # ---- what the human renderer does differently here -----------------------------------------

    def _render(self, event: Event) -> None:
        if isinstance(event, TurnCompleted):
            self._pending_message = None  # the answer is printed by `final_message`, after the turn
            return  # the footer follows the answer (`after_turn`), instead of a running token total
        if isinstance(event, TurnFailed) and self.progress.text.strip():
            # What the reply had said when it stopped stays on the screen (the model never finished it).
            self.line(self.style(self.progress.text.strip(), "dim"))
            self.progress.text = ""
        if isinstance(event, SessionConfigured):
            self.cwd = event.cwd
            self.line(self.style(event.text(), "dim"))
            return
        super()._render(event)

    def after_turn(self) -> None:
        """The footer, printed after each turn."""
        status = self.status() if self.status is not None else None
        if status is not None:
            self.line(self.style(footer(status), "dim"))

    def _markdown(self, text: str) -> None:
        """An answer as Markdown (rich), styled only when colour is on; links shown, never made clickable."""
        from rich.console import Console
        from rich.markdown import Markdown

        buffer = io.StringIO()
        console = Console(file=buffer, width=max(columns(self.out) - 1, 20), force_terminal=self.color,
                          color_system="standard" if self.color else None, no_color=not self.color,
                          highlight=False, emoji=False)
        console.print(Markdown(text, hyperlinks=False))
        self.line(buffer.getvalue().rstrip("\n"))

    def diff(self, text: str) -> None:
        """A whole diff (for /diff), coloured."""
        self.line("\n".join(coloured(text, self.style)))

    # ---- approvals ---------------------------------------------------------------------------

    def approve(self, request: ApprovalRequest) -> Decision:
        """Show what the model asks for (terminal-safe: it is the model's text) and read y, n or a."""
        pull = isinstance(request, PullRequest)
        if pull and threading.current_thread() is not threading.main_thread():
            # the session opens its thread in the background while the prompt owns the terminal: nobody
            # can be asked from here, so the pull goes on (its bar shows), as in a script
            return "yes"
        lines = self._question(request)
        if self.live is None:
            for line in lines:
                self.line(line)
            return self._read_answer(pull=pull)
        with self.live.hidden():
            for line in lines:
                self.line(line)
            return self._read_answer(pull=pull)

    def _question(self, request: ApprovalRequest) -> list[str]:
        ask = self.style("? ", "yellow", "bold")
        match request:
            case CommandRequest():
                where = " outside the sandbox" if request.outside_sandbox else ""
                head = ask + self.style(f"run this command{where}?", "bold")
                lines = [head, "  " + self.style("$ " + request.command, "bold") + "  "
                         + self.style(f"(in {self.shown(request.cwd)})", "dim")]
                if request.reason:
                    lines.append(self.style(f"  why: {request.reason}", "dim"))
            case PatchRequest():
                lines = [ask + self.style("apply this patch?", "bold")]
                limit = max(8, min(PATCH_QUESTION_LINES, rows(self.out) - 8))
                diff = request.diff.splitlines()
                lines += ["  " + line for line in coloured("\n".join(diff[:limit]), self.style)]
                if len(diff) > limit:
                    lines.append(self.style(f"  … {len(diff) - limit} more lines", "dim"))
            case McpToolRequest():  # the arguments as the model sent them (JSON), like the call's own line
                arguments = json.dumps(request.arguments, ensure_ascii=False)
                lines = [ask + self.style("call MCP tool?", "bold") + " "
                         + self.style(f"{request.server}.{request.tool} {arguments}"[:300])]
            case PullRequest():
                lines = [ask + self.style(f"download {request.model}?", "bold") + " " + self.style(
                    f"{request.size / 1024**3:.1f} GiB onto {request.server}; it is not there yet", "dim")]
                return [*lines, "  " + self.style("y", "bold") + " yes  " + self.style("n", "bold")
                        + " no (choose another model with /model or -m)"]
        keys = (self.style("y", "bold") + " yes  " + self.style("n", "bold") + " no (tell the model)  "
                + self.style("a", "bold") + " always this session")
        return [*lines, "  " + keys]

    def _read_answer(self, *, pull: bool = False) -> Decision:
        from ocodex.ui.keys import TurnKeys

        keys = self.keys or TurnKeys(lambda: None)
        key = keys.ask("yna")
        decision = _DECISIONS.get(key, "no")
        shown = {"yes": self.style("✓ approved", "green"), "always": self.style("✓ approved for this session", "green"),
                 "no": self.style("✗ denied (the model is told)", "red")}[decision]
        if pull:
            shown = self.style("✓ downloading", "green") if decision != "no" else self.style("✗ not downloaded", "red")
        self.line("  " + shown)
        return decision
