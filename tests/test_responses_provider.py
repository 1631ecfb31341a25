"""The Responses adapter: history translation, stream parsing, and whole runs against a fake Responses server
(as OpenAI with `--openai`, and as Ollama's /v1/responses with `wire_api = "responses"`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.fake_ollama import FakeOllama, Turn
from fakes.fake_responses import FakeResponses
from ocodex.errors import StreamError
from ocodex.providers.base import Completed, ModelRequest, ReasoningDelta, TextDelta, ToolCall, ToolSpec
from ocodex.providers.responses import build_body, parse_responses_stream, to_input_items

API_KEY = "sk-test-0123456789abcdefSECRET"


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    with FakeResponses(models=["gpt-oss:20b"], api_key=None) as server:
        yield server


def sse(*events: str) -> list[str]:
    lines: list[str] = []
    for event in events:
        lines += [f"data: {event}", ""]
    return lines


# ---------------------------------------------------------------------------------- translation


def test_chat_history_becomes_responses_items() -> None:
    messages = [
        {"role": "system", "content": "You are ocodex."},
        {"role": "user", "content": "AGENTS.md text"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                                     {"type": "text", "text": "what is this?"}]},
        {"role": "assistant", "content": "Looking.", "reasoning": "need ls",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "shell", "arguments": '{"command":["ls"]}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
        {"role": "assistant", "content": "There is a.txt."},
    ]
    saved = {"need ls": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "need ls"}],
                          "encrypted_content": "opaque"}]}
    instructions, items = to_input_items(messages, saved)
    assert instructions == "You are ocodex."
    assert [i["type"] for i in items] == ["message", "message", "reasoning", "message", "function_call",
                                          "function_call_output", "message"]
    assert items[1]["content"] == [{"type": "input_image", "image_url": "data:image/png;base64,AA"},
                                   {"type": "input_text", "text": "what is this?"}]
    assert items[2]["encrypted_content"] == "opaque"
    assert items[3]["content"] == [{"type": "output_text", "text": "Looking."}]
    assert items[4] == {"type": "function_call", "call_id": "call_1", "name": "shell",
                        "arguments": '{"command":["ls"]}'}
    assert items[5] == {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}
    # Reasoning the server never sent as an item is not invented.
    assert [i["type"] for i in to_input_items(messages)[1]].count("reasoning") == 0


def test_body_has_flat_function_tools_store_false_and_effort() -> None:
    request = ModelRequest(model="gpt-5", messages=[{"role": "user", "content": "hi"}],
                           tools=[ToolSpec("shell", "run a command", {"type": "object"})],
                           reasoning_effort="low", max_output_tokens=50,
                           response_format={"type": "json_schema",
                                            "json_schema": {"name": "out", "schema": {"type": "object"}}})
    body = build_body(request)
    assert body["tools"] == [{"type": "function", "name": "shell", "description": "run a command",
                              "parameters": {"type": "object"}, "strict": False}]
    assert body["stream"] is True and body["store"] is False
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["max_output_tokens"] == 50
    assert body["text"]["format"]["type"] == "json_schema" and body["text"]["format"]["name"] == "out"
    assert "temperature" not in body  # only sent when configured: OpenAI's reasoning models refuse it


# ---------------------------------------------------------------------------------- stream parsing


def test_stream_without_terminal_event_is_a_retryable_error() -> None:
    lines = sse('{"type":"response.created","response":{}}',
                '{"type":"response.output_text.delta","item_id":"m","delta":"par"}')
    with pytest.raises(StreamError) as info:
        list(parse_responses_stream(lines))
    assert info.value.retryable and "response.completed" in info.value.message


def test_stream_cut_in_the_middle_of_an_event_is_retryable_but_bad_json_is_not() -> None:
    cut = ["data: {\"type\":\"response.created\",\"response\":{}}", "", "data: {\"type\":\"response.outp"]
    with pytest.raises(StreamError) as info:
        list(parse_responses_stream(cut))
    assert info.value.retryable and "middle of an event" in info.value.message
    with pytest.raises(StreamError) as info:
        list(parse_responses_stream(sse("{not json")))
    assert not info.value.retryable and "invalid JSON" in info.value.message


def test_incomplete_response_maps_to_length_and_failed_to_an_error() -> None:
    lines = sse('{"type":"response.output_text.delta","item_id":"m","delta":"cut"}',
                '{"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"},'
                '"usage":{"input_tokens":3,"output_tokens":4}}}')
    events = list(parse_responses_stream(lines))
    assert events[0] == TextDelta("cut")
    assert isinstance(events[-1], Completed) and events[-1].finish_reason == "length"
    assert events[-1].usage is not None and events[-1].usage.output_tokens == 4

    failed = sse('{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}')
    with pytest.raises(StreamError) as info:
        list(parse_responses_stream(failed))
    assert "boom" in info.value.message and info.value.retryable


def test_items_without_deltas_still_yield_text_reasoning_and_calls() -> None:
    lines = sse(
        '{"type":"response.output_item.done","item":{"id":"r","type":"reasoning",'
        '"summary":[{"type":"summary_text","text":"hmm"}],"encrypted_content":"hmm"}}',
        '{"type":"response.output_item.done","item":{"id":"m","type":"message",'
        '"content":[{"type":"output_text","text":"hello"}]}}',
        '{"type":"response.output_item.done","item":{"id":"f","type":"function_call","call_id":"c1",'
        '"name":"shell","arguments":"{}"}}',
        '{"type":"response.completed","response":{"usage":{"input_tokens":1,"output_tokens":2,'
        '"input_tokens_details":{"cached_tokens":1},"output_tokens_details":{"reasoning_tokens":1}}}}')
    saved: dict = {}
    events = list(parse_responses_stream(lines, saved))
    assert events[:3] == [ReasoningDelta("hmm"), TextDelta("hello"), ToolCall("c1", "shell", "{}")]
    completed = events[-1]
    assert isinstance(completed, Completed) and completed.finish_reason == "tool_calls"
    assert completed.usage is not None and completed.usage.cached_input_tokens == 1
    assert saved["hmm"][0]["encrypted_content"] == "hmm" and "id" not in saved["hmm"][0]


def test_every_reasoning_item_of_a_reply_is_kept_for_the_next_request() -> None:
    lines = sse(
        '{"type":"response.reasoning_summary_text.delta","item_id":"r1","delta":"look"}',
        '{"type":"response.output_item.done","item":{"id":"r1","type":"reasoning",'
        '"summary":[{"type":"summary_text","text":"look"}],"encrypted_content":"e1"}}',
        '{"type":"response.output_item.done","item":{"id":"r2","type":"reasoning",'
        '"summary":[{"type":"summary_text","text":"look"}],"encrypted_content":"e2"}}',
        '{"type":"response.output_item.done","item":{"id":"f","type":"function_call","call_id":"c1",'
        '"name":"shell","arguments":"{}"}}',
        '{"type":"response.completed","response":{}}')
    saved: dict = {}
    events = list(parse_responses_stream(lines, saved))
    # Two items, even with the same text: both are kept, in order, under the reply's whole reasoning.
    assert events[:2] == [ReasoningDelta("look"), ReasoningDelta("\n\nlook")]
    assert [i["encrypted_content"] for i in saved["look\n\nlook"]] == ["e1", "e2"]
    messages = [{"role": "user", "content": "go"},
                {"role": "assistant", "content": "", "reasoning": "look\n\nlook",
                 "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]}]
    _, items = to_input_items(messages, saved)
    assert [i["type"] for i in items] == ["message", "reasoning", "reasoning", "function_call"]
    assert [i.get("encrypted_content") for i in items[1:3]] == ["e1", "e2"]


def test_an_answer_sent_only_in_the_final_event_is_not_lost() -> None:
    lines = sse('{"type":"response.completed","response":{"output":['
                '{"id":"r","type":"reasoning","summary":[{"type":"summary_text","text":"hmm"}],'
                '"encrypted_content":"e"},'
                '{"id":"m","type":"message","content":[{"type":"output_text","text":"hello"}]},'
                '{"id":"f","type":"function_call","call_id":"c1","name":"shell","arguments":"{}"}]}}')
    saved: dict = {}
    events = list(parse_responses_stream(lines, saved))
    assert events[:3] == [ReasoningDelta("hmm"), TextDelta("hello"), ToolCall("c1", "shell", "{}")]
    assert isinstance(events[3], Completed) and events[3].finish_reason == "tool_calls"
    assert saved["hmm"][0]["encrypted_content"] == "e"
    # When the items did stream, the final event's copy of them is not shown twice.
    streamed = sse('{"type":"response.output_text.delta","item_id":"m","delta":"hello"}',
                   '{"type":"response.completed","response":{"output":[{"id":"m","type":"message",'
                   '"content":[{"type":"output_text","text":"hello"}]}]}}')
    assert [e for e in parse_responses_stream(streamed) if isinstance(e, TextDelta)] == [TextDelta("hello")]


def test_a_refusal_is_the_answer_not_silence() -> None:
    streamed = sse('{"type":"response.refusal.delta","item_id":"m","delta":"I can\'t help with that."}',
                   '{"type":"response.output_item.done","item":{"id":"m","type":"message","content":'
                   '[{"type":"refusal","refusal":"I can\'t help with that."}]}}',
                   '{"type":"response.completed","response":{}}')
    whole = sse('{"type":"response.output_item.done","item":{"id":"m","type":"message","content":'
                '[{"type":"refusal","refusal":"No."}]}}', '{"type":"response.completed","response":{}}')
    assert [e for e in parse_responses_stream(streamed) if isinstance(e, TextDelta)] == [
        TextDelta("I can't help with that.")]
    assert [e for e in parse_responses_stream(whole) if isinstance(e, TextDelta)] == [TextDelta("No.")]


def test_reasoning_items_without_a_summary_go_back_with_their_tool_calls() -> None:
    # OpenAI often sends reasoning with an empty summary: nothing to show, but the item must go back.
    lines = sse(
        '{"type":"response.output_item.done","item":{"id":"r1","type":"reasoning","summary":[],'
        '"encrypted_content":"e1"}}',
        '{"type":"response.output_item.done","item":{"id":"f","type":"function_call","call_id":"c9",'
        '"name":"shell","arguments":"{}"}}',
        '{"type":"response.completed","response":{}}')
    saved: dict = {}
    events = list(parse_responses_stream(lines, saved))
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    call = {"id": "c9", "type": "function", "function": {"name": "shell", "arguments": "{}"}}
    messages = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c9", "content": "ok"}, {"role": "assistant", "content": "done"}]
    _, items = to_input_items(messages, saved)
    assert [i["type"] for i in items] == ["message", "reasoning", "function_call", "function_call_output",
                                          "message"]
    assert items[1]["encrypted_content"] == "e1"


# ---------------------------------------------------------------------------------- whole runs


def test_openai_provider_runs_a_tool_call_flow(ocodex, fake: FakeResponses, repo: Path, home: Path,
                                               tmp_path: Path) -> None:
    fake.api_key = API_KEY
    fake.opaque_reasoning = True
    (repo / "a.txt").write_text("alpha\n")
    fake.script(Turn.tool_call("shell", {"command": ["cat", "a.txt"]}, reasoning="read it first"),
                Turn.text("a.txt says alpha.", usage=(40, 5)))
    out_file = tmp_path / "last.txt"
    run = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-5", "--json",
                 "-o", str(out_file), "what does a.txt say?",
                 env={"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": fake.base_url})
    assert run.returncode == 0, run.stderr
    assert run.items("agent_message")[-1]["text"] == "a.txt says alpha."
    assert "alpha" in run.items("command_execution")[0]["aggregated_output"]
    assert next(e for e in run.events() if e["type"] == "turn.completed")["usage"]["input_tokens"] > 0

    first, second = fake.responses_requests
    assert first["model"] == "gpt-5" and first["store"] is False
    assert first["tools"][0]["type"] == "function" and "instructions" in first
    # The reasoning item (opaque, as OpenAI sends it) goes back with the tool call it led to.
    kinds = [item["type"] for item in second["input"]]
    assert kinds[-3:] == ["reasoning", "function_call", "function_call_output"]
    assert second["input"][-3]["encrypted_content"].startswith("enc:")
    assert "alpha" in second["input"][-1]["output"]
    assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in fake.requests)
    # The key is sent, never shown or written.
    written = [p.read_text(errors="replace") for p in [*home.rglob("*"), *repo.rglob("*"), out_file]
               if p.is_file() and ".git" not in p.parts]
    assert all(API_KEY not in text for text in [run.stdout, run.stderr, *written])


def test_several_reasoning_items_of_one_reply_all_go_back(ocodex, fake: FakeResponses, repo: Path) -> None:
    fake.opaque_reasoning = True
    fake.split_reasoning = True
    fake.script(Turn.tool_call("shell", {"command": ["ls"]}, reasoning="list files\n\nthen answer"),
                Turn.tool_call("shell", {"command": ["pwd"]}, reasoning="where am I\n\nthen answer"),
                Turn.text("done"))
    run = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-5", "--json", "go",
                 env={"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": fake.base_url})
    assert run.returncode == 0, run.stderr
    assert "cut the conversation" not in run.stdout + run.stderr  # the fake counts instructions and tools
    first, second, third = fake.responses_requests
    assert first["store"] is False and third["store"] is False
    kinds = [item["type"] for item in third["input"]]
    assert kinds[-8:] == ["reasoning", "reasoning", "function_call", "function_call_output",
                          "reasoning", "reasoning", "function_call", "function_call_output"]
    blobs = [item["encrypted_content"] for item in third["input"] if item["type"] == "reasoning"]
    assert len(set(blobs)) == 4 and all(blob.startswith("enc:") for blob in blobs)
    assert all("id" not in item for item in third["input"] if item["type"] == "reasoning")
    assert [i["type"] for i in second["input"]][-4:] == ["reasoning", "reasoning", "function_call",
                                                           "function_call_output"]


def test_codex_api_key_is_the_openai_key_when_openai_api_key_is_unset(ocodex, fake: FakeResponses,
                                                                      home: Path) -> None:
    # What the Codex TypeScript SDK sets for `codex exec`: OPENAI_BASE_URL and CODEX_API_KEY.
    fake.api_key = API_KEY
    fake.script(Turn.tool_call("shell", {"command": ["env"]}), Turn.text("ok"))
    env = {"OPENAI_BASE_URL": fake.base_url, "CODEX_API_KEY": API_KEY}
    run = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-5", "--json", "hi", env=env)
    assert run.returncode == 0, run.stderr
    assert run.items("agent_message")[-1]["text"] == "ok"
    assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in fake.requests)
    assert "note:" not in run.stderr
    # The model's shell never sees the key, and it is not shown or saved.
    shown = run.items("command_execution")[0]["aggregated_output"]
    assert "PATH=" in shown and "CODEX_API_KEY" not in shown and API_KEY not in shown
    saved = [p.read_text(errors="replace") for p in home.rglob("*") if p.is_file()]
    assert all(API_KEY not in text for text in [run.stdout, run.stderr, *saved])
    # OPENAI_API_KEY wins when both are set.
    fake.script(Turn.text("ok"))
    env["OPENAI_API_KEY"], env["CODEX_API_KEY"] = API_KEY, "sk-other-key-000000000000"
    run = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-5", "hi", env=env)
    assert run.returncode == 0, run.stderr
    assert fake.requests[-1].headers.get("authorization") == f"Bearer {API_KEY}"


def test_openai_without_a_key_or_with_a_wrong_one_is_explained(ocodex, fake: FakeResponses) -> None:
    fake.api_key = API_KEY
    env = {"OPENAI_BASE_URL": fake.base_url}
    run = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-5", "hi", env=env)
    assert run.returncode == 1
    assert "OPENAI_API_KEY" in run.stderr and "not set" in run.stderr

    run = ocodex("exec", "--openai", "-c", "model_provider=openai", "-m", "gpt-5", "hi",
                 env={**env, "OPENAI_API_KEY": "sk-wrong-key-0000000000"})
    assert run.returncode == 1
    assert "401" in run.stderr and "authentication failed" in run.stderr
    assert "model_providers.openai.env_key" in run.stderr
    assert "sk-wrong-key-0000000000" not in run.stderr


def test_openai_is_refused_without_the_flag(ocodex, fake: FakeResponses) -> None:
    run = ocodex("exec", "-c", "model_provider=openai", "-m", "gpt-5", "hi",
                 env={"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": fake.base_url})
    assert run.returncode == 1 and "--openai" in run.stderr
    assert fake.requests == []


def test_oss_can_speak_responses(ocodex, fake: FakeResponses) -> None:
    fake.script(Turn.text("hi from responses", reasoning="short thought"))
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "--json", "-c", 'model_providers.oss.wire_api="responses"',
                 "say hi")
    assert run.returncode == 0, run.stderr
    assert run.items("agent_message")[-1]["text"] == "hi from responses"
    assert run.items("reasoning")[0]["text"] == "short thought"
    assert len(fake.responses_requests) == 1 and fake.chat_requests == []
    # The management calls went to the same server root.
    assert {"/v1/models", "/api/tags"} <= {r.path for r in fake.requests}


def test_a_server_without_responses_gets_the_upgrade_hint(ocodex) -> None:
    with FakeOllama(models=["gpt-oss:20b"], version="0.13.0") as old:
        run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "-c", 'model_providers.oss.wire_api="responses"', "hi",
                     env={"CODEX_OSS_BASE_URL": old.base_url})
    assert run.returncode == 1
    assert "404" in run.stderr and "Responses API" in run.stderr and "0.13.3" in run.stderr
    assert 'wire_api = "chat"' in run.stderr and "ollama pull" not in run.stderr


def test_responses_stream_cut_is_retried(ocodex, fake: FakeResponses) -> None:
    fake.script(Turn.cut("partial words here", after_chunks=3), Turn.text("whole answer"))
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "--json", "-c", 'model_providers.oss.wire_api="responses"',
                 "say hi")
    assert run.returncode == 0, run.stderr
    errors = [e for e in run.events() if e["type"] == "error"]
    assert errors and errors[0]["message"].startswith("Reconnecting... 1/")
    assert run.items("agent_message")[-1]["text"] == "whole answer"
