"""The renderers: what a person sees on stderr/stdout, and the JSONL printer's exact lines."""

from __future__ import annotations

import io
import json

from ocodex.events import (
    AgentMessage,
    CommandExecution,
    ConfigWarning,
    FileChange,
    FileUpdate,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    SessionResumed,
    ThreadStarted,
    TodoEntry,
    TodoList,
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


def test_a_plan_is_shown_when_it_changes_not_again_when_completed() -> None:
    render, _, err = human()
    render(ItemStarted(TodoList("item_0", [TodoEntry("Inspect", False)])))
    render(ItemUpdated(TodoList("item_0", [TodoEntry("Inspect", True)])))
    render(ItemCompleted(TodoList("item_0", [TodoEntry("Inspect", True)])))
    assert err.getvalue() == "plan\n  [ ] Inspect\nplan\n  [x] Inspect\n"


def test_command_output_preview_cannot_drive_the_terminal() -> None:
    render, _, err = human()
    output = "ok\r\n10%\r100%\n\x1b]52;c;cHduZWQ=\x07evil\x1b[2J\n" + "x\n" * 10
    render(ItemCompleted(CommandExecution("item_0", "cat f", output, 0, "completed")))
    text = err.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    # A CRLF's CR ends the line; any other CR (a progress line, or one hiding what came before) is shown.
    assert text.splitlines()[1:4] == ["  ok", "  10%␍100%", "  ␛]52;c;cHduZWQ=␇evil␛[2J"]
    assert text.splitlines()[-1] == "  … 7 more lines"


def test_colour_only_when_asked() -> None:
    plain, _, plain_err = human(color=False)
    coloured, _, coloured_err = human(color=True)
    for render in (plain, coloured):
        render(ConfigWarning("careful"))
        render(ItemCompleted(FileChange("item_0", [FileUpdate("/w/a.py", "update")], "completed")))
    assert "\x1b[" not in plain_err.getvalue()
    assert "\x1b[" in coloured_err.getvalue()
    assert "M /w/a.py" in plain_err.getvalue()


def test_jsonl_lines_are_compact_and_notices_go_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    render = JsonlRenderer(out, err)
    render(ThreadStarted("t-1"))
    render(SessionResumed("t-0", 3, "/s/f.jsonl"))
    render(ItemCompleted(AgentMessage("item_0", "héllo")))
    lines = out.getvalue().splitlines()
    assert lines[0] == '{"type":"thread.started","thread_id":"t-1"}'
    assert json.loads(lines[1]) == {"type": "item.completed",
                                    "item": {"id": "item_0", "type": "agent_message", "text": "héllo"}}
    assert "héllo" in lines[1]  # UTF-8, not \\u escapes, as Codex prints
    assert err.getvalue() == "resuming session t-0 (3 messages) from /s/f.jsonl\n"


def test_jsonl_events_stay_one_line_for_splitlines_readers() -> None:
    out = io.StringIO()
    text = "a\u2028b\u2029c\x85d\ne"  # e.g. a command's output decoded from binary bytes
    JsonlRenderer(out, io.StringIO())(ItemCompleted(AgentMessage("item_0", text)))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["item"]["text"] == text


def test_registered_secrets_are_masked_in_every_face() -> None:
    from ocodex.redact import register_secret

    register_secret("sk-test-4f9a8b7c6d5e")
    out, err = io.StringIO(), io.StringIO()
    jsonl = JsonlRenderer(out, err)
    jsonl(ItemCompleted(CommandExecution("item_0", "cat config.toml", 'key = "sk-test-4f9a8b7c6d5e"\n', 0,
                                         "completed")))
    jsonl(ConfigWarning("using sk-test-4f9a8b7c6d5e"))
    render, h_out, h_err = human()
    render(ItemCompleted(CommandExecution("item_1", "cat config.toml", "sk-test-4f9a8b7c6d5e\n", 0, "completed")))
    render.final_message("the key is sk-test-4f9a8b7c6d5e")
    for text in (out.getvalue(), err.getvalue(), h_out.getvalue(), h_err.getvalue()):
        assert "sk-test-4f9a8b7c6d5e" not in text
    assert json.loads(out.getvalue().splitlines()[0])["item"]["aggregated_output"] == 'key = "***"\n'


def test_model_text_cannot_drive_the_terminal() -> None:
    render, _, err = human()
    render(ItemCompleted(AgentMessage("item_0", "look\x1b]0;pwned\x07 here\n\tindented")))
    render(ItemStarted(CommandExecution("item_1", "ls")))
    assert "\x1b" not in err.getvalue() and "\x07" not in err.getvalue()
    assert "look␛]0;pwned␇ here\n\tindented" in err.getvalue()
