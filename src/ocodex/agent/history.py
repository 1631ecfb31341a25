"""The shape of a conversation: which user messages are the person's prompts, the (prompt, answer)
exchanges, and a mechanical summary of the steps taken (when a model's own summary comes back empty).
Pure functions over chat-completions messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def steps_taken(messages: list[dict[str, Any]]) -> str:
    """A mechanical summary (the calls made) for when the model's summary comes back empty."""
    lines = ["Earlier steps (their output was dropped to fit the context window):"]
    for message in messages:
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            lines.append(f"- {function.get('name')} {str(function.get('arguments'))[:200]}")
    return "\n".join(lines)


def prompt_text(message: dict[str, Any]) -> str | None:
    """The text of a user message as `run_turn` builds it: the string, or the text part after images."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        text = content[-1].get("text")
        return text if isinstance(text, str) else None
    return None


def exchanges(messages: list[dict[str, Any]], prompts: Sequence[str]) -> list[tuple[str, str | None]]:
    """A conversation's (prompt, the answer that ended its turn) pairs, oldest first: the user messages
    holding one of `prompts` (as typed), tool calls and results left out; None for a turn with no answer."""
    wanted = set(prompts)
    pairs: list[list[str | None]] = []
    for message in messages:
        role = message.get("role")
        if role == "user" and prompt_text(message) in wanted:
            pairs.append([prompt_text(message), None])
        elif (role == "assistant" and pairs and isinstance(message.get("content"), str)
              and message["content"].strip() and not message.get("tool_calls")):
            pairs[-1][1] = message["content"]
    return [(prompt or "", answer) for prompt, answer in pairs]
