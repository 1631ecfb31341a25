"""The no-agent baseline: one chat request with the task and every file of the repo, whole files back.

The reply's fenced code blocks are read as files when a path names them: on the line just before the fence
(`stats.py`, `**stats.py**`, `` `stats.py` ``, `### File: stats.py`, `stats.py:`), in the fence's info
string (```` ```python stats.py ```` or ```` ```stats.py ````), as a block's first line (`# stats.py`, dropped
from the file), or as the only line of a fence just before the file's own fence. A path is a plain relative
path whose file name has an extension (no `..`, no `.git`, not absolute). The last block for a path wins;
an unclosed block (an answer cut off by `max_tokens`) is dropped. A block with no path goes to the repo file it
most resembles (`match_unnamed`), as a person reading the reply would place it. The files are written into the
same fresh repo the agent gets and scored with the same checks.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

from taskbench.agent import check_failure_line
from taskbench.record import RunRecord, Usage
from taskbench.suite import Task, changes, make_repo, read_workspace, reset_dir, score, unified_diff

INSTRUCTIONS = ("You cannot run commands: do the task by changing files. Reply with the complete new content "
                "of every file you change or add, in the same form as above: the file's path on a line of its own, "
                "then the whole file in a fenced code block. Leave out the files you do not change.")
LANGUAGES = {".py": "python", ".md": "markdown", ".json": "json", ".toml": "toml", ".txt": "text"}
_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DECORATION = re.compile(r"^(?:#{1,6}\s*|[-*+]\s+|\d+\.\s+)?(?:\*\*|__)?`?(?:(?:file(?:name)?|path)\s*:\s*)?"
                         r"`?(?P<path>[^`*\s]+?)`?(?:\*\*|__)?:?$", re.IGNORECASE)


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


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


def clean_path(candidate: str) -> str | None:
    """`candidate` as a safe relative POSIX path, or None."""
    candidate = candidate.strip().removeprefix("./")
    if not candidate or not _PATH.fullmatch(candidate) or "." not in PurePosixPath(candidate).name:
        return None
    parts = PurePosixPath(candidate).parts
    if ".." in parts or ".git" in parts or candidate.startswith("/"):
        return None
    return PurePosixPath(candidate).as_posix()


def _path_before(lines: list[str], index: int) -> str | None:
    """The path on the last non-blank line of the two before a fence, if that line is only a path."""
    for back in range(index - 1, max(index - 3, -1), -1):
        if lines[back].strip():
            return _path_line(lines[back])
    return None


def _path_in_info(info: str) -> str | None:
    for word in info.split():
        path = clean_path(word)
        if path is not None:
            return path
    return None


@dataclass
class Parsed:
    files: dict[str, str] = field(default_factory=dict)
    unnamed: list[tuple[str, str]] = field(default_factory=list)  # (the fence's language, the block's text)
    unclosed: bool = False
    matched: dict[str, str] = field(default_factory=dict)  # unnamed blocks given to a file by `match_unnamed`


def _path_line(line: str) -> str | None:
    match = _DECORATION.match(line.strip())
    return clean_path(match.group("path")) if match else None


def _path_comment(line: str) -> str | None:
    """`# stats.py`, `# File: stats.py` or `// stats.py` as a block's first line."""
    stripped = line.strip()
    for marker in ("#", "//"):
        if stripped.startswith(marker) and not stripped.startswith("#!"):
            return _path_line(stripped[len(marker):])
    return None


def parse_files(reply: str) -> Parsed:
    """The whole files in `reply` (see the module docstring for the forms understood)."""
    parsed = Parsed()
    lines = reply.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, info = opening.group("fence"), opening.group("info")
        path = _path_in_info(info) or _path_before(lines, index)
        if index + 2 < len(lines) and (header := _path_line(lines[index + 1])) \
                and (inner := _FENCE.match(lines[index + 2])) and inner.group("info").strip():
            # A fence holding only the path, then the file's own fence: the path names the next block.
            path, index = header, index + 2
            fence, info = inner.group("fence"), inner.group("info")
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing and set(closing) == {fence[0]} and len(closing) >= len(fence):
                break
            body.append(lines[end])
            end += 1
        if end >= len(lines):
            parsed.unclosed = True  # cut off (max_tokens) or malformed: not a whole file
            break
        if body and (named := _path_comment(body[0])) is not None and (path is None or path == named):
            path, body = named, body[1:]
        text = "".join(line + "\n" for line in body)
        if path is None:
            parsed.unnamed.append(((info.split() or [""])[0].lower(), text))
        else:
            parsed.files[path] = text
        index = end + 1
    return parsed


_EXTENSIONS = {"python": ".py", "py": ".py", "markdown": ".md", "md": ".md", "json": ".json", "toml": ".toml"}


def match_unnamed(parsed: Parsed, repo: dict[str, bytes]) -> None:
    """Give each unnamed block to the repo file it most resembles, as a reader would.

    Candidates are the repo's files the reply did not name, of the block's language when the fence says one
    (`python` -> `.py`); each file takes at most one block. The only candidate is taken whatever it looks like;
    among several, the most similar one (difflib ratio at least 0.2).
    """
    taken = set(parsed.files)
    for language, text in parsed.unnamed:
        extension = _EXTENSIONS.get(language)
        candidates = [path for path in repo if path not in taken
                      and (extension is None or PurePosixPath(path).suffix == extension)]
        if not candidates:
            continue
        scored = sorted(((difflib.SequenceMatcher(None, repo[path].decode("utf-8", "replace"), text).ratio(), path)
                         for path in candidates), reverse=True)
        ratio, best = scored[0]
        if len(candidates) == 1 or ratio >= 0.2:
            parsed.files[best] = text
            parsed.matched[best] = text
            taken.add(best)


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
