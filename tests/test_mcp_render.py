"""How an MCP tool call looks: the Codex `mcp_tool_call` item in JSONL, one safe line and a preview for people."""

from __future__ import annotations

import io
import json

from conftest import event_validator
from ocodex.events import ItemCompleted, ItemStarted, McpToolCall
from ocodex.render.human import HumanRenderer
from ocodex.render.jsonl import JsonlRenderer

RESULT = {"content": [{"type": "text", "text": "first\nsecond\n\x1b[31mred\x1b[0m"},
                      {"type": "image", "data": "iVBOR", "mimeType": "image/png"}],
          "structured_content": {"n": 1}}


def test_jsonl_is_codex_s_mcp_tool_call_item() -> None:
    out, err = io.StringIO(), io.StringIO()
    render = JsonlRenderer(out, err)
    render(ItemStarted(McpToolCall("item_3", "docs", "search", {"q": "x"})))
    render(ItemCompleted(McpToolCall("item_3", "docs", "search", {"q": "x"}, result=RESULT, status="completed")))
    render(ItemCompleted(McpToolCall("item_4", "docs", "gone", {}, error="no answer within 1 s", status="failed")))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {"type": "item.started", "item": {
        "id": "item_3", "type": "mcp_tool_call", "server": "docs", "tool": "search", "arguments": {"q": "x"},
        "result": None, "error": None, "status": "in_progress"}}
    assert lines[1]["item"]["result"] == RESULT and lines[1]["item"]["status"] == "completed"
    assert lines[2]["item"]["error"] == {"message": "no answer within 1 s"} and lines[2]["item"]["result"] is None
    for line in lines:
        assert not list(event_validator().iter_errors(line))
    for wrong in ({"status": "declined"}, {"error": {"message": "x"}}, {"status": "in_progress"},
                  {"result": {"content": [{"text": "no type"}], "structured_content": None}}):
        bad = {**lines[1], "item": {**lines[1]["item"], **wrong}}
        assert list(event_validator().iter_errors(bad)), wrong


def test_people_see_one_line_per_call_and_the_first_lines_of_its_result() -> None:
    out, err = io.StringIO(), io.StringIO()
    render = HumanRenderer(out, err, color=False)
    render(ItemStarted(McpToolCall("item_3", "docs", "search", {"q": "x" * 300})))
    render(ItemCompleted(McpToolCall("item_3", "docs", "search", {}, result=RESULT, status="completed")))
    render(ItemStarted(McpToolCall("item_4", "docs", "gone", {})))
    render(ItemCompleted(McpToolCall("item_4", "docs", "gone", {}, error="server \x1b]0;title\x07 died",
                                     status="failed")))
    # A call the approval gate stopped never started: its one item says so.
    render(ItemCompleted(McpToolCall("item_5", "docs", "rm", {"path": "/"}, error="the call was not approved",
                                     status="failed")))
    lines = err.getvalue().splitlines()
    assert lines[0].startswith('mcp docs.search {"q": "xxx') and lines[0].endswith("…")
    assert len(lines[0]) < 200
    assert lines[1:5] == ["✓ first", "  second", "  \u241b[31mred\u241b[0m", "  [image image/png]"]
    assert lines[5:7] == ["mcp docs.gone {}", "✗ error: server \u241b]0;title\u2407 died"]  # shown, never obeyed
    assert lines[7:] == ['declined mcp docs.rm {"path": "/"}', "  the call was not approved"]
    assert out.getvalue() == ""
