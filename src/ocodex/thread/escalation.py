"""Two-tier models: run the task on the small model, and retry it once on the large one if it fails.

This module owns the escalation policy (the seed guide's "default to a lighter model; escalate to a
heavy model as needed"). With `--escalate` or `-c escalate=true`, the first attempt uses `-m` (else
`[oss] small_model`); when it fails the task (a loop, repeated tool errors, an exhausted context: a
`TurnResult.failure`), the task is run again, once, from the same prompt on `[oss] large_model`,
which is said in one line. Server errors and interrupts are not the model's fault and never escalate.
The second attempt's `turn.completed` usage holds both attempts (cumulative thread totals, as Codex
reports them), and a notice splits it per model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ocodex.agent.loop import Agent, TurnResult
from ocodex.config import Settings
from ocodex.errors import ConfigError
from ocodex.events import Event, Notice, Usage

ESCALATE_ON = frozenset({"loop", "tool_errors", "context"})
REASONS = {"loop": "it got stuck in a loop", "tool_errors": "its tool calls kept failing",
           "context": "the task did not fit its context window"}


class _Runtime(Protocol):
    agent: Agent
    model: str

    def close(self) -> None: ...


@dataclass(slots=True)
class EscalationPlan:
    small: str
    large: str


def escalation_enabled(settings: Settings) -> bool:
    value = settings.extra.get("escalate", False)
    if not isinstance(value, bool):
        raise ConfigError(f"escalate must be true or false, got {value!r} "
                          f"({settings.describe_source('escalate')})")
    return value


def plan_escalation(settings: Settings, emit: Callable[[Event], None]) -> EscalationPlan | None:
    """The plan when escalation is on; it also makes the small model this run's first choice."""
    if not escalation_enabled(settings):
        return None
    small = settings.model or settings.oss.small_model
    large = settings.oss.large_model
    if small == large:
        emit(Notice(f"--escalate: the first model is already the large model ({large}); nothing to "
                    "escalate to (set [oss] large_model)", "warning"))
        return None
    if not settings.model:
        settings.model = small
        settings.origins[("model",)] = "[oss] small_model, for --escalate"
    return EscalationPlan(small, large)


def for_large_model(settings: Settings, plan: EscalationPlan) -> Settings:
    from dataclasses import replace

    large = replace(settings, model=plan.large, origins=dict(settings.origins))
    large.origins[("model",)] = "[oss] large_model, escalated"
    return large


def _usage_text(usage: Usage) -> str:
    return f"in {usage.input_tokens}, cached {usage.cached_input_tokens}, out {usage.output_tokens}"


def run_with_escalation(runtime: _Runtime, prompt: str, images: Sequence[str], *,
                        plan: EscalationPlan | None, make_runtime: Callable[[str], Any],
                        emit: Callable[[Event], None]) -> TurnResult:
    """Run the turn; on a task failure with a plan, run it once more on the large model.

    `make_runtime(model)` builds a ready runtime for the large model (the caller closes the first).
    """
    result = runtime.agent.run_turn(prompt, images)
    if plan is None or result.ok or result.failure not in ESCALATE_ON:
        return result
    first_usage = Usage()
    first_usage.add(result.usage)
    emit(Notice(f"escalating: {runtime.model} failed the task ({REASONS[result.failure or 'loop']}); "
                f"retrying it once with {plan.large}", "warning"))
    second = make_runtime(plan.large)
    try:
        second.agent.on_message = runtime.agent.on_message
        second.agent.on_compact = runtime.agent.on_compact
        if second.agent.on_compact is not None:  # the session file: the retry starts from the earlier history
            second.agent.on_compact(list(second.agent.messages))
        second.agent.ctx.ids = runtime.agent.ctx.ids  # item ids stay unique across both attempts
        second.agent.usage.add(first_usage)
        final = second.agent.run_turn(prompt, images)
    finally:
        second.close()
    large_usage = Usage()
    large_usage.add(final.usage)
    for name in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens"):
        setattr(large_usage, name, getattr(large_usage, name) - getattr(first_usage, name))
    emit(Notice(f"usage by model: {runtime.model} ({_usage_text(first_usage)}); "
                f"{second.model} ({_usage_text(large_usage)})"))
    return final
