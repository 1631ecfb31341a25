"""The renderers: what a person sees on stderr/stdout, and the JSONL printer's exact lines."""

from __future__ import annotations

import io
import json

from ocodex.events import (
    AgentMessage,
    CommandExecution,
    FileChange,
    FileUpdate,
    ItemCompleted,
    ItemStarted,
    Notice,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    Usage,
)
from ocodex.render.human import HumanRenderer
from ocodex.render.jsonl import JsonlRenderer


def human(color: bool = False) -> tuple[HumanRenderer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return HumanRenderer(out, err, color=color), out, err


def test_final_answer_goes_only_to_stdout_and_remarks_to_stderr() -> None:
    render, out, err = human()
    render(ItemCompleted(AgentMessage("item_0", "Let me look.")))
    render(ItemStarted(CommandExecution("item_1", "ls")))
    render(ItemCompleted(CommandExecution("item_1", "ls", "a\nb\n", 0, "completed")))
    render(ItemCompleted(AgentMessage("item_2", "Two files.")))
    render(TurnCompleted(Usage(input_tokens=1200, output_tokens=34)))
    render.final_message("Two files.")
    assert out.getvalue() == "Two files.\n"
    text = err.getvalue()
    assert "Let me look." in text and "Two files." not in text
    assert "exec ls" in text and "exit 0" in text and "  a" in text
    assert "tokens used 1,234" in text


def test_a_message_before_a_failure_is_still_shown() -> None:
    render, out, err = human()
    render(ItemCompleted(AgentMessage("item_0", "Working on it.")))
    render(TurnFailed("model request failed (500): boom"))
    assert "Working on it." in err.getvalue() and "error: model request failed" in err.getvalue()
    assert out.getvalue() == ""


def test_colour_only_when_asked() -> None:
    plain, _, plain_err = human(color=False)
    coloured, _, coloured_err = human(color=True)
    for render in (plain, coloured):
        render(Notice("careful", "warning"))
        render(ItemCompleted(FileChange("item_0", [FileUpdate("/w/a.py", "update")], "completed")))
    assert "\x1b[" not in plain_err.getvalue()
    assert "\x1b[" in coloured_err.getvalue()
    assert "M /w/a.py" in plain_err.getvalue()


def test_jsonl_lines_are_compact_and_notices_go_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    render = JsonlRenderer(out, err)
    render(ThreadStarted("t-1"))
    render(Notice("model: x"))
    render(ItemCompleted(AgentMessage("item_0", "héllo")))
    lines = out.getvalue().splitlines()
    assert lines[0] == '{"type":"thread.started","thread_id":"t-1"}'
    assert json.loads(lines[1]) == {"type": "item.completed",
                                    "item": {"id": "item_0", "type": "agent_message", "text": "héllo"}}
    assert "héllo" in lines[1]  # UTF-8, not \\u escapes, as Codex prints
    assert err.getvalue() == "model: x\n"
