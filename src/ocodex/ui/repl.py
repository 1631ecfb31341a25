"""The interactive session: a prompt loop over one agent, so each task builds on the conversation so far.

Line editing and history come from `readline` (history in `$OCODEX_HOME/history`); progress is the
same human renderer exec uses, and answers are rendered as Markdown with rich on a terminal. Ctrl-C
during a turn stops that turn and keeps the session; Ctrl-D or `/exit` ends it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TextIO

from ocodex.errors import Interrupted, OcodexError, run_reporting
from ocodex.events import Notice, ThreadStarted

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


def run_interactive(args: argparse.Namespace) -> int:
    return run_reporting(lambda: _run(args, sys.stderr))


def _run(args: argparse.Namespace, err: TextIO) -> int:
    from ocodex.commands.exec import _flags, _use_color
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home
    from ocodex.render.human import HumanRenderer
    from ocodex.runtime import prepare_runtime

    home = ocodex_home()
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=_flags(args))
    check_provider_allowed(settings, bool(args.openai))
    if settings.describe_source("sandbox_mode") == "built-in default":
        # A person is watching: default to editing the workspace, still sandboxed.
        settings.sandbox_mode = "workspace-write"
    cwd = (Path(args.cd).expanduser() if args.cd else Path.cwd()).resolve()
    if not cwd.is_dir():
        raise OcodexError(f"--cd {args.cd}: not a directory", exit_code=2)

    color = _use_color("auto", err)
    render = HumanRenderer(sys.stdout, err, color=color, answer=_Answer(sys.stdout, color))
    runtime = prepare_runtime(settings=settings, cwd=cwd, home=home, emit=render)
    history = _History(home / "history")
    render(ThreadStarted(runtime.thread_id))
    render(Notice(f"workdir: {cwd}  sandbox: {settings.sandbox_mode}  — /help for commands, Ctrl-D to leave"))
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
                runtime.close()
                runtime = prepare_runtime(settings=settings, cwd=cwd, home=home, emit=render)
                render(ThreadStarted(runtime.thread_id))
                continue
            if text.startswith("/"):
                err.write(f"unknown command {text.split()[0]}; /help lists them\n")
                continue
            try:
                result = runtime.agent.run_turn(line)
            except Interrupted:
                err.write("interrupted: the task was stopped; the conversation continues\n")
                continue
            if result.final_message is not None:
                render.final_message(result.final_message)
    finally:
        history.save()
        runtime.close()
