"""The agent arm: `ocodex exec --full-auto --json` on one task, and reading what it did from its transcripts.

ocodex runs as a user would run it: a `[model_providers.llama]` provider (`wire_api = "chat"`) in an isolated
OCODEX_HOME, `temperature = 0` in its config, in a fresh git repo, with this interpreter's bin directory (python3
with pytest) first on PATH; `tools_preflight` proves, through ocodex's own shell tool and sandbox, that the
model's `python3 -m pytest` finds it. Three transcripts are kept per run: the `--json` events (stdout),
the session file (every message, tool results included: failed patches appear only there) and the request
log (`OCODEX_LOG_REQUESTS`: every request and the server's usage and timings).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskbench.record import RunRecord, Usage, usage_from_request_log
from taskbench.suite import Task, changes, make_repo, read_workspace, reset_dir, score, tool_env, unified_diff

KILL_GRACE_S = 5.0
GUARD_MARKERS = ("loop detected", "tool calls all failed")


def write_config(home: Path, base_url: str, n_ctx: int) -> None:
    (home / "config.toml").write_text(
        'model_provider = "llama"\n'
        f"model_context_window = {n_ctx}\n"
        "temperature = 0\n"
        "[model_providers.llama]\n"
        'name = "llama.cpp"\n'
        f'base_url = "{base_url}/v1"\n'
        'wire_api = "chat"\n'
        "request_max_retries = 1\n"
        "stream_max_retries = 1\n"
        "stream_idle_timeout_ms = 600000\n")  # a long prompt on 2 cores takes a while before its first token


# ---- reading the transcripts ------------------------------------------------------------------------


@dataclass
class Call:
    name: str
    arguments: str
    result: str | None = None  # None: it never got a result (the run was cut off)

    @property
    def is_edit(self) -> bool:
        if self.name == "apply_patch":
            return True
        return self.name == "shell" and ("apply_patch" in self.arguments or "applypatch" in self.arguments)

    @property
    def edit_failed(self) -> bool:
        return self.is_edit and not (self.result or "").startswith("Success.")


@dataclass
class Transcript:
    events: list[dict[str, Any]] = field(default_factory=list)
    malformed_lines: int = 0
    turn_failed: str | None = None
    completed: bool = False
    errors: list[str] = field(default_factory=list)  # `error` items and events
    final_message: str | None = None
    calls: list[Call] = field(default_factory=list)
    usage: dict[str, int] | None = None  # turn.completed's

    @property
    def guard_stopped(self) -> str | None:
        for message in [*self.errors, self.turn_failed or ""]:
            if any(marker in message for marker in GUARD_MARKERS):
                return message
        return None

    @property
    def failed_edits(self) -> list[Call]:
        return [call for call in self.calls if call.edit_failed]


def read_events(text: str, transcript: Transcript) -> None:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            transcript.malformed_lines += 1
            continue
        if not isinstance(event, dict):
            transcript.malformed_lines += 1
            continue
        transcript.events.append(event)
        kind = event.get("type")
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        if kind == "turn.failed":
            transcript.turn_failed = str((event.get("error") or {}).get("message", ""))
        elif kind == "turn.completed":
            transcript.completed = True
            transcript.usage = event.get("usage")
        elif kind == "error":
            transcript.errors.append(str(event.get("message", "")))
        elif kind == "item.completed" and item.get("type") == "error":
            transcript.errors.append(str(item.get("message", "")))
        elif kind == "item.completed" and item.get("type") == "agent_message":
            transcript.final_message = str(item.get("text", ""))


def read_session(text: str, transcript: Transcript) -> None:
    """Tool calls and their results from a session file's `response_item` records (chat messages)."""
    by_id: dict[str, Call] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("type") != "response_item":
            continue
        message = record.get("payload")
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            for raw in message.get("tool_calls") or ():
                function = raw.get("function") or {}
                call = Call(str(function.get("name", "")), str(function.get("arguments", "")))
                transcript.calls.append(call)
                by_id[str(raw.get("id"))] = call
        elif message.get("role") == "tool":
            call = by_id.get(str(message.get("tool_call_id")))
            if call is not None:
                call.result = str(message.get("content", ""))


def read_transcript(events_text: str, session_text: str | None) -> Transcript:
    transcript = Transcript()
    read_events(events_text, transcript)
    if session_text is not None:
        read_session(session_text, transcript)
    if not transcript.calls:
        # no session file, or calls written as text (a small model's: the session holds them as text):
        # what the events show (failed edits leave no item there)
        for event in transcript.events:
            item = event.get("item") or {}
            if event.get("type") == "item.completed" and item.get("type") in ("command_execution", "file_change"):
                name = "shell" if item["type"] == "command_execution" else "apply_patch"
                transcript.calls.append(Call(name, str(item.get("command", "")),
                                             "Success." if name == "apply_patch" else ""))
    return transcript


_TEXT_CALL = re.compile(r'"(?:name|tool|function)"\s*:\s*"[\w.-]+"|"(?:arguments|args|command|input)"\s*:')


def _flat(text: str, limit: int = 120) -> str:
    """`text` on one line, shortened."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _first_line(text: str, limit: int = 160) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[:limit - 3] + "..."


def check_failure_line(output: str) -> str:
    """The most telling line of a failed pytest run: the first `E   ...` line, else the summary."""
    lines = [line.strip() for line in output.splitlines()]
    for line in lines:
        if line.startswith("E "):
            return _first_line(line[1:].strip())
    for line in reversed(lines):
        if line.startswith(("FAILED", "ERROR")) or " failed" in line or " error" in line:
            return _first_line(line)
    return _first_line(output) or "the check failed"


def classify(*, passed: bool, timed_out: bool, exit_code: int | None, transcript: Transcript,
             changed: bool, check_output: str, stderr: str) -> tuple[str | None, str]:
    """The failure cause and a one-line detail (the rules are in benchmarks/tasks.py's docstring)."""
    if passed:
        return None, "check passed"
    if timed_out:
        return "timeout", f"killed at the time limit after {len(transcript.calls)} tool calls"
    guard = transcript.guard_stopped
    failed = transcript.failed_edits
    if exit_code not in (0, None) and transcript.turn_failed is None and guard is None:
        lines = [line for line in stderr.splitlines() if line.strip()]
        return "error", _first_line(lines[-1] if lines else f"ocodex exited with {exit_code}")
    if not changed and failed:
        return "edit failed", f"{len(failed)} failed edit(s), e.g. {_first_line(failed[0].result or 'no result')}"
    if guard is not None:
        return "loop", _first_line(guard)
    if transcript.turn_failed is not None and "empty answer" in transcript.turn_failed:
        return "empty answer", _first_line(transcript.turn_failed)
    if transcript.turn_failed is not None:
        return "error", _first_line(transcript.turn_failed)
    if not changed:
        answer = transcript.final_message or ""
        if _TEXT_CALL.search(answer):
            return "no edit", "answered with a tool call written as text, which was not run: " + _flat(answer)
        return "no edit", "finished without changing a file: " + _flat(answer or "(no answer)")
    return "wrong code", check_failure_line(check_output)


# ---- one run ------------------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the run's process group, then SIGKILL (bwrap's --die-with-parent takes the sandbox along)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _prepare(task: Task, workdir: Path, base_url: str, n_ctx: int) -> tuple[Path, Path, dict[str, str]]:
    """A fresh repo, OCODEX_HOME and environment for one ocodex run, always at the same paths under `workdir`."""
    repo = make_repo(task, workdir / "repo")
    home = reset_dir(workdir / "ocodex-home")
    write_config(home, base_url, n_ctx)
    env = tool_env()
    env["OCODEX_HOME"] = str(home)
    env["OCODEX_RESIDENT"] = "0"  # each run its own process, and nothing left running afterwards
    return repo, home, env


def exec_argv(model: str, prompt: str) -> list[str]:
    return [sys.executable, "-m", "ocodex", "exec", "--full-auto", "--json", "-m", model, prompt]


def agent_template(task: Task, *, model: str, workdir: Path, n_ctx: int) -> dict[str, Any] | None:
    """ocodex's first request in this arm's setting (see taskbench.priming), or None if it cannot be captured."""
    from taskbench.priming import capture_first_request

    prompt = "Say hello."
    repo, home, env = _prepare(task, workdir, "http://127.0.0.1:9", n_ctx)
    return capture_first_request(exec_argv(model, prompt), cwd=repo, env=env, home=home, prompt=prompt,
                                 write_config=lambda h, url: write_config(h, url, n_ctx))


PREFLIGHT_COMMAND = "python3 -m pytest --version"


def tools_preflight(task: Task, *, workdir: Path, n_ctx: int, command: str = PREFLIGHT_COMMAND) -> str | None:
    """Run `command` as the model would (ocodex's shell tool, its sandbox and login shell, driven by a stand-in
    server); None if it exits 0, else what it printed."""
    from taskbench.standin import StandIn

    script = [{"tool": "shell", "arguments": {"command": command}}, {"text": "done"}]
    with StandIn(script) as server:
        repo, _home, env = _prepare(task, workdir, server.base_url, n_ctx)
        proc = subprocess.run(exec_argv("standin", "Check pytest."), cwd=repo, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)
    transcript = Transcript()
    read_events(proc.stdout, transcript)
    runs = [e["item"] for e in transcript.events if e.get("type") == "item.completed"
            and (e.get("item") or {}).get("type") == "command_execution"]
    if not runs:
        return f"ocodex ran no command (exit {proc.returncode}): {_first_line(proc.stderr) or 'no output'}"
    if runs[0].get("exit_code") != 0:
        return str(runs[0].get("aggregated_output", "")).strip() or f"exit code {runs[0].get('exit_code')}"
    return None


def run_agent(task: Task, *, model: str, base_url: str, workdir: Path, out: Path, timeout: float,
              n_ctx: int) -> RunRecord:
    repo, home, env = _prepare(task, workdir, base_url, n_ctx)
    env["OCODEX_LOG_REQUESTS"] = str(out / "requests.jsonl")
    reset_dir(out)
    argv = exec_argv(model, task.prompt)
    load = os.getloadavg()[0]
    started = time.monotonic()
    with (out / "events.jsonl").open("wb") as stdout, (out / "stderr.txt").open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                start_new_session=True)
        try:
            exit_code: int | None = proc.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _stop(proc)
            exit_code, timed_out = None, True
    wall = time.monotonic() - started

    sessions = sorted((home / "sessions").rglob("*.jsonl")) if (home / "sessions").is_dir() else []
    session_text = None
    if sessions:
        shutil.copyfile(sessions[-1], out / "session.jsonl")
        session_text = (out / "session.jsonl").read_text(errors="replace")
    original = task.files("repo")
    now = read_workspace(repo)
    changed = changes(original, now)
    (out / "diff.patch").write_text(unified_diff(original, now))
    check = score(task, now, workdir / "score")
    (out / "check.txt").write_text(check.output)

    stderr_text = (out / "stderr.txt").read_text(errors="replace")
    transcript = read_transcript((out / "events.jsonl").read_text(errors="replace"), session_text)
    log = out / "requests.jsonl"
    usage = usage_from_request_log(log.read_text(errors="replace")) if log.exists() else Usage()
    if usage.answered == 0 and transcript.usage:  # no request log: ocodex's own totals
        usage.prompt_tokens = int(transcript.usage.get("input_tokens", 0))
        usage.completion_tokens = int(transcript.usage.get("output_tokens", 0))
    cause, detail = classify(passed=check.passed, timed_out=timed_out, exit_code=exit_code, transcript=transcript,
                             changed=bool(changed), check_output=check.output, stderr=stderr_text)
    tools: dict[str, int] = {}
    for call in transcript.calls:
        tools[call.name] = tools.get(call.name, 0) + 1
    artifacts = {name: str(out / name) for name in ("events.jsonl", "session.jsonl", "requests.jsonl",
                                                    "stderr.txt", "diff.patch", "check.txt")
                 if (out / name).exists()}
    return RunRecord(model=model, arm="agent", task=task.id, kind=task.kind, passed=check.passed, cause=cause,
                     detail=detail, wall_s=wall, timeout_s=timeout, exit_code=exit_code, usage=usage,
                     tool_calls=len(transcript.calls), tools=tools,
                     edit_attempts=sum(call.is_edit for call in transcript.calls),
                     failed_edits=len(transcript.failed_edits), files_changed=changed, load_1m=load,
                     artifacts=artifacts)
