"""A scripted fake of the Responses API (`POST /v1/responses`), for tests of the Responses adapter.

`FakeResponses` is a `FakeOllama` that also serves `/v1/responses`, as Ollama does from 0.13.3 and as
OpenAI does, so it stands in for either: the same `Turn` scripts drive it, and it streams the event
sequence of the reference notes (§2.4 of ollama-api.md, §c of codex-compat.md): `response.created`,
`response.in_progress`, per output item `response.output_item.added` / deltas / `.done`
(`reasoning` with `summary_text` and `encrypted_content`, `message` with `output_text` inside
`response.content_part.added`/`.done`,
`function_call` with its arguments in one delta), then `response.completed` with usage. Error turns
answer with the OpenAI error body, `cut` turns drop the connection mid-stream, `midstream_error`
turns end with `response.failed`, and `delay` stalls before every event.

With `api_key` set, requests without `Authorization: Bearer <api_key>` get OpenAI's 401. With
`opaque_reasoning`, reasoning items carry an opaque `encrypted_content` (OpenAI's behaviour) instead of
the plain text (Ollama's). With `split_reasoning`, a turn's reasoning is sent as one reasoning item
per blank-line-separated paragraph, as OpenAI's reasoning models do between tool calls.
"""

from __future__ import annotations

import random
import time
from typing import Any

from fakes.fake_ollama import (
    FakeOllama,
    RecordedRequest,
    ToolCallSpec,
    Turn,
    _estimate_tokens,
    _go_bytes,
    _Handler,
)

__all__ = ["RESPONSES_PATH", "FakeResponses"]

RESPONSES_PATH = "/v1/responses"


def _words(text: str) -> list[str]:
    pieces, current = [], ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


class FakeResponses(FakeOllama):
    """`FakeOllama` plus a scripted `/v1/responses`."""

    def __init__(self, *args: Any, api_key: str | None = None, opaque_reasoning: bool = False,
                 split_reasoning: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_key = api_key
        self.opaque_reasoning = opaque_reasoning
        self.split_reasoning = split_reasoning
        self._routes[RESPONSES_PATH] = {"POST": self._responses}

    @property
    def responses_requests(self) -> list[Any]:
        """Parsed JSON bodies of every POST /v1/responses, in order."""
        with self._lock:
            return [r.json for r in self.requests
                    if r.method == "POST" and r.path == RESPONSES_PATH and r.json is not None]

    def _responses(self, handler: _Handler, request: RecordedRequest) -> None:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            handler.respond_json(401, {"error": {
                "message": "Incorrect API key provided. You can find your API key at "
                           "https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
            return
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
            handler.respond_json(400, {"error": {"message": "model is required", "type": "invalid_request_error",
                                                 "param": "model", "code": None}})
            return
        if not isinstance(body.get("input"), str | list):
            handler.respond_json(400, {"error": {"message": "input is required", "type": "invalid_request_error",
                                                 "param": "input", "code": None}})
            return
        with self._lock:
            turn = self._turns.popleft() if self._turns else Turn.text(self.default_reply)
        if turn.kind == "error":
            if not self._sleep(turn.delay):
                handler.drop()
                return
            handler.respond_json(turn.status, {"error": {"message": turn.message, "type": "server_error",
                                                         "param": None, "code": None}})
            return
        self._stream(handler, body, turn)

    # -- the event sequence ----------------------------------------------------------------------

    def _events(self, body: dict[str, Any], turn: Turn) -> list[dict[str, Any]]:
        response_id = f"resp_{random.randrange(10**8)}"
        base = {"id": response_id, "object": "response", "created_at": int(time.time()),
                "model": body.get("model"), "output": []}
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": {**base, "status": "in_progress"}},
            {"type": "response.in_progress", "response": {**base, "status": "in_progress"}},
        ]
        output: list[dict[str, Any]] = []
        paragraphs: list[str] = []
        if turn.reasoning:
            paragraphs = turn.reasoning.split("\n\n") if self.split_reasoning else [turn.reasoning]
        for reasoning in paragraphs:
            item_id = f"rs_{len(output)}"
            encrypted = f"enc:{random.randrange(10**12):x}" if self.opaque_reasoning else reasoning
            item = {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text",
                                                                     "text": reasoning}],
                    "encrypted_content": encrypted}
            events.append({"type": "response.output_item.added", "output_index": len(output),
                           "item": {**item, "summary": []}})
            events += [{"type": "response.reasoning_summary_text.delta", "item_id": item_id,
                        "output_index": len(output), "summary_index": 0, "delta": piece}
                       for piece in _words(reasoning)]
            events += [{"type": "response.reasoning_summary_text.done", "item_id": item_id,
                        "output_index": len(output), "summary_index": 0, "text": reasoning},
                       {"type": "response.output_item.done", "output_index": len(output), "item": item}]
            output.append(item)
        if turn.content:
            item_id = f"msg_{len(output)}"
            item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": turn.content, "annotations": []}]}
            events.append({"type": "response.output_item.added", "output_index": len(output),
                           "item": {**item, "content": [], "status": "in_progress"}})
            part = {"item_id": item_id, "output_index": len(output), "content_index": 0}
            events.append({"type": "response.content_part.added", **part,
                           "part": {"type": "output_text", "text": "", "annotations": []}})
            events += [{"type": "response.output_text.delta", **part, "delta": piece}
                       for piece in _words(turn.content)]
            events += [{"type": "response.output_text.done", **part, "text": turn.content},
                       {"type": "response.content_part.done", **part, "part": item["content"][0]},
                       {"type": "response.output_item.done", "output_index": len(output), "item": item}]
            output.append(item)
        for call in turn.calls if turn.kind == "reply" else []:
            events += self._call_events(call, len(output))
            output.append(events[-1]["item"])
        if turn.kind == "cut":
            return events[:2 + max(0, turn.after_chunks)]
        if turn.kind == "midstream_error":
            events.append({"type": "response.failed", "response": {
                **base, "status": "failed", "error": {"code": "server_error", "message": turn.message}}})
            return events
        # Like a real server, count the instructions and tools too, not only the input items.
        prompt, completion = turn.usage or (_estimate_tokens(body.get("instructions") or "", body.get("input"),
                                                             body.get("tools") or []),
                                            max(1, (len(turn.content) + len(turn.reasoning or "")) // 4))
        usage = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": prompt + completion}
        final = {**base, "status": "completed", "output": output, "usage": usage}
        if turn.finish_reason == "length":
            final.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
            events.append({"type": "response.incomplete", "response": final})
        else:
            events.append({"type": "response.completed", "response": final})
        return events

    @staticmethod
    def _call_events(call: ToolCallSpec, index: int) -> list[dict[str, Any]]:
        item_id = f"fc_{index}"
        item = {"id": item_id, "type": "function_call", "status": "completed", "call_id": call.id,
                "name": call.name, "arguments": call.arguments_json}
        return [
            {"type": "response.output_item.added", "output_index": index,
             "item": {**item, "arguments": "", "status": "in_progress"}},
            {"type": "response.function_call_arguments.delta", "item_id": item_id, "output_index": index,
             "delta": call.arguments_json},
            {"type": "response.function_call_arguments.done", "item_id": item_id, "output_index": index,
             "arguments": call.arguments_json},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]

    def _stream(self, handler: _Handler, body: dict[str, Any], turn: Turn) -> None:
        stream = handler.stream("text/event-stream")
        for event in self._events(body, turn):
            data = b"event: " + event["type"].encode() + b"\ndata: " + _go_bytes(event) + b"\n\n"
            if not self._sleep(turn.delay) or not stream.write(data):
                stream.drop()
                return
        if turn.kind == "cut" and turn.abrupt:
            stream.drop()
        else:
            stream.close()
