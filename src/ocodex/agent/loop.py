"""The turn loop: prompt -> model -> tool calls -> results -> ... -> final message.

The loop owns the conversation history and the thread's usage totals, emits typed events and nothing
else: it knows no HTTP (that is the provider's), no terminal and no JSON printing (the renderers').
Transient model-server failures are retried here, because only the loop knows whether anything was
executed yet: a response is collected whole before any of its tool calls run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocodex.agent.assisted import AssistedTurn
from ocodex.agent.calls import ModelResponse, PendingCall, collect, pending_calls
from ocodex.agent.context import TokenBudget, compacted, split_for_compaction, summary_request
from ocodex.agent.guard import LoopGuard, Stuck, TaskFailure
from ocodex.agent.history import prompt_text, steps_taken
from ocodex.agent.textcalls import shape_error
from ocodex.backoff import backoff_delay
from ocodex.errors import OcodexError, ProviderError, ServerUnavailable, StreamError, TurnInterrupted
from ocodex.events import (
    AgentMessage,
    Compacted,
    ErrorItem,
    Event,
    ItemCompleted,
    Reasoning,
    Reconnecting,
    TextToolMode,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from ocodex.profile import ModelProfile
from ocodex.protocol import (
    ModelRequest,
    Provider,
    RequestPurpose,
    TokenUsage,
)
from ocodex.tools.base import ToolContext, ToolResult
from ocodex.tools.file_edit import EDIT_TOOLS, UNCHANGED
from ocodex.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from ocodex.agent.assist import Assist

NUDGE_EMPTY = "Your reply was empty. Continue with the task."  # an empty answer's one nudge, for any model
MAX_RETRY_AFTER_S = 60.0  # longest Retry-After honoured; a longer ask is waited out this long, then retried


@dataclass(slots=True)
class AgentOptions:
    """How the loop talks to this model: sampling, retries, limits, the tool mode and the window."""

    model: str
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    request_max_retries: int = 4
    stream_max_retries: int = 5
    max_requests_per_turn: int = 200
    hide_reasoning: bool = False
    retry_base_delay_s: float = 0.25
    text_tools: bool = False  # no native tool calling: tools are described in the prompt (textcalls)
    text_tools_system: str | None = None  # the system prompt to switch to if the server refuses tools
    context_window: int | None = None  # effective window in tokens; None: unknown
    auto_compact_limit: int | None = None  # model_auto_compact_token_limit
    profile: ModelProfile | None = None  # how ocodex drives this model (ocodex.profile); None: Codex's way

    def speaks_native_tools(self) -> bool:
        """Does this model speak native tools? Then tools go to the server as specs, calls come back as
        `tool_calls`, and a call written in the answer's text is only text (a quoted example, perhaps
        from a prompt-injected file), never run. Otherwise (text-tool mode: a model without the `tools`
        capability, or one its server refused tools for) the text protocol is the only way to call.
        The one place this is decided: a model whose server cannot parse its native calls belongs here."""
        return not self.text_tools


@dataclass(slots=True)
class TurnResult:
    """How a turn ended: its final message, the thread's usage, and the error (and why) if it failed."""

    final_message: str | None
    usage: Usage
    error: str | None = None
    failure: str | None = None  # why the model could not do the task: loop, tool_errors, context

    @property
    def ok(self) -> bool:
        return self.error is None


class Agent(AssistedTurn):
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
        # Called with every message appended to the history (the session file records them).
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        # Called with the whole new history after a compaction rewrites it (the session file records it).
        self.on_compact: Callable[[list[dict[str, Any]]], None] | None = None
        self.budget = TokenBudget(options.context_window, options.auto_compact_limit)
        self._opening = len(messages)  # system prompt, AGENTS.md, environment: never compacted
        self._prompts: list[dict[str, Any]] = []  # the user's prompts: survive compaction verbatim
        self._raw_text = ""  # the last answer as the model wrote it, tool-call blocks included
        self.last_prompt_tokens: int | None = None  # what the server counted for the last request
        self._turn_start = 0  # where this turn's messages begin (after its prompt)
        self._opening_args: tuple[str, tuple[int, str] | None] = ("", None)  # a small model's opening
        self.interrupt_reason = "interrupted by the user"  # what a turn stopped by Ctrl-C (or a signal) says
        profile = options.profile
        helps = profile is not None and (profile.attach_files or profile.run_checks
                                         or profile.edit_format == "whole")
        # A small model's help (attachments, whole files in text, checks after edits): `ocodex.agent.assist`.
        self.assist: Assist | None = None
        if helps and profile is not None:
            from ocodex.agent.assist import Assist  # small models only: kept off every other model's start-up

            self.assist = Assist(profile, ctx.cwd, attachment_budget(options.context_window))

    # ---- one request, with retries -----------------------------------------------------------

    def _request(self, messages: list[dict[str, Any]] | None = None, *, tools: bool = True,
                 purpose: RequestPurpose = "turn") -> ModelResponse:
        opts = self.options
        specs = self.tools.specs() if tools and opts.speaks_native_tools() else []
        request = ModelRequest(model=opts.model, messages=self.messages if messages is None else messages,
                               tools=specs,
                               temperature=self._temperature(), top_p=opts.top_p,
                               seed=self.assist.seed if self.assist is not None else None,
                               reasoning_effort=opts.reasoning_effort, purpose=purpose)
        attempt = 0
        streamed = self.emit if purpose == "turn" else None  # a compaction's summary is no answer
        while True:
            try:
                return collect(self.provider.stream(request), streamed, hide_reasoning=opts.hide_reasoning)
            except (ProviderError, ServerUnavailable) as exc:
                in_stream = isinstance(exc, StreamError)
                limit = opts.stream_max_retries if in_stream else opts.request_max_retries
                retryable = isinstance(exc, ServerUnavailable) or getattr(exc, "retryable", False)
                if not retryable or attempt >= limit:
                    raise
                attempt += 1
                self.emit(Reconnecting(attempt, limit, exc.message))
                self.sleep(backoff_delay(attempt, base=opts.retry_base_delay_s,
                                         retry_after=getattr(exc, "retry_after", None),
                                         retry_after_cap=MAX_RETRY_AFTER_S))

    def _temperature(self) -> float | None:
        retry = self.assist.temperature if self.assist is not None else None
        return retry if retry is not None else self.options.temperature

    def _record_usage(self, usage: TokenUsage | None) -> None:
        if usage is None:
            return
        self.usage.add(Usage(input_tokens=usage.input_tokens,
                             cached_input_tokens=usage.cached_input_tokens,
                             output_tokens=usage.output_tokens,
                             reasoning_output_tokens=usage.reasoning_output_tokens))

    # ---- the turn ----------------------------------------------------------------------------

    @property
    def prompts(self) -> list[str]:
        """The user's prompts in this conversation, as typed."""
        return [text for message in self._prompts if (text := prompt_text(message)) is not None]

    @property
    def opening(self) -> int:
        """How many messages open the conversation (system prompt, AGENTS.md, environment)."""
        return self._opening

    def take_over(self, history: list[dict[str, Any]], opening: int, prompts: Sequence[str]) -> None:
        """Continue a conversation another agent (another model) had: this agent's own opening messages
        (its model's system prompt), then `history` after its `opening` messages."""
        self.resume_from([*self.messages[:self._opening], *history[opening:]], prompts)

    def resume_from(self, history: list[dict[str, Any]], prompts: Sequence[str]) -> None:
        """Continue a saved thread: `history` replaces the conversation, and its user messages holding
        one of `prompts` (as typed, e.g. from a session file) survive compaction verbatim, as this run's
        own prompts do."""
        self.messages[:] = history
        wanted = set(prompts)
        self._prompts = [m for m in history if m.get("role") == "user" and prompt_text(m) in wanted]

    def add_message(self, message: dict[str, Any]) -> None:
        """Append to the history and tell `on_message`."""
        self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)

    def run_turn(self, prompt: str, images: Sequence[str] = ()) -> TurnResult:
        """One turn. `images` are data URLs sent before the prompt as `image_url` content parts."""
        self.emit(TurnStarted())
        content: Any = prompt
        if images:
            content = [*({"type": "image_url", "image_url": {"url": url}} for url in images),
                       {"type": "text", "text": prompt}]
        self.add_message({"role": "user", "content": content})
        self._prompts.append(self.messages[-1])
        self._turn_start = len(self.messages)
        try:
            if self.assist is not None:
                self._assisted_opening(prompt)
            final = self._loop()
        except KeyboardInterrupt:
            self.emit(TurnFailed(self.interrupt_reason))
            raise TurnInterrupted(self.interrupt_reason) from None
        except OcodexError as exc:
            message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
            failure = exc.kind if isinstance(exc, TaskFailure) else None
            if failure is not None:
                self.emit(ItemCompleted(ErrorItem(self.ctx.ids.next(), message)))
            self._close_plan()
            self.emit(TurnFailed(message))
            return TurnResult(None, self.usage, message, failure)
        except Exception as exc:
            # A bug in ocodex: the event stream still ends with the turn's end; the traceback follows.
            self.emit(TurnFailed(f"internal error: {type(exc).__name__}: {exc}"[:1000]))
            raise
        self._close_plan()
        self.emit(TurnCompleted(self.usage))
        return TurnResult(final, self.usage)

    def _loop(self) -> str:
        guard = LoopGuard()
        nudged_empty = False
        for _ in range(self.options.max_requests_per_turn):
            self._fit_context()
            try:
                response = self._request()
            except ProviderError as exc:
                if not self._fall_back_to_text_tools(exc):
                    raise
                response = self._request()
            self._record_usage(response.usage)
            if response.usage is not None:
                self.last_prompt_tokens = response.usage.input_tokens
                warning = self.budget.observe(response.usage.input_tokens)
                if warning:
                    self.emit(ItemCompleted(ErrorItem(self.ctx.ids.next(), warning)))
            if response.reasoning and not self.options.hide_reasoning:
                self.emit(ItemCompleted(Reasoning(self.ctx.ids.next(), response.reasoning)))
            calls = self._pending_calls(response)
            if not calls:
                if self.assist is not None and self.assist.fresh is not None:
                    self._start_afresh()  # the files written back unchanged while the check fails
                    guard = LoopGuard()
                    continue
                nudge = self.assist.nudge(response.text) if self.assist is not None else None
                if self.assist is not None and self.assist.done is not None:
                    return self._finish_assisted(response.text, self.assist.done)
                if self.assist is not None and self.assist.fresh is not None:
                    self._start_afresh()  # an attempt that ended with the check still failing
                    guard = LoopGuard()
                    continue
                if nudge is None and not response.text and not nudged_empty:
                    nudge, nudged_empty = NUDGE_EMPTY, True  # one more chance, for any model
                if nudge is None:
                    return self._finish(response)
                if self._raw_text:  # as the model wrote it: a nudge about its files must follow the files
                    self.add_message({"role": "assistant", "content": self._raw_text})
                self.add_message({"role": "user", "content": nudge})
                continue
            guard.start_request()
            self._run_tools(response, calls, guard)
            guard.end_request()
            if self.assist is not None and self.assist.done is not None:
                return self._finish_assisted(response.text, self.assist.done)
            if self.assist is not None and self.assist.fresh is not None:
                self._start_afresh()
                guard = LoopGuard()
        raise OcodexError(f"the model made {self.options.max_requests_per_turn} requests in one turn "
                          "without finishing; stopping")

    def _finish(self, response: ModelResponse) -> str:
        if not response.text:
            raise ProviderError("the model returned an empty answer "
                                f"(finish_reason={response.finish_reason or 'none'})")
        self.add_message({"role": "assistant", "content": response.text})
        if response.finish_reason == "length":
            self.emit(ItemCompleted(ErrorItem(
                self.ctx.ids.next(),
                "the answer was cut off (finish_reason=length): the model hit its output or "
                "context limit")))
        self.emit(ItemCompleted(AgentMessage(self.ctx.ids.next(), response.text)))
        return response.text

    # ---- tool calls: native, or written as text ------------------------------------------------

    def _pending_calls(self, response: ModelResponse) -> list[PendingCall]:
        calls, raw = pending_calls(response, self.tools, native=self.options.speaks_native_tools(), ids=self.ctx.ids,
                                   file_writes=self.assist.file_writes if self.assist is not None else None)
        self._raw_text = raw if raw is not None else response.text
        return calls

    def _run_tools(self, response: ModelResponse, calls: list[PendingCall], guard: LoopGuard) -> None:
        if response.text:
            self.emit(ItemCompleted(AgentMessage(self.ctx.ids.next(), response.text)))
        text_mode = not self.options.speaks_native_tools()
        if text_mode:
            # The model's own words, block included: it must see the protocol it followed.
            self.add_message({"role": "assistant", "content": self._raw_text})
        else:
            assistant: dict[str, Any] = {
                "role": "assistant",
                "content": response.text,
                "tool_calls": [{"id": call.id, "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments}}
                               for call in calls],
            }
            if response.reasoning:
                # gpt-oss expects its chain of thought back on tool-calling turns.
                assistant["reasoning"] = response.reasoning
            self.add_message(assistant)
        results: list[str] = []
        edited = False
        images: list[dict[str, Any]] = []  # image parts tools returned (MCP, vision models): one user message
        stuck: Stuck | None = None
        for call in calls:
            result = self._call_tool(call)
            images += [{"type": "image_url", "image_url": {"url": url}} for url in result.images]
            if text_mode:
                results.append(f'<tool_result name="{call.name}">\n{result.output}\n</tool_result>')
            else:
                self.add_message({"role": "tool", "tool_call_id": call.id, "content": result.output})
            changed = call.name in EDIT_TOOLS and result.success and not result.output.endswith(UNCHANGED)
            edited = edited or changed
            try:
                guard.record_call(call.name, call.raw, success=result.success, changed_files=changed,
                                  output=result.output)
            except Stuck as exc:  # raised once every call has its result, so the history stays whole
                stuck = stuck or exc
        check = self._check_after_edit() if edited and stuck is None else None
        if text_mode:
            self.add_message({"role": "user", "content": "\n".join([*results, *([check] if check else [])])})
        elif check:
            self.add_message({"role": "user", "content": check})
        if images:
            self.add_message({"role": "user", "content": [
                {"type": "text", "text": "The images the tool results above refer to:"}, *images]})
        if stuck is not None:
            raise stuck

    def _call_tool(self, call: PendingCall) -> ToolResult:
        if call.problem is not None:
            spec = next((s for s in self.tools.specs() if s.name == call.name), None)
            if spec is not None:
                return ToolResult(shape_error(call.name, call.problem, spec), success=False)
        return self.tools.call(call.name, call.arguments, self.ctx)

    def _fall_back_to_text_tools(self, exc: ProviderError) -> bool:
        """After the server's `does not support tools`: describe the tools in the prompt instead (the
        system prompt for that mode was assembled with the others, `AgentOptions.text_tools_system`)."""
        fallback = self.options.text_tools_system
        if not self.options.speaks_native_tools() or "does not support tools" not in exc.message \
                or fallback is None or not self.messages:
            return False
        self.options.text_tools = True
        self.messages[0] = {**self.messages[0], "content": fallback}
        self.emit(TextToolMode(self.options.model, "server"))
        return True

    # ---- the context window ------------------------------------------------------------------

    def _fit_context(self) -> None:
        """Before a request: compact when the conversation nears the window; fail if it cannot fit."""
        budget = self.budget
        tools = self.tools.specs() if self.options.speaks_native_tools() else []
        estimate = budget.estimate(self.messages, tools)
        if not budget.needs_compaction(estimate):
            budget.check_fits(estimate, compacted=False)
            return
        done = self._compact()
        estimate = budget.estimate(self.messages, tools)
        if done:
            budget.after_compaction(estimate)
        budget.check_fits(estimate, compacted=done)

    def compact(self) -> bool:
        """Summarise older turns now (`/compact`); False when there was nothing to summarise."""
        done = self._compact()
        if done:
            self.budget.after_compaction(self.budget.estimate(self.messages))
        return done

    def _compact(self) -> bool:
        """Summarise older turns with the model; False when there was nothing to summarise."""
        opening = self.messages[:self._opening]
        prompt_ids = {id(m) for m in self._prompts}
        history = [m for m in self.messages[self._opening:] if id(m) not in prompt_ids]
        window = self.budget.window or self.budget.limit or 0
        split = split_for_compaction(history, keep_tokens=max(window // 4, 256))
        if split is None:
            return False
        request = summary_request(opening, self._prompts, split.old)
        if self.budget.window is not None and self.budget.estimate(request) > self.budget.usable:
            # The summary request itself would not fit: summarise only what does.
            while split.old and self.budget.estimate(summary_request(opening, self._prompts, split.old)) \
                    > self.budget.usable:
                split.old = split.old[len(split.old) // 2 or 1:]
            request = summary_request(opening, self._prompts, split.old)
        before = self.budget.estimate(self.messages)
        response = self._request(request, tools=False, purpose="compaction")
        self._record_usage(response.usage)
        summary = response.text or steps_taken(split.old)
        self.messages[:] = compacted(opening, self._prompts, summary, split.recent)
        if self.on_compact is not None:
            self.on_compact(list(self.messages))
        self.emit(Compacted(len(split.old), before, self.budget.estimate(self.messages)))
        return True

    def _close_plan(self) -> None:
        if self.ctx.plan is not None:
            self.emit(ItemCompleted(self.ctx.plan))
            self.ctx.plan = None


def attachment_budget(context_window: int | None) -> int:
    """Bytes of the task's files a small model is shown with its prompt: about 40% of its window."""
    return int((context_window or 8192) * 4 * 0.4)
