"""Protected paths at any depth and in any spelling (issue 10, item 4): one rule (ocodex.sandbox.protected)
for the shell sandbox and for apply_patch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocodex.errors import SandboxUnavailable
from ocodex.events import ItemIds
from ocodex.sandbox import SandboxPolicy, run_command
from ocodex.sandbox.protected import PROTECTED_NAMES, ProtectionUnknown, is_protected_name, scan
from ocodex.tools.apply_patch import run_patch
from ocodex.tools.base import ToolContext
from ocodex.tools.env import tool_env
from test_sandbox import needs_bwrap


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for hooks in ("vendor/lib/.git/hooks", "deep/a/b/c/d/e/.git/hooks", ".git/hooks"):
        (root / hooks).mkdir(parents=True)
    (root / "nested" / ".codex").mkdir(parents=True)
    (root / "nested" / ".GIT").mkdir()
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("x = 1\n")
    # A worktree-style `.git` file pointing at a git directory elsewhere in the workspace.
    (root / "store" / "hooks").mkdir(parents=True)
    (root / "wt").mkdir()
    (root / "wt" / ".git").write_text("gitdir: ../store\n")
    return root


# ---- the rule ----------------------------------------------------------------------------------


@given(st.sampled_from(PROTECTED_NAMES), st.lists(st.booleans(), min_size=8, max_size=8),
       st.sampled_from(["", ".", " ", ". ", "..", "\u200c"]))
def test_every_spelling_of_a_protected_name_is_protected(name: str, upper: list[bool], tail: str) -> None:
    spelled = "".join(c.upper() if flip else c for c, flip in zip(name, upper, strict=False)) + tail
    assert is_protected_name(spelled)
    assert is_protected_name(name[:2] + "\u200c" + name[2:])  # HFS+ ignores zero-width joiners


@pytest.mark.parametrize("name", ["git", ".gitignore", ".github", ".git-blame-ignore-revs", "x.git", ".awsx",
                                  ".codex-notes", ".agentsrc", ""])
def test_other_names_are_not(name: str) -> None:
    assert not is_protected_name(name)


def test_the_scan_finds_nested_entries_and_gitdir_targets(ws: Path) -> None:
    protection = scan([ws])
    real = ws.resolve()
    assert protection.existing == sorted([real / ".git", real / "nested" / ".GIT", real / "nested" / ".codex",
                                          real / "store", real / "vendor" / "lib" / ".git", real / "wt" / ".git",
                                          real / "deep/a/b/c/d/e/.git"], key=lambda p: (len(p.parts), p))
    for path in ("vendor/lib/.git/hooks/pre-commit", "nested/.GIT/config", "a/new/.Git/x", "store/hooks/x",
                 "src/.aws/credentials", "wt/.git"):
        assert protection.covers(ws / path), path
    for path in ("src/app.py", "vendor/lib/code.py", ".gitignore", "newdir/file"):
        assert not protection.covers(ws / path), path


def test_a_link_to_a_protected_directory_is_covered(ws: Path) -> None:
    (ws / "hooks-link").symlink_to(ws / "vendor" / "lib" / ".git" / "hooks")
    assert scan([ws]).covers(ws / "hooks-link" / "pre-commit")


def test_a_tree_too_big_to_check_fails_closed(ws: Path) -> None:
    with pytest.raises(ProtectionUnknown, match="too many to check"):
        scan([ws], max_entries=5)


def test_the_scan_is_cheap_once_the_tree_is_known(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(200):
        d = root / f"pkg{i}" / "sub"
        d.mkdir(parents=True)
        for j in range(10):
            (d / f"f{j}.py").write_text("")
    (root / "pkg7" / "sub" / ".git").mkdir()
    first = scan([root])
    assert first.existing == [(root / "pkg7" / "sub" / ".git").resolve()]
    (root / "pkg9" / "sub" / ".git").mkdir()  # a new one: its directory's mtime changed
    assert len(scan([root]).existing) == 2


# ---- the shell sandbox -------------------------------------------------------------------------


@needs_bwrap
def test_shell_cannot_write_nested_or_differently_spelled_protected_dirs(ws: Path) -> None:
    policy = SandboxPolicy("workspace-write", ws, include_tmp=False)
    targets = ["vendor/lib/.git/hooks/pre-commit", "deep/a/b/c/d/e/.git/hooks/pre-commit", "nested/.GIT/hooks",
               "nested/.codex/config.toml", "store/hooks/pre-commit", "wt/.git", ".git/hooks/pre-commit"]
    script = "; ".join(f"echo owned > {t} 2>/dev/null && echo WROTE {t}" for t in targets) + "; echo ok > src/ok.txt"
    result = run_command(["bash", "-c", script], cwd=ws, policy=policy, timeout_s=30, env=tool_env(policy=policy))
    assert "WROTE" not in result.output, result.output
    assert (ws / "src" / "ok.txt").read_text() == "ok\n"
    assert (ws / "wt" / ".git").read_text() == "gitdir: ../store\n"
    assert not any((ws / t).is_file() for t in targets[:-2] if not t.startswith("wt"))


@needs_bwrap
def test_a_nested_repository_hook_planted_by_shell_never_runs_at_the_next_commit(ws: Path) -> None:
    lib = ws / "vendor" / "lib"
    subprocess.run(["git", "init", "-q", str(lib)], check=True)  # a real repository this time
    policy = SandboxPolicy("workspace-write", ws, include_tmp=False)
    hook = "vendor/lib/.git/hooks/pre-commit"
    script = f"printf '#!/bin/sh\\ntouch \"$0.ran\"\\n' > {hook}; chmod +x {hook}"
    run_command(["bash", "-c", script], cwd=ws, policy=policy, timeout_s=30, env=tool_env(policy=policy))
    assert not (lib / ".git" / "hooks" / "pre-commit").exists()


@needs_bwrap
def test_a_workspace_too_big_to_check_refuses_the_command(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocodex.sandbox import protected

    monkeypatch.setattr(protected, "MAX_WALK_ENTRIES", 5)
    policy = SandboxPolicy("workspace-write", ws, include_tmp=False)
    with pytest.raises(SandboxUnavailable, match=r"too many to check for nested \.git directories"):
        run_command(["true"], cwd=ws, policy=policy, timeout_s=10)


# ---- apply_patch -------------------------------------------------------------------------------


def patch_ctx(ws: Path) -> ToolContext:
    return ToolContext(cwd=ws, policy=SandboxPolicy("workspace-write", ws), emit=lambda e: None, ids=ItemIds())


@pytest.mark.parametrize("target", ["vendor/lib/.git/hooks/pre-commit", "nested/.GIT/hooks/post-checkout",
                                    "brand/new/.Git/hooks/pre-commit", "src/.AWS/credentials",
                                    "store/hooks/pre-commit", ".g\u200cit/hooks/pre-commit", ".git./config",
                                    "wt/.git"])
def test_apply_patch_refuses_protected_targets_at_any_depth_and_spelling(ws: Path, target: str) -> None:
    patch = f"*** Begin Patch\n*** Add File: {target}\n+#!/bin/sh\n*** End Patch\n"
    result = run_patch(patch, ws, patch_ctx(ws))
    assert not result.success
    assert "is read-only in the workspace-write sandbox" in result.output and "No files were changed" in result.output
    assert target in result.output
    assert not (ws / target).is_file() or target == "wt/.git"


def test_apply_patch_refuses_a_move_into_a_nested_git(ws: Path) -> None:
    patch = ("*** Begin Patch\n*** Update File: src/app.py\n*** Move to: vendor/lib/.git/hooks/pre-commit\n@@\n"
             "-x = 1\n+x = 2\n*** End Patch\n")
    result = run_patch(patch, ws, patch_ctx(ws))
    assert not result.success and "vendor/lib/.git/hooks/pre-commit is read-only" in result.output
    assert (ws / "src" / "app.py").read_text() == "x = 1\n"


def test_apply_patch_still_edits_ordinary_files_next_to_them(ws: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: vendor/lib/code.py\n+ok\n*** Add File: .gitignore\n+*.pyc\n*** End Patch\n"
    result = run_patch(patch, ws, patch_ctx(ws))
    assert result.success, result.output
    assert (ws / "vendor" / "lib" / "code.py").read_text() == "ok\n"


@needs_bwrap
def test_more_protected_directories_than_bubblewrap_can_rebind_refuses_the_command(
        ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocodex.sandbox import bwrap

    monkeypatch.setattr(bwrap, "MAX_PROTECTED_MOUNTS", 3)
    policy = SandboxPolicy("workspace-write", ws, include_tmp=False)
    with pytest.raises(SandboxUnavailable) as caught:
        run_command(["true"], cwd=ws, policy=policy, timeout_s=10)
    assert "hold 7 .git (and other protected) directories, more than the 3" in caught.value.message
    assert f"most under {ws.resolve()}" in caught.value.message
    assert "remove that directory from the writable roots" in (caught.value.hint or "")


# ---- shared temp roots -------------------------------------------------------------------------


def test_a_shared_temp_root_is_walked_near_its_top_only(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    (temp / "clone" / ".git").mkdir(parents=True)  # someone's repository in /tmp: protected
    (temp / "a" / "b" / ".git").mkdir(parents=True)  # TEMP_ROOT_DEPTH levels down: still found
    (temp / "pytest-of-root" / "pytest-1" / "test_x0" / "repo" / ".git").mkdir(parents=True)  # a throwaway one
    real = temp.resolve()
    found = scan([temp], shallow=[temp]).existing
    assert found == [real / "clone" / ".git", real / "a" / "b" / ".git"]
    assert len(scan([temp]).existing) == 3  # without `shallow`: any depth


def test_a_workspace_inside_a_temp_root_is_still_walked_to_any_depth(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    ws = temp / "p" / "q" / "r" / "ws"
    (ws / "vendor" / "lib" / "deep" / ".git").mkdir(parents=True)
    (temp / "x" / "y" / "z" / "w" / ".git").mkdir(parents=True)
    found = scan([ws, temp], shallow=[temp]).existing
    assert found == [(ws / "vendor" / "lib" / "deep" / ".git").resolve()]


def test_the_policy_names_its_temp_roots_but_never_the_workspace(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert SandboxPolicy("workspace-write", tmp_path / "ws").temp_roots() == [Path("/tmp").resolve(),
                                                                             tmp_path.resolve()]
    assert SandboxPolicy("workspace-write", tmp_path).temp_roots() == [Path("/tmp").resolve()]
    assert SandboxPolicy("workspace-write", tmp_path, include_tmp=False).temp_roots() == []
    assert SandboxPolicy("read-only", tmp_path).temp_roots() == []
