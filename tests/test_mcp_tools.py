"""MCP tools as the model sees them (names, schemas, results), and the manager driving a real stdio
server written with the `mcp` SDK (tests/mcp_servers/probe.py): start, calls, a crash, a hang, close."""

from __future__ import annotations

import base64
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocodex.mcp.client import CallOutcome
from ocodex.mcp.config import server_from_table
from ocodex.mcp.manager import McpManager
from ocodex.mcp.tools import model_schema, qualified_name, render_for_model

PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def probe(name: str = "probe", *args: str, **table: object):
    return server_from_table(name, {"command": sys.executable, "args": [str(PROBE), *args], **table})


def process_gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie of ours counts as gone
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


# ---- names, schemas and results ------------------------------------------------------------------

def test_codex_names_and_what_makes_them_valid_function_names() -> None:
    assert qualified_name("docs", "search") == "mcp__docs__search"
    assert qualified_name("my.server", "get file") == "mcp__my_server__get_file"
    long = qualified_name("s" * 40, "t" * 40)
    assert len(long) == 64 and FUNCTION_NAME.match(long) and long != qualified_name("s" * 40, "t" * 41)


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_every_server_and_tool_name_becomes_a_valid_function_name(server: str, tool: str) -> None:
    assert FUNCTION_NAME.match(qualified_name(server, tool))


def test_schemas_are_object_schemas_without_dollar_schema() -> None:
    assert model_schema({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                         "properties": {"a": {"type": "integer"}}, "required": ["a"]}) == \
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert model_schema({}) == {"type": "object", "properties": {}}


def test_results_as_the_model_reads_them() -> None:
    png = base64.b64encode(PNG).decode()
    outcome = CallOutcome(content=[
        {"type": "text", "text": "Here it is:"},
        {"type": "image", "data": png, "mimeType": "image/png"},
        {"type": "image", "data": base64.b64encode(b"GIF89a....").decode(), "mimeType": "image/gif"},
        {"type": "audio", "data": "AAAA", "mimeType": "audio/wav"},
        {"type": "resource", "resource": {"uri": "file:///a.txt", "text": "file text"}},
        {"type": "resource", "resource": {"uri": "file:///b.bin", "blob": "AAAA", "mimeType": "application/zip"}},
        {"type": "resource_link", "uri": "file:///c.md", "name": "c.md", "mimeType": "text/markdown"},
    ], structured_content={"ignored": "because there is text"})
    seeing = render_for_model(outcome, vision=True)
    assert seeing.images == [f"data:image/png;base64,{png}"]
    assert seeing.text.splitlines() == [
        "Here it is:", "[image 1: image/png, 70 bytes, attached below]",
        "[image: image/gif, 10 bytes; not attached: only PNG, JPEG and WebP images can be]",
        "[audio: audio/wav, 3 bytes; not shown]", "[resource file:///a.txt]", "file text",
        "[resource file:///b.bin: application/zip, 3 bytes; not shown]",
        "[resource link: c.md file:///c.md (text/markdown)]"]
    blind = render_for_model(outcome, vision=False, model="'qwen3:8b'")
    assert blind.images == [] and "[image: image/png, 70 bytes; not shown: 'qwen3:8b' has no vision]" in blind.text
    # A mime type the server claims is not trusted: the bytes decide.
    fake_png = CallOutcome(content=[{"type": "image", "data": base64.b64encode(b"<svg/>").decode(),
                                     "mimeType": "image/png"}])
    assert render_for_model(fake_png, vision=True).images == []
    assert render_for_model(CallOutcome(structured_content={"sum": 3}), vision=False).text == '{"sum": 3}'
    assert render_for_model(CallOutcome(content=[{"type": "text", "text": "bad input"}], is_error=True),
                            vision=False).text == "error: bad input"
    assert render_for_model(CallOutcome(), vision=False).text == "(the tool returned no content)"
    assert render_for_model(CallOutcome(error="no answer within 1 s (tool_timeout_sec)"),
                            vision=False).text == "error: no answer within 1 s (tool_timeout_sec)"


# ---- the manager and a real server --------------------------------------------------------------

@pytest.fixture
def manager() -> Iterator[McpManager]:
    opened = McpManager()
    yield opened
    opened.close()


def test_servers_start_concurrently_and_failures_are_one_line_reasons(manager: McpManager, tmp_path: Path) -> None:
    manager.start([
        probe("probe", "--pidfile", str(tmp_path / "probe.pid")),
        probe("hang", "--hang", "--pidfile", str(tmp_path / "hang.pid"), startup_timeout_sec=1),
        server_from_table("missing", {"command": str(tmp_path / "no-such-server")}),
        server_from_table("dies", {"command": sys.executable, "args": ["-c", (
            "import sys; print('\\x1b[31mboom: bad flag', file=sys.stderr); sys.exit(2)")]}),
        server_from_table("off", {"command": "never-started", "enabled": False}),
    ])
    statuses = {status.config.name: status for status in manager.wait()}
    assert set(statuses) == {"probe", "hang", "missing", "dies"}  # a disabled server is not started
    assert statuses["probe"].started
    assert {t.name for t in statuses["probe"].tools} >= {"add", "echo", "crash", "image"}
    assert statuses["hang"].error == "no answer within 1 s (startup_timeout_sec)"
    assert statuses["missing"].error == f"cannot run {tmp_path / 'no-such-server'}: no such file or directory"
    assert statuses["dies"].error == "Connection closed (its stderr: [31mboom: bad flag)"  # no escape reaches us

    outcome = manager.call("probe", "add", {"a": 2, "b": 40})
    assert (outcome.content, outcome.is_error, outcome.error) == ([{"type": "text", "text": "42"}], False, None)
    assert manager.call("probe", "fail", {}).is_error
    assert manager.call("hang", "add", {}).error == "MCP server 'hang' is not running (no answer within 1 s " \
                                                   "(startup_timeout_sec))"
    pids = [int((tmp_path / f"{name}.pid").read_text()) for name in ("probe", "hang")]
    manager.close()
    assert all(process_gone(pid) for pid in pids)


def test_a_server_that_crashes_mid_call_gives_an_error_result(manager: McpManager) -> None:
    manager.start([probe()])
    assert manager.wait()[0].started
    crashed = manager.call("probe", "crash", {})
    assert crashed.error == ("the connection to the server closed; the server may have crashed "
                             "(its stderr: probe: crashing as asked)")
    assert manager.call("probe", "add", {"a": 1, "b": 1}).error is not None  # and it stays down, politely


def test_a_slow_call_times_out_at_tool_timeout_sec(manager: McpManager) -> None:
    manager.start([probe(tool_timeout_sec=0.5)])
    manager.wait()
    assert manager.call("probe", "slow", {"seconds": 30}).error == "no answer within 0.5 s (tool_timeout_sec)"
    assert manager.call("probe", "add", {"a": 1, "b": 2}).content == [{"type": "text", "text": "3"}]


def test_a_server_sees_only_its_configured_environment(manager: McpManager, monkeypatch) -> None:
    monkeypatch.setenv("OCODEX_TEST_SECRET", "hunter2")
    monkeypatch.setenv("OCODEX_TEST_SHARED", "shared")
    manager.start([probe(env={"GIVEN": "yes"}, env_vars=["OCODEX_TEST_SHARED"])])
    manager.wait()
    seen = {name: manager.call("probe", "env", {"name": name}).content[0]["text"]
            for name in ("OCODEX_TEST_SECRET", "OCODEX_TEST_SHARED", "GIVEN", "PATH")}
    assert seen == {"OCODEX_TEST_SECRET": "<unset>", "OCODEX_TEST_SHARED": "shared", "GIVEN": "yes",
                    "PATH": os.environ["PATH"]}


def test_a_model_that_drops_the_mcp_prefix_still_reaches_the_tool() -> None:
    from ocodex.tools.base import Tool, ToolResult

    def tool(name: str) -> Tool:
        return Tool(name, "", {"type": "object", "properties": {}}, lambda args, ctx: ToolResult(name))

    from ocodex.tools.select import select_tools

    extra = [tool("mcp__docs__search"), tool("mcp__a__list"), tool("mcp__b__list")]
    registry = select_tools("m", extra=extra).registry
    assert registry.resolve("search") == "mcp__docs__search"
    assert registry.resolve("functions.search") == "mcp__docs__search"
    assert registry.resolve("list") == "list"  # two servers have one: ambiguous, left as the model wrote it
    assert registry.resolve("bash") == "shell"


def test_a_failure_inside_the_handler_is_an_error_result_and_a_failed_item() -> None:
    from ocodex.events import ItemIds
    from ocodex.mcp.client import ServerTool
    from ocodex.mcp.manager import ServerStatus
    from ocodex.mcp.tools import McpTools
    from ocodex.tools.base import ToolContext

    class Broken:
        def call(self, server: str, tool: str, arguments: dict) -> CallOutcome:
            raise ValueError("boom")

    config = probe()
    tools = McpTools(Broken())  # type: ignore[arg-type]
    (tool,) = tools.build([ServerStatus(config, (ServerTool("add", "Add.", {"type": "object"}),))])
    events: list = []
    ctx = ToolContext(cwd=Path("."), policy=None, emit=events.append, ids=ItemIds())  # type: ignore[arg-type]
    result = tool.handler({"a": 1}, ctx)
    assert (result.success, result.output) == (False, "error: the MCP tool call failed: ValueError: boom")
    assert [(type(e).__name__, e.item.status) for e in events] == [("ItemStarted", "in_progress"),
                                                                  ("ItemCompleted", "failed")]


def when_the_main_thread_is_in(function: str, action) -> threading.Thread:
    """Run `action` (in a helper thread) once the main thread's stack is inside `function` (a qualified name)."""
    main = threading.main_thread().ident or 0

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(main)
            while frame is not None:
                if frame.f_code.co_qualname == function:
                    action()
                    return
                frame = frame.f_back
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_ctrl_c_while_the_sdk_loads_is_the_user_s_and_a_server_not_yet_started_never_starts(monkeypatch,
                                                                                            tmp_path: Path) -> None:
    """The loop thread loading the SDK and the main thread waiting for it: the Ctrl-C is the user's (not "the
    SDK could not be loaded"), and a close that comes before the loop has started a server stops it first."""
    loaded = threading.Event()
    run_loop = McpManager._run_loop

    def slow_load(self: McpManager) -> None:
        loaded.wait(60)
        run_loop(self)

    monkeypatch.setattr(McpManager, "_run_loop", slow_load)
    manager = McpManager()
    pidfile = tmp_path / "probe.pid"
    manager.start([probe("probe", "--pidfile", str(pidfile))])
    try:
        when_the_main_thread_is_in("McpManager.wait",
                                   lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT))
        with pytest.raises(KeyboardInterrupt):
            manager.wait()
        when_the_main_thread_is_in("McpManager.close", loaded.set)
        manager.close()
    finally:
        loaded.set()
        manager.close()
    assert not pidfile.exists()  # the loop saw the stop before the server's start: it never ran
    assert manager._ready["probe"].result(timeout=0) == "stopped"


def test_a_stop_cuts_a_start_under_way_short(monkeypatch, tmp_path: Path) -> None:
    from ocodex.mcp import manager as module

    monkeypatch.setattr(module, "CLOSE_TIMEOUT_SEC", 300.0)  # no cancel: the stop itself ends the start
    manager = McpManager()
    pidfile = tmp_path / "hang.pid"
    manager.start([probe("hang", "--hang", "--pidfile", str(pidfile), startup_timeout_sec=60)])
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pidfile.exists() and pidfile.read_text(), "the server never started"
    finally:
        manager.close()
    assert manager._connections["hang"].exited == "stopped"  # not cut by the 60 s startup deadline
    assert process_gone(int(pidfile.read_text()))


def test_a_signal_that_comes_while_servers_stop_is_delivered_once_they_have(manager: McpManager) -> None:
    import signal

    from ocodex.mcp import manager as module

    manager.start([probe()])
    manager.wait()
    assert signal.getsignal(signal.SIGTERM) is module._exit_on_signal  # ours while servers run
    module._closing.append(0)  # as if a close were under way
    module._exit_on_signal(signal.SIGTERM, None)  # deferred, not raised
    module._closing.remove(0)
    with pytest.raises(SystemExit) as stopped:
        manager.close()
    assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and module._deferred == []


def test_a_signal_handler_of_the_program_s_own_is_never_replaced_or_undone(manager: McpManager) -> None:
    """A face that handles SIGTERM itself (through `Thread.interrupt`) keeps it: before the servers start, and
    when it installs its handler while they run, their close does not put theirs back."""
    import signal

    from ocodex.mcp import manager as module

    def own(number: int, frame: object) -> None:
        raise AssertionError("not sent")

    previous = signal.signal(signal.SIGHUP, own)
    try:
        manager.start([probe()])
        manager.wait()
        assert signal.getsignal(signal.SIGHUP) is own  # left alone
        assert signal.getsignal(signal.SIGTERM) is module._exit_on_signal  # nobody else handles this one
        signal.signal(signal.SIGTERM, own)  # installed while the servers run
        manager.close()
        assert signal.getsignal(signal.SIGTERM) is own and signal.getsignal(signal.SIGHUP) is own
    finally:
        signal.signal(signal.SIGHUP, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
