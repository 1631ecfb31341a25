"""The interactive session: a prompt loop over one agent, so each task builds on the conversation so far.

Each conversation is saved as a session file, exactly as an exec run is (`ocodex.sessions`; source
`cli`), so `ocodex exec resume` can continue it; `/new` starts a new file; `--ephemeral` saves nothing.
`ocodex resume [ID | --last]` continues a saved session (an exec run's too) here, after showing its
last few exchanges.

Line editing and history come from `readline` (history in `$OCODEX_HOME/history`); progress is the
same human renderer exec uses, and answers are rendered as Markdown with rich on a terminal. Ctrl-C
during a turn stops that turn and keeps the session; Ctrl-D or `/exit` ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ocodex.errors import Interrupted, OcodexError, UsageError, report, run_reporting
from ocodex.events import Notice, ThreadStarted

if TYPE_CHECKING:
    from ocodex.sessions import LoadedSession, SessionWriter
    from ocodex.thread.assembly import Runtime
    from ocodex.thread.recording import EventTee

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


def recent_exchanges(messages: list[dict[str, Any]], prompts: list[str], limit: int = 3) -> str:
    """The last `limit` exchanges of a resumed conversation for a person to pick up from: each prompt
    as typed and the answer that ended its turn (tool calls and results left out), clipped. "" if none."""
    from ocodex.agent.loop import _prompt_text

    wanted = set(prompts)
    exchanges: list[list[str | None]] = []
    for message in messages:
        role = message.get("role")
        if role == "user" and _prompt_text(message) in wanted:
            exchanges.append([_prompt_text(message), None])
        elif (role == "assistant" and exchanges and isinstance(message.get("content"), str)
              and message["content"].strip() and not message.get("tool_calls")):
            exchanges[-1][1] = message["content"]
    if not exchanges:
        return ""
    lines = ["last exchanges:" if len(exchanges[-limit:]) > 1 else "last exchange:"]
    for prompt, answer in exchanges[-limit:]:
        lines.append("› " + _clip(prompt or "", 2, 100).replace("\n", "\n  "))
        lines.append("  " + (_clip(answer, 4, 100).replace("\n", "\n  ") if answer else "(no answer)"))
    return "\n".join(lines)


def run_interactive(args: argparse.Namespace) -> int:
    return run_reporting(lambda: _run(args, sys.stderr))


def _record(home: Path, runtime: Runtime, cwd: Path, emit: EventTee,
            loaded: LoadedSession | None = None, locked: SessionWriter | None = None) -> SessionWriter | None:
    """Start a session file for `runtime`'s thread (or continue `loaded`'s) and send every event to it.

    A new conversation whose file cannot be written goes on unsaved, with a warning: a person is
    waiting to work. None then.
    """
    from ocodex.sessions import SessionError
    from ocodex.thread.recording import open_session

    try:
        writer = open_session(home, runtime, cwd, loaded, emit, source="cli", locked=locked)
    except SessionError as exc:
        if loaded is not None:
            raise
        emit.render(Notice(f"this conversation is not being saved: {exc.message}", "warning"))
        return None
    emit.sink = writer.event
    return writer


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
    from ocodex.commands.exec import _flags, _use_color
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home
    from ocodex.render.human import HumanRenderer
    from ocodex.sessions import repair_history
    from ocodex.thread.assembly import prepare_runtime
    from ocodex.thread.recording import (
        EventTee,
        keep_session_model,
        record_run_start,
        restore_only,
        start_runtime,
    )

    home = ocodex_home()
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=_flags(args))
    check_provider_allowed(settings, bool(args.openai))
    if settings.describe_source("sandbox_mode") == "built-in default":
        # A person is watching: default to editing the workspace, still sandboxed.
        settings.sandbox_mode = "workspace-write"
    cwd = (Path(args.cd).expanduser() if args.cd else Path.cwd()).resolve()
    if not cwd.is_dir():
        raise OcodexError(f"--cd {args.cd}: not a directory", exit_code=2)
    loaded = _resume_target(args, home, cwd)
    if loaded is not None:
        keep_session_model(settings, loaded)

    color = _use_color("auto", err)
    render = HumanRenderer(sys.stdout, err, color=color, answer=_Answer(sys.stdout, color))
    emit = EventTee(render)
    if getattr(args, "command", None) == "resume" and loaded is None:
        render(Notice(f"no saved session for {cwd}; starting a new one", "warning"))
    ephemeral = bool(getattr(args, "ephemeral", False))
    runtime, locked = start_runtime(settings=settings, cwd=cwd, home=home, emit=emit, loaded=loaded,
                                    ephemeral=ephemeral)
    writer: SessionWriter | None = None
    try:
        if loaded is not None and ephemeral:
            restore_only(runtime, loaded, render)
        elif loaded is not None:
            writer = _record(home, runtime, cwd, emit, loaded, locked)
        elif ephemeral:
            render(Notice("--ephemeral: this conversation is not saved"))
    except BaseException:
        runtime.close()
        if locked is not None:
            locked.close()
        raise
    # A new conversation's file is created with its first task, so one left without a task leaves no
    # empty session behind (for `resume --last` to pick); an --ephemeral one has none at all.
    new_file = loaded is None and not ephemeral
    history = _History(home / "history")
    emit(ThreadStarted(runtime.thread_id))
    render(Notice(f"workdir: {cwd}  sandbox: {settings.sandbox_mode}  — /help for commands, Ctrl-D to leave"))
    if loaded is not None:  # where the resumed conversation left off, just above the prompt
        recap = recent_exchanges(runtime.agent.messages, loaded.prompts)
        if recap:
            render(Notice(recap))
    try:
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
                usage = runtime.agent.usage
                err.write(f"tokens: in {usage.input_tokens:,}, cached {usage.cached_input_tokens:,}, "
                          f"out {usage.output_tokens:,}\n")
                continue
            if text == "/new":
                try:
                    fresh = prepare_runtime(settings=settings, cwd=cwd, home=home, emit=emit)
                except OcodexError as exc:  # e.g. the server went away: keep this conversation
                    report(exc, err)
                    continue
                emit.sink = None
                if writer is not None:
                    writer.close()
                runtime.close()
                runtime, writer, new_file = fresh, None, not ephemeral
                emit(ThreadStarted(runtime.thread_id))
                continue
            if text.startswith("/"):
                err.write(f"unknown command {text.split()[0]}; /help lists them\n")
                continue
            if new_file:
                new_file = False
                writer = _record(home, runtime, cwd, emit)
                if writer is not None:
                    writer.event(ThreadStarted(runtime.thread_id))
            if writer is not None:
                record_run_start(writer, settings=settings, runtime=runtime, cwd=cwd, prompt=line, images=0)
            try:
                result = runtime.agent.run_turn(line)
            except Interrupted:
                # A tool call cut short has no result, which chat servers reject: answer it as aborted
                # (as resuming the session file does).
                runtime.agent.messages[:] = repair_history(runtime.agent.messages)
                err.write("interrupted: the task was stopped; the conversation continues\n")
                continue
            if result.final_message is not None:
                render.final_message(result.final_message)
    finally:
        history.save()
        runtime.close()
        if writer is not None:
            writer.close()
