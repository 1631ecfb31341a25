"""The chat-completions SSE parser: both Ollama formats, tool-call assembly, usage, broken streams."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocodex.errors import StreamError
from ocodex.providers.base import Completed, ReasoningDelta, TextDelta, ToolCall
from ocodex.providers.chat import parse_chat_stream
from ocodex.providers.sse import iter_sse


def sse(*chunks: dict | str) -> list[str]:
    lines: list[str] = []
    for chunk in chunks:
        payload = chunk if isinstance(chunk, str) else json.dumps(chunk)
        lines += [f"data: {payload}", ""]
    return lines


def delta(**fields) -> dict:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def finish(reason: str, **fields) -> dict:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": reason}]}


USAGE = {"choices": [], "usage": {"prompt_tokens": 1534, "completion_tokens": 48, "total_tokens": 1582}}


def test_new_format_with_reasoning_tool_call_and_usage() -> None:
    call = {"id": "call_k3x9a1b2", "index": 0, "type": "function",
            "function": {"name": "shell", "arguments": '{"cmd":"ls -la"}'}}
    events = list(parse_chat_stream(sse(
        delta(role="assistant", content="", reasoning="The user"),
        delta(content="", reasoning=" wants files."),
        delta(content="", tool_calls=[call]),
        finish("tool_calls"), USAGE, "[DONE]")))
    assert events == [ReasoningDelta("The user"), ReasoningDelta(" wants files."),
                      ToolCall("call_k3x9a1b2", "shell", '{"cmd":"ls -la"}'),
                      Completed("tool_calls", events[-1].usage)]
    assert events[-1].usage.input_tokens == 1534 and events[-1].usage.output_tokens == 48


def test_old_format_finish_on_last_content_chunk_and_usage_copy() -> None:
    events = list(parse_chat_stream(sse(
        delta(role="assistant", content="Hel"),
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "lo"}, "finish_reason": "stop"}]},
        USAGE, "[DONE]")))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert events[-1].finish_reason == "stop" and events[-1].usage.input_tokens == 1534


def test_calls_with_the_same_index_are_split_on_id() -> None:
    first = {"id": "call_a", "index": 0, "function": {"name": "write_file", "arguments": '{"p":1}'}}
    second = {"id": "call_b", "index": 0, "function": {"name": "write_file", "arguments": '{"p":2}'}}
    events = list(parse_chat_stream(sse(delta(tool_calls=[first]), delta(tool_calls=[second]),
                                        finish("tool_calls"), "[DONE]")))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "write_file", '{"p":1}'), ("call_b", "write_file", '{"p":2}')]


def test_openai_style_argument_fragments_are_joined() -> None:
    chunks = [delta(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                                 "function": {"name": "shell", "arguments": ""}}]),
              delta(tool_calls=[{"index": 0, "function": {"arguments": '{"comm'}}]),
              delta(tool_calls=[{"index": 0, "function": {"arguments": 'and":["ls"]}'}}]),
              finish("tool_calls"), "[DONE]"]
    calls = [e for e in parse_chat_stream(sse(*chunks)) if isinstance(e, ToolCall)]
    assert calls == [ToolCall("call_1", "shell", '{"command":["ls"]}')]


def test_reasoning_content_is_accepted_from_other_servers() -> None:
    events = list(parse_chat_stream(sse(delta(reasoning_content="hmm"), finish("stop", content="ok"))))
    assert ReasoningDelta("hmm") in events and TextDelta("ok") in events


def test_arguments_sent_as_an_object_become_json_text() -> None:
    call = {"id": "c1", "function": {"name": "shell", "arguments": {"command": ["ls"]}}}
    calls = [e for e in parse_chat_stream(sse(delta(tool_calls=[call]), finish("tool_calls")))
             if isinstance(e, ToolCall)]
    assert json.loads(calls[0].arguments) == {"command": ["ls"]}


def test_stream_without_finish_reason_is_an_error() -> None:
    with pytest.raises(StreamError, match="finish_reason"):
        list(parse_chat_stream(sse(delta(content="partial"), delta(content=" answer"))))


def test_midstream_error_object_is_an_error() -> None:
    with pytest.raises(StreamError, match="error parsing tool call"):
        list(parse_chat_stream(sse(delta(content=""), {"error": {"message": "error parsing tool call"}})))


def test_invalid_json_chunk_is_an_error() -> None:
    with pytest.raises(StreamError, match="invalid JSON"):
        list(parse_chat_stream(sse("{not json", finish("stop"))))


def test_finish_without_done_marker_is_still_complete() -> None:
    events = list(parse_chat_stream(sse(delta(content="hi"), finish("stop"))))
    assert events[-1] == Completed("stop", None)


def test_sse_reader_handles_comments_crlf_and_multiline_data() -> None:
    lines = [": keep-alive", "event: x\r", "data: a\r", "data: b", "", "data: c"]
    assert [(e.event, e.data) for e in iter_sse(lines)] == [("x", "a\nb"), (None, "c")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=12),
       st.sampled_from(["new", "old"]))
def test_text_survives_any_chunking(pieces: list[str], fmt: str) -> None:
    if fmt == "new":
        chunks = [delta(content=p) for p in pieces] + [finish("stop"), USAGE, "[DONE]"]
    else:
        chunks = [delta(role="assistant", content=p) for p in pieces[:-1]]
        chunks.append(finish("stop", role="assistant", content=pieces[-1]))
        chunks += [USAGE, "[DONE]"]
    events = list(parse_chat_stream(sse(*chunks)))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(pieces)
    assert isinstance(events[-1], Completed)
