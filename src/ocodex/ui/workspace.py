"""The workspace as git sees it, for `/diff`, `/review` and the trust question in a folder without git.

`changes` is the working tree against HEAD (or, before the first commit, everything staged and not),
with untracked files (those `.gitignore` does not exclude) shown as new files, so what the model added
is there too. git runs with the user's own configuration but never a pager, external diff or colour.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ocodex.files import read_regular

MAX_UNTRACKED_BYTES = 256 * 1024  # of one untracked file shown in full
_GIT_ENV = {"GIT_PAGER": "cat", "GIT_EXTERNAL_DIFF": "", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


class NotARepository(Exception):
    """The folder is not in a git repository (or git is missing)."""


def in_git_repo(path: Path) -> bool:
    return any((directory / ".git").exists() for directory in (path, *path.parents))


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    try:
        done = subprocess.run(["git", "--no-pager", "-c", "color.ui=false", "-c", "core.quotePath=false", *args],
                              cwd=cwd, capture_output=True, env={**os.environ, **_GIT_ENV}, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotARepository(f"git could not run: {exc}") from None
    if check and done.returncode != 0:
        raise NotARepository(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0]
                             if done.stderr.strip() else f"git {args[0]} failed")
    return done.stdout.decode("utf-8", "replace")


def changes(cwd: Path) -> str:
    """The working tree's changes as one unified diff, untracked files included ("" when clean)."""
    _git(cwd, "rev-parse", "--is-inside-work-tree")
    has_head = bool(_git(cwd, "rev-parse", "--verify", "-q", "HEAD", check=False).strip())
    if has_head:
        tracked = _git(cwd, "diff", "--no-ext-diff", "HEAD", "--")
    else:
        tracked = _git(cwd, "diff", "--no-ext-diff", "--cached", "--") + _git(cwd, "diff", "--no-ext-diff", "--")
    untracked = [name for name in _git(cwd, "ls-files", "--others", "--exclude-standard", "-z").split("\0") if name]
    parts = [tracked] if tracked else []
    for name in untracked:
        parts.append(_new_file(cwd, name))
    return "".join(parts)


def _new_file(cwd: Path, name: str) -> str:
    header = f"diff --git a/{name} b/{name}\nnew file mode 100644\n--- /dev/null\n+++ b/{name}\n"
    try:
        data = read_regular(cwd / name, MAX_UNTRACKED_BYTES + 1)
    except OSError:
        return f"diff --git a/{name} b/{name}\nnew file mode 100644\n(not a regular file)\n"
    if b"\x00" in data[:8192]:
        return f"diff --git a/{name} b/{name}\nnew file mode 100644\nBinary files /dev/null and b/{name} differ\n"
    text = data[:MAX_UNTRACKED_BYTES].decode("utf-8", "replace")
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    if len(data) > MAX_UNTRACKED_BYTES:
        body += f"+[... cut at {MAX_UNTRACKED_BYTES // 1024} KiB]\n"
    return header + (f"@@ -0,0 +1,{len(lines)} @@\n" + body if lines else "")
