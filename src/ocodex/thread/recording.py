"""How a thread meets its session file: which session a resume continues, recording, restoring.

The `Recorder` is the thread's one writer: it locks a resumed session's file before the server is
asked anything (so a session in use by another run fails at once), restores its history and usage into
the agent, and from then on writes every Codex event and every history message as it happens. A new
thread's file is created when the thread opens (`exec`) or with its first turn (an interactive
session, so one left without a task leaves no empty file; if it cannot be written the conversation goes
on unsaved, with a warning). `--ephemeral` writes nothing. The file format is `ocodex.sessions`'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ocodex.config import Settings
from ocodex.errors import UsageError
from ocodex.events import Event, SessionNotSaved, SessionRepaired, SessionResumed, ThreadStarted
from ocodex.sessions import (
    LoadedSession,
    SessionError,
    SessionMeta,
    SessionWriter,
    find_latest,
    find_session,
    load_session,
    now_timestamp,
    repair_history,
)


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


def keep_session_model(settings: Settings, loaded: LoadedSession) -> Settings:
    """A resumed thread keeps its latest model (the large one after an escalation) unless -m or -c asks
    for another."""
    model = loaded.model or loaded.meta.model
    if model and not settings.describe_source("model").startswith(("command line", "-c ")):
        return settings.changed(f"session {loaded.meta.id}", {"model": model})
    return settings


class _Agent(Protocol):
    messages: list[dict[str, Any]]
    usage: Any
    on_message: Callable[[dict[str, Any]], None] | None
    on_compact: Callable[[list[dict[str, Any]]], None] | None

    def add_message(self, message: dict[str, Any]) -> None: ...

    def resume_from(self, history: list[dict[str, Any]], prompts: list[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the session file says about the thread and each run on it."""

    thread_id: str
    cwd: Path
    model: str
    provider_id: str


class Recorder:
    def __init__(self, home: Path, *, source: str = "exec", ephemeral: bool = False) -> None:
        self.home = home
        self.source = source  # "exec" creates a new thread's file at once; "cli" with its first turn
        self.ephemeral = ephemeral
        self.writer: SessionWriter | None = None
        self._pending: RunInfo | None = None  # a new thread whose file is still to be created
        self._agent: _Agent | None = None
        self._started: ThreadStarted | None = None

    @property
    def path(self) -> Path | None:
        return self.writer.path if self.writer is not None else None

    # ---- opening ------------------------------------------------------------------------------

    def lock(self, loaded: LoadedSession | None) -> None:
        """Open (and lock) the file a resume will write, before any server probe or model pull."""
        if loaded is not None and not self.ephemeral:
            self.writer = SessionWriter(loaded.path)

    def begin(self, agent: _Agent, info: RunInfo, loaded: LoadedSession | None, emit: Callable[[Event], None]) -> None:
        """Start recording `agent`'s thread: continue `loaded` (its history and usage restored into the
        agent), or a new file (now for exec, with the first turn for an interactive session)."""
        self._agent = agent
        if loaded is not None:
            self._resume(agent, loaded, emit)
        elif not self.ephemeral:
            self._pending = info
            if self.source == "exec":
                self._create()

    def _resume(self, agent: _Agent, loaded: LoadedSession, emit: Callable[[Event], None]) -> None:
        if self.ephemeral:  # continue the history in memory without writing to the file
            history = repair_history(loaded.messages)
            if history:
                agent.resume_from(history, loaded.prompts)
            agent.usage = loaded.usage
            emit(SessionResumed(loaded.meta.id, len(loaded.messages), str(loaded.path), saved=False))
            return
        if loaded.truncated_line is not None:
            emit(SessionRepaired(str(loaded.path), loaded.truncated_line))
        if self.writer is None:
            self.writer = SessionWriter(loaded.path)
        loaded = load_session(loaded.path)  # again, under the lock: another run may have added to it meanwhile
        fresh = list(agent.messages)
        history = repair_history(loaded.messages)
        if not history:  # the first run died before its opening messages were saved
            for message in fresh:
                self.writer.message(message)
            history = fresh
        agent.resume_from(history, loaded.prompts)
        agent.usage = loaded.usage
        self._hook(agent)
        environment = fresh[-1] if fresh else None
        if environment is not None and not any(m.get("content") == environment.get("content") for m in history):
            agent.add_message(environment)  # cwd, sandbox or date changed since the session's last run
        emit(SessionResumed(loaded.meta.id, len(loaded.messages), str(loaded.path)))

    def _create(self) -> None:
        info, self._pending = self._pending, None
        assert info is not None and self._agent is not None
        meta = SessionMeta(id=info.thread_id, cwd=str(info.cwd), model=info.model, model_provider=info.provider_id,
                           created=now_timestamp(), source=self.source)
        self.writer = SessionWriter.create(self.home, meta)
        for message in self._agent.messages:
            self.writer.message(message)
        self._hook(self._agent)
        if self._started is not None:
            self.writer.event(self._started)

    def _hook(self, agent: _Agent) -> None:
        assert self.writer is not None
        agent.on_message = self.writer.message
        agent.on_compact = self.writer.compacted

    # ---- while it runs ------------------------------------------------------------------------

    def event(self, event: Event) -> None:
        """Record a Codex event (ocodex's own, for people, are not kept)."""
        if isinstance(event, ThreadStarted):
            self._started = event
        if self.writer is not None:
            self.writer.event(event)

    def start_turn(self, settings: Settings, info: RunInfo, prompt: str, images: int,
                   emit: Callable[[Event], None]) -> None:
        """Before a turn: create a new interactive thread's file, then record the run's context and prompt."""
        if self._pending is not None:
            try:
                self._create()
            except SessionError as exc:  # a person is waiting to work: go on unsaved, and say so
                self._pending = None
                emit(SessionNotSaved(exc.message))
        if self.writer is None:
            return
        context: dict[str, Any] = {"cwd": str(info.cwd), "model": info.model, "model_provider": info.provider_id,
                                   "sandbox_mode": settings.sandbox_mode, "approval_policy": settings.approval_policy,
                                   "writable_roots": list(settings.sandbox_workspace_write.writable_roots),
                                   "network_access": settings.sandbox_workspace_write.network_access}
        self.writer.write("turn_context", context)
        self.writer.user_message(prompt, images)

    def switched(self, agent: _Agent, info: RunInfo, *, escalated: bool) -> None:
        """The thread moved to another model (`agent`): a later resume continues on it. After an
        escalation the history also goes back to where the failed attempt started (a `compacted` record)."""
        self._agent = agent
        if self._pending is not None:
            self._pending = info
            return
        if self.writer is None:
            return
        context: dict[str, Any] = {"cwd": str(info.cwd), "model": info.model, "model_provider": info.provider_id}
        if escalated:
            context["escalated"] = True
        self.writer.write("turn_context", context)
        self._hook(agent)
        if escalated:
            self.writer.compacted(list(agent.messages))

    # ---- closing ------------------------------------------------------------------------------

    def restart(self, agent: _Agent, info: RunInfo) -> None:
        """A new thread on the same recorder: close the file; the next one is created with its first turn."""
        self.close()
        self._agent, self._started = agent, None
        if not self.ephemeral:
            self._pending = info
            if self.source == "exec":
                self._create()

    def close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
