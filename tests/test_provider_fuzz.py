"""Whatever a server streams, the parsers yield well-typed model events or raise `StreamError`; nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocodex.errors import StreamError
from ocodex.providers.base import Completed, ReasoningDelta, TextDelta, TokenUsage, ToolCall
from ocodex.providers.chat import parse_chat_stream
from ocodex.providers.responses import parse_responses_stream
from ocodex.providers.sse import iter_sse

# The field names both wire formats use, so generated events reach deep into the parsers.
KEYS = ["choices", "delta", "content", "reasoning", "reasoning_content", "tool_calls", "function", "name",
        "arguments", "id", "index", "finish_reason", "usage", "prompt_tokens", "completion_tokens",
        "prompt_tokens_details", "cached_tokens", "error", "message", "code", "type", "response", "output",
        "item", "item_id", "output_index", "summary", "text", "refusal", "call_id", "encrypted_content",
        "incomplete_details", "reason", "input_tokens", "output_tokens", "input_tokens_details",
        "output_tokens_details", "reasoning_tokens"]
TYPES = ["response.output_text.delta", "response.refusal.delta", "response.reasoning_summary_text.delta",
         "response.reasoning_text.delta", "response.output_item.added", "response.output_item.done",
         "response.function_call_arguments.delta", "response.function_call_arguments.done",
         "response.completed", "response.incomplete", "response.failed", "error", "function_call", "reasoning",
         "message", "output_text", "refusal", "stop", "tool_calls"]

scalars = (st.none() | st.booleans() | st.integers(-10, 10**20) | st.floats(allow_nan=False)
           | st.sampled_from(TYPES) | st.text(max_size=8) | st.just("12"))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5), max_leaves=25)
events = st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=6) | values, max_size=6)


def _lines(chunks: list) -> list[str]:
    lines = []
    for chunk in chunks:
        lines += [f"data: {json.dumps(chunk)}", ""]
    return lines


def _check(events_out: list) -> None:
    for event in events_out:
        if isinstance(event, TextDelta | ReasoningDelta):
            assert isinstance(event.text, str)
        elif isinstance(event, ToolCall):
            assert all(isinstance(v, str) for v in (event.id, event.name, event.arguments))
        elif isinstance(event, Completed):
            assert isinstance(event.finish_reason, str)
            usage = event.usage
            assert usage is None or isinstance(usage, TokenUsage)
            if usage is not None:
                assert all(isinstance(getattr(usage, f), int) for f in usage.__slots__)
        else:
            raise AssertionError(f"unexpected event {event!r}")


@pytest.mark.parametrize("parse", [parse_chat_stream, parse_responses_stream])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=events)
def test_any_json_events_give_typed_events_or_a_stream_error(parse, chunks: list) -> None:
    try:
        out = list(parse(_lines(chunks)))
    except StreamError:
        return
    _check(out)


@given(st.lists(st.text()))
def test_any_lines_are_read_as_events(lines: list[str]) -> None:
    for event in iter_sse(lines):
        assert isinstance(event.data, str)


def test_a_bom_before_the_first_line_is_not_part_of_it() -> None:
    lines = ["\ufeffdata: {\"a\": 1}", "", "data: 2", ""]
    assert [e.data for e in iter_sse(lines)] == ['{"a": 1}', "2"]


@pytest.mark.parametrize(("chunk", "message"), [
    ({"choices": [{"delta": {"content": 5}}]}, "delta.content = 5, not a string"),
    ({"choices": [{"delta": {"tool_calls": "shell"}}]}, 'delta.tool_calls = "shell", not a list'),
    ({"choices": [], "usage": {"prompt_tokens": "many"}}, 'usage.prompt_tokens = "many", not a token count'),
    ({"choices": [], "usage": {"prompt_tokens": True}}, "not a token count"),
])
def test_each_wrong_field_is_named(chunk: dict, message: str) -> None:
    with pytest.raises(StreamError, match="model stream sent") as caught:
        list(parse_chat_stream(_lines([chunk, {"choices": [{"delta": {}, "finish_reason": "stop"}]}])))
    assert message in caught.value.message


def test_counts_as_strings_and_one_unwrapped_call_are_read() -> None:
    call = {"id": "c1", "function": {"name": "shell", "arguments": "{}"}}
    out = list(parse_chat_stream(_lines([
        {"choices": [{"delta": {"tool_calls": call}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": "12", "completion_tokens": 3.0}}])))
    assert out == [ToolCall("c1", "shell", "{}"), Completed("tool_calls", TokenUsage(12, 0, 3, 0))]


def test_responses_fields_of_the_wrong_type_are_a_stream_error() -> None:
    for event in ({"type": 5}, {"type": "response.output_text.delta", "delta": ["x"]},
                  {"type": "response.completed", "response": {"usage": {"input_tokens": "x"}}},
                  {"type": "response.completed", "response": "done"}):
        with pytest.raises(StreamError, match="model stream sent"):
            list(parse_responses_stream(_lines([event])))
