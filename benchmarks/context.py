"""Request-size benchmark: how many bytes ocodex sends per model request, and whether the prefix holds.

Run: `.venv/bin/python benchmarks/context.py`. Drives the real CLI against the fake server twice:
`exec --oss "say hi"` in a repo without AGENTS.md (issue 3's budget: the first request <= 6,000 bytes
of JSON body; Codex CLI sends 39,547), and a scripted five-request task (three tool calls, a patch,
an answer). For each request it prints the body size, the growth over the previous request and
whether the previous request's messages are an exact prefix of this one's (KV-cache reuse).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _fakes import FakeOllama, Turn

BUDGET = 6000
PATCH = "*** Begin Patch\n*** Update File: app.py\n@@\n-print('hi')\n+print('hello')\n*** End Patch\n"


def run_case(name: str, prompt: str, turns: list[Turn], tmp: Path) -> None:
    with FakeOllama(models=["gpt-oss:20b"]) as server:
        repo = tmp / name
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / "app.py").write_text("print('hi')\n")
        server.script(*turns)
        env = {**os.environ, "OCODEX_HOME": str(tmp / f"{name}-home"), "CODEX_OSS_BASE_URL": server.base_url,
               "OCODEX_HOST_MEMORY_GIB": "16", "OCODEX_RESIDENT": "0"}
        proc = subprocess.run([sys.executable, "-m", "ocodex", "exec", "--oss", "--full-auto", "--json", prompt],
                              cwd=repo, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: ocodex failed:\n{proc.stderr}")
        bodies = [r.body for r in server.requests if r.path == "/v1/chat/completions"]
    print(f"\n{name}: {len(bodies)} request(s)")
    print(f"{'request':>8} {'bytes':>8} {'+bytes':>8} {'prefix kept':>12}")
    previous: list[str] | None = None
    previous_size = 0
    for index, body in enumerate(bodies, 1):
        messages = [json.dumps(m, sort_keys=True) for m in json.loads(body)["messages"]]
        kept = "-" if previous is None else ("yes" if messages[:len(previous)] == previous else "NO")
        growth = "" if previous is None else f"{len(body) - previous_size:+d}"
        print(f"{index:>8} {len(body):>8} {growth:>8} {kept:>12}")
        previous, previous_size = messages, len(body)
    verdict = "within" if len(bodies[0]) <= BUDGET else "OVER"
    print(f"first request: {len(bodies[0])} bytes ({verdict} the {BUDGET}-byte budget)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_case("say-hi", "say hi", [Turn.text("hi")], Path(tmp))
        run_case("five-requests", "change the greeting to hello", [
            Turn.tool_call("shell", {"command": "ls"}, reasoning="Look around first."),
            Turn.tool_call("shell", {"command": "cat app.py"}),
            Turn.tool_call("apply_patch", {"input": PATCH}),
            Turn.tool_call("shell", {"command": "python3 app.py"}),
            Turn.text("The greeting now says hello."),
        ], Path(tmp))


if __name__ == "__main__":
    main()
