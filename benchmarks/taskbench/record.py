"""One task run's result (`RunRecord`), the failure causes, and reading token usage from server answers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# In the order the tables print them. The rules that pick one are in benchmarks/tasks.py's docstring.
CAUSES = ("edit failed", "loop", "empty answer", "no edit", "wrong code", "timeout", "error")


@dataclass
class Usage:
    requests: int = 0  # requests sent (a request cut off by the timeout counts)
    answered: int = 0  # answers that reported usage
    prompt_tokens: int = 0  # the whole prompt of every request, as the server counts it
    completion_tokens: int = 0
    prompt_processed: int = 0  # prompt tokens the server had to compute (not from its KV cache)
    prompt_ms: float = 0.0
    predicted_ms: float = 0.0

    def add_answer(self, answer: dict[str, Any]) -> None:
        usage = answer.get("usage")
        if not isinstance(usage, dict):
            return
        self.answered += 1
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        timings = answer.get("timings")
        if isinstance(timings, dict):  # llama.cpp's own figures
            self.prompt_processed += int(timings.get("prompt_n") or 0)
            self.prompt_ms += float(timings.get("prompt_ms") or 0.0)
            self.predicted_ms += float(timings.get("predicted_ms") or 0.0)


def last_usage_chunk(sse_text: str) -> dict[str, Any] | None:
    """The last `data:` chunk of an SSE body that carries `usage` (llama.cpp sends it with `timings`)."""
    found = None
    for line in sse_text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload.startswith("{"):
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            continue
        if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
            found = chunk
    return found


def usage_from_request_log(text: str) -> Usage:
    """Usage summed over the chat requests of an `OCODEX_LOG_REQUESTS` file (JSON lines: requests, responses)."""
    usage = Usage()
    chat_ids: set[str] = set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("type") == "request" and "/chat/completions" in str(record.get("url", "")):
            usage.requests += 1
            chat_ids.add(str(record.get("id")))
        elif record.get("type") == "response" and str(record.get("id")) in chat_ids:
            body = record.get("body")
            answer = last_usage_chunk(body) if isinstance(body, str) else body if isinstance(body, dict) else None
            if answer is not None:
                usage.add_answer(answer)
    return usage


@dataclass
class RunRecord:
    model: str
    arm: str  # "agent" or "baseline"
    task: str
    kind: str
    passed: bool
    cause: str | None  # one of CAUSES when not passed
    detail: str  # one line: what went wrong (or right)
    wall_s: float
    timeout_s: float
    exit_code: int | None = None  # ocodex's exit status (None: killed at the timeout, or the baseline)
    usage: Usage = field(default_factory=Usage)
    tool_calls: int = 0
    tools: dict[str, int] = field(default_factory=dict)  # calls per tool name
    edit_attempts: int = 0
    failed_edits: int = 0
    files_changed: dict[str, str] = field(default_factory=dict)
    load_1m: float | None = None  # the host's load average when the task started (CPU contention)
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> path of what the run left behind

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
