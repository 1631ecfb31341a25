"""The Responses adapter: `POST {base_url}/responses` with streaming SSE (OpenAI, Ollama >= 0.13.3).

Translates the loop's chat-shaped history into Responses input items (the first system message
becomes `instructions`; assistant tool calls become `function_call` items, tool results
`function_call_output` items, images `input_image` parts), sends flat function tools with
`store: false`, and turns the event stream back into model events: text and reasoning deltas,
whole tool calls and usage. Reasoning items the server returns (OpenAI's carry opaque
`encrypted_content`) are kept and sent back with the tool-calling turn they belong to, as gpt-oss
and OpenAI's reasoning models expect. A stream that closes before `response.completed` (or
`response.incomplete`) raises a retryable `StreamError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
from ocodex.providers.errors import error_message, http_error, is_document, not_a_stream, transport_error
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

RETRYABLE_CODES = frozenset({"server_error", "rate_limit_exceeded", "server_is_overloaded", "slow_down"})
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


# ------------------------------------------------------------------------------------------ request


def _content_parts(content: Any, role: str) -> list[dict[str, Any]]:
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return [{"type": text_type, "text": content}]
    parts: list[dict[str, Any]] = []
    for part in content or ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            parts.append({"type": text_type, "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append({"type": "input_image", "image_url": url})
    return parts


def _message_item(role: str, content: Any) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": _content_parts(content, role)}


def reasoning_key(reasoning: str, call_ids: list[str]) -> str:
    """Where a reply's reasoning items are kept: its reasoning text, or for reasoning without a summary
    (OpenAI often sends none) its tool call ids; "" (not kept) when it has neither."""
    if reasoning.strip():
        return reasoning.strip()
    return "\0calls:" + ",".join(call_ids) if call_ids else ""


def to_input_items(messages: list[dict[str, Any]], reasoning_items: dict[str, list[dict[str, Any]]] | None = None
                   ) -> tuple[str | None, list[dict[str, Any]]]:
    """(instructions, input items) for chat-shaped `messages`.

    `reasoning_items` maps the whole reasoning text of one reply (or, when it showed none, the
    `reasoning_key` of its tool calls) to the server's own reasoning items of that reply (all of them,
    in order), sent back before the tool calls of the turn that produced them; reasoning the server
    never sent as an item is dropped.
    """
    instructions: str | None = None
    items: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        if role == "system" and position == 0 and isinstance(content, str):
            instructions = content
        elif role in ("system", "user", "developer"):
            items.append(_message_item(role, content))
        elif role == "assistant":
            key = reasoning_key(message.get("reasoning") or "",
                                [str(call.get("id", "")) for call in message.get("tool_calls") or ()])
            if key and reasoning_items and key in reasoning_items:
                items += reasoning_items[key]
            if content:
                items.append(_message_item("assistant", content))
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                items.append({"type": "function_call", "call_id": call.get("id", ""),
                              "name": function.get("name", ""), "arguments": function.get("arguments", "")})
        elif role == "tool":
            output = content if isinstance(content, str) else json.dumps(content)
            items.append({"type": "function_call_output", "call_id": message.get("tool_call_id", ""),
                          "output": output})
    return instructions, items


def _text_format(response_format: dict[str, Any]) -> dict[str, Any]:
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        return {"type": "json_schema", "name": schema.get("name", "output"), "schema": schema.get("schema", {}),
                "strict": bool(schema.get("strict", False))}
    return {"type": response_format.get("type", "text")}


def build_body(request: ModelRequest, reasoning_items: dict[str, list[dict[str, Any]]] | None = None
               ) -> dict[str, Any]:
    """The JSON body for one streaming Responses request."""
    instructions, items = to_input_items(request.messages, reasoning_items)
    body: dict[str, Any] = {"model": request.model}
    if instructions is not None:
        body["instructions"] = instructions
    body["input"] = items
    if request.tools:
        body["tools"] = [{"type": "function", "name": t.name, "description": t.description,
                          "parameters": t.parameters, "strict": False} for t in request.tools]
        body["tool_choice"] = "auto"
        body["parallel_tool_calls"] = True
    body["stream"] = True
    body["store"] = False
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.reasoning_effort:
        body["reasoning"] = {"effort": request.reasoning_effort, "summary": "auto"}
        body["include"] = ["reasoning.encrypted_content"]
    if request.response_format is not None:
        body["text"] = {"format": _text_format(request.response_format)}
    if request.max_output_tokens is not None:
        body["max_output_tokens"] = request.max_output_tokens
    return body


# ----------------------------------------------------------------------------------------- response


def _usage(data: Any) -> TokenUsage | None:
    """Token counts (also written as strings, "12"); None when absent; other shapes are a StreamError."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise wrong_field("response.usage", data, "an object")
    input_details = field_object(data, "input_tokens_details", "usage")
    output_details = field_object(data, "output_tokens_details", "usage")
    return TokenUsage(input_tokens=field_count(data, "input_tokens", "usage"),
                      cached_input_tokens=field_count(input_details, "cached_tokens", "usage.input_tokens_details"),
                      output_tokens=field_count(data, "output_tokens", "usage"),
                      reasoning_output_tokens=field_count(output_details, "reasoning_tokens",
                                                          "usage.output_tokens_details"))


def _parts(item: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [p for p in field_list(item, key, "item") if isinstance(p, dict)]


def _reasoning_text(item: dict[str, Any]) -> str:
    parts = [field_text(p, "text", "reasoning part") for p in _parts(item, "summary")]
    if not any(parts):
        parts = [field_text(p, "text", "reasoning part") for p in _parts(item, "content")]
    return "".join(parts)


def _message_text(item: dict[str, Any]) -> str:
    return "".join(field_text(p, "refusal" if p.get("type") == "refusal" else "text", "message part")
                   for p in _parts(item, "content") if p.get("type") in ("output_text", "text", "refusal"))


def _failure(data: dict[str, Any], default: str) -> StreamError:
    response = data.get("response")
    error = data.get("error") or (response.get("error") if isinstance(response, dict) else None) or {}
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message") or default
    else:
        code, message = None, str(error) or default
    if not isinstance(code, str):
        code = data.get("code") if isinstance(data.get("code"), str) else None
    if data.get("type") == "error" and not error:
        message = data.get("message") or default
    return StreamError(f"the model server reported an error: {scrub(str(message))}"
                       + (f" ({code})" if code else ""), retryable=code in RETRYABLE_CODES)


@dataclass
class _StreamState:
    calls: dict[str, dict[str, str]] = field(default_factory=dict)  # item id -> call
    text_items: set[str] = field(default_factory=set)  # items whose text arrived as deltas
    reasoning_items: set[str] = field(default_factory=set)  # items whose reasoning arrived as deltas
    saved_reasoning: list[dict[str, Any]] = field(default_factory=list)
    reasoning_text: list[str] = field(default_factory=list)  # every reasoning piece yielded, in order
    last_reasoning_item: str | None = None
    streamed_output: bool = False  # any output item or delta event arrived before the final event

    def reasoning(self, item_id: str, text: str) -> ReasoningDelta:
        """The delta for `text` of reasoning item `item_id`, a blank line apart from an earlier item's."""
        if self.reasoning_text and item_id != self.last_reasoning_item:
            text = "\n\n" + text
        self.last_reasoning_item = item_id
        self.reasoning_text.append(text)
        return ReasoningDelta(text)

    def call(self, item_id: str) -> dict[str, str]:
        return self.calls.setdefault(item_id, {"call_id": "", "name": "", "arguments": ""})

    def add_call_item(self, item_id: str, item: dict[str, Any]) -> None:
        call = self.call(item_id)
        call["call_id"] = field_text(item, "call_id", "function_call") or call["call_id"] or item_id
        call["name"] = field_text(item, "name", "function_call") or call["name"]
        arguments = item.get("arguments")
        if isinstance(arguments, dict | list):
            arguments = json.dumps(arguments)
        elif arguments is not None and not isinstance(arguments, str):
            raise wrong_field("function_call.arguments", arguments, "a string")
        if arguments:
            call["arguments"] = arguments


def parse_responses_stream(lines: Iterable[str], reasoning_items: dict[str, list[dict[str, Any]]] | None = None
                           ) -> Iterator[ModelEvent]:
    """Model events from the text lines of a Responses SSE stream.

    The reply's reasoning items with `encrypted_content` are stored in `reasoning_items` for the next
    request, all under the reply's whole reasoning text (as the loop records it) and each without its
    `id`, which a `store: false` server would not find.
    """
    state = _StreamState()
    for event in iter_sse(lines):
        if event.data.strip() == "[DONE]":
            break
        data = json_object(event)
        kind = field_text(data, "type", "the event") or event.event or ""
        item_id = str(data.get("item_id") or "")
        if kind.startswith(("response.output", "response.reasoning", "response.function_call", "response.refusal")):
            state.streamed_output = True
        if kind in ("response.output_text.delta", "response.refusal.delta"):  # a refusal is the answer
            state.text_items.add(item_id)
            if delta := field_text(data, "delta", kind):
                yield TextDelta(delta)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            state.reasoning_items.add(item_id)
            if delta := field_text(data, "delta", kind):
                yield state.reasoning(item_id, delta)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            yield from _item_event(state, data, done=kind.endswith(".done"))
        elif kind == "response.function_call_arguments.delta":
            state.call(item_id)["arguments"] += field_text(data, "delta", kind)
        elif kind == "response.function_call_arguments.done" and isinstance(data.get("arguments"), str):
            state.call(item_id)["arguments"] = data["arguments"]
        elif kind in ("response.completed", "response.incomplete"):
            response = field_object(data, "response", kind)
            if not state.streamed_output:  # a server that sends the whole answer only in the final event
                for index, item in enumerate(field_list(response, "output", "response")):
                    yield from _item_event(state, {"item": item, "output_index": index}, done=True)
            calls = [ToolCall(c["call_id"], c["name"], c["arguments"]) for c in state.calls.values() if c["name"]]
            key = reasoning_key("".join(state.reasoning_text), [call.id for call in calls])
            if reasoning_items is not None and state.saved_reasoning and key:
                reasoning_items[key] = state.saved_reasoning
            yield from calls
            if kind == "response.incomplete":
                reason = field_text(field_object(response, "incomplete_details", "response"), "reason",
                                    "response.incomplete_details") or "incomplete"
                finish = INCOMPLETE_REASONS.get(reason, reason)
            else:
                finish = "tool_calls" if calls else "stop"
            yield Completed(finish, _usage(response.get("usage")))
            return
        elif kind in ("response.failed", "error"):
            raise _failure(data, "the response failed")
    raise StreamError("the model stream closed before response.completed: the answer is incomplete; "
                      "the server may have hit an error, check its log", retryable=True)


def _item_event(state: _StreamState, data: dict[str, Any], *, done: bool) -> Iterator[ModelEvent]:
    item = data.get("item")
    if not isinstance(item, dict):
        return
    item_id = str(item.get("id") or data.get("output_index") or "")
    kind = item.get("type")
    if kind == "function_call":
        state.add_call_item(item_id, item)
    elif kind == "reasoning" and done:
        if item_id not in state.reasoning_items:
            text = _reasoning_text(item)
            if text:
                yield state.reasoning(item_id, text)
        if item.get("encrypted_content"):
            state.saved_reasoning.append({k: v for k, v in item.items() if k not in ("id", "status")})
    elif kind == "message" and done and item_id not in state.text_items:
        text = _message_text(item)
        if text:
            yield TextDelta(text)


class ResponsesProvider:
    """Streams from `{base_url}/responses`."""

    def __init__(self, base_url: str, transport: Transport, *, provider_id: str | None = None) -> None:
        self.url = base_url.rstrip("/") + "/responses"
        self._transport = transport
        self.provider_id = provider_id
        self._reasoning_items: dict[str, list[dict[str, Any]]] = {}

    def stream(self, request: ModelRequest) -> Iterator[ModelEvent]:
        body = build_body(request, self._reasoning_items)
        try:
            headers = {"accept": "text/event-stream", "content-type": "application/json"}
            with self._transport.client().stream("POST", self.url, content=jsontext.encode(body),
                                                 headers=headers) as response:
                if response.status_code >= 400:
                    raw = response.read()
                    error = http_error(response.status_code, raw, model=request.model,
                                       url=self.url, headers=response.headers, provider_id=self.provider_id)
                    if response.status_code == 404 and "model" not in error_message(raw).lower():
                        error.hint = (f"the server has no Responses API at {scrub(self.url)}; Ollama serves it "
                                      "from 0.13.3 — upgrade it, or set wire_api = \"chat\"")
                    raise error
                if is_document(response.headers.get("content-type")):
                    raise not_a_stream(response.headers.get("content-type"), response.read(), self.url)
                yield from parse_responses_stream(response.iter_lines(), self._reasoning_items)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url) from None

    def close(self) -> None:
        self._transport.close()

