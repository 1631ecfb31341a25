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

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class _Capture(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        if self.path.endswith("/chat/completions"):
            self.server.bodies.append(body)  # type: ignore[attr-defined]
        model = body.get("model", "m") if isinstance(body, dict) else "m"
        chunks = [{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
                  {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}]
        data = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        payload = data.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def capture_first_request(argv: list[str], *, cwd: Path, env: dict[str, str], write_config: Any,
                          home: Path, prompt: str) -> dict[str, Any] | None:
    """ocodex's first chat request for `argv` (which ends with `prompt`), answered by a stand-in server.

    `write_config(home, base_url)` points ocodex at the stand-in. Returns None when the request does not end with
    the prompt as a user message (then priming cannot know the common prefix).
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        write_config(home, f"http://127.0.0.1:{server.server_address[1]}")
        subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    bodies: list[dict[str, Any]] = server.bodies  # type: ignore[attr-defined]
    if not bodies:
        return None
    body = bodies[0]
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages or messages[-1] != {"role": "user", "content": prompt}:
        return None
    return body
