"""The interactive session, driven in tmux as a person would: type a task, read the screen, type another."""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import base_env
from fakes.fake_ollama import FakeOllama, Turn

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Screen:
    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def text(self) -> str:
        proc = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", self.name],
                              capture_output=True, text=True)
        return proc.stdout

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if needle in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared on screen:\n{self.text()}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0


@contextlib.contextmanager
def terminal(home: Path, repo: Path, fake: FakeOllama, *args: str) -> Iterator[Screen]:
    """`ocodex ARGS...` running in a tmux pane of 120x40."""
    name = f"ocodex-test-{uuid.uuid4().hex[:8]}"
    env = base_env(home, fake.base_url)
    env_args = [arg for key in ("OCODEX_HOME", "CODEX_OSS_BASE_URL", "OCODEX_HOST_MEMORY_GIB", "NO_COLOR",
                                "PATH", "HOME")
                for arg in ("-e", f"{key}={env[key]}")]
    command = f"cd {repo} && {sys.executable} -m ocodex {shlex.join(args)}; echo OCODEX-EXITED=$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", *env_args, command],
                   check=True)
    try:
        yield Screen(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


@pytest.fixture
def screen(home: Path, repo: Path, fake: FakeOllama) -> Iterator[Screen]:
    with terminal(home, repo, fake) as opened:
        yield opened


def test_a_conversation_in_the_terminal(screen: Screen, fake: FakeOllama, repo: Path) -> None:
    (repo / "notes.txt").write_text("remember the milk\n")
    fake.script(Turn.text("Hello from the **fake** model."),
                Turn.tool_call("shell", {"command": ["cat", "notes.txt"]}),
                Turn.text("The note says to remember the milk."))
    screen.wait_for("› ")
    screen.send("say hello", "Enter")
    shown = screen.wait_for("Hello from the fake model.")  # Markdown rendered: no ** on screen
    assert "**fake**" not in shown

    screen.send("what does notes.txt say?", "Enter")
    shown = screen.wait_for("The note says to remember the milk.")
    assert "cat notes.txt" in shown and "exit 0" in shown
    # The second task was sent with the first exchange in the conversation.
    second = fake.chat_requests[1]["messages"]
    assert any(m["role"] == "assistant" and "fake" in (m.get("content") or "") for m in second)

    screen.send("/usage", "Enter")
    screen.wait_for("tokens: in")
    screen.send("/exit", "Enter")
    screen.wait_for("OCODEX-EXITED=0")


def test_ctrl_d_leaves_and_unknown_commands_are_explained(screen: Screen) -> None:
    screen.wait_for("› ")
    screen.send("/bogus", "Enter")
    screen.wait_for("unknown command /bogus")
    screen.send("C-d")
    screen.wait_for("OCODEX-EXITED=0")


def test_each_conversation_is_saved_and_exec_resume_continues_it(screen: Screen, fake: FakeOllama, home: Path,
                                                                  ocodex) -> None:
    fake.script(Turn.text("First answer."), Turn.text("Second answer."))
    screen.wait_for("› ")
    screen.send("first task", "Enter")
    screen.wait_for("First answer.")
    screen.send("/new", "Enter")
    screen.send("/new", "Enter")  # a conversation without a task leaves no file
    screen.send("second task", "Enter")
    screen.wait_for("Second answer.")
    screen.send("/new", "Enter")
    screen.send("/exit", "Enter")
    screen.wait_for("OCODEX-EXITED=0")

    files = sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"), key=lambda p: p.stat().st_mtime)
    assert len(files) == 2  # /new started a new session file; the empty conversations left none
    saved = []
    for path in files:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert records[0]["type"] == "session_meta" and records[0]["payload"]["source"] == "cli"
        events = [r["payload"]["type"] for r in records if r["type"] == "event_msg"]
        assert events[:2] == ["thread.started", "user_message"] and events[-1] == "turn.completed"
        saved.append((records[0]["payload"]["id"], [r["payload"] for r in records if r["type"] == "response_item"]))
    (first_id, first_messages), (_, second_messages) = saved
    assert first_messages[-2:] == [{"role": "user", "content": "first task"},
                                   {"role": "assistant", "content": "First answer."}]
    assert "first task" not in json.dumps(second_messages)  # a new conversation

    fake.script(Turn.text("Continued."))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "resume", first_id, "go on")
    assert run.returncode == 0, run.stderr
    assert run.events()[0]["thread_id"] == first_id
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "first task"}, {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "go on"}]


def test_ctrl_c_during_a_command_keeps_a_valid_conversation(screen: Screen, fake: FakeOllama) -> None:
    fake.script(Turn.tool_call("shell", {"command": "sleep 30"}), Turn.text("Next answer."))
    screen.wait_for("› ")
    screen.send("wait a while", "Enter")
    screen.wait_for("sleep 30")
    screen.send("C-c")
    screen.wait_for("the conversation continues")
    screen.send("next task", "Enter")
    screen.wait_for("Next answer.")
    sent = fake.chat_requests[-1]["messages"]
    calls = [c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls") or ()]
    answered = [m["tool_call_id"] for m in sent if m["role"] == "tool"]
    assert calls and answered == calls  # the interrupted call got a result, so the server accepts the history
    assert sent[-1] == {"role": "user", "content": "next task"}


def test_ocodex_resume_continues_a_saved_session_here(fake: FakeOllama, home: Path, repo: Path, ocodex) -> None:
    fake.script(Turn.text("The number is 42."))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "remember 42")
    assert first.returncode == 0, first.stderr
    thread = first.events()[0]["thread_id"]
    fake.script(Turn.text("You said 42."))
    with terminal(home, repo, fake, "resume", "--last") as screen:
        screen.wait_for(f"resuming session {thread}")
        screen.send("what number?", "Enter")
        screen.wait_for("You said 42.")
        screen.send("/exit", "Enter")
        screen.wait_for("OCODEX-EXITED=0")
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "remember 42"}, {"role": "assistant", "content": "The number is 42."},
        {"role": "user", "content": "what number?"}]
    [path] = (home / "sessions").glob("*/*/*/rollout-*.jsonl")  # the same file goes on
    assert "You said 42." in path.read_text()

    with terminal(home, repo, fake, "resume") as screen:
        screen.wait_for("`ocodex resume` needs a SESSION_ID or --last")
        screen.wait_for("OCODEX-EXITED=2")
    assert "only applies with --last" in ocodex("resume", thread, "--all").stderr


def test_an_unwritable_sessions_directory_warns_and_the_conversation_goes_on(fake: FakeOllama, home: Path,
                                                                              repo: Path) -> None:
    (home / "sessions").write_text("a file where the directory should be")
    fake.script(Turn.text("Still here."))
    with terminal(home, repo, fake) as screen:
        screen.wait_for("› ")
        screen.send("hello", "Enter")
        screen.wait_for("this conversation is not being saved: cannot write session file")
        screen.wait_for("Still here.")
        screen.send("/new", "Enter")
        screen.send("/exit", "Enter")
        screen.wait_for("OCODEX-EXITED=0")


def test_new_with_the_server_gone_reports_it_and_keeps_the_conversation(screen: Screen, fake: FakeOllama) -> None:
    fake.script(Turn.text("First answer."))
    screen.wait_for("› ")
    screen.send("first task", "Enter")
    screen.wait_for("First answer.")
    fake.stop()
    screen.send("/new", "Enter")
    screen.wait_for("error: ")
    screen.send("/usage", "Enter")
    screen.wait_for("tokens: in")  # still in the session, not thrown out
    assert "OCODEX-EXITED" not in screen.text()
    screen.send("/exit", "Enter")
    screen.wait_for("OCODEX-EXITED=0")


def test_the_prompt_history_file_is_private(tmp_path: Path) -> None:
    from ocodex.ui.repl import _History

    history = _History(tmp_path / "history")
    if history.readline is None:
        pytest.skip("readline is not available")
    history.readline.add_history("use my token abc123")
    history.save()
    assert (tmp_path / "history").stat().st_mode & 0o777 == 0o600


def test_ephemeral_saves_nothing_and_says_so_once(fake: FakeOllama, home: Path, repo: Path, ocodex) -> None:
    fake.script(Turn.text("First answer."), Turn.text("Second answer."))
    with terminal(home, repo, fake, "--ephemeral") as screen:
        screen.wait_for("› ")
        screen.send("first task", "Enter")
        screen.wait_for("First answer.")
        screen.send("/new", "Enter")
        screen.send("second task", "Enter")
        screen.wait_for("Second answer.")
        screen.send("/exit", "Enter")
        shown = screen.wait_for("OCODEX-EXITED=0")
    assert shown.count("--ephemeral: this conversation is not saved") == 1
    assert not list(home.glob("sessions/*/*/*/rollout-*.jsonl"))

    fake.script(Turn.text("Saved answer."), Turn.text("Unsaved answer."))
    assert ocodex("exec", "--oss", "--json", "keep this").returncode == 0
    [path] = home.glob("sessions/*/*/*/rollout-*.jsonl")
    before = path.read_bytes()
    with terminal(home, repo, fake, "resume", "--last", "--ephemeral") as screen:
        screen.wait_for("› ")
        screen.send("and this?", "Enter")
        screen.wait_for("Unsaved answer.")
        screen.send("/exit", "Enter")
        shown = screen.wait_for("OCODEX-EXITED=0")
    assert shown.count("this run is not saved") == 1
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "keep this"}, {"role": "assistant", "content": "Saved answer."},
        {"role": "user", "content": "and this?"}]
    assert path.read_bytes() == before


def test_resume_shows_the_last_exchanges_before_the_prompt(fake: FakeOllama, home: Path, repo: Path,
                                                            ocodex) -> None:
    (repo / "notes.txt").write_text("remember the milk\n")
    long_answer = "\n".join(f"answer line {n}" for n in range(1, 10))
    fake.script(Turn.text("Answer one."),
                Turn.tool_call("shell", {"command": ["cat", "notes.txt"]}), Turn.text("It says milk."),
                Turn.text("Answer three."), Turn.text(long_answer))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "task one")
    thread = first.events()[0]["thread_id"]
    for prompt in ("what does notes.txt say?", "task three", "task four"):
        assert ocodex("exec", "--oss", "--full-auto", "--json", "resume", thread, prompt).returncode == 0
    with terminal(home, repo, fake, "resume", thread) as screen:
        screen.wait_for("answer line 4 …")
        shown = screen.text()
        for _ in range(200):  # until the prompt is drawn below the recap
            if shown.rstrip().endswith("›"):
                break
            time.sleep(0.1)
            shown = screen.text()
        screen.send("/exit", "Enter")
        screen.wait_for("OCODEX-EXITED=0")
    recap = shown[shown.index("last exchanges:"):]
    assert "task one" not in recap and "Answer one." not in recap  # only the last three
    assert "› what does notes.txt say?\n  It says milk." in recap
    assert "cat notes.txt" not in recap  # no tool noise
    assert "› task three\n  Answer three." in recap
    assert "answer line 4 …" in recap and "answer line 5" not in recap  # long answers are clipped
    assert "Ctrl-D to leave" not in recap and recap.rstrip().endswith("›")  # just above the prompt


def test_the_resume_recap_keeps_prompts_and_answers_only() -> None:
    from ocodex.agent.history import exchanges
    from ocodex.ui.repl import recap

    messages = [{"role": "system", "content": "you are an agent"},
                {"role": "user", "content": "<environment_context>...</environment_context>"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:..."}},
                                             {"type": "text", "text": "what is in the picture?"}]},
                {"role": "assistant", "content": "Let me look.", "tool_calls": [{"id": "c1"}]},
                {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
                {"role": "assistant", "content": "A cat."},
                {"role": "user", "content": "x" * 300},
                {"role": "tool", "tool_call_id": "c2", "content": "aborted"}]
    text = recap(exchanges(messages, ["what is in the picture?", "x" * 300]))
    assert text.splitlines() == ["last exchanges:", "› what is in the picture?", "  A cat.",
                                  "› " + "x" * 99 + "…", "  (no answer)"]
    assert recap(exchanges(messages[:2], [])) == ""
