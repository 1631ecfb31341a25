"""Two-tier models: run the task on the small model, and retry it once on the large one if it fails.

This module owns the escalation policy (the seed guide's "default to a lighter model; escalate to a
heavy model as needed"); the thread carries it out. With `--escalate` or `-c escalate=true`, the first
attempt uses `-m` (else `[oss] small_model`); when it fails the task (a loop, repeated tool errors, an
exhausted context: a `TurnResult.failure`), the task is run again, once, from the same prompt on
`[oss] large_model`, which is said in one line. Server errors and interrupts are not the model's fault
and never escalate. The second attempt's `turn.completed` usage holds both attempts (cumulative thread
totals, as Codex reports them), and `UsageByModel` splits it per model.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocodex.agent.loop import TurnResult
from ocodex.config import Settings
from ocodex.errors import ConfigError, UsageError
from ocodex.events import EscalationUnavailable, Usage

ESCALATE_ON = frozenset({"loop", "tool_errors", "context"})
_USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
                 "reasoning_output_tokens")


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """Which model tries first and which one takes over."""

    small: str
    large: str


def escalation_enabled(settings: Settings) -> bool:
    value = settings.extra.get("escalate", False)
    if not isinstance(value, bool):
        source = settings.describe_source("escalate")
        on_command_line = source.startswith("-c ") or source == "command line"
        raise ConfigError(f"escalate must be true or false, got {value!r} ({source})",
                          exit_code=UsageError.exit_code if on_command_line else None)
    return value


EMBEDDED_SMALL, EMBEDDED_LARGE = "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"


def plan_escalation(settings: Settings) -> tuple[EscalationPlan | None, Settings, EscalationUnavailable | None]:
    """The plan when escalation is on, the settings for the first attempt (the small model made the
    run's choice when none was given), and the warning to show when there is nothing to escalate to."""
    if not escalation_enabled(settings):
        return None, settings, None
    small = settings.model or settings.oss.small_model
    large = settings.oss.large_model
    if settings.model_provider == "embedded":  # the bundled models: the 0.5B first, then the 1.5B
        small = settings.model or EMBEDDED_SMALL
        large = EMBEDDED_LARGE
    if small == large:
        return None, settings, EscalationUnavailable(large)
    if not settings.model:
        settings = settings.changed("[oss] small_model, for --escalate", {"model": small})
    return EscalationPlan(small, large), settings, None


def should_escalate(plan: EscalationPlan | None, result: TurnResult) -> bool:
    return plan is not None and not result.ok and result.failure in ESCALATE_ON


def for_large_model(settings: Settings, plan: EscalationPlan) -> Settings:
    return settings.changed("[oss] large_model, escalated", {"model": plan.large})


def minus(total: Usage, part: Usage) -> Usage:
    """`total - part`, field by field (the large model's share of the cumulative usage)."""
    return Usage(**{name: getattr(total, name) - getattr(part, name) for name in _USAGE_FIELDS})
