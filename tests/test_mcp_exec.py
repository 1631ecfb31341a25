"""MCP servers in `ocodex exec`, end to end: the real CLI, the scripted fake Ollama, and real MCP servers the
tests start: the SDK-written probe (tests/mcp_servers/probe.py) and npm's
@modelcontextprotocol/server-everything over stdio and streamable HTTP (installed by scripts/test)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import base_env
from fakes.fake_ollama import FakeOllama, Turn

PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"
EVERYTHING = (Path(__file__).resolve().parents[1] / ".cache" / "npm" / "node_modules" / "@modelcontextprotocol"
              / "server-everything" / "dist" / "index.js")


def probe_table(name: str = "probe", *args: str, extra: str = "") -> str:
    argv = json.dumps([str(PROBE), *args])
    return f"[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = {argv}\n{extra}\n"


def configure(home: Path, *tables: str) -> None:
    (home / "config.toml").write_text("\n".join(tables))


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def tool_names(request: dict) -> list[str]:
    return [t["function"]["name"] for t in request.get("tools") or []]


def pid_gone(pid: int, within: float = 20.0) -> bool:
    """Poll until `pid` has exited (or is a zombie nobody reaped); False if it is still running."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def exec_json(home: Path, repo: Path, fake: FakeOllama) -> subprocess.Popen:
    """`ocodex exec --oss --json go`, started; a faulthandler dumps every thread's stack on SIGABRT."""
    env = base_env(home, fake.base_url) | {"PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--json", "go"], cwd=repo, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def communicate(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """`proc.communicate`; a run that has not ended by then fails the test with where each of its threads is."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        state = process_state(proc.pid)
        proc.send_signal(signal.SIGABRT)
        try:
            _out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
        pytest.fail(f"ocodex had not ended after {timeout:g} s; {state}\nits threads then:\n{err}")


def process_state(pid: int) -> str:
    """Where each of `pid`'s threads waits in the kernel, and what its descriptors are (for a hang's report)."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        with contextlib.suppress(OSError):
            lines.append(f"thread {task.name}: {(task / 'wchan').read_text()} "
                         f"{(task / 'stat').read_text().rsplit(') ', 1)[1][:1]}")
    for fd in sorted(Path(f"/proc/{pid}/fd").glob("*"), key=lambda p: int(p.name)):
        with contextlib.suppress(OSError):
            flags = (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().split("flags:")[1].split()[0]
            lines.append(f"fd {fd.name} -> {os.readlink(fd)} flags {flags}")
    return "\n".join(lines)


def needs_everything() -> None:
    if not EVERYTHING.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{EVERYTHING} is missing: scripts/test installs it with npm")
        pytest.skip("@modelcontextprotocol/server-everything is not installed (run scripts/test)")


# ---- a call and its result --------------------------------------------------------------------------

def test_a_scripted_model_calls_an_mcp_tool_and_the_result_reaches_the_next_request(ocodex, fake, home) -> None:
    configure(home, probe_table())
    fake.script(Turn.tool_call("mcp__probe__add", {"a": 2, "b": 40}), Turn.text("The sum is 42."))
    run = ocodex("exec", "--oss", "--json", "add 2 and 40")
    assert run.returncode == 0, run.stderr

    first, second = fake.chat_requests
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert {"shell", "apply_patch", "update_plan", "mcp__probe__add", "mcp__probe__echo"} <= set(offered)
    assert offered["mcp__probe__add"]["description"] == "Add two integers."
    assert offered["mcp__probe__add"]["parameters"]["required"] == ["a", "b"]
    assert tool_messages(second) == ["42"]

    started = run.items("mcp_tool_call", "item.started")
    completed = run.items("mcp_tool_call")
    assert started == [{"id": started[0]["id"], "type": "mcp_tool_call", "server": "probe", "tool": "add",
                        "arguments": {"a": 2, "b": 40}, "result": None, "error": None, "status": "in_progress"}]
    assert completed[0]["id"] == started[0]["id"] and completed[0]["status"] == "completed"
    assert completed[0]["result"]["content"] == [{"type": "text", "text": "42"}]
    assert completed[0]["error"] is None
    assert "mcp: probe (8 of 8 tools, ~" in run.stderr and "tokens of tool schema in every request" in run.stderr


def test_human_mode_shows_the_call_on_one_line_with_its_result(ocodex, fake, home) -> None:
    configure(home, probe_table())
    fake.script(Turn.tool_call("mcp__probe__big", {"lines": 50}), Turn.tool_call("mcp__probe__fail", {}),
                Turn.text("Done."))
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Done.\n"
    lines = run.stderr.splitlines()
    at = lines.index('mcp probe.big {"lines": 50}')
    assert lines[at + 1:at + 3] == ["✓ line 0", "  line 1"] and "  …" in lines[at + 3:at + 8]
    assert "mcp probe.fail {}" in lines and "✗ Error executing tool fail" in lines
    assert "error: Error executing tool fail" in tool_messages(fake.chat_requests[-1])


def test_server_everything_over_stdio(ocodex, fake, home) -> None:
    needs_everything()
    configure(home, f"[mcp_servers.everything]\ncommand = \"node\"\nargs = [{json.dumps(str(EVERYTHING))}]\n")
    fake.loaded_context = 16384  # its 13 tools need ~1,300 tokens: more than a quarter of 4,096
    fake.script(Turn.tool_call("mcp__everything__echo", {"message": "over stdio"}),
                Turn.tool_call("mcp__everything__get-sum", {"a": 19, "b": 23}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "echo it")
    assert run.returncode == 0, run.stderr
    assert tool_messages(fake.chat_requests[-1]) == ["Echo: over stdio", "The sum of 19 and 23 is 42."]
    assert [i["tool"] for i in run.items("mcp_tool_call")] == ["echo", "get-sum"]


@pytest.fixture
def everything_http() -> Iterator[str]:
    """server-everything in its streamable HTTP mode on a free loopback port; yields the endpoint URL."""
    needs_everything()
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    server = subprocess.Popen(["node", str(EVERYTHING), "streamableHttp"], env={**os.environ, "PORT": str(port)},
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as client, __import__("contextlib").suppress(OSError):
                client.connect(("127.0.0.1", port))
                break
            assert server.poll() is None, "server-everything exited"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_server_everything_over_streamable_http_with_a_bearer_token(ocodex, fake, home, everything_http) -> None:
    configure(home, f"[mcp_servers.web]\nurl = {json.dumps(everything_http)}\nbearer_token_env_var = \"WEB_BEARER\"\n"
                    'http_headers = { "X-Team" = "core" }\nenabled_tools = ["echo", "get-sum"]\n')
    fake.script(Turn.tool_call("mcp__web__echo", {"message": "over http"}),
                Turn.tool_call("shell", {"command": "env"}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "echo it", env={"WEB_BEARER": "bearer-value-123"})
    assert run.returncode == 0, run.stderr
    messages = tool_messages(fake.chat_requests[-1])
    assert messages[0] == "Echo: over http"
    assert "WEB_BEARER" not in messages[1] and "bearer-value-123" not in messages[1]  # the model's tools never see it
    assert "bearer-value-123" not in run.stdout + run.stderr


# ---- servers that fail -----------------------------------------------------------------------------

def test_a_server_that_never_answers_initialize_is_one_warning_and_the_run_goes_on(ocodex, fake, home) -> None:
    configure(home, probe_table("stuck", "--hang", extra="startup_timeout_sec = 1"), probe_table())
    fake.script(Turn.tool_call("mcp__probe__echo", {"text": "still here"}), Turn.text("Worked without it."))
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Worked without it.\n"
    warnings = [line for line in run.stderr.splitlines() if "stuck" in line]
    assert warnings == ["warning: MCP server 'stuck' did not start: no answer within 1 s (startup_timeout_sec); "
                        "continuing without it"]
    assert not any(name.startswith("mcp__stuck__") for name in tool_names(fake.chat_requests[0]))
    assert tool_messages(fake.chat_requests[-1]) == ["echo: still here"]


def test_a_required_server_that_does_not_start_stops_the_run(ocodex, fake, home, tmp_path) -> None:
    configure(home, f"[mcp_servers.needed]\ncommand = {json.dumps(str(tmp_path / 'nope'))}\nrequired = true\n")
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"error: MCP server 'needed' did not start: cannot run {tmp_path / 'nope'}: no such file or directory" \
        in run.stderr
    assert "hint: it is required (mcp_servers.needed.required = true)" in run.stderr
    assert fake.chat_requests == []


def test_a_server_that_crashes_mid_call_gives_the_model_an_error(ocodex, fake, home) -> None:
    configure(home, probe_table())
    fake.script(Turn.tool_call("mcp__probe__crash", {}), Turn.tool_call("mcp__probe__add", {"a": 1, "b": 2}),
                Turn.text("The server is gone."))
    run = ocodex("exec", "--oss", "--json", "crash it")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    crashed, after = tool_messages(fake.chat_requests[-1])
    assert crashed == ("error: the connection to the server closed; the server may have crashed "
                       "(its stderr: probe: crashing as asked)")
    assert after.startswith("error: ")
    item = run.items("mcp_tool_call")[0]
    assert (item["status"], item["result"], item["error"]["message"]) == ("failed", None, crashed[len("error: "):])


# ---- what the model is offered -----------------------------------------------------------------------

def test_enabled_and_disabled_tools_filter_what_the_model_is_offered(ocodex, fake, home) -> None:
    configure(home, probe_table(extra='enabled_tools = ["add", "echo", "nonesuch"]\ndisabled_tools = ["echo"]'))
    fake.script(Turn.text("ok"))
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 0, run.stderr
    assert [n for n in tool_names(fake.chat_requests[0]) if n.startswith("mcp__")] == ["mcp__probe__add"]
    assert "mcp: probe (1 of 8 tools, ~" in run.stderr
    assert "warning: mcp_servers.probe.enabled_tools names 'nonesuch', which 'probe' does not offer (it offers: " \
           "add, big, crash, echo, env, fail, image, slow)" in run.stderr


def test_tool_schemas_over_a_quarter_of_the_window_are_refused(ocodex, fake, home) -> None:
    configure(home, probe_table("wide", "--many", "30"))
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    error = next(line for line in run.stderr.splitlines() if line.startswith("error: "))
    assert error.startswith("error: the MCP tools' schemas need ~") and \
        "more than a quarter of the 4,096-token context window (1,024); ocodex will not send them" in error
    assert "hint: offer only the tools you need with mcp_servers.wide.enabled_tools" in run.stderr
    assert fake.chat_requests == []  # nothing was sent

    configure(home, probe_table("wide", "--many", "30", extra='enabled_tools = ["add", "padded_1"]'))
    fake.script(Turn.text("ok"))
    assert ocodex("exec", "--oss", "go").returncode == 0


def test_images_reach_a_vision_model_and_are_summarised_for_others(ocodex, fake, home) -> None:
    configure(home, probe_table())
    fake.capabilities = {"gpt-oss:20b": ["completion", "tools", "vision"]}
    fake.script(Turn.tool_call("mcp__probe__image", {}), Turn.text("A pixel."))
    assert ocodex("exec", "--oss", "look").returncode == 0
    messages = fake.chat_requests[-1]["messages"]
    assert tool_messages(fake.chat_requests[-1]) == ["[image 1: image/png, 70 bytes, attached below]"]
    images = messages[-1]["content"]
    assert messages[-1]["role"] == "user" and images[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")

    fake.capabilities = {"gpt-oss:20b": ["completion", "tools"]}
    # Another model under the same name: a warm run would use the cached probes once (its check drops them,
    # tests/test_probe_cache.py), so this run starts cold, as the run after that would.
    shutil.rmtree(home / "cache")
    fake.script(Turn.tool_call("mcp__probe__image", {}), Turn.text("No eyes."))
    assert ocodex("exec", "--oss", "look").returncode == 0
    assert tool_messages(fake.chat_requests[-1]) == [
        "[image: image/png, 70 bytes; not shown: 'gpt-oss:20b' has no vision]"]


def test_servers_defined_with_c_overrides(ocodex, fake, home) -> None:
    fake.script(Turn.tool_call("mcp__cli__echo", {"text": "from -c"}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "-c", f"mcp_servers.cli.command={json.dumps(sys.executable)}",
                 "-c", f"mcp_servers.cli.args=[{json.dumps(str(PROBE))}]", "go")
    assert run.returncode == 0, run.stderr
    assert tool_messages(fake.chat_requests[-1]) == ["echo: from -c"]


# ---- approvals ----------------------------------------------------------------------------------------

def test_exec_never_asks_so_only_a_prompt_mode_tool_is_declined(ocodex, fake, home) -> None:
    """exec answers by its policy, `never` (as Codex exec): a call runs, except one whose tool's approval_mode
    is "prompt", which would have to ask and nobody can answer."""
    configure(home, 'approval_policy = "untrusted"\n' + probe_table(extra='tools.add.approval_mode = "prompt"'),
              probe_table("trusted", extra='default_tools_approval_mode = "approve"'))
    fake.script(Turn.tool_call("mcp__probe__add", {"a": 1, "b": 2}), Turn.tool_call("mcp__probe__echo", {"text": "x"}),
                Turn.tool_call("mcp__trusted__add", {"a": 3, "b": 4}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "go")
    assert run.returncode == 0, run.stderr
    declined, echoed, allowed = tool_messages(fake.chat_requests[-1])
    assert declined.startswith("denied: the user did not approve the probe tool add.")
    assert (echoed, allowed) == ("echo: x", "7")
    first, second, third = run.items("mcp_tool_call")
    assert (first["status"], first["result"], second["status"], third["status"]) == \
        ("failed", None, "completed", "completed")
    assert first["error"]["message"] == ('the call was not approved; to let it run without asking, set '
                                         'mcp_servers.probe.tools.add.approval_mode = "approve"')
    assert [i["tool"] for i in run.items("mcp_tool_call", "item.started")] == ["echo", "add"]  # not the declined
    assert ('note: approval_policy=untrusted is ignored: exec never asks for approval (as in Codex exec); commands '
            'stay inside the sandbox, and MCP tool calls run unless their approval_mode is "prompt" (those are '
            'declined)') in run.stderr


# ---- sessions ------------------------------------------------------------------------------------------

def test_a_resumed_thread_includes_the_recorded_mcp_call(ocodex, fake, home) -> None:
    configure(home, probe_table())
    fake.script(Turn.tool_call("mcp__probe__add", {"a": 2, "b": 40}), Turn.text("It is 42."))
    first = ocodex("exec", "--oss", "--json", "add 2 and 40")
    assert first.returncode == 0, first.stderr
    (session,) = (home / "sessions").glob("*/*/*/rollout-*.jsonl")
    records = [json.loads(line) for line in session.read_text().splitlines()]
    recorded = [r["payload"]["item"] for r in records if r["type"] == "event_msg"
                and r["payload"].get("item", {}).get("type") == "mcp_tool_call"]
    assert [(i["status"], i["tool"]) for i in recorded] == [("in_progress", "add"), ("completed", "add")]

    fake.script(Turn.text("You asked me to add 2 and 40."))
    resumed = ocodex("exec", "--oss", "--json", "resume", "--last", "what did I ask?")
    assert resumed.returncode == 0, resumed.stderr
    history = fake.chat_requests[-1]["messages"]
    calls = [c["function"] for m in history if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    assert calls == [{"name": "mcp__probe__add", "arguments": '{"a": 2, "b": 40}'}]
    assert tool_messages(fake.chat_requests[-1]) == ["42"]
    assert history[-1] == {"role": "user", "content": "what did I ask?"}


# ---- no server is left behind ----------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGHUP", "SIGINT"])
def test_servers_are_stopped_at_exit_ctrl_c_sigterm_and_sighup(fake: FakeOllama, home: Path, repo: Path, tmp_path: Path,
                                                          how: str) -> None:
    pidfile = tmp_path / "probe.pid"
    configure(home, probe_table("probe", "--pidfile", str(pidfile)))
    if how == "exit":
        fake.script(Turn.text("bye"))
    else:
        fake.script(Turn.tool_call("mcp__probe__slow", {"seconds": 120}), Turn.text("never"))
    proc = exec_json(home, repo, fake)
    try:
        if how != "exit":
            assert proc.stdout is not None
            started = next((line for line in proc.stdout if '"mcp_tool_call"' in line), None)
            assert started is not None, "the call never started"
            proc.send_signal(getattr(signal, how))
        _out, err = communicate(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err
    assert proc.returncode == {"exit": 0, "SIGTERM": 128 + signal.SIGTERM, "SIGHUP": 128 + signal.SIGHUP,
                               "SIGINT": 130}[how], err
    assert pid_gone(int(pidfile.read_text())), "the MCP server outlived ocodex"


def test_ctrl_c_while_a_server_starts_ends_the_run_at_once_and_stops_it(fake: FakeOllama, home: Path, repo: Path,
                                                                        tmp_path: Path) -> None:
    """The server would take 60 s to give up on: Ctrl-C cuts its start short, with no traceback."""
    pidfile = tmp_path / "stuck.pid"
    configure(home, probe_table("stuck", "--hang", "--pidfile", str(pidfile), extra="startup_timeout_sec = 60"))
    fake.script(Turn.text("never"))
    proc = exec_json(home, repo, fake)
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pidfile.exists() and pidfile.read_text(), "the server never started"
        proc.send_signal(signal.SIGINT)
        out, err = communicate(proc, 40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out) == (130, ""), err
    assert "Traceback" not in err and "did not start" not in err, err
    assert pid_gone(int(pidfile.read_text())), "the MCP server outlived ocodex"
    assert fake.chat_requests == []


def test_what_the_sdk_logs_never_reaches_the_terminal(ocodex, fake, home) -> None:
    """A server that writes a line that is not JSON-RPC: the SDK logs a parse error with its traceback."""
    configure(home, probe_table("probe", "--garbage"))
    fake.script(Turn.tool_call("mcp__probe__echo", {"text": "fine"}), Turn.text("done"))
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "JSON" not in run.stderr, run.stderr
    assert tool_messages(fake.chat_requests[-1]) == ["echo: fine"]


# ---- start-up stays fast -----------------------------------------------------------------------------------

def test_the_sdk_is_imported_only_when_a_server_is_configured(fake, home, repo) -> None:
    env = base_env(home, fake.base_url)

    def imported(*args: str) -> set[str]:
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ocodex", *args], cwd=repo, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}

    for args in (["--version"], ["--help"], ["exec", "--oss", "hi"]):
        loaded = imported(*args)
        assert not {m for m in loaded if m in ("mcp", "tomlkit", "httpx2") or m.startswith("ocodex.mcp")}, args
    configure(home, probe_table())
    assert "mcp" in imported("exec", "--oss", "hi")
