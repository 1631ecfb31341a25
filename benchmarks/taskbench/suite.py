"""The task suite: loading tasks from benchmarks/tasks/, making a fresh git repo of one, and scoring it.

A task is a directory: `task.toml` (`kind`, optionally `timeout` in seconds), `prompt.md` (what the user
asks), `repo/` (the files of the repository the model works in), `check/` (the scoring tests, named
`test_check_*.py`, placed at the repository root) and `solution/` (a reference change, overlaid on `repo/`;
the self-check proves that it passes and that the untouched repo fails).

Scoring never trusts the workspace: it builds a fresh tree from the workspace's regular files (no symlinks,
no `.git`, no caches), restores the repo's original test files, adds the check tests, and runs only the check
tests with pytest (`--noconftest`, an ini file of our own) in ocodex's workspace-write sandbox.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ocodex.sandbox import SandboxPolicy, run_command

TASKS_DIR = Path(__file__).resolve().parents[1] / "tasks"
KINDS = ("spec", "bugfix", "multi", "cli", "rename", "traceback")
KIND_TITLES = {"spec": "implement from a spec file", "bugfix": "fix a bug a failing test shows",
               "multi": "a change across two or three files", "cli": "add a CLI option",
               "rename": "rename a function and its callers", "traceback": "fix the traceback in the prompt"}
# --quick: one task of each kind, always the same ones.
QUICK = ("spec_duration", "fix_mean", "multi_shipping", "cli_reverse", "rename_total", "tb_keyerror")
SKIPPED_DIRS = frozenset({".git", "__pycache__", ".pytest_cache"})
MAX_FILE_BYTES = 1024 * 1024  # larger workspace files are not copied into the scoring tree
CHECK_TIMEOUT_S = 60.0
PYTEST_INI = ".bench-pytest.ini"
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
           "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z"}


class TaskError(Exception):
    """A task directory that is not usable, or a task selection that names no task."""


@dataclass(frozen=True)
class Task:
    id: str
    kind: str
    prompt: str
    root: Path
    timeout: float | None

    def files(self, part: str) -> dict[str, bytes]:
        """The files under `part` (repo, check or solution), by relative POSIX path."""
        base = self.root / part
        found: dict[str, bytes] = {}
        if not base.is_dir():
            return found
        for path in sorted(base.rglob("*")):
            if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(base).parts):
                found[path.relative_to(base).as_posix()] = path.read_bytes()
        return found


def load_task(root: Path) -> Task:
    name = root.name
    try:
        meta = tomllib.loads((root / "task.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TaskError(f"task {name}: cannot read task.toml: {exc}") from None
    unknown = set(meta) - {"kind", "timeout"}
    if unknown:
        raise TaskError(f"task {name}: unknown keys in task.toml: {', '.join(sorted(unknown))}")
    kind = meta.get("kind")
    if kind not in KINDS:
        raise TaskError(f"task {name}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    timeout = meta.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise TaskError(f"task {name}: timeout must be a positive number of seconds")
    prompt_path = root / "prompt.md"
    prompt = prompt_path.read_text().strip() if prompt_path.is_file() else ""
    if not prompt:
        raise TaskError(f"task {name}: prompt.md is missing or empty")
    task = Task(name, kind, prompt, root, float(timeout) if timeout is not None else None)
    if not task.files("repo"):
        raise TaskError(f"task {name}: repo/ holds no files")
    checks = task.files("check")
    if not checks or not all(Path(p).name.startswith("test_check_") and "/" not in p for p in checks):
        raise TaskError(f"task {name}: check/ must hold test_check_*.py files (and nothing else)")
    return task


def load_tasks(directory: Path = TASKS_DIR) -> list[Task]:
    return [load_task(path) for path in sorted(directory.iterdir()) if path.is_dir()]


def select(tasks: list[Task], *, quick: bool = False, names: str | None = None) -> list[Task]:
    """All tasks, the --quick subset, or the comma-separated `names` (in the order given)."""
    by_id = {task.id: task for task in tasks}
    if names:
        wanted = [name.strip() for name in names.split(",") if name.strip()]
        missing = [name for name in wanted if name not in by_id]
        if missing:
            raise TaskError(f"no task named {', '.join(missing)}; the tasks are: {', '.join(by_id)}")
        return [by_id[name] for name in wanted]
    if quick:
        return [by_id[name] for name in QUICK]
    return tasks


# ---- workspaces ---------------------------------------------------------------------------------


def reset_dir(path: Path) -> Path:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def make_repo(task: Task, path: Path, *, overlay: dict[str, bytes] | None = None) -> Path:
    """A fresh git repository at `path` holding the task's repo files (plus `overlay`), one commit."""
    reset_dir(path)
    write_tree(path, {**task.files("repo"), **(overlay or {})})
    env = {**os.environ, **GIT_ENV}
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                 ["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "start"]):
        subprocess.run(argv, cwd=path, env=env, check=True, capture_output=True)
    return path


def read_workspace(path: Path) -> dict[str, bytes]:
    """The workspace's regular files (symlinks, `.git` and caches left out), by relative POSIX path."""
    found: dict[str, bytes] = {}
    for top, dirs, files in os.walk(path, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not os.path.islink(os.path.join(top, d)))
        for name in sorted(files):
            full = os.path.join(top, name)
            try:
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue  # a symlink or something unreadable: not part of any solution
            with os.fdopen(fd, "rb") as handle:
                if not os.path.isfile(full) or os.fstat(handle.fileno()).st_size > MAX_FILE_BYTES:
                    continue
                data = handle.read()
            found[Path(os.path.relpath(full, path)).as_posix()] = data
    return found


def changes(original: dict[str, bytes], now: dict[str, bytes]) -> dict[str, str]:
    """Which files were added, modified or deleted."""
    result = {path: "deleted" for path in original if path not in now}
    for path, data in now.items():
        if path not in original:
            result[path] = "added"
        elif original[path] != data:
            result[path] = "modified"
    return dict(sorted(result.items()))


def unified_diff(original: dict[str, bytes], now: dict[str, bytes]) -> str:
    out: list[str] = []
    for path, kind in changes(original, now).items():
        before = original.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        after = now.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        out.extend(difflib.unified_diff(before, after, f"a/{path}" if kind != "added" else "/dev/null",
                                        f"b/{path}" if kind != "deleted" else "/dev/null"))
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def _is_test_file(path: str) -> bool:
    name = Path(path).name
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))


# ---- scoring ------------------------------------------------------------------------------------


@dataclass
class Check:
    passed: bool
    output: str
    timed_out: bool = False


def tool_env(home: Path | None = None) -> dict[str, str]:
    """The environment for commands: this interpreter's bin directory first on PATH, no model-server variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OCODEX_", "OPENAI_", "OLLAMA_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NO_COLOR"] = "1"
    if home is not None:
        env["HOME"] = str(home)
    return env


def score(task: Task, workspace_files: dict[str, bytes], tree: Path) -> Check:
    """Run the task's check tests on `workspace_files`, with the original tests restored, in a fresh `tree`."""
    original = task.files("repo")
    files = {path: data for path, data in workspace_files.items()
             if not _is_test_file(path) and Path(path).name != PYTEST_INI}
    files.update({path: data for path, data in original.items() if _is_test_file(path)})
    checks = task.files("check")
    files.update(checks)
    files[PYTEST_INI] = b"[pytest]\n"
    reset_dir(tree)
    write_tree(tree, files)
    # -P: the tree's own files (a stray pytest.py) cannot shadow pytest; pytest itself puts the root on sys.path.
    argv = [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest", "-c", PYTEST_INI,
            "--rootdir", ".", *sorted(checks)]
    policy = SandboxPolicy(mode="workspace-write", cwd=tree)
    result = run_command(argv, cwd=tree, policy=policy, timeout_s=CHECK_TIMEOUT_S, env=tool_env(tree))
    return Check(result.exit_code == 0, result.output, result.timed_out)


def self_check(task: Task, scratch: Path) -> list[str]:
    """Problems with `task`: its checks must fail on the untouched repo and pass with the reference solution."""
    problems = []
    solution = task.files("solution")
    if not solution:
        problems.append("solution/ is empty")
    untouched = score(task, task.files("repo"), scratch / "score")
    if untouched.passed:
        problems.append("the check passes on the untouched repo")
    solved = score(task, {**task.files("repo"), **solution}, scratch / "score")
    if not solved.passed:
        tail = "\n".join(solved.output.strip().splitlines()[-15:])
        problems.append(f"the check fails with the reference solution:\n{tail}")
    return problems
