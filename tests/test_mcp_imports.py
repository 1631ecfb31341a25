"""The MCP servers' loop thread never imports a module that the thread's own code imports while it runs.

The MCP SDK's import (about a second) runs on the servers' loop thread while the caller's thread connects
to the model and runs the turn. On Python < 3.15 two threads importing one package at once can fail with
`_DeadlockError` (CPython gh-83065): CI once failed so, certifi importing `importlib.resources` on the caller's
thread while `importlib.metadata` imported `importlib.abc` on the loop thread. So every module both need is
imported before the loop thread starts (`ocodex.thread.assembly.SHARED_WITH_MCP`).

Deterministic, whatever the timing: what each side needs is found from separate runs (the real CLI against
the scripted fake Ollama, an SDK-written MCP server), not from which thread happened to load a module first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import base_env
from fakes.fake_ollama import FakeOllama, Turn

TRACE = Path(__file__).parent / "helpers" / "import_trace.py"
PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"


def _traced_run(tmp: Path, name: str, *args: str, mcp: bool) -> dict[str, list[str]]:
    home, repo = tmp / f"{name}-home", tmp / f"{name}-repo"
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    if mcp:
        (home / "config.toml").write_text(f"[mcp_servers.probe]\ncommand = {json.dumps(sys.executable)}\n"
                                          f"args = {json.dumps([str(PROBE)])}\n")
    out = tmp / f"{name}.json"
    with FakeOllama(models=["gpt-oss:20b"]) as fake:
        fake.script(Turn.tool_call("shell", {"command": ["ls"]}), Turn.text("done"))
        run = subprocess.run([sys.executable, str(TRACE), str(out), "exec", "--oss", "--full-auto", *args, "look"],
                             cwd=repo, env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(out.read_text())


def _sdk_closure() -> set[str]:
    code = ("import sys, json, ocodex.mcp.client\nfrom mcp.client.stdio import stdio_client\n"
            "print(json.dumps(sorted(sys.modules)))")
    return set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         check=True, timeout=120).stdout))


def test_the_mcp_loop_thread_imports_nothing_the_callers_thread_imports_after_it_starts(tmp_path: Path) -> None:
    with_mcp = _traced_run(tmp_path, "mcp", mcp=True)
    loaded_first = set(with_mcp["at_mcp_start"])
    assert "ocodex.mcp.manager" in loaded_first and "mcp" not in loaded_first  # the SDK loads on its thread
    assert "mcp" in with_mcp["by_mcp_thread"]
    sdk = _sdk_closure() | set(with_mcp["by_mcp_thread"])
    own = set(_traced_run(tmp_path, "human", mcp=False)["at_exit"]) | set(
        _traced_run(tmp_path, "json", "--json", mcp=False)["at_exit"])
    both = sorted((sdk & own) - loaded_first)
    assert not both, (f"imported by the MCP loop thread and by the caller's thread after the loop thread starts: "
                      f"{both}; import them first (ocodex.thread.assembly.SHARED_WITH_MCP)")
