"""The types every layer shares: token usage, tool specs and calls, model requests and model events.

This is the one module the agent loop, the tools, the providers and the events all import from, so none
of them imports another's module for a type. It holds data only; no I/O, no imports beyond the standard
library.

A provider turns a `ModelRequest` (chat-style messages + tool specs + sampling) into an iterator of
`ModelEvent`s. Its wire format (SSE chat chunks, Responses events, ...) never leaks past it. A stream
always ends with exactly one `Completed`, or raises `StreamError`/`ProviderError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

RequestPurpose = Literal["turn", "compaction"]


@dataclass(slots=True)
class Usage:
    """A thread's token totals, as `turn.completed` reports them (cumulative, as Codex reports them)."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_write_input_tokens += other.cache_write_input_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_output_tokens += other.reasoning_output_tokens

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "cached_input_tokens": self.cached_input_tokens,
                "cache_write_input_tokens": self.cache_write_input_tokens,
                "output_tokens": self.output_tokens,
                "reasoning_output_tokens": self.reasoning_output_tokens}


@dataclass(slots=True)
class ToolSpec:
    """A function tool as the model sees it."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_chat(self) -> dict[str, Any]:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description,
                             "parameters": self.parameters}}


@dataclass(slots=True)
class ModelRequest:
    """One request to the model.

    `messages` use the chat-completions shape: {"role", "content", "tool_calls"?, "tool_call_id"?,
    "reasoning"?}. Adapters for other wire formats translate from it. `purpose` says why the loop sends
    it: a step of a turn, or the summary of a compaction (whose answer is plain text, whatever the task).
    """

    model: str
    messages: list[dict[str, Any]]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None  # chat-completions only (the Responses API has none)
    reasoning_effort: str | None = None
    response_format: dict[str, Any] | None = None
    max_output_tokens: int | None = None
    purpose: RequestPurpose = "turn"


@dataclass(slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning."""

    text: str


@dataclass(slots=True)
class ToolCall:
    """A whole tool call. `arguments` is the raw JSON text the model produced (may be invalid)."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class TokenUsage:
    """One response's token counts, as the server reported them."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0


@dataclass(slots=True)
class Completed:
    """The stream ended properly. `finish_reason` is the server's (stop, length, tool_calls, ...)."""

    finish_reason: str
    usage: TokenUsage | None = None


ModelEvent = TextDelta | ReasoningDelta | ToolCall | Completed


@dataclass(frozen=True, slots=True)
class ServerModel:
    """A model the server offers, with what a person chooses by (None: the server does not say)."""

    name: str
    size: int | None = None  # bytes on disk
    parameter_size: str | None = None  # "20.9B"
    context_length: int | None = None  # trained context
    capabilities: tuple[str, ...] | None = None  # "tools", "vision", "thinking", ...


class Provider(Protocol):
    """Anything that can stream a model response."""

    def stream(self, request: ModelRequest) -> Iterator[ModelEvent]: ...

    def close(self) -> None: ...
