"""`ocodex exec`: one task, non-interactively, rendered for a person or as JSONL.

Wiring only: read the prompt, load settings, pick the face, prepare the provider (for `oss`: probe,
choose and pull the model), then hand one turn to the agent and turn its outcome into an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from ocodex.errors import Interrupted, OcodexError, UsageError
from ocodex.events import Notice, ThreadStarted


def read_prompt(words: list[str], stdin: TextIO, err: TextIO) -> tuple[str, bool]:
    """The prompt text, and whether the seed's `-- json PROMPT` form asked for JSON output."""
    json_word = len(words) >= 2 and words[0] == "json"
    if json_word:
        words = words[1:]
    prompt = " ".join(words)
    if not words or prompt == "-":
        if stdin.isatty():
            raise UsageError("no prompt provided: give one as an argument, or pipe it into stdin")
        err.write("Reading prompt from stdin...\n")
        text = stdin.read()
        if not text.strip():
            raise UsageError("No prompt provided via stdin.", exit_code=1)
        return text, json_word
    if not stdin.isatty():
        data = stdin.read()
        if data.strip():
            err.write("Reading additional input from stdin...\n")
            prompt = f"{prompt}\n\n<stdin>\n{data if data.endswith(chr(10)) else data + chr(10)}</stdin>"
    return prompt, json_word


def in_git_repo(path: Path) -> bool:
    return any((directory / ".git").exists() for directory in (path, *path.parents))


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    if args.model:
        flags["model"] = args.model
    if args.oss:
        flags["model_provider"] = "oss"
    if args.full_auto:
        flags["sandbox_mode"] = "workspace-write"
        flags["approval_policy"] = "never"
    if args.sandbox:
        flags["sandbox_mode"] = args.sandbox
    return flags


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.ocodex-tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def run_exec(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        return _run(args, err)
    except OcodexError as exc:
        err.write(f"error: {exc.message}\n")
        if exc.hint:
            err.write(f"hint: {exc.hint}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("error: interrupted\n")
        return Interrupted.exit_code


def _run(args: argparse.Namespace, err: TextIO) -> int:
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home

    prompt, json_word = read_prompt(args.prompt, sys.stdin, err)
    json_mode = args.json or json_word
    home = ocodex_home()
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=_flags(args))
    check_provider_allowed(settings, bool(args.openai))

    cwd = Path(args.cd).expanduser() if args.cd else Path.cwd()
    if not cwd.is_dir():
        raise UsageError(f"--cd {args.cd}: not a directory")
    cwd = cwd.resolve()
    if not args.skip_git_repo_check and not in_git_repo(cwd):
        raise OcodexError("Not inside a trusted directory and --skip-git-repo-check was not specified.",
                          hint=f"{cwd} is not in a git repository; run `git init` there, or pass "
                               "--skip-git-repo-check to run anyway")

    if json_mode:
        from ocodex.render.jsonl import JsonlRenderer

        render: Any = JsonlRenderer(sys.stdout, err)
    else:
        from ocodex.render.human import HumanRenderer

        render = HumanRenderer(sys.stdout, err, color=_use_color(args.color, err))
    emit = render

    for warning in settings.warnings:
        emit(Notice(warning, "warning"))

    from ocodex.runtime import prepare_runtime

    runtime = prepare_runtime(settings=settings, cwd=cwd, home=home, emit=emit)
    try:
        emit(ThreadStarted(runtime.thread_id))
        if not json_mode:
            effort = settings.model_reasoning_effort or "default"
            emit(Notice(f"workdir: {cwd}  sandbox: {settings.sandbox_mode}  approval: never  "
                        f"reasoning effort: {effort}"))
            emit(Notice(f"user\n{prompt}"))
        result = runtime.agent.run_turn(prompt)
    finally:
        runtime.close()
    if result.final_message is not None:
        render.final_message(result.final_message)
        if args.output_last_message:
            write_atomically(Path(args.output_last_message), result.final_message)
    return 0 if result.ok else 1

