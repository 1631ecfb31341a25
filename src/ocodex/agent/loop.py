"""The turn loop: prompt -> model -> tool calls -> results -> ... -> final message.

The loop owns the conversation history and the thread's usage totals, emits typed events and nothing
else: it knows no HTTP (that is the provider's), no terminal and no JSON printing (the renderers').
Transient model-server failures are retried here, because only the loop knows whether anything was
executed yet: a response is collected whole before any of its tool calls run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocodex.errors import Interrupted, OcodexError, ProviderError, ServerUnavailable, StreamError
from ocodex.events import (
    AgentMessage,
    ErrorItem,
    Event,
    ItemCompleted,
    Reasoning,
    StreamErrorEvent,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from ocodex.providers.base import (
    Completed,
    ModelRequest,
    Provider,
    ReasoningDelta,
    TextDelta,
    TokenUsage,
    ToolCall,
)
from ocodex.tools.base import ToolContext
from ocodex.tools.registry import ToolRegistry


@dataclass(slots=True)
class AgentOptions:
    model: str
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    request_max_retries: int = 4
    stream_max_retries: int = 5
    max_requests_per_turn: int = 200
    hide_reasoning: bool = False
    retry_base_delay_s: float = 0.25


@dataclass(slots=True)
class ModelResponse:
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = ""
    usage: TokenUsage | None = None


@dataclass(slots=True)
class TurnResult:
    final_message: str | None
    usage: Usage
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def collect(events: Any) -> ModelResponse:
    response = ModelResponse()
    text: list[str] = []
    reasoning: list[str] = []
    for event in events:
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, ToolCall):
            response.tool_calls.append(event)
        elif isinstance(event, Completed):
            response.finish_reason = event.finish_reason
            response.usage = event.usage
    response.text = "".join(text).strip()
    response.reasoning = "".join(reasoning).strip()
    return response


class Agent:
    def __init__(self, *, provider: Provider, tools: ToolRegistry, ctx: ToolContext,
                 options: AgentOptions, messages: list[dict[str, Any]],
                 emit: Callable[[Event], None]) -> None:
        self.provider = provider
        self.tools = tools
        self.ctx = ctx
        self.options = options
        self.messages = messages
        self.emit = emit
        self.usage = Usage()
        self.sleep: Callable[[float], None] = time.sleep

    # ---- one request, with retries -----------------------------------------------------------

    def _request(self) -> ModelResponse:
        opts = self.options
        request = ModelRequest(model=opts.model, messages=self.messages, tools=self.tools.specs(),
                               temperature=opts.temperature, top_p=opts.top_p,
                               reasoning_effort=opts.reasoning_effort)
        attempt = 0
        while True:
            try:
                return collect(self.provider.stream(request))
            except (ProviderError, ServerUnavailable) as exc:
                in_stream = isinstance(exc, StreamError)
                limit = opts.stream_max_retries if in_stream else opts.request_max_retries
                retryable = isinstance(exc, ServerUnavailable) or getattr(exc, "retryable", False)
                if not retryable or attempt >= limit:
                    raise
                attempt += 1
                self.emit(StreamErrorEvent(f"Reconnecting... {attempt}/{limit} ({exc.message})"))
                delay = opts.retry_base_delay_s * (2 ** (attempt - 1))
                self.sleep(min(delay, 10.0) * random.uniform(0.8, 1.2))

    def _record_usage(self, usage: TokenUsage | None) -> None:
        if usage is None:
            return
        self.usage.add(Usage(input_tokens=usage.input_tokens,
                             cached_input_tokens=usage.cached_input_tokens,
                             output_tokens=usage.output_tokens,
                             reasoning_output_tokens=usage.reasoning_output_tokens))

    # ---- the turn ----------------------------------------------------------------------------

    def run_turn(self, prompt: str) -> TurnResult:
        self.emit(TurnStarted())
        self.messages.append({"role": "user", "content": prompt})
        try:
            final = self._loop()
        except KeyboardInterrupt:
            self.emit(TurnFailed("interrupted by the user"))
            raise Interrupted("interrupted") from None
        except OcodexError as exc:
            message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
            self._close_plan()
            self.emit(TurnFailed(message))
            return TurnResult(None, self.usage, message)
        self._close_plan()
        self.emit(TurnCompleted(self.usage))
        return TurnResult(final, self.usage)

    def _loop(self) -> str:
        for _ in range(self.options.max_requests_per_turn):
            response = self._request()
            self._record_usage(response.usage)
            if response.reasoning and not self.options.hide_reasoning:
                self.emit(ItemCompleted(Reasoning(self.ctx.ids.next(), response.reasoning)))
            if not response.tool_calls:
                return self._finish(response)
            self._run_tools(response)
        raise OcodexError(f"the model made {self.options.max_requests_per_turn} requests in one turn "
                          "without finishing; stopping")

    def _finish(self, response: ModelResponse) -> str:
        if not response.text:
            raise ProviderError("the model returned an empty answer "
                                f"(finish_reason={response.finish_reason or 'none'})")
        self.messages.append({"role": "assistant", "content": response.text})
        if response.finish_reason == "length":
            self.emit(ItemCompleted(ErrorItem(
                self.ctx.ids.next(),
                "the answer was cut off (finish_reason=length): the model hit its output or "
                "context limit")))
        self.emit(ItemCompleted(AgentMessage(self.ctx.ids.next(), response.text)))
        return response.text

    def _run_tools(self, response: ModelResponse) -> None:
        if response.text:
            self.emit(ItemCompleted(AgentMessage(self.ctx.ids.next(), response.text)))
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": response.text,
            "tool_calls": [{"id": call.id, "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments}}
                           for call in response.tool_calls],
        }
        if response.reasoning:
            # gpt-oss expects its chain of thought back on tool-calling turns.
            assistant["reasoning"] = response.reasoning
        self.messages.append(assistant)
        for call in response.tool_calls:
            result = self.tools.call(call.name, call.arguments, self.ctx)
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": result.output})

    def _close_plan(self) -> None:
        if self.ctx.plan is not None:
            self.emit(ItemCompleted(self.ctx.plan))
            self.ctx.plan = None
