"""The Thread: one object that owns a conversation, and the `Face` protocol every front end implements.

A thread holds the frozen settings (a change is a new value with its provenance), the session file and
its lock (`Recorder`), the assembled provider, tools, token budget and usage (`Assembly`), the
approval gate, and the escalation plan. Faces — `exec` (human or JSONL), the interactive session, and
later an SDK — build it with `Thread.open`, send it input with `run_turn`, render the events it sends
to `face.on_event`, and answer `face.approve`. Nothing else: no face opens a session file, takes a lock,
escalates or restores.

    thread = Thread.open(settings, cwd=cwd, home=home, face=face, resume=loaded)
    result = thread.run_turn("fix the failing test")   # escalation happens inside
    thread.close()

`interrupt()` is what Ctrl-C or a signal handler calls: the turn stops as it would on Ctrl-C (the
running command's process group is killed, `turn.failed` is emitted) and `run_turn` raises
`TurnInterrupted`; the history stays valid for the next turn. Under `thread.signals.StopSignals` (the
CLI's), SIGTERM and SIGHUP interrupt an open thread's turn too, and `run_turn` then raises `Stopped`.

Each turn keeps a snapshot of the files its edits replace (`ocodex.patch.undo`), taken just before
each write; `undo()` puts the latest turn's files back and tells the model so.
"""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ocodex.agent.history import exchanges
from ocodex.agent.loop import Agent, TurnResult
from ocodex.approval import ApprovalGate, ApprovalRequest, Decision
from ocodex.config import Settings
from ocodex.errors import TurnInterrupted, UsageError
from ocodex.events import (
    ConfigWarning,
    ContextTight,
    Escalating,
    Event,
    ItemIds,
    ProbesStale,
    StreamErrorEvent,
    ThreadStarted,
    TurnUndone,
    Usage,
    UsageByModel,
)
from ocodex.ids import uuid7
from ocodex.output_schema import OutputSchema, OutputSchemaMismatch
from ocodex.patch.undo import TurnSnapshot, UndoFailed, shown_from
from ocodex.protocol import ServerModel
from ocodex.sessions import LoadedSession, repair_history
from ocodex.thread import signals as stop_signals
from ocodex.thread.assembly import Assembly, ModelServer, assemble, start_mcp
from ocodex.thread.escalation import EscalationPlan, for_large_model, minus, plan_escalation, should_escalate
from ocodex.thread.recording import Recorder, RunInfo, keep_session_model
from ocodex.tools.base import Tool

if TYPE_CHECKING:
    from ocodex.mcp.toolset import McpServers

UNDO_DEPTH = 20  # turns `undo()` can go back
INTERRUPTED = "interrupted by the user"


class Face(Protocol):
    """What exec-human, exec-JSONL, the interactive UI and an SDK implement."""

    def on_event(self, event: Event) -> None: ...

    def approve(self, request: ApprovalRequest) -> Decision: ...


@dataclass(frozen=True, slots=True)
class ThreadStatus:
    """A snapshot of a thread, for `/status`, footers and SDK consumers."""

    thread_id: str
    provider: str
    server: str
    server_source: str
    server_version: str | None
    model: str
    model_reason: str
    capabilities: tuple[str, ...] | None
    context_window: int | None  # the window the server loaded (or was configured)
    last_prompt_tokens: int | None  # what the server counted for the last request, against that window
    usage: Usage  # the thread's totals: in, cached, out
    sandbox: str
    approval: str
    edit_format: str
    reasoning_effort: str | None
    cwd: str
    session_path: Path | None  # None: not saved (yet, or --ephemeral)


class Thread:
    """One conversation. Build it with `Thread.open`; close it with `close()` (or `with`)."""

    def __init__(self, settings: Settings, *, cwd: Path, home: Path, face: Face, recorder: Recorder,
                 output_schema: OutputSchema | None, extra_tools: Sequence[Tool], server: ModelServer | None) -> None:
        self._settings = settings
        self.cwd = cwd
        self.home = home
        self.face = face
        self.recorder = recorder
        self.output_schema = output_schema
        self.extra_tools = tuple(extra_tools)
        self.server = server
        self.gate = ApprovalGate(settings.approval_policy, face.approve)
        self.ids = ItemIds()
        self.thread_id = uuid7()
        self.escalation: EscalationPlan | None = None
        self.mcp: McpServers | None = None  # the configured MCP servers, for the thread's whole life
        self._assembly: Assembly | None = None
        self._running = False
        self._window_said = False  # ContextTight is said once per thread
        self._snapshots: list[TurnSnapshot] = []  # one per turn, newest last, for undo()

    # ---- building ----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, cwd: Path, home: Path, face: Face, resume: LoadedSession | None = None,
             ephemeral: bool = False, source: str = "exec", output_schema: OutputSchema | None = None,
             vision: bool = False, extra_tools: Sequence[Tool] = (), server: ModelServer | None = None) -> Thread:
        """Start a thread (or continue `resume`'s): lock its session file, make the model ready, restore
        the history, and emit `thread.started`. `source` is "exec" (the file is created now) or "cli"
        (with the first turn); `vision`: the face will send images, so a model without vision is refused
        now, before anything is recorded. `extra_tools` join the built-in ones (as do the tools of the MCP
        servers `settings` configure, started here); `server` is how the model is reached (default: its
        provider's server over HTTP; `ocodex.testing.scripted` for tests)."""
        if resume is not None:
            settings = keep_session_model(settings, resume)
        thread = cls(settings, cwd=cwd, home=home, face=face, recorder=Recorder(home, source=source,
                                                                               ephemeral=ephemeral),
                     output_schema=output_schema, extra_tools=extra_tools, server=server)
        for warning in settings.warnings:
            thread._emit(ConfigWarning(warning))
        thread.escalation, thread._settings, unavailable = plan_escalation(settings)
        if unavailable is not None:
            thread._emit(unavailable)
        if resume is not None:
            thread.thread_id = resume.meta.id
        thread.recorder.lock(resume)  # a session in use fails here, before the server is asked anything
        try:
            thread.mcp = start_mcp(thread._settings)  # they start while the model server is probed
            thread._assembly = thread._assemble(thread._settings)
            if vision:
                thread.check_images()
            thread.recorder.begin(thread.agent, thread._info(), resume, thread._emit)
            thread._emit(ThreadStarted(thread.thread_id))
        except BaseException:
            thread.close()
            raise
        stop_signals.opened(thread)  # SIGTERM/SIGHUP now stop its turns as Ctrl-C does
        if not gc.isenabled():  # `ocodex.cli.main` turned the collector off for start-up, which is over: what
            gc.freeze()  # it built lives as long as the process, so it is moved out of the collector's sight,
            gc.enable()  # and the collector runs again for the turns
        return thread

    def _assemble(self, settings: Settings, ids: ItemIds | None = None) -> Assembly:
        return assemble(settings, cwd=self.cwd, home=self.home, emit=self._emit, ids=ids or self.ids,
                        approvals=self.gate, extra_tools=self.extra_tools, server=self.server, mcp=self.mcp,
                        wrap=self.output_schema.wrap if self.output_schema is not None else None)

    def _emit(self, event: Event) -> None:
        self.recorder.event(event)  # the file keeps it even when the face's output breaks
        self.face.on_event(event)

    def _info(self) -> RunInfo:
        return RunInfo(self.thread_id, self.cwd, self.assembly.model, self.assembly.provider_id)

    @property
    def assembly(self) -> Assembly:
        if self._assembly is None:
            raise RuntimeError("the thread is closed")
        return self._assembly

    @property
    def agent(self) -> Agent:
        return self.assembly.agent

    # ---- what a face may read ----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def status(self) -> ThreadStatus:
        assembly = self.assembly
        configured = assembly.configured
        usage = Usage()
        usage.add(assembly.agent.usage)
        return ThreadStatus(
            thread_id=self.thread_id, provider=configured.provider, server=configured.server,
            server_source=configured.server_source, server_version=configured.server_version,
            model=assembly.model, model_reason=configured.model_reason, capabilities=assembly.choice.capabilities,
            context_window=assembly.choice.context_window, last_prompt_tokens=assembly.agent.last_prompt_tokens,
            usage=usage, sandbox=configured.sandbox, approval=self.gate.policy, edit_format=configured.edit_format,
            reasoning_effort=configured.reasoning_effort, cwd=str(self.cwd), session_path=self.recorder.path)

    def exchanges(self) -> list[tuple[str, str | None]]:
        """The conversation's (prompt, final answer) pairs, oldest first: tool calls and results left out."""
        return exchanges(self.agent.messages, self.agent.prompts)

    def check_images(self) -> None:
        """Refuse images for a model that reads none (when the server says what the model can do)."""
        capabilities = self.assembly.choice.capabilities
        if capabilities is not None and "vision" not in capabilities:
            raise UsageError(f"model '{self.assembly.model}' cannot read images (no vision capability)",
                             "choose a vision model, e.g. -m qwen2.5vl:7b or -m gemma3:4b")

    # ---- driving it ----------------------------------------------------------------------------

    def run_turn(self, prompt: str, images: Sequence[str] = ()) -> TurnResult:
        """Run one turn (and, if it fails the task and escalation is on, once more on the large model).
        `images` are data URLs. Raises `TurnInterrupted` after `interrupt()` or Ctrl-C, `Stopped` after
        SIGTERM or SIGHUP (`ocodex.thread.signals`), and `OutputSchemaMismatch` when the answer does
        not match --output-schema."""
        if images:
            self.check_images()
        agent = self.agent
        self.recorder.start_turn(self._settings, self._info(), prompt, len(images), self._emit)
        before, opening, prompts = list(agent.messages), agent.opening, agent.prompts
        self._snapshots = [*self._snapshots[-(UNDO_DEPTH - 1):], TurnSnapshot()]
        result = self._run(prompt, images)
        if should_escalate(self.escalation, result):
            result = self._escalate(prompt, images, before, opening, prompts, result)
        self._check_window()
        if result.final_message is not None and self.output_schema is not None:
            try:
                self.output_schema.check(result.final_message)
            except OutputSchemaMismatch as exc:
                self._emit(StreamErrorEvent(exc.message))
                raise
        return result

    def _run(self, prompt: str, images: Sequence[str]) -> TurnResult:
        agent = self.agent
        agent.ctx.snapshot = self._snapshots[-1] if self._snapshots else None
        agent.interrupt_reason = INTERRUPTED  # what a Ctrl-C says, unless `interrupt(reason)` says otherwise
        self._running = True
        try:
            return agent.run_turn(prompt, images)
        except TurnInterrupted:
            # A tool call cut short has no result, which chat servers reject: answer it as aborted
            # (as resuming the session file does), so the conversation can go on.
            agent.messages[:] = repair_history(agent.messages)
            stop_signals.raise_if_stopped()  # SIGTERM/SIGHUP did it: the program ends (`Stopped`)
            raise
        except KeyboardInterrupt:  # one that came just before or after the turn's own handling
            stop_signals.raise_if_stopped(shown=False)
            raise
        finally:
            self._running = False
            agent.ctx.snapshot = None

    def _escalate(self, prompt: str, images: Sequence[str], before: list[dict], opening: int, prompts: list[str],
                  result: TurnResult) -> TurnResult:
        plan = self.escalation
        assert plan is not None
        first_model = self.assembly.model
        first_usage = Usage()
        first_usage.add(result.usage)
        self._emit(Escalating(first_model, result.failure or "loop", plan.large))
        settings = for_large_model(self._settings, plan)
        second = self._assemble(settings)
        second.agent.take_over(before, opening, prompts)  # the retry starts from where the first attempt did
        second.agent.usage.add(first_usage)
        self._replace(second, settings)
        self.recorder.switched(second.agent, self._info(), escalated=True)
        final = self._run(prompt, images)
        self._emit(UsageByModel(((first_model, first_usage), (second.model, minus(final.usage, first_usage)))))
        return final

    def _replace(self, assembly: Assembly, settings: Settings) -> None:
        old, self._assembly, self._settings = self._assembly, assembly, settings
        if old is not None:
            old.close()

    @property
    def running(self) -> bool:
        """True while a turn runs (what `interrupt` would stop)."""
        return self._running

    def interrupt(self, reason: str = INTERRUPTED) -> None:
        """Stop the running turn as Ctrl-C does; `reason` is what its `turn.failed` says. Call it from a
        signal handler (SIGTERM, SIGHUP) or from another thread (a UI's key binding); does nothing
        between turns. The turn ends with `TurnInterrupted` in the thread that runs it."""
        if self._assembly is not None:
            self._assembly.agent.interrupt_reason = reason
        if not self._running:
            return
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt  # a signal handler (or a face's callback): unwind the turn right here
        # A real SIGINT for the main thread: it also wakes a blocking read or wait, as Ctrl-C would.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def undo(self) -> TurnUndone:
        """Put the files the latest turn's edits changed back as they were before it (added files are
        removed), tell the model in the conversation, and emit `TurnUndone`. Each call goes one turn
        further back. Raises `UsageError` during a turn or when writing fails (nothing is changed then)."""
        if self._running:
            raise UsageError("a turn is running; undo after it ends")
        snapshot = self._snapshots.pop() if self._snapshots else None
        if snapshot is None:
            done = TurnUndone((), (), ())
        else:
            try:
                restored = snapshot.restore(shown_from(self.cwd))
            except UndoFailed as exc:
                self._snapshots.append(snapshot)
                raise UsageError(exc.message) from None
            done = TurnUndone(restored.restored, restored.removed, restored.skipped)
        if done.restored or done.removed:
            parts = ([f"restored {', '.join(done.restored)} to their content before that turn"] if done.restored
                     else []) + ([f"removed {', '.join(done.removed)}, which that turn added"] if done.removed else [])
            self.agent.add_message({"role": "user", "content": (
                "[ocodex] The user undid the file changes of the previous turn: " + "; ".join(parts)
                + ". The files are as they were before that turn; take that into account.")})
        self._emit(done)
        return done

    def models(self) -> list[ServerModel] | None:
        """The models the server offers (Ollama's list, with sizes, context and capabilities), or None when
        the server cannot list them (a custom /v1 provider)."""
        catalog = self.assembly.connected.catalog
        return catalog() if catalog is not None else None

    def compact(self) -> bool:
        """Summarise the older part of the conversation now; False when there was nothing to summarise."""
        return self.agent.compact()

    def switch_model(self, model: str, source: str = "/model") -> None:
        """Continue the conversation on `model` from the next turn (the settings record `source`). The
        server is asked first; if it cannot serve the model, the thread stays as it was."""
        settings = self._settings.changed(source, {"model": model})
        old = self.agent
        new = self._assemble(settings)
        new.agent.take_over(list(old.messages), old.opening, old.prompts)
        new.agent.usage = old.usage
        self._replace(new, settings)
        self.recorder.switched(new.agent, self._info(), escalated=False)

    def set_approval_policy(self, policy: str, source: str = "/approvals") -> None:
        """Ask per `policy` from the next tool call on (the tools' schemas stay as the thread began)."""
        self._settings = self._settings.changed(source, {"approval_policy": policy})
        self.gate.policy = policy

    def new_thread(self) -> None:
        """Start a new conversation with the same settings (a new session file, with its first turn).
        If the server cannot be reached, the current conversation stays."""
        ids = ItemIds()
        fresh = self._assemble(self._settings, ids)
        self.ids, self.thread_id = ids, uuid7()
        self._replace(fresh, self._settings)
        self.recorder.restart(fresh.agent, self._info())
        self.gate.always.clear()  # "always" was said for the old conversation
        self._snapshots.clear()  # the new conversation made no edits to undo
        self._emit(ThreadStarted(self.thread_id))

    def close(self) -> None:
        """End the thread: its connections, its MCP servers, then its session file (flushed and synced)."""
        stop_signals.closed(self)
        with stop_signals.held():  # a SIGTERM now waits until all of it is closed
            try:
                if self._assembly is not None:
                    self._check_probes(self._assembly)
                    self._assembly.close()
                    self._assembly = None
            finally:
                try:
                    if self.mcp is not None:
                        self.mcp.close()
                        self.mcp = None
                finally:
                    self.recorder.close()

    def _check_window(self) -> None:
        """Say the context rule once, when it matters: a turn used over half of a window below the rule."""
        assembly = self.assembly
        sized, used = assembly.choice.context, assembly.agent.last_prompt_tokens
        if self._window_said or sized is None or not sized.suggested or sized.window is None or used is None:
            return
        if used * 2 > sized.window:
            self._window_said = True
            self._emit(ContextTight(sized.window, used, sized.suggested))

    def _check_probes(self, assembly: Assembly) -> None:
        """A warm run's cached probes, checked: a disagreement drops them (the next run probes again) and says so."""
        validation = assembly.choice.validation
        if validation is None:
            return
        reason = validation.outcome(assembly.agent.last_prompt_tokens, assembly.choice.context_window)
        if reason is not None:
            self._emit(ProbesStale(assembly.model, reason))

    def __enter__(self) -> Thread:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
