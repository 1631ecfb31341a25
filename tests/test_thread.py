"""The thread, driven directly with the in-process scripted model: no server, no HTTP, no subprocess of
ocodex. Each behaviour of a conversation in milliseconds: tools, items as immutable values, compaction,
escalation, text-form calls, the loop guard, interrupts (Ctrl-C and a signal), resume, model switches,
new threads, recording, --output-schema."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from ocodex.approval import ApprovalRequest, Decision
from ocodex.config import Settings
from ocodex.errors import ProviderError, TurnInterrupted, UsageError
from ocodex.events import (
    CommandExecution,
    Compacted,
    Escalating,
    FileChange,
    ItemCompleted,
    ItemStarted,
    SessionConfigured,
    SessionResumed,
    TextToolMode,
    ThreadStarted,
    TodoList,
    TurnCompleted,
    TurnFailed,
    UsageByModel,
)
from ocodex.output_schema import OutputSchema, OutputSchemaMismatch
from ocodex.sessions import SessionError, load_session
from ocodex.testing.scripted import ScriptedModel, Step
from ocodex.thread import Thread


class Face:
    """A face that records what it is shown and answers approvals from a script (default: no)."""

    def __init__(self, *answers: Decision) -> None:
        self.events: list[Any] = []
        self.asked: list[ApprovalRequest] = []
        self.answers: deque[Decision] = deque(answers)

    def on_event(self, event: Any) -> None:
        self.events.append(event)

    def approve(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        return self.answers.popleft() if self.answers else "no"

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def items(self, kind: type, phase: type = ItemCompleted) -> list[Any]:
        return [e.item for e in self.events if isinstance(e, phase) and isinstance(e.item, kind)]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def settings(**values: Any) -> Settings:
    return Settings().changed("test", {"sandbox_mode": "danger-full-access", **values})


def open_thread(model: ScriptedModel, work: Path, home: Path, face: Face | None = None, **kwargs: Any) -> Thread:
    chosen = kwargs.pop("settings", None) or settings()
    return Thread.open(chosen, cwd=work, home=home, face=face or Face(), server=model, **kwargs)


def session_records(thread_or_path: Thread | Path) -> list[dict[str, Any]]:
    path = thread_or_path if isinstance(thread_or_path, Path) else thread_or_path.status.session_path
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- a turn ------------------------------------------------------------------------------------

def test_a_turn_runs_a_command_and_answers(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.call("shell", {"command": ["echo", "hello"]}, usage=(100, 5)),
                          Step.say("It said hello.", usage=(150, 6)))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        result = thread.run_turn("say hello")
        status = thread.status
    assert result.ok and result.final_message == "It said hello."
    kinds = [type(e).__name__ for e in face.events]
    assert kinds.index("SessionConfigured") < kinds.index("ThreadStarted") < kinds.index("TurnStarted")
    assert kinds[-1] == "TurnCompleted"
    assert "hello" in face.items(CommandExecution)[0].aggregated_output
    tool_reply = model.requests[1].messages[-1]
    assert tool_reply["role"] == "tool" and "hello" in tool_reply["content"]
    assert (status.usage.input_tokens, status.usage.output_tokens) == (250, 11)
    assert status.last_prompt_tokens == 150 and status.model == "scripted" and status.approval == "never"
    assert status.edit_format == "apply_patch" and status.sandbox == "danger-full-access"
    records = session_records(status.session_path)
    assert [r["type"] for r in records][:2] == ["session_meta", "response_item"]
    assert {"type": "user_message", "message": "say hello", "images": 0} in [r["payload"] for r in records]


def test_items_are_new_values_paired_by_id(work: Path, home: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+one\n*** End Patch\n"
    model = ScriptedModel(Step.call("shell", {"command": ["true"]}), Step.call("apply_patch", {"input": patch}),
                          Step.call("update_plan", {"plan": [{"step": "a", "status": "in_progress"}]}),
                          Step.call("update_plan", {"plan": [{"step": "a", "status": "completed"}]}),
                          Step.say("ok"))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        thread.run_turn("go")
    for kind in (CommandExecution, FileChange):
        started, completed = face.items(kind, ItemStarted)[0], face.items(kind, ItemCompleted)[0]
        assert started is not completed and started.id == completed.id
        assert started.status == "in_progress" and completed.status == "completed"
    plans = [e.item for e in face.events if isinstance(getattr(e, "item", None), TodoList)]
    assert len({p.id for p in plans}) == 1 and [p.items[0].completed for p in plans] == [False, True, True]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plans[0].items = ()  # type: ignore[misc]
    assert (work / "a.txt").read_text() == "one\n"


def test_the_loop_guard_fails_the_turn(work: Path, home: Path) -> None:
    model = ScriptedModel(*[Step.call("shell", {"command": ["echo", "same"]}) for _ in range(5)])
    face = Face()
    with open_thread(model, work, home, face) as thread:
        result = thread.run_turn("go")
    assert not result.ok and result.failure == "loop" and len(model.requests) == 3
    assert isinstance(face.events[-1], TurnFailed) and "loop detected" in face.events[-1].message


def test_a_model_without_native_tools_is_read_from_its_text(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.say('<tool_call>{"name": "shell", "arguments": {"command": ["echo", "t"]}}</tool_call>'),
                          Step.say("done"), capabilities=("completion",))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        assert thread.run_turn("go").final_message == "done"
    assert face.of(TextToolMode)[0].because == "capabilities"
    assert model.requests[0].tools == [] and "<tool_call>" in model.requests[0].messages[0]["content"]
    assert model.requests[1].messages[-1]["content"].startswith('<tool_result name="shell">')


def test_a_server_that_refuses_tools_switches_to_text_calls(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.fail(ProviderError("model request failed (400): m does not support tools")),
                          Step.say("fine"))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        assert thread.run_turn("go").final_message == "fine"
    assert face.of(TextToolMode)[0].because == "server"
    assert model.requests[0].tools and model.requests[1].tools == []


def test_transient_errors_are_retried_as_reconnects(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.fail(ProviderError("busy", retryable=True, retry_after=0.0)), Step.say("ok"))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        assert thread.run_turn("go").final_message == "ok"
    reconnects = [e for e in face.events if type(e).__name__ == "Reconnecting"]
    assert reconnects[0].to_dict() == {"type": "error", "message": "Reconnecting... 1/4 (busy)"}


# ---- the context window ------------------------------------------------------------------------

def test_a_long_conversation_is_compacted_and_the_prompt_survives(work: Path, home: Path) -> None:
    (work / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    model = ScriptedModel(Step.call("shell", {"command": ["head", "-c", "2000", "big.txt"]}),
                          Step.call("shell", {"command": ["tail", "-c", "2000", "big.txt"]}),
                          Step.say("SUMMARY: head and tail read."),
                          Step.say("400 lines."),
                          Step.say("SUMMARY: asked for the length; it is 400 lines."))
    face = Face()
    chosen = settings(model_auto_compact_token_limit=1500)
    with open_thread(model, work, home, face, settings=chosen) as thread:
        assert thread.run_turn("how long is big.txt?").final_message == "400 lines."
        assert thread.compact() is True  # `/compact`: summarise now
    assert [r.purpose for r in model.requests] == ["turn", "turn", "compaction", "turn", "compaction"]
    assert model.requests[2].tools == []
    after = json.dumps(model.requests[3].messages)
    assert "how long is big.txt?" in after and "SUMMARY: head and tail read." in after
    assert "line 5 of a long file" not in after
    assert len(face.of(Compacted)) == 2 and face.of(Compacted)[0].messages >= 2


def test_output_schema_is_sent_except_on_compaction_and_checked(work: Path, home: Path) -> None:
    schema = OutputSchema({"type": "object", "required": ["n"]}, "schema.json")
    model = ScriptedModel(Step.say('{"n": 1}'), Step.say("not json"))
    with open_thread(model, work, home, output_schema=schema) as thread:
        assert thread.run_turn("count").final_message == '{"n": 1}'
        with pytest.raises(OutputSchemaMismatch, match="not JSON"):
            thread.run_turn("again")
    assert all(r.response_format["json_schema"]["name"] == "codex_output_schema" for r in model.requests)


# ---- escalation --------------------------------------------------------------------------------

def test_a_failed_task_escalates_once_to_the_large_model(work: Path, home: Path) -> None:
    model = ScriptedModel(*[Step.call("shell", {"command": ["echo", "stuck"]}, usage=(100, 1)) for _ in range(3)],
                          Step.say("Solved.", usage=(200, 2)))
    face = Face()
    chosen = settings(extra={"escalate": True}, model="small:7b", oss=dataclasses.replace(
        Settings().oss, large_model="large:70b"))
    with open_thread(model, work, home, face, settings=chosen) as thread:
        result = thread.run_turn("go")
        assert thread.status.model == "large:70b"
        assert thread.settings.describe_source("model") == "[oss] large_model, escalated"
        records = session_records(thread)
    assert result.ok and model.models == ["small:7b"] * 3 + ["large:70b"]
    assert face.of(Escalating)[0].text() == ("escalating: small:7b failed the task (it got stuck in a loop); "
                                             "retrying it once with large:70b")
    split = face.of(UsageByModel)[0].usage
    assert [(m, u.input_tokens) for m, u in split] == [("small:7b", 300), ("large:70b", 200)]
    assert result.usage.input_tokens == 500
    # The retry starts from the history before the first attempt: its tool calls are gone.
    assert "stuck" not in json.dumps(model.requests[3].messages)
    contexts = [r["payload"] for r in records if r["type"] == "turn_context"]
    assert contexts[-1] == {"cwd": str(work), "model": "large:70b", "model_provider": "oss", "escalated": True}
    assert records[-1]["type"] == "event_msg" and records[-1]["payload"]["type"] == "turn.completed"


def test_server_errors_never_escalate(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.fail(ProviderError("model request failed (500): boom")))
    chosen = settings(extra={"escalate": True}, model="small:7b")
    with open_thread(model, work, home, settings=chosen) as thread:
        assert thread.run_turn("go").failure is None
    assert model.models == ["small:7b"]


# ---- interrupts --------------------------------------------------------------------------------

def _interrupt_soon(thread: Thread, model: ScriptedModel, reason: str = "interrupted by the user") -> None:
    def later() -> None:
        deadline = time.monotonic() + 10
        while not model.requests and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        thread.interrupt(reason)

    threading.Thread(target=later, daemon=True).start()


def test_interrupt_stops_a_slow_reply_and_the_conversation_goes_on(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.stall(), Step.say("after"))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        _interrupt_soon(thread, model)
        with pytest.raises(TurnInterrupted, match="interrupted by the user"):
            thread.run_turn("slow")
        assert face.of(TurnFailed)[-1].message == "interrupted by the user"
        assert thread.run_turn("next").final_message == "after"


def test_interrupt_kills_a_running_command_and_repairs_the_history(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.call("shell", {"command": ["sleep", "30"]}), Step.say("recovered"))
    with open_thread(model, work, home) as thread:
        started = time.monotonic()
        model.on_request = lambda request: None
        threading.Timer(0.5, thread.interrupt).start()
        with pytest.raises(TurnInterrupted):
            thread.run_turn("sleep")
        assert time.monotonic() - started < 10
        assert thread.run_turn("and now?").final_message == "recovered"
    tool_messages = [m for m in model.requests[-1].messages if m.get("role") == "tool"]
    assert tool_messages and tool_messages[0]["content"].startswith("aborted")


def test_a_signal_handler_can_stop_a_turn(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.stall())
    face = Face()
    with open_thread(model, work, home, face) as thread:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: thread.interrupt("terminated (SIGTERM)"))
        try:
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
            with pytest.raises(TurnInterrupted, match="SIGTERM"):
                thread.run_turn("wait")
        finally:
            signal.signal(signal.SIGTERM, previous)
    assert face.of(TurnFailed)[-1].message == "terminated (SIGTERM)"


# ---- sessions ----------------------------------------------------------------------------------

def test_resume_restores_the_history_and_the_usage(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.say("Noted: 42.", usage=(100, 3)), Step.say("It was 42.", usage=(120, 3)))
    with open_thread(model, work, home) as thread:
        thread.run_turn("remember 42")
        path, thread_id = thread.status.session_path, thread.thread_id
    face = Face()
    with open_thread(model, work, home, face, resume=load_session(path)) as again:
        assert again.thread_id == thread_id and again.status.session_path == path
        assert again.run_turn("what number?").final_message == "It was 42."
        assert again.status.usage.input_tokens == 220
        assert again.exchanges() == [("remember 42", "Noted: 42."), ("what number?", "It was 42.")]
    assert face.of(SessionResumed)[0].messages >= 3
    sent = [m.get("content") for m in model.requests[1].messages]
    assert "remember 42" in sent and "Noted: 42." in sent


def test_a_session_in_use_is_refused_before_the_server_is_asked(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.say("one"))
    with open_thread(model, work, home) as thread:
        thread.run_turn("first")
        loaded = load_session(thread.status.session_path)
        asked: list[str] = []
        other = ScriptedModel()
        other.connect = lambda settings, emit: asked.append("connect")  # type: ignore[method-assign]
        with pytest.raises(SessionError, match="in use by another ocodex run"):
            open_thread(other, work, home, resume=loaded)
        assert asked == []


def test_an_interactive_thread_saves_with_its_first_turn_and_ephemeral_saves_nothing(work: Path,
                                                                                     home: Path) -> None:
    with open_thread(ScriptedModel(), work, home, source="cli") as thread:
        assert thread.status.session_path is None  # nothing yet: no empty session is left behind
        thread.run_turn("hi")
        records = session_records(thread)
    assert next(r["payload"]["type"] for r in records if r["type"] == "event_msg") == "thread.started"
    with open_thread(ScriptedModel(), work, home, ephemeral=True) as thread:
        thread.run_turn("hi")
        assert thread.status.session_path is None
    assert len(list((home / "sessions").rglob("*.jsonl"))) == 1


def test_switching_the_model_keeps_the_conversation(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.say("first"), Step.say("second"))
    with open_thread(model, work, home, settings=settings(model="a:1b")) as thread:
        thread.run_turn("one")
        thread.switch_model("b:7b")
        assert thread.settings.describe_source("model") == "/model"
        thread.run_turn("two")
        records = session_records(thread)
    assert model.models == ["a:1b", "b:7b"]
    assert "first" in [m.get("content") for m in model.requests[1].messages]
    assert {"cwd": str(work), "model": "b:7b", "model_provider": "oss"} in [
        r["payload"] for r in records if r["type"] == "turn_context"]


def test_a_new_thread_starts_empty_in_a_new_file(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.say("one"), Step.say("two"))
    face = Face()
    with open_thread(model, work, home, face) as thread:
        thread.run_turn("the old task")
        first_id, first_path = thread.thread_id, thread.status.session_path
        thread.new_thread()
        thread.run_turn("the new task")
        assert thread.thread_id != first_id and thread.status.session_path != first_path
    assert "the old task" not in json.dumps(model.requests[1].messages)
    assert [e.thread_id for e in face.of(ThreadStarted)] == [first_id, thread.thread_id]


def test_images_need_a_vision_model(work: Path, home: Path) -> None:
    with pytest.raises(UsageError, match="cannot read images"):
        open_thread(ScriptedModel(), work, home, vision=True)
    model = ScriptedModel(capabilities=("completion", "tools", "vision"))
    with open_thread(model, work, home, vision=True) as thread:
        thread.run_turn("what is it?", ["data:image/png;base64,AAAA"])
    assert model.requests[0].messages[-1]["content"][0]["type"] == "image_url"


def test_the_configured_session_says_what_was_chosen(work: Path, home: Path) -> None:
    face = Face()
    with open_thread(ScriptedModel(context_window=8192), work, home, face, settings=settings(model="m:1b")):
        pass
    configured = face.of(SessionConfigured)[0]
    assert (configured.model, configured.model_reason, configured.context_window) == ("m:1b", "from -m", 8192)
    # A 1B model is small (ocodex.profile): it writes whole files
    assert (configured.sandbox, configured.approval, configured.edit_format) == ("danger-full-access", "never",
                                                                                 "whole")
    assert face.of(TurnCompleted) == []


# ---- the sandbox probe runs while the server is asked ------------------------------------------------


class PullingServer:
    """A `ModelServer` whose model is missing: it says a pull starts, then "pulls" (or is interrupted)."""

    def __init__(self, model: ScriptedModel, *, interrupt: bool = False) -> None:
        self.model, self.interrupt, self.pulled = model, interrupt, False

    def connect(self, chosen: Settings, emit: Any, ask: Any = None) -> Any:
        from ocodex.events import PullStarted

        if self.interrupt:
            raise KeyboardInterrupt
        emit(PullStarted("qwen3:8b"))
        self.pulled = True
        return self.model.connect(chosen, emit, ask)


def test_a_broken_sandbox_is_reported_before_a_pull_begins_and_ctrl_c_stays_ctrl_c(
        work: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocodex.errors import SandboxUnavailable
    from ocodex.sandbox import run

    def broken(_policy: Any) -> None:
        time.sleep(0.05)  # still probing when the server answers
        raise SandboxUnavailable("sandbox mode 'workspace-write' needs bubblewrap, which is missing")

    monkeypatch.setattr(run, "check_available", broken)
    server = PullingServer(ScriptedModel(Step.say("hi")))
    with pytest.raises(SandboxUnavailable, match="needs bubblewrap"):
        Thread.open(settings(sandbox_mode="workspace-write"), cwd=work, home=home, face=Face(), server=server)
    assert not server.pulled
    with pytest.raises(KeyboardInterrupt):
        Thread.open(settings(sandbox_mode="workspace-write"), cwd=work, home=home, face=Face(),
                    server=PullingServer(ScriptedModel(), interrupt=True))


def test_a_passed_sandbox_probe_is_remembered_and_a_failed_one_is_not(
        work: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocodex.errors import SandboxUnavailable
    from ocodex.sandbox import run

    calls: list[str] = []
    outcome: list[BaseException | None] = [SandboxUnavailable("sandbox mode 'read-only': bwrap: setting up uid map")]

    def probe(policy: Any) -> None:
        if Path(policy.cwd).resolve() != work.resolve():
            return  # a probe another test left running (it was interrupted while connecting)
        calls.append(policy.mode)
        if outcome[0] is not None:
            raise outcome[0]

    monkeypatch.setattr(run, "check_available", probe)
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: "/bin/sh" if name == "bwrap" else None)

    def open_once(mode: str) -> None:
        with Thread.open(settings(sandbox_mode=mode), cwd=work, home=home, face=Face(),
                         server=ScriptedModel(Step.say("hi"))) as thread:
            thread.run_turn("hi")

    with pytest.raises(SandboxUnavailable):
        open_once("read-only")
    outcome[0] = None
    open_once("read-only")
    open_once("read-only")  # remembered: not probed again
    open_once("workspace-write")  # another mode is another answer
    assert calls == ["read-only", "read-only", "workspace-write"]
    assert [p.name for p in (home / "cache").iterdir()] == ["sandbox.json"]
