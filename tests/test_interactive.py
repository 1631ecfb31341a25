"""The interactive session, driven in tmux as a person would: type a task, read the screen, type another."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import base_env
from ocodex.testing.fake_ollama import FakeOllama, Turn

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


@pytest.fixture
def screen(home: Path, repo: Path, fake: FakeOllama) -> Iterator[Screen]:
    name = f"ocodex-test-{uuid.uuid4().hex[:8]}"
    env = base_env(home, fake.base_url)
    env_args = [arg for key in ("OCODEX_HOME", "CODEX_OSS_BASE_URL", "OCODEX_HOST_MEMORY_GIB", "NO_COLOR",
                                "PATH", "HOME")
                for arg in ("-e", f"{key}={env[key]}")]
    command = f"cd {repo} && {sys.executable} -m ocodex; echo OCODEX-EXITED=$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", *env_args, command],
                   check=True)
    try:
        yield Screen(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


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
