"""How a run (exec or interactive) meets its session file: which session `resume` continues,
recording a run, restoring one.

The faces call these; the file format itself belongs to `ocodex.sessions`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocodex.config import Settings
from ocodex.errors import UsageError
from ocodex.events import Event, Notice
from ocodex.sessions import (
    LoadedSession,
    SessionMeta,
    SessionWriter,
    find_latest,
    find_session,
    load_session,
    now_timestamp,
    repair_history,
)
from ocodex.thread.assembly import Runtime


class EventTee:
    """The `emit` handed to the runtime: every event goes to the session file, then to the renderer
    (so the file keeps it even when the output breaks, e.g. a consumer that closed our stdout)."""

    def __init__(self, render: Callable[[Event], None]) -> None:
        self.render = render
        self.sink: Callable[[Event], None] | None = None

    def __call__(self, event: Event) -> None:
        if self.sink is not None:
            self.sink(event)
        self.render(event)


def split_resume_words(words: list[str], *, last: bool) -> tuple[str | None, list[str]]:
    """(SESSION_ID or None, prompt words) for `exec resume`. With --last every word is prompt, as in Codex."""
    if last:
        return None, words
    if not words or words[0] == "-":
        raise UsageError("`ocodex exec resume` needs a SESSION_ID or --last",
                         "`ocodex sessions` lists saved sessions and their ids")
    return words[0], words[1:]


def find_resume_target(home: Path, session_id: str | None, cwd: Path, all_dirs: bool) -> LoadedSession | None:
    """The session to continue; None when `--last` finds none (a new thread starts, as in Codex)."""
    path = find_session(home, session_id) if session_id else find_latest(home, None if all_dirs else cwd)
    return None if path is None else load_session(path)


def keep_session_model(settings: Settings, loaded: LoadedSession) -> None:
    """A resumed thread keeps its latest model (the large one after an escalation) unless -m or -c asks
    for another."""
    model = loaded.model or loaded.meta.model
    if model and not settings.describe_source("model").startswith(("command line", "-c ")):
        settings.model = model
        settings.origins[("model",)] = f"session {loaded.meta.id}"


def lock_session(loaded: LoadedSession | None) -> SessionWriter | None:
    """Open (and lock) the session file a resume will write, before any server probe or model pull,
    so a session in use by another run fails at once; None for a new thread. Pass it to `open_session`."""
    return None if loaded is None else SessionWriter(loaded.path)


def start_runtime(*, settings: Settings, cwd: Path, home: Path, emit: Callable[[Event], None],
                  loaded: LoadedSession | None, ephemeral: bool) -> tuple[Runtime, SessionWriter | None]:
    """Lock the resumed session file (unless ephemeral), then build the runtime on the session's thread.

    A session in use by another run fails here, before the server is probed or a model pulled; the lock
    is released if building the runtime fails. Returns the runtime and the locked writer (or None)."""
    from ocodex.thread.assembly import prepare_runtime

    locked = None if ephemeral else lock_session(loaded)
    try:
        runtime = prepare_runtime(settings=settings, cwd=cwd, home=home, emit=emit,
                                  thread_id=loaded.meta.id if loaded is not None else None)
    except BaseException:
        if locked is not None:
            locked.close()
        raise
    return runtime, locked


def open_session(home: Path, runtime: Runtime, cwd: Path, loaded: LoadedSession | None,
                 emit: Callable[[Event], None], *, source: str = "exec",
                 locked: SessionWriter | None = None) -> SessionWriter:
    """Start recording: a new file with the opening messages, or the resumed file with its history
    restored into the agent (the thread's usage totals too, as Codex keeps them cumulative).
    Compactions are recorded as they happen, so a resume sends the compacted history. Secrets are
    masked by `ocodex.redact`, whose registry `prepare_runtime` filled when it connected.
    `locked` is the writer `lock_session` opened for `loaded`, if it was taken early."""
    agent = runtime.agent
    if loaded is None:
        meta = SessionMeta(id=runtime.thread_id, cwd=str(cwd), model=runtime.model,
                           model_provider=runtime.provider_id, created=now_timestamp(), source=source)
        writer = SessionWriter.create(home, meta)
        for message in agent.messages:
            writer.message(message)
        agent.on_message = writer.message
        agent.on_compact = writer.compacted
        return writer

    if loaded.truncated_line is not None:
        emit(Notice(f"{loaded.path}: line {loaded.truncated_line} is an incomplete record (the run that wrote "
                    "it was cut off); resuming from the last complete record", "warning"))
    writer = locked if locked is not None else SessionWriter(loaded.path)
    try:  # read again under the lock: a run that held it may have added to the thread meanwhile
        loaded = load_session(loaded.path)
    except BaseException:
        writer.close()
        raise
    fresh = list(agent.messages)
    history = repair_history(loaded.messages)
    if not history:  # the first run died before its opening messages were saved
        for message in fresh:
            writer.message(message)
        history = fresh
    agent.resume_from(history, loaded.prompts)
    agent.usage = loaded.usage
    agent.on_message = writer.message
    agent.on_compact = writer.compacted
    environment = fresh[-1] if fresh else None
    if environment is not None and not any(m.get("content") == environment.get("content") for m in history):
        agent.add_message(environment)  # cwd, sandbox or date changed since the session's last run
    emit(Notice(f"resuming session {loaded.meta.id} ({len(loaded.messages)} messages) from {loaded.path}"))
    return writer


def record_run_start(writer: SessionWriter, *, settings: Settings, runtime: Runtime, cwd: Path, prompt: str,
                     images: int) -> None:
    context: dict[str, Any] = {"cwd": str(cwd), "model": runtime.model, "model_provider": runtime.provider_id,
                               "sandbox_mode": settings.sandbox_mode, "approval_policy": "never",
                               "writable_roots": list(settings.sandbox_workspace_write.writable_roots),
                               "network_access": settings.sandbox_workspace_write.network_access}
    writer.write("turn_context", context)
    writer.write("event_msg", {"type": "user_message", "message": prompt, "images": images})


def restore_only(runtime: Runtime, loaded: LoadedSession, emit: Callable[[Event], None]) -> None:
    """`exec resume --ephemeral`: continue the history in memory without writing to the file."""
    history = repair_history(loaded.messages)
    if history:
        runtime.agent.resume_from(history, loaded.prompts)
    runtime.agent.usage = loaded.usage
    emit(Notice(f"resuming session {loaded.meta.id} ({len(loaded.messages)} messages) from {loaded.path}; "
                "--ephemeral: this run is not saved"))
