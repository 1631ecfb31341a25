"""The no-agent baseline: one chat request with the task and every file of the repo, whole files back.

The reply's fenced code blocks are read as files by `ocodex.agent.fileblocks` (the parser ocodex itself uses
for small models' whole-file edits; its docstring lists the forms understood), and a block with no path goes
to the repo file it most resembles (`match_unnamed`), as a person reading the reply would place it. The files
are written into the same fresh repo the agent gets and scored with the same checks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from ocodex.agent.fileblocks import LANGUAGES, fence_for, match_unnamed, parse_files
from taskbench.agent import check_failure_line
from taskbench.record import RunRecord, Usage
from taskbench.suite import Task, changes, make_repo, read_workspace, reset_dir, score, unified_diff

INSTRUCTIONS = ("You cannot run commands: do the task by changing files. Reply with the complete new content "
                "of every file you change or add, in the same form as above: the file's path on a line of its own, "
                "then the whole file in a fenced code block. Leave out the files you do not change.")


def baseline_prompt(task: Task) -> str:
    """The task's prompt, every file of its repo in a fenced block under its path, then `INSTRUCTIONS`."""
    blocks = []
    for path, data in task.files("repo").items():
        text = data.decode("utf-8", "replace")
        fence = fence_for(text)
        blocks.append(f"{path}\n{fence}{LANGUAGES.get(PurePosixPath(path).suffix, '')}\n{text.rstrip(chr(10))}\n"
                      f"{fence}\n")
    return f"{task.prompt}\n\nThese are all the files of the repository:\n\n" + "\n".join(blocks) + \
        f"\n{INSTRUCTIONS}"


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write `files` (safe relative paths, see `clean_path`) under `root`, never through a symlink."""
    for rel, text in files.items():
        parts = PurePosixPath(rel).parts
        if any((root.joinpath(*parts[:depth])).is_symlink() for depth in range(1, len(parts) + 1)):
            continue
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)


def request_body(task: Task, model: str, *, seed: int, max_tokens: int) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": baseline_prompt(task)}],
            "temperature": 0, "seed": seed, "max_tokens": max_tokens, "stream": False}


def run_baseline(task: Task, *, model: str, base_url: str, workdir: Path, out: Path, timeout: float, seed: int,
                 max_tokens: int) -> RunRecord:
    repo = make_repo(task, workdir / "repo")
    reset_dir(out)
    body = request_body(task, model, seed=seed, max_tokens=max_tokens)
    (out / "prompt.md").write_text(body["messages"][0]["content"])
    usage = Usage(requests=1)
    load = os.getloadavg()[0]
    started = time.monotonic()
    reply, failure = "", None
    finish = ""
    try:
        response = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=timeout)
        if response.status_code != 200:
            failure = ("error", f"HTTP {response.status_code}: {response.text[:160]}")
        else:
            answer = response.json()
            (out / "response.json").write_text(json.dumps(answer, indent=1))
            usage.add_answer(answer)
            choice = (answer.get("choices") or [{}])[0]
            reply = str((choice.get("message") or {}).get("content") or "")
            finish = str(choice.get("finish_reason") or "")
    except httpx.TimeoutException:
        failure = ("timeout", f"no whole answer within {timeout:g} s")
    except (httpx.HTTPError, ValueError) as exc:
        failure = ("error", f"{type(exc).__name__}: {exc}")
    wall = time.monotonic() - started
    (out / "reply.md").write_text(reply)

    parsed = parse_files(reply)
    original = task.files("repo")
    match_unnamed(parsed, original)
    write_files(repo, parsed.files)
    now = read_workspace(repo)
    changed = changes(original, now)
    (out / "diff.patch").write_text(unified_diff(original, now))
    check = score(task, now, workdir / "score")
    (out / "check.txt").write_text(check.output)

    if check.passed:
        cause, detail = None, "check passed"
    elif failure is not None:
        cause, detail = failure
    elif not reply.strip():
        cause, detail = "empty answer", f"the reply was empty (finish_reason={finish or 'none'})"
    elif not parsed.files:
        cut = ", cut off by max_tokens" if finish == "length" else ""
        cause, detail = "edit failed", (f"no usable whole file in the reply ({len(parsed.unnamed)} block(s) "
                                        f"matching no file{', one unclosed' if parsed.unclosed else ''}{cut})")
    elif not changed:
        cause, detail = "no edit", "the files sent back are identical to the originals"
    else:
        cause, detail = "wrong code", check_failure_line(check.output)
    if parsed.matched:
        detail += f" ({len(parsed.matched)} unnamed block(s) placed by resemblance: {', '.join(parsed.matched)})"
    artifacts = {name: str(out / name) for name in ("prompt.md", "reply.md", "response.json", "diff.patch",
                                                    "check.txt") if (out / name).exists()}
    return RunRecord(model=model, arm="baseline", task=task.id, kind=task.kind, passed=check.passed, cause=cause,
                     detail=detail, wall_s=wall, timeout_s=timeout, usage=usage, files_changed=changed,
                     load_1m=load, artifacts=artifacts)
