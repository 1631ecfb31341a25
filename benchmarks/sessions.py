"""Session benchmark: what saving, listing and resuming sessions costs.

Run: `.venv/bin/python benchmarks/sessions.py [--runs N] [--sessions M]`. Prints
- the in-process cost of one appended, flushed record (a 1 KiB message through the redactor);
- `exec --json "say hi"` with and without `--ephemeral` against the fake server (the session overhead);
- `ocodex sessions` and `exec resume --last` with M saved sessions on disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fakes import FakeOllama

from ocodex.redact import register_secret
from ocodex.sessions import SessionMeta, SessionWriter


def wall(argv: list[str], *, cwd: str, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"command failed: {' '.join(argv)}\n{proc.stderr.decode()}")
    return statistics.median(times)


def record_cost(home: Path, count: int = 5000) -> float:
    register_secret("secret-value-123456")
    writer = SessionWriter.create(home, SessionMeta("bench-0000", "/x", "m", "oss", "now"))
    message = {"role": "tool", "tool_call_id": "call_1", "content": "x" * 1024}
    start = time.perf_counter()
    for _ in range(count):
        writer.message(message)
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed / count


def populate(home: Path, cwd: str, count: int) -> None:
    for index in range(count):
        writer = SessionWriter.create(home, SessionMeta(f"01bench-{index:06d}", cwd if index % 2 else "/elsewhere",
                                                        "gpt-oss:20b", "oss", "now"))
        writer.message({"role": "system", "content": "s" * 4000})
        writer.write("event_msg", {"type": "user_message", "message": f"task {index}"})
        writer.message({"role": "user", "content": f"task {index}"})
        writer.message({"role": "assistant", "content": "done"})
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sessions", type=int, default=500)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeOllama(models=["gpt-oss:20b"]) as fake:
        root = Path(tmp)
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        home = root / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OCODEX_", "OLLAMA_"))}
        env.update(OCODEX_HOME=str(home), OCODEX_HOST_MEMORY_GIB="16", CODEX_OSS_BASE_URL=fake.base_url,
                   OCODEX_RESIDENT="0")
        ocodex = [sys.executable, "-m", "ocodex"]

        print(f"append one 1 KiB record (flushed, redacted): {record_cost(root / 'bench-home') * 1e6:.1f} µs")
        saved = wall([*ocodex, "exec", "--oss", "--json", "say hi"], cwd=str(repo), env=env, runs=opts.runs)
        ephemeral = wall([*ocodex, "exec", "--oss", "--json", "--ephemeral", "say hi"], cwd=str(repo), env=env,
                         runs=opts.runs)
        print(f"exec --json: {saved * 1000:.0f} ms saved, {ephemeral * 1000:.0f} ms --ephemeral "
              f"({(saved - ephemeral) * 1000:+.0f} ms)")
        populate(home, str(repo), opts.sessions)
        listing = wall([*ocodex, "sessions"], cwd=str(repo), env=env, runs=opts.runs)
        resume = wall([*ocodex, "exec", "--oss", "--json", "--ephemeral", "resume", "--last", "again"],
                      cwd=str(repo), env=env, runs=opts.runs)
        print(f"with {opts.sessions + 2 * opts.runs} sessions on disk: `ocodex sessions` {listing * 1000:.0f} ms, "
              f"`exec resume --last` {resume * 1000:.0f} ms")


if __name__ == "__main__":
    main()
