"""An in-process scripted model: a provider that replays steps, so a `Thread` can be driven directly.

Shipped in the package as mini-swe-agent ships its deterministic model: tests, demos and anyone
without a GPU can run the real thread (its loop, tools, sandbox, approvals, session file, escalation)
in milliseconds, with no server and no HTTP.

    model = ScriptedModel(Step.call("shell", {"command": "ls"}), Step.say("done"))
    thread = Thread.open(settings, cwd=repo, home=home, face=face, server=model)
    thread.run_turn("list the files")
    model.requests[-1].messages   # what the model was sent

Each request the thread sends consumes one step (an empty script answers `default`). A step says text,
calls tools, reasons, reports usage, ends with a finish reason, or fails as a server would
(`Step.fail(ProviderError(...))`); `Step.hang()` waits until the thread is interrupted.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocodex.protocol import (
    Completed,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    ServerModel,
    TextDelta,
    TokenUsage,
    ToolCall,
)

if TYPE_CHECKING:
    from ocodex.config import Settings
    from ocodex.events import Event
    from ocodex.thread.assembly import Connected


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted answer."""

    text: str = ""
    reasoning: str = ""
    calls: tuple[tuple[str, str], ...] = ()  # (tool name, raw JSON arguments)
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None  # (prompt tokens, completion tokens)
    error: BaseException | None = None
    hang: bool = False

    @classmethod
    def say(cls, text: str, **kwargs: Any) -> Step:
        return cls(text=text, **kwargs)

    @classmethod
    def call(cls, name: str, arguments: dict[str, Any] | str, *, text: str = "", **kwargs: Any) -> Step:
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return cls(text=text, calls=((name, raw),), finish_reason="tool_calls", **kwargs)

    @classmethod
    def calls_(cls, calls: Sequence[tuple[str, dict[str, Any]]], **kwargs: Any) -> Step:
        return cls(calls=tuple((name, json.dumps(args)) for name, args in calls), finish_reason="tool_calls",
                   **kwargs)

    @classmethod
    def fail(cls, error: BaseException) -> Step:
        return cls(error=error)

    @classmethod
    def stall(cls) -> Step:
        """Answer nothing until the thread is interrupted (a slow model)."""
        return cls(hang=True)


class ScriptedModel:
    """A scripted model and the server it runs on: a `ModelServer` for `Thread.open(server=...)`, whose
    provider replays `steps`. `capabilities` and `context_window` are what the server would report;
    `requests` records what the thread sent (copies); `on_request` sees each request as it is sent."""

    def __init__(self, *steps: Step, default: str = "done",
                 capabilities: tuple[str, ...] | None = ("completion", "tools"),
                 context_window: int | None = None, offers: Sequence[str] = ()) -> None:
        self.steps: deque[Step] = deque(steps)
        self.offers = tuple(offers)  # the models the server lists (`Thread.models()`); none: it cannot list
        self.default = default
        self.capabilities = capabilities
        self.context_window = context_window
        self.requests: list[ModelRequest] = []
        self.on_request: Callable[[ModelRequest], None] | None = None
        self._calls = 0
        self._lock = threading.Lock()

    def script(self, *steps: Step) -> None:
        self.steps.extend(steps)

    @property
    def models(self) -> list[str]:
        """The model named by each request, in order."""
        return [request.model for request in self.requests]

    # ---- the ModelServer protocol ---------------------------------------------------------------

    def connect(self, settings: Settings, emit: Callable[[Event], None], ask: Any = None) -> Connected:
        from ocodex.thread.assembly import Connected, ModelChoice

        model = settings.model or "scripted"
        reason = "from -m" if settings.model else "scripted"
        choice = ModelChoice(model, reason, capabilities=self.capabilities,
                             context_window=settings.model_context_window or self.context_window)
        catalog = None
        if self.offers:
            def catalog() -> list[ServerModel]:
                return [ServerModel(name, context_length=self.context_window, capabilities=self.capabilities)
                        for name in self.offers]
        return Connected(self, choice, server="scripted:", source="ocodex.testing.scripted", catalog=catalog)

    # ---- the Provider protocol ------------------------------------------------------------------

    def stream(self, request: ModelRequest) -> Iterator[ModelEvent]:
        with self._lock:
            self.requests.append(copy.deepcopy(request))
            step = self.steps.popleft() if self.steps else Step.say(self.default)
        if self.on_request is not None:
            self.on_request(request)
        if step.hang:
            threading.Event().wait()  # only an interrupt (KeyboardInterrupt in this thread) ends it
        if step.error is not None:
            raise step.error
        if step.reasoning:
            yield ReasoningDelta(step.reasoning)
        if step.text:
            yield TextDelta(step.text)
        for name, arguments in step.calls:
            self._calls += 1
            yield ToolCall(f"call_{self._calls}", name, arguments)
        usage = None if step.usage is None else TokenUsage(input_tokens=step.usage[0], output_tokens=step.usage[1])
        yield Completed(step.finish_reason, usage)

    def close(self) -> None:
        """Nothing to close: the script lives as long as the object (a model switch reuses it)."""
