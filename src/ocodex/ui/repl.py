"""The interactive session's entry: `ocodex [PROMPT]` and `ocodex resume [ID | --last]`.

A face only: flags to settings (the interactive defaults are the `workspace-write` sandbox and the
`on-request` approval policy), the one question a folder outside git gets (trust it for writes, or run
read-only), the prompt loop, and handing each line to a slash command or a turn of the `Session`.

On a terminal the input is prompt_toolkit's line editor (`ui.input`) and the output is live
(`ui.face`); with stdin or stdout not a terminal, lines are read and printed plainly. The thread saves
each conversation as a session file exactly as an exec run's (source `cli`, created with the first
task), so `ocodex exec resume` can continue it; `--ephemeral` writes nothing at all (no history either).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ocodex.errors import UsageError, run_reporting
from ocodex.events import NoSessionToResume

if TYPE_CHECKING:
    from ocodex.config import Settings
    from ocodex.sessions import LoadedSession
    from ocodex.ui.session import Session

PROMPT = "› "


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


def run_interactive(args: argparse.Namespace) -> int:
    return run_reporting(lambda: _run(args))


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


def interactive_settings(settings: Settings) -> Settings:
    """A person is watching: edit the workspace (still sandboxed) and ask when leaving the sandbox, unless
    config or flags said otherwise."""
    defaults = {}
    if settings.describe_source("sandbox_mode") == "built-in default":
        defaults["sandbox_mode"] = "workspace-write"
    if settings.describe_source("approval_policy") == "built-in default":
        defaults["approval_policy"] = "on-request"
    return settings.changed("the interactive default", defaults) if defaults else settings


def _trust(settings: Settings, cwd: Path, tty: bool) -> Settings:
    """Outside a git repository nothing can show or undo what the model changes: ask once whether to let
    it write here (when the sandbox was not chosen explicitly)."""
    from ocodex.ui.workspace import in_git_repo

    if settings.sandbox_mode != "workspace-write" or settings.describe_source("sandbox_mode") != \
            "the interactive default" or in_git_repo(cwd):
        return settings
    trusted = _configured_trust(settings, cwd)
    if trusted is None:
        if not tty:
            sys.stdout.write(f"{cwd} is not a git repository: running read-only (pass -s workspace-write to "
                             "allow writes)\n")
            return settings.changed("a folder outside git", {"sandbox_mode": "read-only"})
        trusted = _ask_trust(cwd)
    if trusted:
        return settings
    return settings.changed("your answer (a folder outside git)", {"sandbox_mode": "read-only"})


def _configured_trust(settings: Settings, cwd: Path) -> bool | None:
    """Codex's `[projects."/path"] trust_level = "trusted" | "untrusted"` in config.toml, if set."""
    projects = settings.extra.get("projects")
    if not isinstance(projects, dict):
        return None
    entry = projects.get(str(cwd))
    level = entry.get("trust_level") if isinstance(entry, dict) else None
    return {"trusted": True, "untrusted": False}.get(level) if isinstance(level, str) else None


def _ask_trust(cwd: Path) -> bool:
    from ocodex.render.safe import terminal_safe
    from ocodex.ui.keys import TurnKeys

    sys.stdout.write(f"{terminal_safe(str(cwd))} is not a git repository, so ocodex cannot show or undo changes "
                     "with git here.\nLet the model edit files in this folder (sandboxed)?  "
                     "y  yes, trust it for writes   n  no, run read-only\n")
    sys.stdout.flush()
    with TurnKeys(lambda: None) as keys:
        answer = keys.ask("yn")
    sys.stdout.write(("  trusted for writes (workspace-write)" if answer == "y" else "  read-only") + "\n")
    sys.stdout.flush()
    return answer == "y"


def _run(args: argparse.Namespace) -> int:
    from ocodex.commands.flags import settings_flags, use_color, work_dir
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home
    from ocodex.ui.face import TerminalFace
    from ocodex.ui.session import Session

    home = ocodex_home()
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=settings_flags(args))
    check_provider_allowed(settings, bool(args.openai))
    settings = interactive_settings(settings)
    cwd = work_dir(args.cd)
    loaded = _resume_target(args, home, cwd)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    settings = _trust(settings, cwd, tty)

    color = use_color("auto", sys.stdout)
    face = TerminalFace(color=color, tty=tty)
    if getattr(args, "command", None) == "resume" and loaded is None:
        face.on_event(NoSessionToResume(str(cwd)))
    ephemeral = bool(getattr(args, "ephemeral", False))
    session = Session(settings, cwd=cwd, home=home, face=face, ephemeral=ephemeral, resume=loaded)
    first = " ".join(getattr(args, "prompt", None) or []).strip() or None
    try:
        if tty:
            return _interactive(session, home, first, color)
        session.open_now()
        return _plain(session, first)
    finally:
        session.close()


def _interactive(session: Session, home: Path, first: str | None, color: bool) -> int:
    from prompt_toolkit.patch_stdout import patch_stdout

    from ocodex.ui.commands import COMMANDS, run_command
    from ocodex.ui.input import build_prompt
    from ocodex.ui.session import OpenFailed

    history = None if session.ephemeral else home / "history"
    prompt = build_prompt(history=history, commands=COMMANDS, cwd=session.cwd, color=color,
                          message=session.message)
    session.prompt = prompt
    pending = ""
    try:
        if first is not None:
            session.open_in_background()
            prompt.history.append_string(first)
            session.face.line(session.face.style(PROMPT, "bold") + session.face.style(first))
            pending = session.turn(first)
        while True:
            if session.ready:
                session.thread  # noqa: B018 - a failed opening ends the session here
            try:
                with patch_stdout(raw=True):
                    session.fail_prompt_on_error(lambda: _end_prompt(prompt))
                    try:
                        # The thread starts opening once the prompt is drawn (the first time only): what it
                        # reports appears above the prompt, and the prompt did not wait for its imports.
                        line = prompt.prompt(default=pending, pre_run=lambda: _soon(session.open_in_background))
                    finally:
                        session.fail_prompt_on_error(None)
            except KeyboardInterrupt:
                pending = ""
                session.face.note("(Ctrl-D or /quit leaves)")
                continue
            except EOFError:
                return 0
            except OpenFailed:
                session.thread  # noqa: B018 - raises the opening's own error, with its exit code
                raise
            pending = ""
            text = line.strip()
            if not text:
                continue
            if _looks_like_command(text):
                session.thread  # noqa: B018 - commands need the thread
                if not run_command(session, text):
                    return 0
                continue
            pending = session.turn(line)
    except OpenFailed as failed:
        return failed.exit_code
    except KeyboardInterrupt:  # while connecting
        session.face.line("")
        return 130


def _looks_like_command(text: str) -> bool:
    """`/word` alone or with arguments: a command (an unknown one is explained), never a prompt; a path
    such as `/usr/bin/env is missing` is a prompt."""
    word = text.split()[0]
    return word.startswith("/") and len(word) > 1 and word[1:].replace("-", "").isalpha()


def _soon(callback: Callable[[], None]) -> None:
    """Run `callback` once the prompt's event loop has drawn the prompt."""
    import asyncio

    asyncio.get_running_loop().call_soon(callback)


def _end_prompt(prompt: object) -> None:
    """Make a prompt that is being shown return: the thread could not be opened (from another thread)."""
    from ocodex.ui.session import OpenFailed

    app = getattr(prompt, "app", None)
    loop = getattr(app, "loop", None)
    if app is None or loop is None or not app.is_running:
        return
    loop.call_soon_threadsafe(lambda: app.exit(exception=OpenFailed(1)))


def _plain(session: Session, first: str | None) -> int:
    """No terminal: prompts are lines of stdin, one turn each."""
    from ocodex.ui.commands import run_command

    if first is not None:
        session.turn(first)
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        if _looks_like_command(text):
            if not run_command(session, text):
                return 0
            continue
        session.turn(text)
    return 0
