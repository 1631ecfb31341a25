"""The interactive session: a prompt loop over one `Thread`, so each task builds on the conversation so far.

A face only: flags to settings, the prompt loop, slash commands, and rendering. The thread saves each
conversation as a session file exactly as an exec run's (source `cli`, created with the first task), so
`ocodex exec resume` can continue it; `/new` starts a new one; `--ephemeral` saves nothing.
`ocodex resume [ID | --last]` continues a saved session (an exec run's too) here, after showing its
last few exchanges.

Line editing and history come from `readline` (history in `$OCODEX_HOME/history`); progress is the
same human renderer exec uses, and answers are rendered as Markdown with rich on a terminal. Approval
questions (when `approval_policy` asks) are answered on the terminal: y, n or a (always). Ctrl-C
during a turn stops that turn and keeps the session; Ctrl-D or `/exit` ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ocodex.approval import ApprovalRequest, CommandRequest, Decision, McpToolRequest, PatchRequest
from ocodex.errors import OcodexError, TurnInterrupted, UsageError, report, run_reporting
from ocodex.events import NoSessionToResume
from ocodex.render.human import HumanRenderer

if TYPE_CHECKING:
    from ocodex.sessions import LoadedSession
    from ocodex.thread import Thread

HELP = """commands:
  /help      this help
  /new       start a new conversation (same model and settings)
  /usage     tokens used so far
  /exit      leave (or Ctrl-D)
Anything else is a task for the agent. Ctrl-C stops the current task."""

PROMPT = "› "


class _History:
    """readline history kept in a file, when readline is available."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            import readline
        except ImportError:  # pragma: no cover - Windows without pyreadline
            self.readline = None
            return
        self.readline = readline
        readline.set_history_length(1000)
        with contextlib.suppress(OSError):
            readline.read_history_file(str(path))

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(mode=0o600)  # prompts may quote code or secrets: private, like session files
            self.path.chmod(0o600)
            self.readline.write_history_file(str(self.path))
        except OSError:
            pass


class _Answer:
    """Prints the agent's final answer: Markdown on a terminal, plain text otherwise."""

    def __init__(self, out: TextIO, color: bool) -> None:
        self.out = out
        self.console = None
        if out.isatty():
            from rich.console import Console

            self.console = Console(file=out, no_color=not color, highlight=False)

    def __call__(self, text: str) -> None:
        if self.console is None:
            self.out.write(text.rstrip("\n") + "\n")
            self.out.flush()
            return
        from rich.markdown import Markdown

        self.console.print(Markdown(text))


def _clip(text: str, lines: int, width: int) -> str:
    """At most `lines` lines of at most `width` characters, with `…` where something was cut."""
    kept = text.strip().splitlines() or [""]
    out = [line if len(line) <= width else line[:width - 1] + "…" for line in kept[:lines]]
    if len(kept) > lines:
        out[-1] = out[-1].rstrip("…") + " …"
    return "\n".join(out)


def recap(exchanges: list[tuple[str, str | None]], limit: int = 3) -> str:
    """The last `limit` exchanges of a resumed conversation for a person to pick up from: each prompt
    as typed and the answer that ended its turn, clipped. "" if none."""
    chosen = exchanges[-limit:]
    if not chosen:
        return ""
    lines = ["last exchanges:" if len(chosen) > 1 else "last exchange:"]
    for prompt, answer in chosen:
        lines.append("› " + _clip(prompt, 2, 100).replace("\n", "\n  "))
        lines.append("  " + (_clip(answer, 4, 100).replace("\n", "\n  ") if answer else "(no answer)"))
    return "\n".join(lines)


_ANSWERS: dict[str, Decision] = {"y": "yes", "yes": "yes", "n": "no", "no": "no", "a": "always", "always": "always"}


class TerminalFace(HumanRenderer):
    """The interactive session's face: the human renderer, and approval questions asked on the terminal."""

    def approve(self, request: ApprovalRequest) -> Decision:
        """Show what the model asks for (made terminal-safe: it is the model's text) and read y, n or a."""
        match request:
            case CommandRequest():
                where = " outside the sandbox" if request.outside_sandbox else ""
                self.line(self.style(f"run{where}?", "yellow", "bold") + " "
                          + self.style(f"{request.command}  (in {request.cwd})"))
                if request.reason:
                    self.line(self.style(f"  why: {request.reason}", "dim"))
            case PatchRequest():
                self.line(self.style("apply this patch?", "yellow", "bold"))
                for line in request.diff.splitlines()[:40]:
                    self.line(self.style("  " + line))
            case McpToolRequest():  # the arguments as the model sent them (JSON), like the call's own line
                arguments = json.dumps(request.arguments, ensure_ascii=False)
                self.line(self.style("call MCP tool?", "yellow", "bold") + " "
                          + self.style(f"{request.server}.{request.tool} {arguments}"[:300]))
        while True:
            try:
                answer = input("[y]es / [n]o / [a]lways: ").strip().lower()
            except EOFError:
                return "no"
            if answer in _ANSWERS:
                return _ANSWERS[answer]


def run_interactive(args: argparse.Namespace) -> int:
    return run_reporting(lambda: _run(args, sys.stderr))


def _resume_target(args: argparse.Namespace, home: Path, cwd: Path) -> LoadedSession | None:
    """The session `ocodex resume` continues; None for a plain `ocodex` (or `--last` finding none)."""
    if getattr(args, "command", None) != "resume":
        return None
    from ocodex.thread.recording import find_resume_target

    if not args.session_id and not args.last:
        raise UsageError("`ocodex resume` needs a SESSION_ID or --last",
                         "`ocodex sessions` lists saved sessions and their ids")
    if args.session_id and args.last:
        raise UsageError("`ocodex resume` takes a SESSION_ID or --last, not both")
    if args.all_sessions and not args.last:
        raise UsageError("`ocodex resume --all` only applies with --last", "use `ocodex resume --last --all`")
    return find_resume_target(home, args.session_id, cwd, args.all_sessions)


def _run(args: argparse.Namespace, err: TextIO) -> int:
    from ocodex.commands.flags import settings_flags, use_color, work_dir
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home
    from ocodex.thread import Thread

    home = ocodex_home()
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=settings_flags(args))
    check_provider_allowed(settings, bool(args.openai))
    if settings.describe_source("sandbox_mode") == "built-in default":
        # A person is watching: default to editing the workspace, still sandboxed.
        settings = settings.changed("the interactive default", {"sandbox_mode": "workspace-write"})
    cwd = work_dir(args.cd)
    loaded = _resume_target(args, home, cwd)

    color = use_color("auto", err)
    face = TerminalFace(sys.stdout, err, color=color, answer=_Answer(sys.stdout, color))
    if getattr(args, "command", None) == "resume" and loaded is None:
        face.on_event(NoSessionToResume(str(cwd)))
    ephemeral = bool(getattr(args, "ephemeral", False))
    thread = Thread.open(settings, cwd=cwd, home=home, face=face, resume=loaded, ephemeral=ephemeral,
                         source="cli")
    history = _History(home / "history")
    try:
        if loaded is None and ephemeral:
            face.note("--ephemeral: this conversation is not saved")
        face.note(f"workdir: {cwd}  sandbox: {thread.status.sandbox}  — /help for commands, Ctrl-D to leave")
        if loaded is not None:  # where the resumed conversation left off, just above the prompt
            text = recap(thread.exchanges())
            if text:
                face.note(text)
        return _loop(thread, face, err)
    finally:
        history.save()
        thread.close()


def _loop(thread: Thread, face: TerminalFace, err: TextIO) -> int:
    while True:
        try:
            line = input(PROMPT)
        except KeyboardInterrupt:
            err.write("\n")
            continue
        except EOFError:
            err.write("\n")
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return 0
        if text == "/help":
            err.write(HELP + "\n")
            continue
        if text == "/usage":
            usage = thread.status.usage
            err.write(f"tokens: in {usage.input_tokens:,}, cached {usage.cached_input_tokens:,}, "
                      f"out {usage.output_tokens:,}\n")
            continue
        if text == "/new":
            try:
                thread.new_thread()
            except OcodexError as exc:  # e.g. the server went away: keep this conversation
                report(exc, err)
            continue
        if text.startswith("/"):
            err.write(f"unknown command {text.split()[0]}; /help lists them\n")
            continue
        try:
            result = thread.run_turn(line)
        except TurnInterrupted:
            err.write("interrupted: the task was stopped; the conversation continues\n")
            continue
        if result.final_message is not None:
            face.final_message(result.final_message)
