"""Shared fixtures: a fake Ollama server, a temp git repo, an isolated OCODEX_HOME, and a CLI runner; and
the test tiers. `fast` (`pytest -m fast`, seconds): everything that runs in this process — the thread
driven by the scripted model, approvals, parsers, config, rendering, the Ollama client against an
in-process server. `cli` (every other test): the real program as a subprocess, over HTTP, with real
parts (bubblewrap, nginx, sshd, tmux, llama.cpp)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.fake_ollama import FakeOllama

# A suite started under `nohup` (or any parent that ignores SIGHUP), or as a background job of a script (whose
# shell ignores SIGINT for it), would pass SIG_IGN on to every ocodex it starts, and ocodex rightly leaves an
# ignored signal ignored: the SIGHUP and Ctrl-C tests would then test the launcher. The suite runs with both at
# their defaults, as a terminal gives them (SIGINT as Python's KeyboardInterrupt, for the in-process tests too).
if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Every ocodex the suite starts runs directly, as its own process: a resident process (ocodex.resident) would
# outlive the test that started it. tests/test_resident.py turns it on for its own runs.
os.environ["OCODEX_RESIDENT"] = "0"

REPO_ROOT = Path(__file__).resolve().parents[1]
EVENT_SCHEMA = Path(__file__).parent / "schemas" / "codex_exec_event.schema.json"


@functools.cache
def event_validator() -> Any:
    """A validator for one `exec --json` line, from the JSON Schema written from codex-compat.md §b."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(EVENT_SCHEMA.read_text()))


FAST_MODULES = frozenset({
    "test_approval", "test_chat_stream", "test_config", "test_context_budget", "test_context_window",
    "test_imports", "test_ollama_client", "test_ollama_memory", "test_ollama_names", "test_ollama_urls",
    "test_patch_apply", "test_patch_heredoc", "test_patch_parser", "test_pull_progress", "test_render",
    "test_sessions", "test_textcalls", "test_thread", "test_truncate",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fast = item.get_closest_marker("fast") is not None or item.module.__name__ in FAST_MODULES
        item.add_marker(pytest.mark.fast if fast else pytest.mark.cli)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def events(self) -> list[dict]:
        """Every stdout line parsed, each checked against the Codex exec --json schema (tests/schemas)."""
        events = [json.loads(line) for line in self.stdout.splitlines() if line.strip()]
        for event in events:
            problems = [e.message for e in event_validator().iter_errors(event)]
            assert not problems, f"not a Codex exec --json event: {event}: {problems[0]}"
        return events

    def items(self, kind: str, phase: str = "item.completed") -> list[dict]:
        return [e["item"] for e in self.events() if e["type"] == phase and e["item"]["type"] == kind]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=["gpt-oss:20b"]) as server:
        yield server


def resident_servers(under: Path) -> list[int]:
    """The pids of resident ocodex processes (ocodex.resident.server) whose home is under `under`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(") ", 1)[1][:1]
        except (OSError, IndexError):
            continue
        if state != "Z" and b"ocodex.resident.server" in argv and any(a.startswith(bytes(under)) for a in argv):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_resident_process_outlives_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if sys.platform != "linux":
        return
    left = resident_servers(tmp_path_factory.getbasetemp())
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} resident ocodex processes were left running by the suite (killed now)"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "ocodex-home"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def base_env(home: Path, base_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CODEX_", "OCODEX_", "OPENAI_", "OLLAMA_"))}
    env["OCODEX_HOME"] = str(home)
    env["OCODEX_HOST_MEMORY_GIB"] = "16"
    env["NO_COLOR"] = "1"
    env["OCODEX_RESIDENT"] = "0"  # each run its own process (tests/test_resident.py turns it on)
    if base_url is not None:
        env["CODEX_OSS_BASE_URL"] = base_url
    return env


@pytest.fixture
def ocodex(home: Path, repo: Path, fake: FakeOllama):
    """Run the real CLI in a subprocess, in `repo`, against `fake`."""

    def run(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        full_env = base_env(home, fake.base_url)
        if env:
            full_env.update(env)
        proc = subprocess.run([sys.executable, "-m", "ocodex", *args], cwd=cwd or repo,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, env=full_env, timeout=timeout)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run
