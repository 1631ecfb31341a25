"""Tests of the fake Ollama server itself: wire formats, validation, recording and lifecycle."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.fake_ollama import FakeOllama, ModelName, RecordedRequest, ToolCallSpec, Turn

USER = [{"role": "user", "content": "list the files"}]
TOOLS = [{"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}]


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama(models=["gpt-oss:20b", "gemma3:4b"]) as fake:
        yield fake


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def chat_body(model: str = "gpt-oss:20b", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER, **extra}


def sse(client: httpx.Client, server: FakeOllama, **extra: Any) -> list[Any]:
    """POST a streaming chat; return the decoded data payloads ("[DONE]" kept as a string)."""
    events: list[Any] = []
    body = chat_body(stream=True, **extra)
    with client.stream("POST", server.base_url + "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: ")
                payload = line[len("data: "):]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]


def fake_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fake-ollama")]


# -- lifecycle --------------------------------------------------------------------------------------


def test_starts_fast_and_stops_without_leaking_threads_or_ports(client: httpx.Client) -> None:
    before = set(fake_threads())
    started = time.perf_counter()
    server = FakeOllama().start()
    assert time.perf_counter() - started < 0.05
    port = server.port_number
    assert server.root == f"http://127.0.0.1:{port}"
    assert server.base_url == f"http://127.0.0.1:{port}/v1"
    # leave a keep-alive connection open: stop() must still close it and join its thread
    assert client.get(server.root + "/").text == "Ollama is running"
    server.stop()
    server.stop()  # idempotent
    assert set(fake_threads()) == before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError):
        _ = server.root


def test_stop_interrupts_a_stalled_stream() -> None:
    server = FakeOllama().start()
    server.script(Turn.text("slow answer", delay=30.0))
    failures: list[BaseException] = []

    def read() -> None:
        try:
            with httpx.Client(timeout=10.0) as c, c.stream(
                    "POST", server.base_url + "/chat/completions", json=chat_body(stream=True)) as r:
                for _ in r.iter_lines():
                    pass
        except httpx.HTTPError as exc:
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    while not server.chat_requests:
        time.sleep(0.005)
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 1.0
    reader.join(5)
    assert not reader.is_alive()
    assert failures  # the body was never completed


def test_client_disconnect_mid_stream_is_silent(capfd: pytest.CaptureFixture[str]) -> None:
    with FakeOllama() as server:
        server.script(Turn.text("one two three four five six", delay=0.01))
        with httpx.Client() as c, c.stream("POST", server.base_url + "/chat/completions",
                                           json=chat_body(stream=True)) as r:
            next(r.iter_lines())
        time.sleep(0.1)  # the server keeps writing into the closed socket meanwhile
        assert httpx.get(server.root + "/").status_code == 200
    assert capfd.readouterr().err == ""


# -- native API -------------------------------------------------------------------------------------


def test_root_version_and_unknown_routes(server: FakeOllama, client: httpx.Client) -> None:
    root = client.get(server.root + "/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert client.head(server.root + "/").status_code == 200
    assert client.get(server.root + "/api/version").json() == {"version": "0.13.4"}
    missing = client.get(server.root + "/v1/responses")
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    assert missing.headers["content-type"].startswith("text/plain")
    assert client.get(server.base_url + "/chat/completions").status_code == 405
    server.version = None
    gone = client.get(server.root + "/api/version")
    assert (gone.status_code, gone.text) == (404, "404 page not found")
    assert gone.headers["content-type"].startswith("text/plain")


def test_tags_shape_and_order(server: FakeOllama, client: httpx.Client) -> None:
    models = client.get(server.root + "/api/tags").json()["models"]
    assert [m["name"] for m in models] == ["gpt-oss:20b", "gemma3:4b"]
    gpt = models[0]
    assert gpt["model"] == gpt["name"]
    assert len(gpt["digest"]) == 64 and not gpt["digest"].startswith("sha256:")
    assert gpt["size"] > 10**9
    assert gpt["capabilities"] == ["completion", "tools", "thinking"]
    details = gpt["details"]
    assert details["family"] == "gptoss"
    assert details["parameter_size"] == "20.9B"
    assert details["quantization_level"] == "MXFP4"
    assert details["context_length"] == 131072
    assert "tools" not in models[1]["capabilities"]
    server.models.clear()
    assert client.get(server.root + "/api/tags").json() == {"models": []}


def test_show_reports_context_capabilities_and_num_ctx(client: httpx.Client) -> None:
    with FakeOllama(models=["gpt-oss:20b"], context_length=65536, num_ctx=32768,
                    capabilities={"GPT-OSS:20b": ["completion"]}) as server:
        shown = client.post(server.root + "/api/show", json={"model": "gpt-oss:20b"}).json()
        info = shown["model_info"]
        assert info[info["general.architecture"] + ".context_length"] == 65536
        assert "num_ctx                        32768" in shown["parameters"].splitlines()
        assert shown["capabilities"] == ["completion"]
        assert shown["details"]["family"] == "gptoss"
        server.num_ctx = None
        shown = client.post(server.root + "/api/show", json={"name": "gpt-oss:20b"}).json()
        assert "num_ctx" not in shown.get("parameters", "")
        missing = client.post(server.root + "/api/show", json={"model": "nosuch"})
        assert missing.status_code == 404
        assert missing.json() == {"error": "model 'nosuch:latest' not found"}


def test_ps_lists_a_model_after_a_chat(server: FakeOllama, client: httpx.Client) -> None:
    assert client.get(server.root + "/api/ps").json() == {"models": []}
    client.post(server.base_url + "/chat/completions", json=chat_body())
    (loaded,) = client.get(server.root + "/api/ps").json()["models"]
    assert loaded["name"] == "gpt-oss:20b"
    assert loaded["context_length"] == 4096
    assert loaded["size_vram"] == loaded["size"]
    server.loaded_context = None  # servers older than v0.10.0
    (loaded,) = client.get(server.root + "/api/ps").json()["models"]
    assert "context_length" not in loaded


def test_v1_models(server: FakeOllama, client: httpx.Client) -> None:
    listing = client.get(server.base_url + "/models").json()
    assert listing["object"] == "list"
    assert [(m["id"], m["owned_by"]) for m in listing["data"]] == [
        ("gpt-oss:20b", "library"), ("gemma3:4b", "library")]
    assert client.get(server.base_url + "/models/gpt-oss:20b").json()["id"] == "gpt-oss:20b"
    assert client.get(server.base_url + "/models/nosuch").status_code == 404
    server.models.clear()
    assert client.get(server.base_url + "/models").json() == {"object": "list", "data": None}


def pull_lines(client: httpx.Client, server: FakeOllama, model: str) -> list[dict[str, Any]]:
    with client.stream("POST", server.root + "/api/pull", json={"model": model}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) for line in response.iter_lines() if line]


def test_pull_streams_progress_and_installs(server: FakeOllama, client: httpx.Client) -> None:
    lines = pull_lines(client, server, "llama3.2")
    assert lines[0] == {"status": "pulling manifest"}
    assert [line["status"] for line in lines[-3:]] == [
        "verifying sha256 digest", "writing manifest", "success"]
    progress = lines[1:-3]
    digests = list(dict.fromkeys(line["digest"] for line in progress))
    assert len(digests) == 2
    for digest in digests:
        mine = [line for line in progress if line["digest"] == digest]
        assert len(mine) == 5
        assert all(line["status"] == "pulling " + digest[7:19] for line in mine)
        assert "completed" not in mine[0]
        assert mine[-1]["completed"] == mine[-1]["total"]
    names = [m["name"] for m in client.get(server.root + "/api/tags").json()["models"]]
    assert names[0] == "llama3.2:latest"  # newest first
    assert "llama3.2:latest" in server.models


def test_pull_errors(server: FakeOllama, client: httpx.Client) -> None:
    assert pull_lines(client, server, "nosuch-model") == [
        {"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
    failed = client.post(server.root + "/api/pull", json={"model": "nosuch-model", "stream": False})
    assert failed.status_code == 500
    assert failed.json() == {"error": "pull model manifest: file does not exist"}
    server.pull_error, server.pull_error_after = "digest mismatch, file must be downloaded again", 3
    lines = pull_lines(client, server, "qwen3:8b")
    assert len(lines) == 4
    assert lines[-1] == {"error": "digest mismatch, file must be downloaded again"}
    assert "qwen3:8b" not in server.models
    assert client.post(server.root + "/api/pull", json={"model": "bad name!"}).status_code == 400


def test_pull_script_and_non_streaming(client: httpx.Client) -> None:
    script = [{"status": "pulling manifest"}, {"status": "success"}]
    with FakeOllama(models=[], pull_script=script) as server:
        assert pull_lines(client, server, "qwen3:8b") == script
        ok = client.post(server.root + "/api/pull", json={"model": "gemma3:4b", "stream": False})
        assert (ok.status_code, ok.json()) == (200, {"status": "success"})
        assert server.models == ["qwen3:8b", "gemma3:4b"]


def test_delete_and_create(server: FakeOllama, client: httpx.Client) -> None:
    created = client.post(server.root + "/api/create", json={
        "model": "gpt-oss-64k", "from": "gpt-oss:20b", "parameters": {"num_ctx": 65536}})
    assert [json.loads(line) for line in created.text.splitlines()][-1] == {"status": "success"}
    shown = client.post(server.root + "/api/show", json={"model": "gpt-oss-64k"}).json()
    assert "num_ctx                        65536" in shown["parameters"]
    assert shown["capabilities"] == ["completion", "tools", "thinking"]
    client.post(server.base_url + "/chat/completions", json=chat_body("gpt-oss-64k"))
    (loaded,) = client.get(server.root + "/api/ps").json()["models"]
    assert loaded["context_length"] == 65536
    deleted = client.request("DELETE", server.root + "/api/delete", json={"model": "gpt-oss-64k"})
    assert (deleted.status_code, deleted.content) == (200, b"")
    again = client.request("DELETE", server.root + "/api/delete", json={"model": "gpt-oss-64k"})
    assert again.status_code == 404


# -- /v1/chat/completions: streaming ----------------------------------------------------------------


def test_new_format_text_with_reasoning(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.text("hello there world", reasoning="The user wants"))
    events = sse(client, server)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len({(c["id"], c["created"]) for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["system_fingerprint"] == "fp_ollama"
               and c["model"] == "gpt-oss:20b" for c in chunks)
    ds = deltas(chunks)
    assert ds[0] == {"role": "assistant", "content": "", "reasoning": "The"}
    assert all("role" not in d for d in ds[1:])
    assert "".join(d.get("reasoning", "") for d in ds) == "The user wants"
    assert "".join(d.get("content", "") for d in ds) == "hello there world"
    assert [d["content"] for d in ds if d and "reasoning" not in d] == ["hello", " there", " world"]
    last = chunks[-1]["choices"][0]
    assert (last["delta"], last["finish_reason"]) == ({}, "stop")
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert all("usage" not in c for c in chunks)


def test_usage_chunk_only_with_include_usage(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.text("hi", usage=(1534, 48)))
    events = sse(client, server, stream_options={"include_usage": True})
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 1534, "completion_tokens": 48, "total_tokens": 1582}
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in e for e in sse(client, server)[:-1])


def test_old_format(client: httpx.Client) -> None:
    with FakeOllama(sse_format="old") as server:
        server.script(Turn.text("a b", reasoning="hmm"))
        events = sse(client, server, stream_options={"include_usage": True})
        assert events[-1] == "[DONE]"
        ds = deltas(events[:-1])
        assert all(d["role"] == "assistant" for d in ds)
        assert ds[0] == {"role": "assistant", "content": "", "reasoning": "hmm"}
        finish = events[-3]["choices"][0]
        assert finish == {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}
        assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] > 0


def test_tool_call_stream(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.tool_call("shell", {"command": ["ls", "-la"]}, id="call_k3x9a1b2", reasoning="list"))
    events = sse(client, server)
    calls = [call for d in deltas(events[:-1]) for call in d.get("tool_calls", [])]
    assert calls == [{"id": "call_k3x9a1b2", "index": 0, "type": "function",
                      "function": {"name": "shell", "arguments": '{"command":["ls","-la"]}'}}]
    assert events[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "tool_calls"}


def test_parallel_calls_indices_and_raw_arguments(server: FakeOllama, client: httpx.Client) -> None:
    specs = [ToolCallSpec("write_file", {"path": "a"}), ToolCallSpec("write_file", '{"path": "b"')]
    server.script(Turn.tool_calls(specs), Turn.tool_calls(specs, same_index=True))
    for expected_indices in ([0, 1], [0, 0]):
        calls = [c for d in deltas(sse(client, server)[:-1]) for c in d.get("tool_calls", [])]
        assert [c["index"] for c in calls] == expected_indices
        assert [c["id"] for c in calls] == [s.id for s in specs]
        assert all(c["id"].startswith("call_") and len(c["id"]) == 13 for c in calls)
        assert calls[1]["function"]["arguments"] == '{"path": "b"'  # sent raw, even if broken


def test_calls_in_last_chunk(client: httpx.Client) -> None:
    for fmt in ("new", "old"):
        with FakeOllama(sse_format=fmt) as server:
            server.script(Turn.tool_call("shell", {"cmd": "ls"}, text="Let me look.", in_last_chunk=True))
            chunks = sse(client, server)[:-1]
            carrying = [c for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
            assert len(carrying) == 1
            choice = carrying[0]["choices"][0]
            if fmt == "new":  # merged into the last text delta, then a separate finish chunk
                assert choice["delta"]["content"] == " look."
                assert choice["finish_reason"] is None
            else:  # rides on the final chunk together with finish_reason
                assert choice["delta"]["content"] == ""
                assert choice["finish_reason"] == "tool_calls"
            assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chunks_option_and_empty_reply(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.text("abcdefghij", chunks=3), Turn.text(""))
    assert [d["content"] for d in deltas(sse(client, server)[:-2])] == ["abc", "def", "ghij"]
    empty = sse(client, server)
    assert deltas(empty[:-1]) == [{"role": "assistant", "content": ""}, {}]


def test_cut_stream_has_no_finish_and_no_done(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.cut("partial answer here", after_chunks=2))
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), client.stream(
            "POST", server.base_url + "/chat/completions", json=chat_body(stream=True)) as response:
        lines.extend(line for line in response.iter_lines() if line)
    contents = [json.loads(line[6:])["choices"][0]["delta"]["content"] for line in lines]
    assert contents == ["partial", " answer"]

    server.script(Turn.cut("partial answer", after_chunks=1, abrupt=False))
    events = sse(client, server)  # clean EOF, still no finish_reason and no [DONE]
    assert len(events) == 1 and events[0]["choices"][0]["finish_reason"] is None


def test_midstream_error_is_an_empty_chunk_then_eof(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.midstream_error("error parsing tool call", text="so"),
                  Turn.midstream_error("error parsing tool call"))
    events = sse(client, server)
    assert "[DONE]" not in events
    assert deltas(events) == [{"role": "assistant", "content": "so"}, {"content": ""}]
    assert all(e["choices"][0]["finish_reason"] is None for e in events)
    failed = client.post(server.base_url + "/chat/completions", json=chat_body())
    assert failed.status_code == 500
    assert failed.json()["error"]["message"] == "error parsing tool call"


def test_non_streaming_shape(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.tool_call("shell", {"cmd": "ls -la"}, id="call_98a1uqe2", reasoning="Need to list"))
    reply = client.post(server.base_url + "/chat/completions", json=chat_body(stream=False)).json()
    assert reply["object"] == "chat.completion"
    assert reply["id"].startswith("chatcmpl-")
    (choice,) = reply["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant", "content": "", "reasoning": "Need to list",
        "tool_calls": [{"id": "call_98a1uqe2", "index": 0, "type": "function",
                        "function": {"name": "shell", "arguments": '{"cmd":"ls -la"}'}}]}
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_default_reply_and_length_finish(client: httpx.Client) -> None:
    with FakeOllama(default_reply="fallback") as server:
        server.script(Turn.tool_call("shell", {}, finish_reason="length"))
        first = client.post(server.base_url + "/chat/completions", json=chat_body()).json()
        assert first["choices"][0]["finish_reason"] == "length"
        second = client.post(server.base_url + "/chat/completions", json=chat_body()).json()
        assert second["choices"][0]["message"]["content"] == "fallback"


# -- /v1/chat/completions: errors and validation ----------------------------------------------------


def post_chat(client: httpx.Client, server: FakeOllama, **kwargs: Any) -> httpx.Response:
    return client.post(server.base_url + "/chat/completions", **kwargs)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert error["param"] is None and error["code"] is None
    return response.status_code, error["type"], error["message"]


def test_scripted_error_turn(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.error(503, "server busy, please try again.  maximum pending requests exceeded"))
    response = post_chat(client, server, json=chat_body(stream=True))
    assert response.headers["content-type"].startswith("application/json")
    assert error_of(response) == (
        503, "api_error", "server busy, please try again.  maximum pending requests exceeded")
    assert server.pending_turns == []


def test_validation_errors_do_not_consume_turns(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.text("kept"))
    assert error_of(post_chat(client, server, content=b"{not json")) == (
        400, "invalid_request_error", "invalid character 'n' looking for beginning of value")
    assert error_of(post_chat(client, server, json={"model": "gpt-oss:20b", "messages": []})) == (
        400, "invalid_request_error", "[] is too short - 'messages'")
    assert error_of(post_chat(client, server, json=chat_body("nosuch"))) == (
        404, "not_found_error", "model 'nosuch' not found")
    assert error_of(post_chat(client, server, json=chat_body("gemma3:4b", tools=TOOLS))) == (
        400, "invalid_request_error", "registry.ollama.ai/library/gemma3:4b does not support tools")
    assert error_of(post_chat(client, server, json=chat_body("gemma3:4b", reasoning_effort="high"))) == (
        400, "invalid_request_error", '"gemma3:4b" does not support thinking')
    assert post_chat(client, server, json=chat_body("gemma3:4b", reasoning_effort="none")).status_code == 200
    assert post_chat(client, server, json=chat_body(reasoning_effort="bogus")).status_code == 400
    assert [t.content for t in server.pending_turns] == []  # consumed by the 'none' request only


def test_model_check_false_skips_lookup(server: FakeOllama, client: httpx.Client) -> None:
    server.script(Turn.text("anything goes", model_check=False))
    reply = post_chat(client, server, json=chat_body("not-installed:1b", tools=TOOLS)).json()
    assert reply["choices"][0]["message"]["content"] == "anything goes"
    assert reply["model"] == "not-installed:1b"


@pytest.mark.parametrize("typed", [
    "gpt-oss:20b", "GPT-OSS:20B", "library/gpt-oss:20b", "registry.ollama.ai/library/gpt-oss:20b",
    "llama3.1", "llama3.1:latest", "Library/Llama3.1",
])
def test_model_names_match_like_ollama(typed: str, client: httpx.Client) -> None:
    with FakeOllama(models=["gpt-oss:20b", "llama3.1"]) as server:
        assert post_chat(client, server, json=chat_body(typed)).status_code == 200


@pytest.mark.parametrize("typed", ["gpt-oss", "gpt-oss:120b", "llama3.1:8b", "other/llama3.1", "bad name!"])
def test_model_names_that_do_not_match(typed: str, client: httpx.Client) -> None:
    with FakeOllama(models=["gpt-oss:20b", "llama3.1"]) as server:
        response = post_chat(client, server, json=chat_body(typed))
        assert error_of(response) == (404, "not_found_error", f"model '{typed}' not found")


def test_model_name_parsing() -> None:
    assert ModelName.parse("llama3.1").display == "llama3.1:latest"  # type: ignore[union-attr]
    hf = ModelName.parse("hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M")
    assert hf is not None and hf.display == "hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M"
    local = ModelName.parse("localhost:5000/ns/m")
    assert local is not None and (local.host, local.tag) == ("localhost:5000", "latest")
    assert ModelName.parse("jmorgan/mymodel").qualified == "registry.ollama.ai/jmorgan/mymodel:latest"  # type: ignore[union-attr]
    assert ModelName.parse("bad name!") is None
    assert ModelName.parse("a/b/c/d") is None


# -- recording --------------------------------------------------------------------------------------


def test_requests_are_recorded(server: FakeOllama, client: httpx.Client) -> None:
    client.get(server.root + "/api/tags?x=1", headers={"X-Trace": "abc"})
    body = chat_body(temperature=0.2)
    post_chat(client, server, json=body)
    post_chat(client, server, content=b"{broken")
    tags, chat, broken = server.requests
    assert isinstance(tags, RecordedRequest)
    assert (tags.method, tags.path, tags.query, tags.json) == ("GET", "/api/tags", "x=1", None)
    assert tags.headers["x-trace"] == "abc"
    assert (chat.method, chat.path, chat.json) == ("POST", "/v1/chat/completions", body)
    assert json.loads(chat.body) == body
    assert broken.json is None and broken.body == b"{broken"
    assert server.chat_requests == [body]


# -- CLI --------------------------------------------------------------------------------------------


def test_cli_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "fakes" / "fake_ollama.py"), "--port", "0", "--reply", "pong"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:") and line.endswith("/v1")
        base_url = line.removeprefix("listening on ")
        reply = httpx.post(base_url + "/chat/completions", json=chat_body(), timeout=5).json()
        assert reply["choices"][0]["message"]["content"] == "pong"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0
    assert stderr == ""
