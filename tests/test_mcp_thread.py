"""MCP on the thread core: a `Thread` driven by the scripted model, with the real SDK-written probe server
(tests/mcp_servers/probe.py). The thread starts the servers, offers their tools per model (the schema
budget against that model's window), gates each call through its approval gate and the face's `approve`,
says what happened in typed events, keeps the servers across model switches and `/new`, and stops them
when it closes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from ocodex.approval import McpToolRequest
from ocodex.config import Settings
from ocodex.errors import ConfigError
from ocodex.events import (
    ItemCompleted,
    ItemStarted,
    McpServerCost,
    McpServerFailed,
    McpToolCall,
    McpToolsCost,
    McpUnknownTools,
    SessionConfigured,
)
from ocodex.mcp.config import server_from_table
from ocodex.testing.scripted import ScriptedModel, Step
from ocodex.thread import Thread
from test_mcp_tools import process_gone
from test_thread import Face as ThreadFace

PROBE = Path(__file__).parent / "mcp_servers" / "probe.py"


class Face(ThreadFace):
    """test_thread's face, with the MCP calls it was shown."""

    def calls(self, phase: type = ItemCompleted) -> list[McpToolCall]:
        return [e.item for e in self.events if isinstance(e, phase) and isinstance(e.item, McpToolCall)]


def probe(name: str, tmp_path: Path, *args: str, **table: Any):
    return server_from_table(name, {"command": sys.executable,
                                    "args": [str(PROBE), "--pidfile", str(tmp_path / f"{name}.pid"), *args],
                                    **table})


def settings_with(*servers: Any, policy: str = "never") -> Settings:
    return Settings().changed("test", {"approval_policy": policy, "sandbox_mode": "danger-full-access",
                                       "mcp_servers": {server.name: server for server in servers}})


def open_thread(tmp_path: Path, settings: Settings, model: ScriptedModel, face: Face) -> Thread:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    return Thread.open(settings, cwd=work, home=home, face=face, server=model)


def tool_replies(model: ScriptedModel) -> list[str]:
    return [m["content"] for m in model.requests[-1].messages if m.get("role") == "tool"]


@pytest.mark.parametrize("policy", ["untrusted", "on-request"])
def test_a_call_asks_the_face_first_and_a_no_is_a_failed_item_naming_the_setting(tmp_path: Path,
                                                                                 policy: str) -> None:
    model = ScriptedModel(Step.call("mcp__probe__add", {"a": 1, "b": 2}),
                          Step.call("mcp__probe__add", {"a": 3, "b": 4}),
                          Step.call("mcp__probe__echo", {"text": "hi"}),
                          Step.call("mcp__probe__echo", {"text": "again"}), Step.say("done"))
    face = Face("no", "yes", "always")
    with open_thread(tmp_path, settings_with(probe("probe", tmp_path), policy=policy), model, face) as thread:
        thread.run_turn("add")
    assert face.asked == [McpToolRequest("probe", "add", {"a": 1, "b": 2}),
                          McpToolRequest("probe", "add", {"a": 3, "b": 4}),
                          McpToolRequest("probe", "echo", {"text": "hi"})]  # "always": echo is not asked again
    denied, added, echoed, again = tool_replies(model)
    assert denied.startswith("denied: the user did not approve the probe tool add")
    assert (added, echoed, again) == ("7", "echo: hi", "echo: again")
    refused, *ran = face.calls()
    assert (refused.tool, refused.status, refused.result) == ("add", "failed", None)
    assert refused.error == ('the call was not approved; to let it run without asking, set '
                             'mcp_servers.probe.default_tools_approval_mode = "approve"')
    assert [(c.tool, c.status) for c in ran] == [("add", "completed"), ("echo", "completed"), ("echo", "completed")]
    assert [c.arguments for c in face.calls(ItemStarted)] == [{"a": 3, "b": 4}, {"text": "hi"}, {"text": "again"}]


def test_under_never_nothing_is_asked_but_a_prompt_mode_tool_is_and_approve_mode_never(tmp_path: Path) -> None:
    servers = (probe("probe", tmp_path, tools={"add": {"approval_mode": "prompt"}}),
               probe("trusted", tmp_path, default_tools_approval_mode="approve"))
    model = ScriptedModel(Step.call("mcp__probe__add", {"a": 1, "b": 2}), Step.call("mcp__probe__echo", {"text": "x"}),
                          Step.call("mcp__trusted__add", {"a": 2, "b": 2}), Step.say("done"))
    face = Face()  # says no, as exec's faces do
    with open_thread(tmp_path, settings_with(*servers, policy="never"), model, face) as thread:
        thread.run_turn("go")
    assert face.asked == [McpToolRequest("probe", "add", {"a": 1, "b": 2}, prompt=True)]
    denied, echoed, added = tool_replies(model)
    assert denied.startswith("denied: ") and (echoed, added) == ("echo: x", "4")
    assert face.calls()[0].error == ('the call was not approved; to let it run without asking, set '
                                     'mcp_servers.probe.tools.add.approval_mode = "approve"')


def test_the_thread_says_what_the_tools_cost_and_what_did_not_start_in_typed_events(tmp_path: Path) -> None:
    servers = (probe("probe", tmp_path, enabled_tools=["add", "echo", "nonesuch"]),
               probe("stuck", tmp_path, "--hang", startup_timeout_sec=1))
    model = ScriptedModel(context_window=8192)
    face = Face()
    with open_thread(tmp_path, settings_with(*servers), model, face) as thread:
        thread.run_turn("hi")
    (failed,) = face.of(McpServerFailed)
    assert failed == McpServerFailed("stuck", "no answer within 1 s (startup_timeout_sec)")
    assert failed.text() == ("MCP server 'stuck' did not start: no answer within 1 s (startup_timeout_sec); "
                             "continuing without it") and failed.level == "warning"
    (unknown,) = face.of(McpUnknownTools)
    assert (unknown.server, unknown.key, unknown.unknown) == ("probe", "enabled_tools", ("nonesuch",))
    (cost,) = face.of(McpToolsCost)
    (share,) = cost.servers
    assert share == McpServerCost("probe", 2, 8, cost.tokens) and 0 < cost.tokens < 2048
    assert (cost.window, cost.budget) == (8192, 2048)
    assert cost.text() == (f"mcp: probe (2 of 8 tools, ~{cost.tokens:,} tokens): ~{cost.tokens:,} tokens of tool "
                           "schema in every request (at most 2,048: a quarter of the 8,192-token window)")
    # The cost line comes after the configured session, as a person reads them.
    assert face.events.index(cost) > face.events.index(face.of(SessionConfigured)[0])
    offered = [spec.name for spec in model.requests[0].tools]
    assert [n for n in offered if n.startswith("mcp__")] == ["mcp__probe__add", "mcp__probe__echo"]


def test_servers_live_as_long_as_the_thread_across_model_switches_and_new_threads(tmp_path: Path) -> None:
    model = ScriptedModel(Step.call("mcp__probe__echo", {"text": "one"}), Step.say("ok"),
                          Step.call("mcp__probe__echo", {"text": "two"}), Step.say("ok"),
                          Step.call("mcp__probe__echo", {"text": "three"}), Step.say("ok"))
    face = Face()
    thread = open_thread(tmp_path, settings_with(probe("probe", tmp_path)), model, face)
    try:
        pid = int((tmp_path / "probe.pid").read_text())
        thread.run_turn("one")
        thread.switch_model("other-model")
        thread.run_turn("two")
        thread.new_thread()
        thread.run_turn("three")
        assert int((tmp_path / "probe.pid").read_text()) == pid  # never restarted
        assert [c.result["content"][0]["text"] for c in face.calls()] == ["echo: one", "echo: two", "echo: three"]
        assert len(face.of(McpServerFailed)) == 0 and len(face.of(McpToolsCost)) == 3  # one per model offered
    finally:
        thread.close()
    assert process_gone(pid), "the server outlived its thread"
    thread.close()  # twice is harmless


def test_over_the_schema_budget_the_thread_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    model = ScriptedModel(context_window=4096)
    face = Face()
    with pytest.raises(ConfigError) as refused:
        open_thread(tmp_path, settings_with(probe("wide", tmp_path, "--many", "30")), model, face)
    assert "more than a quarter of the 4,096-token context window (1,024)" in refused.value.message
    assert "mcp_servers.wide.enabled_tools" in (refused.value.hint or "")
    assert model.requests == []
    assert process_gone(int((tmp_path / "wide.pid").read_text())), "a refused thread left its server running"


def test_a_required_server_that_does_not_start_refuses_the_thread_and_stops_the_others(tmp_path: Path) -> None:
    servers = (probe("probe", tmp_path), server_from_table("needed", {"command": str(tmp_path / "nope"),
                                                                      "required": True}))
    model = ScriptedModel()
    with pytest.raises(Exception, match="MCP server 'needed' did not start: cannot run"):
        open_thread(tmp_path, settings_with(*servers), model, Face())
    assert model.requests == []
    assert process_gone(int((tmp_path / "probe.pid").read_text()))
