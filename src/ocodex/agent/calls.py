"""Which tool calls a model's answer holds: the answer collected whole, and its calls made ready to run.

A native-tools model's calls are its `tool_calls`, with arguments repaired (`textcalls.repair_arguments`);
a reply that is only a call written as text is a call too (`textcalls.only_calls`, the one rule). For a model
in text-tool mode the calls are read from its text (`textcalls.extract_text_calls`), and, when its edit
format is whole files, the files written into it (`Assist.file_writes`) become `write_file` calls, run first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocodex.agent.textcalls import extract_text_calls, only_calls, repair_arguments
from ocodex.events import ItemIds, Streamed
from ocodex.protocol import Completed, ReasoningDelta, TextDelta, TokenUsage, ToolCall
from ocodex.tools.registry import ToolRegistry

FileWrites = Callable[[str], tuple[str, list[Any]]]


@dataclass(slots=True)
class ModelResponse:
    """One model answer collected whole: text, reasoning, tool calls, finish reason, usage."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = ""
    usage: TokenUsage | None = None


def collect(events: Any, streamed: Callable[[Streamed], None] | None = None, *,
            hide_reasoning: bool = False) -> ModelResponse:
    """One response collected whole; each text and reasoning piece (unless `hide_reasoning`) also goes to
    `streamed` as it arrives."""
    response = ModelResponse()
    text: list[str] = []
    reasoning: list[str] = []
    for event in events:
        if isinstance(event, TextDelta):
            text.append(event.text)
            if streamed is not None and event.text:
                streamed(Streamed("text", event.text))
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
            if streamed is not None and event.text and not hide_reasoning:
                streamed(Streamed("reasoning", event.text))
        elif isinstance(event, ToolCall):
            response.tool_calls.append(event)
        elif isinstance(event, Completed):
            response.finish_reason = event.finish_reason
            response.usage = event.usage
    response.text = "".join(text).strip()
    response.reasoning = "".join(reasoning).strip()
    return response


@dataclass(slots=True)
class PendingCall:
    """A tool call about to run. `problem` is set when its arguments could not be read."""

    id: str
    name: str
    arguments: str
    problem: str | None
    raw: str




def pending_calls(response: ModelResponse, tools: ToolRegistry, *, native: bool, ids: ItemIds,
                  file_writes: FileWrites | None = None) -> tuple[list[PendingCall], str | None]:
    """The calls to run, and the answer's raw text when calls or file blocks were taken out of it
    (`response.text` is then what is left for people to read)."""
    if native:
        calls = []
        for call in response.tool_calls:
            arguments, problem = repair_arguments(call.arguments)
            calls.append(PendingCall(call.id, tools.resolve(call.name), arguments, problem, call.arguments))
        if not calls and response.text and (found := only_calls(response.text, tools.names())):
            response.text = ""
            calls = [PendingCall(f"call_text_{ids.next()}", tools.resolve(c.name), c.arguments, c.error,
                                 c.arguments) for c in found]
        return calls, None
    if not response.text:
        return [], None
    names = tools.names()
    visible, found = extract_text_calls(response.text, names)
    if not found:
        found = only_calls(response.text, names)  # an unknown tool's call: the model hears it is unknown
        visible = "" if found else visible
    writes = []
    if file_writes is not None:
        visible, writes = file_writes(visible)
    if not found and not writes:
        raw = response.text if visible != response.text else None  # blocks that changed nothing, taken out
        response.text = visible
        return [], raw
    raw, response.text = response.text, visible
    return [*(PendingCall(f"call_text_{ids.next()}", "write_file", w.arguments(), None, w.arguments())
              for w in writes),
            *(PendingCall(f"call_text_{ids.next()}", tools.resolve(c.name), c.arguments, c.error, c.arguments)
              for c in found)], raw
