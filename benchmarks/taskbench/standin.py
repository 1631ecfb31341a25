"""A stand-in model server on 127.0.0.1: answers ocodex's chat requests from a short script and records them.

Used to capture ocodex's first request (taskbench.priming) and to check, through ocodex's own shell tool and
sandbox, that the model's commands find python3 with pytest (the preflight in benchmarks/tasks.py).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = dict[str, Any]  # {"text": "..."} or {"tool": NAME, "arguments": {...}}


def _chunks(model: str, answer: Answer) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    if "tool" in answer:
        call = {"index": 0, "id": "call_standin", "type": "function",
                "function": {"name": answer["tool"], "arguments": json.dumps(answer.get("arguments", {}))}}
        body = [chunk({"role": "assistant", "content": None, "tool_calls": [call]}), chunk({}, "tool_calls")]
    else:
        body = [chunk({"role": "assistant", "content": answer.get("text", "ok")}), chunk({}, "stop")]
    body[-1]["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return body


class StandIn:
    """`with StandIn([answer, ...]) as server:` serves `server.base_url`; the last answer repeats."""

    def __init__(self, script: list[Answer]) -> None:
        self.script = script or [{"text": "ok"}]
        self.bodies: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if not isinstance(body, dict):
                    body = {}
                with owner._lock:
                    answer = owner.script[min(len(owner.bodies), len(owner.script) - 1)]
                    owner.bodies.append(body)
                data = "".join(f"data: {json.dumps(c)}\n\n" for c in _chunks(str(body.get("model", "m")), answer))
                payload = (data + "data: [DONE]\n\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
