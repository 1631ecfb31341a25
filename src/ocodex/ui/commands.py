"""The interactive session's slash commands: one function each, all driving the session's `Thread`.

`COMMANDS` maps a name to its one-line help (shown by `/help` and by Tab completion); `run_command`
dispatches. Each command reads the thread (`status`, `models()`) or asks it to act (`switch_model`,
`compact`, `new_thread`, `undo`, `set_approval_policy`); `/init` and `/review` are turns with a prompt
of their own; `/diff` reads git (`ui.workspace`); `/resume` opens another thread on a saved session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocodex.approval import POLICIES
from ocodex.errors import OcodexError, report
from ocodex.ui.face import context_bar

if TYPE_CHECKING:
    from ocodex.ui.session import Session

COMMANDS: dict[str, str] = {
    "/model": "list the server's models; /model NAME (or number) switches for the next turn",
    "/status": "provider, model, context window used, tokens, sandbox, approvals, session file",
    "/diff": "the workspace's changes (git diff, untracked files included)",
    "/undo": "put back the files the last turn changed",
    "/approvals": "show or set when to ask before running: /approvals untrusted|on-request|on-failure|never",
    "/compact": "summarise the conversation so far to free context",
    "/new": "start a new conversation (same model and settings)",
    "/resume": "continue one of this folder's saved sessions",
    "/init": "ask the model to survey the repository and write AGENTS.md",
    "/review": "ask the model to review the working tree's changes",
    "/help": "this help",
    "/quit": "leave (also /exit or Ctrl-D)",
}
ALIASES = {"/exit": "/quit", "/usage": "/status"}

POLICY_HELP = {
    "untrusted": "ask before anything but known read-only commands (and every patch)",
    "on-request": "ask when the model wants to run outside the sandbox, or the sandbox refused a command",
    "on-failure": "ask before re-running a failed sandboxed command outside the sandbox",
    "never": "never ask",
}

INIT_PROMPT = """Survey this repository and write an AGENTS.md file at its root: a short guide for coding \
agents and new contributors. First look around: list the files, read the README and the build, test and \
lint configuration. Then add AGENTS.md with these sections, each a few lines of facts from this repository \
(no guesses, no placeholders): the project's layout, how to build and run it, how to run the tests and \
linters, the code style, and anything a contributor must not break. Keep it under 400 words."""

REVIEW_PROMPT = """Review the uncommitted changes in this repository, shown below as a unified diff. Point out \
bugs, risky or unclear code, missing tests and anything that breaks existing behaviour, each with its \
file and line and a concrete fix; say which findings matter most. Do not change any file. If the changes \
look right, say so briefly."""


def help_text() -> str:
    width = max(len(name) for name in COMMANDS) + 2
    lines = ["commands:"] + [f"  {name:<{width}}{text}" for name, text in COMMANDS.items()]
    lines += ["", "Enter sends; Alt-Enter or Ctrl-J starts a new line; Up/Down recall earlier prompts.",
              "@path attaches a file (@folder/ its listing; an image where the model has vision); Tab completes.",
              "Esc or Ctrl-C stops the running turn; the conversation continues."]
    return "\n".join(lines)


def run_command(session: Session, line: str) -> bool:
    """Run a slash command line; False when the session should end."""
    name, _, argument = line.strip().partition(" ")
    name = ALIASES.get(name.lower(), name.lower())
    argument = argument.strip()
    if name == "/quit":
        return False
    handler = _HANDLERS.get(name)
    if handler is None:
        session.face.note(f"unknown command {name}; /help lists them")
        return True
    try:
        handler(session, argument)
    except OcodexError as exc:  # e.g. the server went away: the conversation stays
        report(exc, session.face.err)
    return True


# ---- one function per command --------------------------------------------------------------------

def _help(session: Session, argument: str) -> None:
    session.face.line(help_text())


def _status(session: Session, argument: str) -> None:
    thread = session.thread
    status = thread.status
    face = session.face
    usage = status.usage
    if status.session_path is not None:
        saved = str(status.session_path)
    elif session.ephemeral:
        saved = "not saved (--ephemeral)"
    else:
        saved = "not saved yet (the file is created with the first turn)"
    version = f"; Ollama {status.server_version}" if status.server_version else ""
    capabilities = f" [{', '.join(status.capabilities)}]" if status.capabilities else ""
    rows = [("provider", f"{status.provider} at {status.server} ({status.server_source}){version}"),
            ("model", f"{status.model}{capabilities} ({status.model_reason})"),
            ("context", context_bar(status.last_prompt_tokens, status.context_window)),
            ("", "the last request's prompt against the window the server loaded"),
            ("tokens", f"in {usage.input_tokens:,} · cached {usage.cached_input_tokens:,} · "
                       f"out {usage.output_tokens:,} (this conversation)"),
            ("sandbox", status.sandbox), ("approval", status.approval),
            ("session", f"{status.thread_id}  {saved}"), ("workdir", status.cwd)]
    for label, value in rows:
        face.line(face.style(f"  {label:<10}", "bold") + face.style(value, *(() if label else ("dim",))))


def _models(session: Session, argument: str) -> None:
    thread, face = session.thread, session.face
    if argument:
        name = argument
        if argument.isdigit() and session.listed_models and 1 <= int(argument) <= len(session.listed_models):
            name = session.listed_models[int(argument) - 1]
        thread.switch_model(name)
        face.line(face.style(f"model: {thread.status.model} from the next turn", "green"))
        return
    offered = thread.models()
    current = thread.status.model
    if offered is None:
        face.line(f"model: {face.style(current, 'bold')}; this server does not list its models: /model NAME switches")
        return
    session.listed_models = [model.name for model in offered]
    face.line(face.style(f"models on {thread.status.server}:", "bold"))
    for number, model in enumerate(offered, 1):
        mark = "*" if model.name == current else " "
        size = f"{model.size / 1e9:.1f} GB" if model.size else "-"
        context = f"ctx {model.context_length:,}" if model.context_length else "ctx ?"
        caps = model.capabilities
        tools = "tools" if caps is not None and "tools" in caps else ("no tools" if caps is not None else "tools ?")
        extra = [c for c in caps or () if c not in ("completion", "tools")]
        face.line(f" {mark}{number:>2}  " + face.style(f"{model.name:<28}", *(("bold",) if mark == "*" else ()))
                  + face.style(f" {size:>8}  {model.parameter_size or '-':>7}  {context:<12} {tools}"
                               + (f", {', '.join(extra)}" if extra else ""), "dim"))
    face.note("switch with /model NAME or /model NUMBER (from the next turn)")


def _diff(session: Session, argument: str) -> None:
    from ocodex.ui.workspace import NotARepository, changes

    try:
        text = changes(session.cwd)
    except NotARepository as exc:
        session.face.note(f"/diff needs a git repository: {exc}")
        return
    if not text.strip():
        session.face.note("no changes: the working tree matches HEAD and has no untracked files")
        return
    session.face.diff(text)


def _undo(session: Session, argument: str) -> None:
    session.thread.undo()  # the face shows what it did (TurnUndone)


def _approvals(session: Session, argument: str) -> None:
    thread, face = session.thread, session.face
    if argument:
        if argument not in POLICIES:
            face.note(f"unknown policy {argument}; choose one of: {', '.join(POLICIES)}")
            return
        thread.set_approval_policy(argument)
        face.line(face.style(f"approval policy: {argument} ({POLICY_HELP[argument]})", "green"))
        return
    face.line(face.style(f"approval policy: {thread.status.approval}", "bold"))
    for policy in POLICIES:
        mark = "*" if policy == thread.status.approval else " "
        face.line(f" {mark} {policy:<11}" + face.style(POLICY_HELP[policy], "dim"))
    face.note("change it with /approvals POLICY")


def _compact(session: Session, argument: str) -> None:
    if not session.thread.compact():  # a summary says what it replaced (Compacted)
        session.face.note("nothing to compact yet: the conversation is short")


def _new(session: Session, argument: str) -> None:
    session.thread.new_thread()
    session.face.note("a new conversation")


def _resume(session: Session, argument: str) -> None:
    from ocodex.sessions import list_sessions

    current = session.thread.thread_id
    found = [s for s in list_sessions(session.home, cwd=session.cwd, limit=11) if s.id != current][:10]
    face = session.face
    if not found:
        face.note(f"no other saved session for {session.cwd}")
        return
    choice = argument
    if not choice:
        face.line(face.style(f"saved sessions of {session.cwd}:", "bold"))
        for number, summary in enumerate(found, 1):
            first = (summary.first_prompt.splitlines() or ["(no prompt)"])[0][:60]
            face.line(f"  {number:>2}  " + face.style(summary.updated[:16].replace("T", " "), "dim") + "  "
                      + face.style(summary.id[:13], "cyan") + "  " + face.style(first))
        choice = session.ask_line(f"resume which (1-{len(found)}, Enter to cancel)? ").strip()
        if not choice:
            return
    if choice.isdigit() and 1 <= int(choice) <= len(found):
        session.resume(found[int(choice) - 1].path)
        return
    matches = [s for s in found if s.id.startswith(choice)]
    if len(matches) == 1:
        session.resume(matches[0].path)
    else:
        face.note(f"no saved session {choice} here; /resume lists them")


def _init(session: Session, argument: str) -> None:
    if (session.cwd / "AGENTS.md").exists():
        session.face.note("AGENTS.md already exists here; /init does not overwrite it")
        return
    if session.thread.status.sandbox == "read-only":
        session.face.note("the sandbox is read-only, so the model cannot write AGENTS.md "
                          "(start ocodex with -s workspace-write)")
        return
    session.turn(INIT_PROMPT, mentions=False)


def _review(session: Session, argument: str) -> None:
    from ocodex.ui.workspace import NotARepository, changes

    try:
        text = changes(session.cwd)
    except NotARepository as exc:
        session.face.note(f"/review needs a git repository: {exc}")
        return
    if not text.strip():
        session.face.note("nothing to review: the working tree has no changes")
        return
    window = session.thread.status.context_window or 8192
    budget = max(window, 2048) * 2  # bytes: about half the window, leaving room for the answer
    prompt = REVIEW_PROMPT + (f" {argument}" if argument else "")
    if len(text) > budget:
        prompt += (f"\n\nThe diff is {len(text):,} bytes; its first {budget:,} follow. Run `git diff HEAD` "
                   "and `git status` to read the rest.")
        text = text[:budget]
    session.turn(f"{prompt}\n\n```diff\n{text}\n```", mentions=False)


_HANDLERS = {"/help": _help, "/status": _status, "/model": _models, "/diff": _diff, "/undo": _undo,
             "/approvals": _approvals, "/compact": _compact, "/new": _new, "/resume": _resume, "/init": _init,
             "/review": _review}
