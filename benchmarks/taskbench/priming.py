"""Making each task's result independent of the tasks that ran before it on the same server.

llama.cpp reuses the KV cache for the longest prefix a request shares with the previous one and computes only
the rest, and greedy decoding is sensitive to how a token's batch was made up: the same request can answer
differently after a different predecessor (or in a `--tasks` subset). So every arm starts from an empty cache
(`flush`), and before every task the cache is put in the same state (`prime`): the arm's common prefix (for the
agent, ocodex's system prompt, tools and environment context, captured once from a real `ocodex exec` against a
stand-in server) followed by a sentinel user message no task prompt starts with. Each task's first request then
diverges at the same token, whatever ran before, and its prompt is computed in the same batches.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx

SENTINEL = "\u00a7"  # a user message no task prompt starts with


def flush(base_url: str) -> None:
    """Replace the server's cached prompt with one token that no chat request starts with."""
    httpx.post(f"{base_url}/completion", json={"prompt": SENTINEL, "n_predict": 1, "cache_prompt": True},
               timeout=300).raise_for_status()


def prime(base_url: str, template: dict[str, Any]) -> None:
    """Send `template` (a chat request body) with its last message replaced by the sentinel, one token long."""
    body = {key: value for key, value in template.items() if key not in ("stream", "stream_options")}
    body["messages"] = [*template["messages"][:-1], {"role": "user", "content": SENTINEL}]
    body["max_tokens"] = 1
    body["stream"] = False
    httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=300).raise_for_status()


def capture_first_request(argv: list[str], *, cwd: Path, env: dict[str, str], write_config: Any,
                          home: Path, prompt: str) -> dict[str, Any] | None:
    """ocodex's first chat request for `argv` (which ends with `prompt`), answered by a stand-in server.

    `write_config(home, base_url)` points ocodex at the stand-in. The body is cut after the prompt's user message
    (what follows it, e.g. a small model's shown files, is the task's own); None when the request holds no such
    message (then priming cannot know the common prefix).
    """
    from taskbench.standin import StandIn

    with StandIn([{"text": "ok"}]) as server:
        write_config(home, server.base_url)
        subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if not server.bodies:
        return None
    body = server.bodies[0]
    messages = body.get("messages")
    wanted = {"role": "user", "content": prompt}
    if not isinstance(messages, list) or wanted not in messages:
        return None
    return {**body, "messages": messages[:messages.index(wanted) + 1]}
