"""apply_patch and extra writable roots (`--add-dir`, `sandbox_workspace_write.writable_roots`), via the CLI.

In workspace-write a patch may write inside the workspace or any extra writable root (absolute paths, or
relative paths that resolve there), never in their protected subpaths, and never anywhere else; read-only
refuses every patch.
"""

from __future__ import annotations

from pathlib import Path

from fakes.fake_ollama import Turn


def _patch(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"])


def _replies(fake) -> list[str]:
    return [m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"]


def test_patches_may_write_in_an_added_directory(ocodex, fake, repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "old.txt").write_text("one\n")
    fake.script(Turn.tool_call("apply_patch", {"input": _patch(f"*** Add File: {extra}/sub/new.txt", "+new",
                                                               "*** Update File: ../extra/old.txt", "@@",
                                                               "-one", "+two", "*** Add File: here.txt", "+h")}),
                Turn.text("done"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--add-dir", str(extra), "edit both")
    assert run.returncode == 0, run.stderr
    assert (extra / "sub/new.txt").read_text() == "new\n"
    assert (extra / "old.txt").read_text() == "two\n"
    assert (repo / "here.txt").read_text() == "h\n"
    paths = {Path(c["path"]).resolve() for c in run.items("file_change")[0]["changes"]}
    assert paths == {(extra / "sub/new.txt").resolve(), (extra / "old.txt").resolve(),
                     (repo / "here.txt").resolve()}
    reply = _replies(fake)[0]
    assert f"A {extra}/sub/new.txt" in reply and f"M {extra}/old.txt" in reply and "A here.txt" in reply


def test_writable_roots_from_config_work_too(ocodex, fake, repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    fake.script(Turn.tool_call("apply_patch", {"input": _patch(f"*** Add File: {extra}/c.txt", "+c")}),
                Turn.text("done"))
    run = ocodex("exec", "--oss", "--full-auto", "--json",
                 "-c", f'sandbox_workspace_write.writable_roots=["{extra}"]', "write it")
    assert run.returncode == 0, run.stderr
    assert (extra / "c.txt").read_text() == "c\n"


def test_everything_outside_the_writable_roots_is_still_refused(ocodex, fake, repo: Path,
                                                                tmp_path: Path) -> None:
    extra, other = tmp_path / "extra", tmp_path / "other"
    extra.mkdir()
    other.mkdir()
    (extra / ".git").mkdir()
    (extra / "link").symlink_to(other)
    patches = [
        _patch(f"*** Add File: {extra}/ok.txt", "+ok", f"*** Add File: {other}/x.txt", "+x"),  # all or nothing
        _patch("*** Add File: ../other/x.txt", "+x"),
        _patch(f"*** Add File: {extra}/link/x.txt", "+x"),  # a symlink out of the root
        _patch(f"*** Add File: {extra}/.git/config", "+x"),
    ]
    fake.script(*[Turn.tool_call("apply_patch", {"input": p}) for p in patches], Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--add-dir", str(extra), "try")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in extra.iterdir()) == [".git", "link"] and list(other.iterdir()) == []
    assert list((extra / ".git").iterdir()) == [] and run.items("file_change") == []
    replies = _replies(fake)
    assert all("No files were changed" in r for r in replies), replies
    assert [("escapes the workspace" in r) for r in replies] == [True, True, True, False]
    assert f"{extra}/.git/config is read-only in the workspace-write sandbox" in replies[3]


def test_an_added_directory_is_not_writable_without_the_flag_or_in_read_only(ocodex, fake, repo: Path,
                                                                             tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    patch = _patch(f"*** Add File: {extra}/x.txt", "+x")
    fake.script(Turn.tool_call("apply_patch", {"input": patch}), Turn.text("ok"),
                Turn.tool_call("apply_patch", {"input": patch}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "write it")
    assert run.returncode == 0, run.stderr
    assert "Path escapes the workspace" in _replies(fake)[0]
    run = ocodex("exec", "--oss", "--sandbox", "read-only", "--json", "--add-dir", str(extra), "write it")
    assert run.returncode == 0, run.stderr
    assert "the sandbox is read-only" in _replies(fake)[0]
    assert list(extra.iterdir()) == []


def test_a_shell_patch_may_run_from_an_added_directory(ocodex, fake, repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    script = f"cd {extra} && apply_patch <<'EOF'\n{_patch('*** Add File: s.txt', '+s')}\nEOF"
    fake.script(Turn.tool_call("shell", {"command": ["bash", "-lc", script]}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--add-dir", str(extra), "write it")
    assert run.returncode == 0, run.stderr
    assert (extra / "s.txt").read_text() == "s\n"
