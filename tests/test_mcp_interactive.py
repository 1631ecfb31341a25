"""MCP tools in the interactive session, driven in tmux: a call shown as a person sees it, and the server
stopped when the session ends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fakes.fake_ollama import FakeOllama, Turn
from test_interactive import terminal
from test_mcp_exec import configure, pid_gone, probe_table, tool_messages

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_an_mcp_call_in_the_terminal_and_the_server_stops_with_the_session(home: Path, repo: Path,
                                                                           fake: FakeOllama, tmp_path: Path) -> None:
    pidfile = tmp_path / "probe.pid"
    configure(home, probe_table("probe", "--pidfile", str(pidfile)))
    fake.script(Turn.tool_call("mcp__probe__echo", {"text": "hello there"}), Turn.text("It echoed."))
    with terminal(home, repo, fake) as screen:
        assert "mcp: probe (8 of 8 tools, ~" in screen.ready()
        screen.send("echo something", "Enter")
        screen.wait_for('call MCP tool? probe.echo {"text": "hello there"}')  # on-request: the default here
        screen.send("y")
        shown = screen.wait_for("It echoed.")
        assert 'mcp probe.echo {"text": "hello there"}' in shown and "✓ echo: hello there" in shown
        assert tool_messages(fake.chat_requests[-1]) == ["echo: hello there"]
        pid = int(pidfile.read_text())
        screen.send("/exit", "Enter")
        screen.wait_for("OCODEX-EXITED=0")
        assert pid_gone(pid), "the MCP server outlived the session"


def test_on_request_a_call_is_asked_on_the_terminal_first(home: Path, repo: Path, fake: FakeOllama) -> None:
    configure(home, 'approval_policy = "on-request"\n' + probe_table())
    fake.script(Turn.tool_call("mcp__probe__add", {"a": 1, "b": 2}), Turn.tool_call("mcp__probe__echo", {"text": "ok"}),
                Turn.text("One was declined."))
    with terminal(home, repo, fake) as screen:
        screen.ready()
        screen.send("add", "Enter")
        shown = screen.wait_for("a always this session")
        assert 'call MCP tool? probe.add {"a": 1, "b": 2}' in shown
        screen.send("n", "Enter")
        shown = screen.wait_for('call MCP tool? probe.echo {"text": "ok"}')
        assert "✗ denied (the model is told)" in shown
        assert 'declined mcp probe.add {"a": 1, "b": 2}' in shown
        screen.send("y", "Enter")
        shown = screen.wait_for("One was declined.")
        assert "✓ echo: ok" in shown
        denied, echoed = tool_messages(fake.chat_requests[-1])
        assert denied.startswith("denied: the user did not approve the probe tool add") and echoed == "echo: ok"
