"""The workspace files a task is about, shown to a small model with the task, as aider adds files to a chat.

A small model rarely reads a file before it edits it: it guesses the file's contents instead (and a whole-file
edit of a guessed file loses the rest of it). So for models whose profile says so (`ocodex.profile`), the
turn's first request carries, after the prompt, the text of:

1. the files the prompt names (`slug.py`, `docs/slug.md`, `File "app.py", line 3`), in the order named;
2. the files that use a name the prompt quotes (`calc_total`, `Cart.add()`): a rename's callers;

and the names of the other files of the workspace, so the model knows the tests are there. A workspace
of at most `MAX_FILES` text files that fit the budget is shown whole (as the benchmark's no-agent
baseline shows a model every file: a small model given the tests writes code that passes them).

Only regular text files inside the workspace are read (a link is followed only when it stays inside), at
most `MAX_FILE_BYTES` each, `MAX_FILES` in all, within a byte budget the caller sizes to the context window.
The walk skips hidden and vendored directories and stops after `MAX_WALK` entries. Nothing is written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ocodex.agent.fileblocks import LANGUAGES, clean_path, fence_for
from ocodex.files import read_regular

MAX_FILE_BYTES = 16_000
MAX_FILES = 6
MAX_LISTED = 40
MAX_WALK = 2_000
SKIP_DIRS = {"node_modules", "__pycache__", "venv", "target", "dist", "build", "vendor", "site-packages"}

_PATH_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\.[A-Za-z0-9]+")
_QUOTED_NAME = re.compile(r"`(?:[A-Za-z_][A-Za-z0-9_]*\.)?([A-Za-z_][A-Za-z0-9_]{2,})(?:\(\))?`")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def file_text(cwd: Path, rel: str, limit: int = MAX_FILE_BYTES) -> str | None:
    """The UTF-8 text of the workspace file `rel`, or None (missing, outside, not regular, too big, binary)."""
    real_root = cwd.resolve()
    path = cwd / rel
    try:
        if not _inside(path.resolve(), real_root):
            return None
        data = read_regular(path, limit + 1)
    except (OSError, RuntimeError):
        return None
    if len(data) > limit or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def workspace_files(cwd: Path) -> list[str]:
    """The workspace's files, relative, hidden and vendored directories left out (at most `MAX_WALK`)."""
    found: list[str] = []
    for top, dirs, files in os.walk(cwd, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if name.startswith(".") and name not in (".env.example",):
                continue
            found.append(Path(top, name).relative_to(cwd).as_posix())
            if len(found) >= MAX_WALK:
                return found
    return found


def named_files(prompt: str, files: list[str]) -> list[str]:
    """The workspace files `prompt` names (exact relative paths, or a bare name that only one file has)."""
    by_name: dict[str, list[str]] = {}
    for rel in files:
        by_name.setdefault(PurePosixPath(rel).name, []).append(rel)
    present = set(files)
    named: list[str] = []
    for match in _PATH_TOKEN.finditer(prompt):
        candidate = clean_path(match.group(0).rstrip("."))
        if candidate is None:
            continue
        if candidate in present:
            rel = candidate
        elif len(by_name.get(PurePosixPath(candidate).name, ())) == 1 and "/" not in candidate:
            rel = by_name[candidate][0]
        else:
            continue
        if rel not in named:
            named.append(rel)
    return named


def quoted_names(prompt: str) -> list[str]:
    """The identifiers `prompt` quotes in backticks (`calc_total`, `Cart.add()` gives `add`)."""
    names: list[str] = []
    for match in _QUOTED_NAME.finditer(prompt):
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def files_using(names: list[str], cwd: Path, files: list[str], skip: list[str]) -> list[str]:
    """The text files among `files` (not in `skip`) in which one of `names` appears as a word."""
    if not names:
        return []
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in names) + r")\b")
    using = []
    for rel in files:
        if rel in skip or PurePosixPath(rel).suffix not in LANGUAGES:
            continue
        text = file_text(cwd, rel)
        if text is not None and pattern.search(text):
            using.append(rel)
    return using


def attachment(prompt: str, cwd: Path, *, budget_bytes: int,
               files: list[str] | None = None) -> tuple[str, dict[str, str]] | None:
    """The message that shows the task's files (see the module docstring) and those files' texts, or None
    when there are none. `files`: the workspace's (`workspace_files`), when the caller has them."""
    files = workspace_files(cwd) if files is None else files
    named = named_files(prompt, files)
    chosen = [*named, *files_using(quoted_names(prompt), cwd, files, named)]
    texts = {rel: file_text(cwd, rel) for rel in files} if len(files) <= MAX_FILES else {}
    if texts and all(text is not None for text in texts.values()) \
            and sum(len(text.encode()) for text in texts.values() if text is not None) <= budget_bytes:
        chosen += [rel for rel in files if rel not in chosen]  # a workspace this small is shown whole
    blocks: list[str] = []
    shown: dict[str, str] = {}
    left = budget_bytes
    for rel in chosen:
        if len(shown) >= MAX_FILES:
            break
        text = texts[rel] if rel in texts else file_text(cwd, rel)
        if text is None or len(text.encode()) > left:
            continue
        fence = fence_for(text)
        language = LANGUAGES.get(PurePosixPath(rel).suffix, "")
        blocks.append(f"{rel}\n{fence}{language}\n{text.rstrip(chr(10))}\n{fence}")
        shown[rel] = text
        left -= len(text.encode())
    if not shown:
        return None
    others = [rel for rel in files if rel not in shown][:MAX_LISTED]
    parts = ["The files this task is about, as they are now:", *blocks]
    if others:
        more = len(files) - len(shown) - len(others)
        parts.append("Other files in the workspace: " + ", ".join(others) + (f" and {more} more" if more > 0 else ""))
    return "\n\n".join(parts), shown
