"""The context window: how big it is, how full the conversation is, and compaction when it nears full.

This module owns token accounting for the agent loop. `TokenBudget` estimates a request's prompt
tokens before it is sent (UTF-8 bytes / 4, scaled by what the server last reported, so the estimate
learns the real tokenizer), flags silent truncation (the server reporting far fewer prompt tokens
than were sent), and decides when to compact and when the context is exhausted.

Compaction (`compact_messages`) keeps the session's opening messages (system prompt, AGENTS.md,
environment), every user prompt and the most recent messages verbatim, and replaces the turns in
between with a summary the model writes. It never loops: after a compaction the next one waits until
the conversation has grown again by a quarter of the window, and when even the compacted
conversation cannot fit, the turn fails with `ContextExhausted`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ocodex.agent.guard import TaskFailure
from ocodex.context_window import SUGGESTED_WINDOW
from ocodex.protocol import ToolSpec

COMPACT_PROMPT = (
    "You are performing a CONTEXT CHECKPOINT COMPACTION. Write a handoff summary of the work so far "
    "for another model that will continue the task: what was learned (files, commands and their "
    "results), what was changed, what remains to do. Be brief and factual; plain text only.")
SUMMARY_PREFIX = ("Another language model started to solve this problem and produced a summary of its "
                  "work so far. Use it to continue the task:\n")
REPLY_RESERVE = 0.15  # the share of the window kept free for the model's answer
TRUNCATION_RATIO = 0.6  # reported prompt tokens below this share of the estimate means truncation
MIN_TRUNCATION_TOKENS = 512
MIN_RATIO, MAX_RATIO = 0.8, 2.0  # bounds on the learned tokens-per-estimate ratio


class ContextExhausted(TaskFailure):
    """The conversation cannot fit the model's context window, even compacted."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint, kind="context")


IMAGE_TOKENS = 1024
"""What one attached image is counted as: a vision model reads it as a few hundred to about a thousand tokens,
whatever the size of its base64 text (a screenshot's would otherwise count as 100k+ tokens)."""
_DATA_URL = re.compile(r'"data:image/[A-Za-z0-9.+-]+;base64,[A-Za-z0-9+/=]*"')


def raw_tokens(messages: list[dict[str, Any]], tools: list[ToolSpec] | None = None) -> int:
    """Bytes / 4 of what goes on the wire for these messages and tools; an image is `IMAGE_TOKENS`."""
    text = json.dumps(messages, ensure_ascii=False)
    images = 0
    if '"data:image/' in text:
        text, images = _DATA_URL.subn('""', text)
    size = len(text.encode("utf-8", "surrogatepass")) + images * IMAGE_TOKENS * 4
    if tools:
        size += len(json.dumps([t.to_chat() for t in tools], ensure_ascii=False).encode("utf-8"))
    return -(-size // 4)


@dataclass(slots=True)
class TokenBudget:
    """Token accounting for one session. `window` None means unknown: never compact, never refuse."""

    window: int | None = None
    compact_limit: int | None = None  # model_auto_compact_token_limit
    ratio: float = 1.0  # reported / raw estimate, learned from the server
    last_raw: int = 0
    truncation_flagged: bool = False
    observed: int = 0  # answers whose prompt_tokens were seen
    _floor: int = 0  # no compaction below this estimate (set after each compaction)
    compactions: int = field(default=0)

    @property
    def limit(self) -> int | None:
        """Compact when an estimate exceeds this."""
        if self.compact_limit is not None:
            return self.compact_limit if self.window is None else min(self.compact_limit, self.usable)
        return None if self.window is None else int(self.window * 0.8)

    @property
    def usable(self) -> int:
        assert self.window is not None
        return int(self.window * (1 - REPLY_RESERVE))

    def estimate(self, messages: list[dict[str, Any]], tools: list[ToolSpec] | None = None) -> int:
        self.last_raw = raw_tokens(messages, tools)
        return int(self.last_raw * self.ratio)

    def observe(self, prompt_tokens: int) -> str | None:
        """Learn from the server's `prompt_tokens`; returns a warning when it looks truncated.

        Some Ollama runners count only the tokens they evaluated, leaving out a cached prefix, so a
        low count is only called truncation on the session's first request (nothing cached yet) or
        when the request was near the known window. A low count never lowers the ratio much: an
        underestimate is what would let a request overflow the window.
        """
        if prompt_tokens <= 0 or self.last_raw <= 0:
            return None
        first, self.observed = self.observed == 0, self.observed + 1
        expected = self.last_raw * self.ratio
        if self.last_raw >= MIN_TRUNCATION_TOKENS and prompt_tokens < expected * TRUNCATION_RATIO:
            near_window = self.window is not None and expected > self.window * 0.9
            if self.truncation_flagged or not (first or near_window):
                return None
            self.truncation_flagged = True
            window = f" ({self.window} tokens)" if self.window else ""
            return (f"the server read {prompt_tokens} prompt tokens of about {int(expected)} sent: it "
                    f"probably cut the conversation to fit its context window{window}; raise it with "
                    "-c model_context_window=N or OLLAMA_CONTEXT_LENGTH on the server")
        self.ratio = min(max(prompt_tokens / self.last_raw, MIN_RATIO), MAX_RATIO)
        return None

    def needs_compaction(self, estimate: int) -> bool:
        limit = self.limit
        return limit is not None and estimate > limit and estimate > self._floor

    def after_compaction(self, estimate: int) -> None:
        self.compactions += 1
        grow = (self.window or self.limit or 0) // 4
        self._floor = estimate + grow

    def check_fits(self, estimate: int, *, compacted: bool) -> None:
        if self.window is None or estimate <= self.usable:
            return
        what = "even after compaction" if compacted else "and there is nothing older to compact"
        raise ContextExhausted(
            f"the conversation needs about {estimate} tokens but the model's context window is "
            f"{self.window} tokens ({what})",
            hint=f"raise the window with -c model_context_window={SUGGESTED_WINDOW} (ocodex then creates a variant of "
                 "the model with that num_ctx) or OLLAMA_CONTEXT_LENGTH on the server, or shorten the prompt")


@dataclass(slots=True)
class Split:
    """A conversation cut into what survives compaction verbatim and what gets summarised."""

    old: list[dict[str, Any]]
    recent: list[dict[str, Any]]


def split_for_compaction(history: list[dict[str, Any]], keep_tokens: int) -> Split | None:
    """Split the turn history (everything after the opening messages, user prompts excluded).

    `recent` is the longest tail within `keep_tokens` that starts at an assistant message (so no tool
    result is separated from its call); None when there is nothing older to summarise.
    """
    cut = len(history)
    used = 0
    for index in range(len(history) - 1, -1, -1):
        used += raw_tokens([history[index]])
        if used > keep_tokens:
            break
        if history[index].get("role") == "assistant":
            cut = index
    if cut == len(history):  # the last message alone is too big: keep the final call/result pair
        starts = [i for i, m in enumerate(history) if m.get("role") == "assistant"]
        cut = starts[-1] if starts else len(history)
    if cut <= 0:
        return None
    return Split(history[:cut], history[cut:])


def summary_request(opening: list[dict[str, Any]], prompts: list[dict[str, Any]],
                    old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages of the summarising request: the conversation so far, then the instruction."""
    return [*opening, *prompts, *old, {"role": "user", "content": COMPACT_PROMPT}]


def compacted(opening: list[dict[str, Any]], prompts: list[dict[str, Any]], summary: str,
              recent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation after compaction."""
    return [*opening, *prompts, {"role": "user", "content": SUMMARY_PREFIX + summary.strip()}, *recent]
