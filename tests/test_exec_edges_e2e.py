"""`ocodex exec` at the edges of its input and output (issue 10, item 13): a stdout that cannot be
written, a closed stdin, a huge stdin prompt, an empty prompt or model, and bad `-c` values. Each is a
one-line error and the right exit code (2 for anything wrong on the command line), never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Run, base_env
from fakes.fake_ollama import Turn


def run_with(fake, home: Path, repo: Path, *args: str, shell_redirect: str = "", stdin: str | None = None,
             stdout: object = subprocess.PIPE) -> Run:
    """The CLI with `shell_redirect` applied by a shell (`<&-`), or stdout sent to a file object."""
    argv = [sys.executable, "-m", "ocodex", *args]
    if shell_redirect:
        argv = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *argv]
    proc = subprocess.run(argv, cwd=repo, env=base_env(home, fake.base_url), input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    return Run(proc.returncode, proc.stdout or "", proc.stderr)


def one_error_line(run: Run, text: str) -> None:
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and text in errors[0], run.stderr


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_stdout_to_dev_full_is_one_error_line(fake, home: Path, repo: Path, json_mode: bool) -> None:
    fake.script(Turn.text("an answer nobody can store"))
    with open("/dev/full", "w") as full:
        run = run_with(fake, home, repo, "exec", "--oss", *(["--json"] if json_mode else []), "hi", stdout=full)
    assert run.returncode == 1
    one_error_line(run, "cannot write to stdout: No space left on device")
    (session,) = (home / "sessions").rglob("*.jsonl")  # the session file kept the run
    assert "thread.started" in session.read_text()


def test_version_to_dev_full(fake, home: Path, repo: Path) -> None:
    with open("/dev/full", "w") as full:
        run = run_with(fake, home, repo, "--version", stdout=full)
    assert run.returncode == 1
    one_error_line(run, "cannot write to stdout")


def test_a_closed_stdin_is_no_input_not_a_crash(fake, home: Path, repo: Path) -> None:
    fake.script(Turn.text("fine"))
    run = run_with(fake, home, repo, "exec", "--oss", "hi", shell_redirect="<&-")
    assert run.returncode == 0 and run.stdout == "fine\n", run.stderr
    assert fake.chat_requests[-1]["messages"][-1]["content"] == "hi"

    run = run_with(fake, home, repo, "exec", "--oss", shell_redirect="<&-")
    assert run.returncode == 2
    one_error_line(run, "no prompt provided: give one as an argument (stdin is closed)")

    run = run_with(fake, home, repo, "exec", "--oss", "hi", shell_redirect=">&-")
    assert run.returncode == 1
    one_error_line(run, "stdout is closed")

    run = run_with(fake, home, repo, "--oss", shell_redirect="<&-")  # the interactive session
    assert run.returncode == 2
    one_error_line(run, "the interactive session needs stdin, which is closed")


def test_a_huge_stdin_prompt_is_echoed_short_and_stored_once(fake, home: Path, repo: Path) -> None:
    prompt = "".join(f"line {n:07d} of a very long prompt\n" for n in range(160_000))  # 5.3 MB
    fake.script(Turn.text("read it"))
    run = run_with(fake, home, repo, "exec", "--oss", "-", stdin=prompt)  # too big to send: the turn fails
    assert "Traceback" not in run.stderr
    assert len(run.stderr) < 20_000  # the echo is a preview, not 5 MB
    assert "line 0000000 of a very long prompt" in run.stderr and "more characters" in run.stderr
    (session,) = (home / "sessions").rglob("*.jsonl")
    assert len(prompt) < session.stat().st_size < 1.2 * len(prompt)  # once, not twice

    from ocodex.sessions import load_session

    assert load_session(session).prompts == [prompt]  # a resume still knows the whole prompt
    listing = run_with(fake, home, repo, "sessions", "--json")
    assert json.loads(listing.stdout)["first_prompt"].startswith("line 0000000")


@pytest.mark.parametrize(("args", "says"), [
    (("-c", "model="), "-c model=: expected a model name"),  # an empty model once silently meant the default
    (("-c", 'model=""'), "expected a model name"),
    (("-m", ""), "model: expected a model name"),
    (("-c", "sandbox_mode=bogus"), "-c sandbox_mode=bogus: expected one of"),  # a bad -c value once exited 1
    (("-c", "model_context_window=-5"), "-c model_context_window=-5"),
    (("-c", "no-equals-sign"), "expected key=value"),
    (("-c", "escalate=3"), "escalate must be true or false"),
    (("-p", "nosuch"), "unknown profile 'nosuch'"),
    (("-c", "profile=nosuch"), "unknown profile 'nosuch'"),
])
def test_bad_command_line_settings_are_usage_errors(fake, home: Path, repo: Path, args: tuple[str, ...],
                                                    says: str) -> None:
    run = run_with(fake, home, repo, "exec", "--oss", *args, "hi")
    assert run.returncode == 2, run.stderr
    one_error_line(run, says)
    assert fake.chat_requests == []


@pytest.mark.parametrize("prompt", ["", "   ", "\n"])
def test_an_empty_prompt_is_a_usage_error(fake, home: Path, repo: Path, prompt: str) -> None:
    run = run_with(fake, home, repo, "exec", "--oss", prompt)
    assert run.returncode == 2
    one_error_line(run, "the prompt is empty")
    assert fake.chat_requests == []


def test_a_bad_value_in_the_config_file_still_exits_1(fake, home: Path, repo: Path) -> None:
    (home / "config.toml").write_text('model = ""\n')
    run = run_with(fake, home, repo, "exec", "--oss", "hi")
    assert run.returncode == 1
    one_error_line(run, "config.toml")
    assert "expected a model name" in run.stderr

    (home / "config.toml").write_text('profile = "nosuch"\n')
    run = run_with(fake, home, repo, "exec", "--oss", "hi")
    assert run.returncode == 1
    one_error_line(run, "unknown profile 'nosuch'")
