"""SIGTERM and SIGHUP stop a run as Ctrl-C does (issue 10, item 12): the running command's process
group is killed in every sandbox mode (no orphan in danger-full-access), the turn ends with
`turn.failed` in the `--json` stream and the session file, the exit code is 128 + the signal, and the
session can be resumed. Real signals to a real `ocodex exec`, then to an in-process thread."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import base_env
from fakes.fake_ollama import Turn
from ocodex.errors import Stopped, TurnInterrupted
from ocodex.events import TurnFailed
from ocodex.testing.scripted import ScriptedModel, Step
from ocodex.thread import Thread
from ocodex.thread.signals import StopSignals

MODES = ("read-only", "workspace-write", "danger-full-access")
PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"  # a real stdio MCP server (the `mcp` SDK's)


def marked(marker: str, *, sleeps_only: bool = False) -> list[int]:
    """Host pids of every live process whose command line holds `marker` (the shell, bwrap and the
    sleeps of the command); `sleeps_only`: just the `sleep MARKER...` processes themselves."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:
            continue
        if sleeps_only:
            found = len(argv) >= 2 and Path(argv[0]).name == "sleep" and argv[1].startswith(marker)
        else:
            found = any(marker in arg for arg in argv)
        if found and "zombie" not in state:
            pids.append(int(entry.name))
    return pids


def poll(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def session_records(home: Path) -> list[dict[str, Any]]:
    (path,) = (home / "sessions").rglob("rollout-*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def start(fake, home: Path, repo: Path, mode: str, marker: str, *, json_mode: bool = True) -> subprocess.Popen:
    """`ocodex exec` running a command that lasts: a shell, a child of it in the background, and a
    foreground sleep, each with `marker` in its command line."""
    script = f"sleep {marker}1 & sleep {marker}2; wait"
    fake.script(Turn.tool_call("shell", {"command": ["sh", "-c", script]}), Turn.text("resumed fine"))
    argv = [sys.executable, "-m", "ocodex", "exec", "--oss", "-s", mode, *(["--json"] if json_mode else []), "wait"]
    return subprocess.Popen(argv, cwd=repo, env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_kills_the_command_and_ends_the_turn(fake, home: Path, repo: Path, mode: str,
                                                           signum: int) -> None:
    marker = f"31{os.getpid() % 1000:03d}{MODES.index(mode)}{signum}"
    proc = start(fake, home, repo, mode, marker)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # until the command is running
            seen.append(json.loads(line))
            if seen[-1]["type"] == "item.started" and seen[-1]["item"]["type"] == "command_execution":
                break
        assert seen and seen[-1]["type"] == "item.started", f"ocodex ended early: {proc.communicate()[1]}"
        assert poll(lambda: len(marked(marker, sleeps_only=True)) == 2), "the command did not start"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and err.count(f"stopped by {name}") == 1, err
    last = json.loads(out.splitlines()[-1])
    assert last == {"type": "turn.failed", "error": {"message": f"stopped by {name}"}}
    assert poll(lambda: marked(marker) == []), "a process of the command survived"

    events = [r["payload"] for r in session_records(home) if r["type"] == "event_msg"]
    assert events[-1] == {"type": "turn.failed", "error": {"message": f"stopped by {name}"}}
    resumed = subprocess.run([sys.executable, "-m", "ocodex", "exec", "--oss", "-s", mode, "resume", "--last",
                              "go on"], cwd=repo, env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "resumed fine\n"
    tool = [m for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"]
    assert tool and tool[0]["content"].startswith("aborted")  # the cut-short call was answered


def test_sigterm_in_human_mode_says_so_once(fake, home: Path, repo: Path) -> None:
    marker = f"32{os.getpid() % 1000:03d}"
    proc = start(fake, home, repo, "danger-full-access", marker, json_mode=False)
    try:
        assert poll(lambda: len(marked(marker, sleeps_only=True)) == 2), "the command did not start"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143 and out == ""
    assert "Traceback" not in err and err.count("stopped by SIGTERM") == 1, err
    assert poll(lambda: marked(marker) == [])


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize(("signum", "busy"), [(signal.SIGHUP, True), (signal.SIGTERM, False)],
                         ids=["SIGHUP-during-a-turn", "SIGTERM-at-the-prompt"])
def test_a_stop_signal_to_the_interactive_session_in_a_terminal(fake, home: Path, repo: Path, tmp_path: Path,
                                                               signum: int, busy: bool) -> None:
    marker = f"33{os.getpid() % 1000:03d}{signum}"
    fake.script(Turn.tool_call("shell", {"command": ["sh", "-c", f"sleep {marker}1 & sleep {marker}2; wait"]}))
    env = base_env(home, fake.base_url)
    rc, err = tmp_path / "rc", tmp_path / "stderr"
    name = f"ocodex-stop-{os.getpid()}-{signum}"
    command = (f"cd {shlex.quote(str(repo))} && {shlex.quote(sys.executable)} -m ocodex -s danger-full-access "
               f"2> {shlex.quote(str(err))}; echo $? > {shlex.quote(str(rc))}")
    env_args = [arg for key in ("OCODEX_HOME", "CODEX_OSS_BASE_URL", "OCODEX_HOST_MEMORY_GIB", "NO_COLOR", "PATH",
                                "HOME", "PYTHONPATH") if key in env for arg in ("-e", f"{key}={env[key]}")]
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", *env_args, command], check=True)
    try:
        pane = subprocess.run(["tmux", "list-panes", "-t", name, "-F", "#{pane_pid}"], capture_output=True,
                              text=True, check=True).stdout.split()[0]
        assert poll(lambda: bool(children(int(pane)))), "ocodex did not start"
        (ocodex,) = children(int(pane))
        assert poll(lambda: "›" in screen(name)), screen(name)
        if busy:
            subprocess.run(["tmux", "send-keys", "-t", name, "wait", "Enter"], check=True)
            assert poll(lambda: len(marked(marker, sleeps_only=True)) == 2), screen(name)
        os.kill(ocodex, signum)  # SIGHUP: what closing the terminal sends
        assert poll(lambda: rc.exists() and rc.read_text().strip() != ""), screen(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    shown = err.read_text()
    assert rc.read_text().strip() == str(128 + signum), shown
    assert "Traceback" not in shown, shown
    assert poll(lambda: marked(marker) == []), "a process of the command survived"
    if busy:
        events = [r["payload"] for r in session_records(home) if r["type"] == "event_msg"]
        assert events[-1] == {"type": "turn.failed", "error": {"message": "stopped by SIGHUP"}}
    else:
        assert f"stopped by {signal.Signals(signum).name}" in shown, shown


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.parent.name))
    return found


def screen(name: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def pid_gone(pid: int) -> bool:
    try:
        return "zombie" in next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                                if line.startswith("State:"))
    except (OSError, StopIteration):
        return True


@pytest.mark.parametrize(("during", "signum"), [("command", signal.SIGTERM), ("mcp call", signal.SIGHUP)],
                         ids=["SIGTERM-during-a-command", "SIGHUP-during-an-mcp-call"])
def test_with_mcp_servers_one_handler_stops_the_servers_and_fails_the_turn(fake, home: Path, repo: Path,
                                                                          tmp_path: Path, during: str,
                                                                          signum: int) -> None:
    """MCP's manager has its own SIGTERM/SIGHUP handler for runs without `StopSignals`; under exec it
    must not take over: the turn fails (which the manager's handler alone would not write), the command
    is killed, and the server is stopped too."""
    pidfile = tmp_path / "probe.pid"
    (home / "config.toml").write_text(f"[mcp_servers.probe]\ncommand = {json.dumps(sys.executable)}\n"
                                      f"args = {json.dumps([str(PROBE), '--pidfile', str(pidfile)])}\n")
    marker = f"34{os.getpid() % 1000:03d}{signum}"
    if during == "command":
        first = Turn.tool_call("shell", {"command": ["sh", "-c", f"sleep {marker}1 & sleep {marker}2; wait"]})
    else:
        first = Turn.tool_call("mcp__probe__slow", {"seconds": 120})
    fake.script(first, Turn.text("never"))
    argv = [sys.executable, "-m", "ocodex", "exec", "--oss", "-s", "workspace-write", "--json", "wait"]
    proc = subprocess.Popen(argv, cwd=repo, env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        kind = "command_execution" if during == "command" else "mcp_tool_call"
        started = next((line for line in proc.stdout if '"item.started"' in line and kind in line), None)
        assert started is not None, f"the {during} never started: {proc.communicate()[1]}"
        if during == "command":
            assert poll(lambda: len(marked(marker, sleeps_only=True)) == 2), "the command did not start"
        server = int(pidfile.read_text())
        assert not pid_gone(server)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and err.count(f"stopped by {name}") == 1, err
    failed = {"type": "turn.failed", "error": {"message": f"stopped by {name}"}}
    assert json.loads(out.splitlines()[-1]) == failed
    events = [r["payload"] for r in session_records(home) if r["type"] == "event_msg"]
    assert events[-1] == failed
    assert poll(lambda: pid_gone(server)), "the MCP server outlived ocodex"
    assert poll(lambda: marked(marker) == []), "a process of the command survived"


# ---- in process: the handler itself ------------------------------------------------------------

class Face:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_event(self, event: Any) -> None:
        self.events.append(event)

    def approve(self, request: Any) -> str:
        return "no"


@pytest.mark.fast
def test_a_signal_during_a_turn_ends_it_then_the_program(tmp_path: Path) -> None:
    from ocodex.config import Settings

    model = ScriptedModel(Step.stall(), Step.say("never"))
    face = Face()
    settings = Settings().changed("test", {"sandbox_mode": "danger-full-access"})
    with StopSignals() as stops:
        thread = Thread.open(settings, cwd=tmp_path, home=tmp_path, face=face, server=model)
        assert stops.threads == [thread]  # an open thread registers itself
        try:
            threading.Thread(target=lambda: poll(lambda: bool(model.requests)) and os.kill(os.getpid(),
                                                                                          signal.SIGTERM)).start()
            with pytest.raises(Stopped) as stopped:  # not TurnInterrupted: the program ends
                thread.run_turn("wait")
            os.kill(os.getpid(), signal.SIGTERM)  # a second one while the run winds down: ignored
        finally:
            thread.close()
        assert stops.threads == []
    assert stopped.value.code == 143 and stopped.value.shown
    assert [e.message for e in face.events if isinstance(e, TurnFailed)] == ["stopped by SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back


@pytest.mark.fast
def test_without_stop_signals_a_thread_is_interrupted_as_before(tmp_path: Path) -> None:
    from ocodex.config import Settings

    model = ScriptedModel(Step.stall())
    settings = Settings().changed("test", {"sandbox_mode": "danger-full-access"})
    with Thread.open(settings, cwd=tmp_path, home=tmp_path, face=Face(), server=model) as thread:
        threading.Thread(target=lambda: poll(lambda: bool(model.requests)) and thread.interrupt("key")).start()
        with pytest.raises(TurnInterrupted, match="key"):
            thread.run_turn("wait")


@pytest.mark.fast
def test_a_signal_between_turns_stops_where_the_program_is() -> None:
    with StopSignals(), pytest.raises(Stopped) as stopped:
        signal.raise_signal(signal.SIGHUP)
    assert stopped.value.code == 129 and stopped.value.message == "stopped by SIGHUP"


@pytest.mark.fast
def test_an_ignored_signal_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with StopSignals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)  # nothing happens
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.fast
def test_a_signal_while_a_thread_closes_waits_until_everything_is_closed(tmp_path: Path) -> None:
    """A SIGTERM that lands in `Thread.close()` (say while the MCP servers stop) must not cut it short:
    the servers and the session file are closed, then the run stops."""
    from ocodex.config import Settings

    closed: list[str] = []

    class Servers:  # stands in for the thread's MCP servers
        def close(self) -> None:
            signal.raise_signal(signal.SIGTERM)  # its handler runs right here
            closed.append("mcp servers")

    settings = Settings().changed("test", {"sandbox_mode": "danger-full-access"})
    with StopSignals():
        thread = Thread.open(settings, cwd=tmp_path, home=tmp_path, face=Face(), server=ScriptedModel(Step.say("hi")))
        assert thread.run_turn("greet").final_message == "hi"
        thread.mcp = Servers()  # type: ignore[assignment]
        writer = thread.recorder.writer
        assert writer is not None
        real_close = writer.close
        writer.close = lambda: (closed.append("session file"), real_close())[1]  # type: ignore[method-assign]
        with pytest.raises(Stopped) as stopped:
            thread.close()
    assert closed == ["mcp servers", "session file"]
    assert stopped.value.code == 143 and not stopped.value.shown  # no turn showed it: run_reporting says it


@pytest.mark.fast
def test_under_stop_signals_the_mcp_manager_installs_no_handler_of_its_own() -> None:
    """The seam: one handler path. The manager takes SIGTERM/SIGHUP only where nobody handles them."""
    from ocodex.mcp.manager import McpManager

    with StopSignals() as stops:
        manager = McpManager()
        manager.start([])
        try:
            for number in (signal.SIGTERM, signal.SIGHUP):
                assert signal.getsignal(number) == stops._handle
        finally:
            manager.close()
        assert signal.getsignal(signal.SIGTERM) == stops._handle  # and closing it leaves ours in place
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
