"""Approvals: the policy table, known read-only commands, and the gate every tool call passes, driven
through a real thread (scripted model, real sandbox) with a face that answers yes, no or always."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocodex.approval import (
    ApprovalGate,
    CommandRequest,
    McpToolRequest,
    PatchRequest,
    is_read_only,
    needs_approval,
    retries_unsandboxed,
)
from ocodex.config import Settings
from ocodex.events import CommandExecution, ItemCompleted
from ocodex.testing.scripted import ScriptedModel, Step
from ocodex.thread import Thread
from test_thread import Face

RM = CommandRequest(("rm", "README.md"), "/w")
LS = CommandRequest(("ls", "-la"), "/w")
OUT = CommandRequest(("touch", "/etc/x"), "/w", "needs /etc", outside_sandbox=True)
RETRY = CommandRequest(("make",), "/w", "it failed", outside_sandbox=True, retry=True)
PATCH = PatchRequest((("a.py", "update"),), "--- a/a.py\n+++ b/a.py\n")
MCP = McpToolRequest("docs", "search", {"q": "x"})
REQUESTS = {"rm": RM, "ls": LS, "outside": OUT, "retry": RETRY, "patch": PATCH, "mcp": MCP}


@pytest.mark.parametrize(("policy", "asks"), [
    ("untrusted", {"rm", "outside", "retry", "patch", "mcp"}),
    ("on-request", {"outside", "retry", "mcp"}),
    ("on-failure", {"retry"}),
    ("never", set()),
])
def test_the_policy_table(policy: str, asks: set[str]) -> None:
    assert {name for name, request in REQUESTS.items() if needs_approval(policy, request)} == asks


def test_retries_outside_the_sandbox_per_policy() -> None:
    assert retries_unsandboxed("on-failure", failed=True, sandbox_refused=False)
    assert not retries_unsandboxed("on-request", failed=True, sandbox_refused=False)
    assert retries_unsandboxed("on-request", failed=True, sandbox_refused=True)
    assert not retries_unsandboxed("never", failed=True, sandbox_refused=True)


@pytest.mark.parametrize(("argv", "safe"), [
    (["ls", "-la"], True),
    (["bash", "-lc", "rg -n main src | head -20"], True),
    (["bash", "-lc", "git status && git diff"], True),
    (["bash", "-lc", "sed -n '1,80p' a.py"], True),
    (["bash", "-lc", "find . -name '*.py'"], True),
    (["bash", "-lc", "cat a > b"], False),
    (["bash", "-lc", "echo $(rm -rf x)"], False),
    (["bash", "-lc", "sleep 9 &"], False),
    (["bash", "-lc", "sed -i s/a/b/ f"], False),
    (["bash", "-lc", "find . -delete"], False),
    (["bash", "-lc", "git push"], False),
    (["bash", "-lc", "ls; rm x"], False),
    (["rm", "-rf", "/"], False),
    (["python3", "-c", "print(1)"], False),
    (["bash", "-lc", "'unterminated"], False),
])
def test_known_read_only_commands(argv: list[str], safe: bool) -> None:
    assert is_read_only(argv) is safe


def test_always_is_remembered_for_the_same_request() -> None:
    asked: list[Any] = []
    gate = ApprovalGate("untrusted", lambda request: asked.append(request) or "always")
    assert gate.decide(RM) == "allowed" and gate.decide(RM) == "allowed" and len(asked) == 1
    gate = ApprovalGate("untrusted", None)  # a face that cannot ask: no
    assert gate.decide(RM) == "denied"
    assert ApprovalGate("never").decide(OUT) == "refused"


# ---- through a thread --------------------------------------------------------------------------

def _thread(tmp_path: Path, model: ScriptedModel, face: Face, policy: str, sandbox: str) -> Thread:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    settings = Settings().changed("test", {"approval_policy": policy, "sandbox_mode": sandbox})
    return Thread.open(settings, cwd=work, home=home, face=face, server=model)


def _tool_replies(model: ScriptedModel) -> list[str]:
    return [m["content"] for m in model.requests[-1].messages if m.get("role") == "tool"]


def test_untrusted_asks_before_a_command_and_a_no_is_denied(tmp_path: Path) -> None:
    model = ScriptedModel(Step.call("shell", {"command": ["touch", "made.txt"]}),
                          Step.call("shell", {"command": ["ls"]}),
                          Step.say("ok"))
    face = Face("no")
    with _thread(tmp_path, model, face, "untrusted", "danger-full-access") as thread:
        thread.run_turn("make a file")
    assert [r.argv for r in face.asked] == [("touch", "made.txt")]  # `ls` is read-only: not asked
    assert not (tmp_path / "work" / "made.txt").exists()
    denied = _tool_replies(model)[0]
    assert denied.startswith("denied: the user did not approve running `touch made.txt`")
    declined = [e.item for e in face.events if isinstance(e, ItemCompleted) and isinstance(e.item, CommandExecution)]
    assert declined[0].status == "declined" and declined[0].command == "touch made.txt"


def test_yes_runs_it_and_always_stops_asking(tmp_path: Path) -> None:
    touch = Step.call("shell", {"command": ["touch", "made.txt"]})
    model = ScriptedModel(touch, touch, touch, Step.say("ok"))
    face = Face("yes", "always")
    with _thread(tmp_path, model, face, "untrusted", "danger-full-access") as thread:
        thread.run_turn("make it, three times")
    assert len(face.asked) == 2 and (tmp_path / "work" / "made.txt").exists()
    assert all(r.startswith("Exit code: 0") for r in _tool_replies(model))


def test_untrusted_shows_a_patch_as_a_diff_and_a_no_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "a.txt").write_text("old\n")
    patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n-old\n+new\n*** End Patch\n"
    model = ScriptedModel(Step.call("apply_patch", {"input": patch}), Step.say("ok"))
    face = Face("no")
    with _thread(tmp_path, model, face, "untrusted", "workspace-write") as thread:
        thread.run_turn("edit")
    request = face.asked[0]
    assert isinstance(request, PatchRequest) and request.files == (("a.txt", "update"),)
    assert "-old\n+new\n" in request.diff and request.diff.startswith("--- a/a.txt\n+++ b/a.txt\n")
    assert (tmp_path / "work" / "a.txt").read_text() == "old\n"
    assert _tool_replies(model)[0].startswith("denied: the user did not approve this patch")


def test_on_request_offers_escalation_and_asks_with_the_justification(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    model = ScriptedModel(Step.call("shell", {"command": ["touch", str(outside)], "with_escalated_permissions": True,
                                              "justification": "write the report next to the repo"}),
                          Step.say("ok"))
    face = Face("yes")
    with _thread(tmp_path, model, face, "on-request", "workspace-write") as thread:
        thread.run_turn("write the report")
    schema = next(t for t in model.requests[0].tools if t.name == "shell").parameters["properties"]
    assert {"with_escalated_permissions", "justification"} <= set(schema)
    assert face.asked[0].outside_sandbox and face.asked[0].reason == "write the report next to the repo"
    assert outside.exists()  # ran outside the workspace-write sandbox, as approved


def test_never_refuses_escalation_without_asking(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    model = ScriptedModel(Step.call("shell", {"command": ["touch", str(outside)], "with_escalated_permissions": True}),
                          Step.say("ok"))
    face = Face("yes")
    with _thread(tmp_path, model, face, "never", "workspace-write") as thread:
        thread.run_turn("try")
        schema = next(t for t in model.requests[0].tools if t.name == "shell").parameters["properties"]
    assert "with_escalated_permissions" not in schema  # not offered under never
    assert face.asked == [] and not outside.exists()
    assert _tool_replies(model)[0].startswith("refused: the approval policy is never")


def test_on_request_asks_to_rerun_what_the_sandbox_refused(tmp_path: Path) -> None:
    model = ScriptedModel(Step.call("shell", {"command": ["touch", "made.txt"]}), Step.say("ok"))
    face = Face("yes")
    with _thread(tmp_path, model, face, "on-request", "read-only") as thread:
        thread.run_turn("make a file")
    assert face.asked[0].retry and face.asked[0].reason == "the sandbox refused it"
    assert (tmp_path / "work" / "made.txt").exists()
    assert _tool_replies(model)[0].startswith("Run again outside the sandbox, as the user approved.")


def test_on_failure_asks_after_any_failure_and_a_no_keeps_the_failure(tmp_path: Path) -> None:
    model = ScriptedModel(Step.call("shell", {"command": ["false"]}), Step.say("ok"))
    face = Face("no")
    with _thread(tmp_path, model, face, "on-failure", "read-only") as thread:
        thread.run_turn("fail")
    assert face.asked[0].retry and "exit 1" in (face.asked[0].reason or "")
    assert _tool_replies(model)[0].startswith("Exit code: 1")


def test_every_tool_call_passes_the_gate(tmp_path: Path) -> None:
    """A tool from outside (an MCP server's, say) declares what it would do and is gated like the rest."""
    from ocodex.tools.base import Tool, ToolResult

    ran: list[dict[str, Any]] = []
    tool = Tool("mcp__docs__search", "search the docs", {"type": "object"},
                lambda args, ctx: ran.append(args) or ToolResult("found"),
                approval=lambda args, ctx: McpToolRequest("docs", "search", args))
    model = ScriptedModel(Step.call("mcp__docs__search", {"q": "x"}), Step.call("mcp__docs__search", {"q": "y"}),
                          Step.say("ok"))
    face = Face("no", "yes")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    settings = Settings().changed("test", {"approval_policy": "untrusted", "sandbox_mode": "danger-full-access"})
    with Thread.open(settings, cwd=work, home=home, face=face, server=model, extra_tools=[tool]) as thread:
        thread.run_turn("search")
    assert ran == [{"q": "y"}] and [r.arguments for r in face.asked] == [{"q": "x"}, {"q": "y"}]
    assert "mcp__docs__search" in [t.name for t in model.requests[0].tools]
    assert json.loads(json.dumps(_tool_replies(model)))[0].startswith("denied: the user did not approve the docs tool")


def test_the_terminal_face_asks_until_it_gets_an_answer_and_shows_the_request_safely(monkeypatch, capsys) -> None:
    import io

    from ocodex.ui.face import TerminalFace

    monkeypatch.setattr("sys.stdin", io.StringIO("maybe\nA\nn\nyes\n"))  # no terminal: one answer per line
    face = TerminalFace(color=False, tty=False)
    assert face.approve(CommandRequest(("rm", "\x1b[2Jx"), "/w", "because\x07", outside_sandbox=True)) == "always"
    assert face.approve(PATCH) == "no"
    assert face.approve(MCP) == "yes"
    shown = capsys.readouterr().err
    assert "run this command outside the sandbox?" in shown and "$ rm '␛[2Jx'" in shown
    assert "why: because␇" in shown and "call MCP tool? docs.search" in shown
    assert "apply this patch?" in shown and "denied (the model is told)" in shown
    assert "\x1b" not in shown and "\x07" not in shown


def test_the_terminal_face_asks_before_a_large_pull(monkeypatch, capsys) -> None:
    import io

    from ocodex.approval import PullRequest
    from ocodex.ui.face import TerminalFace

    monkeypatch.setattr("sys.stdin", io.StringIO("n\ny\n"))
    face = TerminalFace(color=False, tty=False)
    request = PullRequest("gpt-oss:120b", 65 * 1024**3, "http://gpu-box:11434")
    assert face.approve(request) == "no"
    assert face.approve(request) == "yes"
    shown = capsys.readouterr().err
    assert "download gpt-oss:120b? 65.0 GiB onto http://gpu-box:11434; it is not there yet" in shown
    assert "no (choose another model with /model or -m)" in shown
    assert "✗ not downloaded" in shown and "✓ downloading" in shown and "the model is told" not in shown


def test_the_terminal_face_pulls_without_asking_off_the_main_thread(monkeypatch) -> None:
    import io
    import threading

    from ocodex.approval import PullRequest
    from ocodex.ui.face import TerminalFace

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))  # the prompt's: never read from the opener
    face = TerminalFace(color=False, tty=False)
    answers: list[str] = []
    opener = threading.Thread(target=lambda: answers.append(face.approve(PullRequest("m", 5 * 1024**3, "s"))))
    opener.start()
    opener.join(5)
    assert answers == ["yes"]
