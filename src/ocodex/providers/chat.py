"""The chat-completions adapter: `POST {base_url}/chat/completions` with streaming SSE.

This is how ocodex talks to Ollama's OpenAI-compatible /v1 API (and any /v1 server). It handles both
of Ollama's SSE formats (before and after v0.32.6), `reasoning`/`reasoning_content` deltas, tool
calls that arrive whole or in OpenAI-style fragments (a new call starts at a new `id`, never at a new
`index`, because Ollama sends every call with index 0), and usage from `stream_options`. A stream
that ends without a `finish_reason` raises `StreamError`: a partial answer is never passed off as a
whole one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from ocodex import jsontext
from ocodex.errors import StreamError
from ocodex.net.transport import Transport
from ocodex.protocol import (
    Completed,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    TokenUsage,
    ToolCall,
)
from ocodex.providers.errors import http_error, is_document, not_a_stream, transport_error
from ocodex.providers.sse import (
    field_count,
    field_list,
    field_object,
    field_text,
    iter_sse,
    json_object,
    wrong_field,
)
from ocodex.redact import scrub


def build_body(request: ModelRequest) -> dict[str, Any]:
    """The JSON body for one streaming chat-completions request."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.seed is not None:
        body["seed"] = request.seed
    if request.tools:
        body["tools"] = [tool.to_chat() for tool in request.tools]
    if request.reasoning_effort:
        body["reasoning_effort"] = request.reasoning_effort
    if request.response_format is not None:
        body["response_format"] = request.response_format
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    return body


class _ToolCallAssembler:
    """Collects tool calls; a delta with a new `id` starts a new call, one without extends the last."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []

    def add(self, delta: dict[str, Any]) -> None:
        call_id = delta.get("id")
        if isinstance(call_id, int) and not isinstance(call_id, bool):
            call_id = str(call_id)
        elif call_id is not None and not isinstance(call_id, str):
            raise wrong_field("tool_calls[].id", call_id, "a string")
        function = field_object(delta, "function", "tool_calls[]")
        name = field_text(function, "name", "tool_calls[].function")
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):  # some servers send an object, not a string
            arguments = json.dumps(arguments)
        elif arguments is not None and not isinstance(arguments, str):
            raise wrong_field("tool_calls[].function.arguments", arguments, "a string")
        arguments = arguments or ""
        if self._starts_new_call(call_id, name):
            self.calls.append({"id": call_id or f"call_{len(self.calls)}", "name": name,
                               "arguments": arguments})
            return
        current = self.calls[-1]
        current["name"] = current["name"] or name
        current["arguments"] += arguments

    def _starts_new_call(self, call_id: str | None, name: str) -> bool:
        if not self.calls:
            return True
        last = self.calls[-1]
        if call_id:
            return call_id != last["id"]
        # No id: an OpenAI-style fragment of the last call, unless a server without ids sent a
        # second whole call after a complete one.
        return bool(name and last["name"] and self._complete(last))

    @staticmethod
    def _complete(call: dict[str, str]) -> bool:
        try:
            json.loads(call["arguments"])
        except ValueError:
            return False
        return True

    def finish(self) -> list[ToolCall]:
        return [ToolCall(c["id"], c["name"], c["arguments"]) for c in self.calls]


def _usage(data: Any) -> TokenUsage:
    """Token counts, also when a server writes them as strings ("12"); other shapes are a StreamError."""
    if not isinstance(data, dict):
        raise wrong_field("usage", data, "an object")
    prompt_details = field_object(data, "prompt_tokens_details", "usage")
    completion_details = field_object(data, "completion_tokens_details", "usage")
    return TokenUsage(
        input_tokens=field_count(data, "prompt_tokens", "usage"),
        cached_input_tokens=field_count(prompt_details, "cached_tokens", "usage.prompt_tokens_details"),
        output_tokens=field_count(data, "completion_tokens", "usage"),
        reasoning_output_tokens=field_count(completion_details, "reasoning_tokens", "usage.completion_tokens_details"),
    )


def parse_chat_stream(lines: Iterable[str]) -> Iterator[ModelEvent]:
    """Model events from the text lines of a chat-completions SSE response."""
    calls = _ToolCallAssembler()
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    for event in iter_sse(lines):
        if event.data.strip() == "[DONE]":
            break
        chunk = json_object(event)
        if "error" in chunk:
            err = chunk["error"]
            message = err.get("message") if isinstance(err, dict) else err
            raise StreamError(f"model server reported an error mid-stream: {scrub(str(message))}", retryable=True)
        if chunk.get("usage"):
            usage = _usage(chunk["usage"])
        for choice in field_list(chunk, "choices", "the chunk"):
            if not isinstance(choice, dict):
                raise wrong_field("choices[]", choice, "an object")
            delta = field_object(choice, "delta", "choices[]")
            reasoning = field_text(delta, "reasoning", "delta") or field_text(delta, "reasoning_content", "delta")
            if reasoning:
                yield ReasoningDelta(reasoning)
            content = field_text(delta, "content", "delta")
            if content:
                yield TextDelta(content)
            tool_deltas = delta.get("tool_calls")
            if isinstance(tool_deltas, dict):  # one call not wrapped in a list: the meaning is clear
                tool_deltas = [tool_deltas]
            for tool_delta in field_list({"tool_calls": tool_deltas}, "tool_calls", "delta"):
                if not isinstance(tool_delta, dict):
                    raise wrong_field("delta.tool_calls[]", tool_delta, "an object")
                calls.add(tool_delta)
            finish = field_text(choice, "finish_reason", "choices[]")
            if finish:
                finish_reason = finish
    if finish_reason is None:
        raise StreamError("the model stream ended before the answer was complete (no finish_reason); "
                          "the server may have hit an error, check its log", retryable=True)
    yield from calls.finish()
    yield Completed(finish_reason, usage)


class ChatCompletionsProvider:
    """Streams from `{base_url}/chat/completions`."""

    def __init__(self, base_url: str, transport: Transport, *, provider_id: str | None = None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._transport = transport
        self.provider_id = provider_id

    def stream(self, request: ModelRequest) -> Iterator[ModelEvent]:
        body = build_body(request)
        try:
            headers = {"accept": "text/event-stream", "content-type": "application/json"}
            with self._transport.client().stream("POST", self.url, content=jsontext.encode(body),
                                                 headers=headers) as response:
                if response.status_code >= 400:
                    raise http_error(response.status_code, response.read(), model=request.model,
                                     url=self.url, headers=response.headers, provider_id=self.provider_id)
                if is_document(response.headers.get("content-type")):
                    raise not_a_stream(response.headers.get("content-type"), response.read(), self.url)
                yield from parse_chat_stream(response.iter_lines())
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url) from None

    def close(self) -> None:
        self._transport.close()
