"""Tests for the sandbox policy, the bubblewrap wrapper and the command runner (ocodex.sandbox).

The enforcement tests really run bubblewrap; they are skipped (with the reason) only on hosts where
bwrap is missing or cannot create namespaces, unless OCODEX_REQUIRE_BWRAP is set (as CI should), which
turns that into an error. Network tests only ever touch 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocodex import sandbox
from ocodex.errors import SandboxUnavailable
from ocodex.sandbox import (
    SandboxPolicy,
    build_argv,
    check_available,
    clear_availability_cache,
    looks_sandbox_denied,
    run_command,
)


def _bwrap_problem() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxing is Linux-only (this is {sys.platform})"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap is not installed"
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
             "--unshare-net", "--", "true"]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
    return None if done.returncode == 0 else f"bwrap cannot create a sandbox here: {done.stderr.strip()}"


BWRAP_PROBLEM = _bwrap_problem()
if BWRAP_PROBLEM is not None and os.environ.get("OCODEX_REQUIRE_BWRAP"):
    raise RuntimeError(f"OCODEX_REQUIRE_BWRAP is set but {BWRAP_PROBLEM}")
needs_bwrap = pytest.mark.skipif(BWRAP_PROBLEM is not None, reason=BWRAP_PROBLEM or "")


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_availability_cache()
    yield
    clear_availability_cache()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "data.txt").write_text("hello from the workspace\n")
    return ws


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def run(script: str, policy: SandboxPolicy, *, timeout_s: float = 10, **kwargs: object) -> sandbox.ExecResult:
    return run_command(sh(script), cwd=policy.cwd, policy=policy, timeout_s=timeout_s, **kwargs)  # type: ignore[arg-type]


def is_alive(pid: int) -> bool:
    """True unless the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def pids_running(needle: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes() and is_alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until(condition: object, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(condition())  # type: ignore[operator]


# ---- policy ------------------------------------------------------------------------------------


def test_writable_roots_per_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "extra"
    monkeypatch.delenv("TMPDIR", raising=False)
    assert SandboxPolicy("read-only", tmp_path, [extra]).writable() == []
    assert SandboxPolicy("danger-full-access", tmp_path).writable() == []
    policy = SandboxPolicy("workspace-write", tmp_path, [extra])
    assert policy.writable() == [tmp_path.resolve(), extra.resolve(), Path("/tmp").resolve()]
    assert SandboxPolicy("workspace-write", tmp_path, include_tmp=False).writable() == [tmp_path.resolve()]


def test_writable_includes_tmpdir_and_resolves_symlinks(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmpdir"))
    roots = SandboxPolicy("workspace-write", link, [real]).writable()
    assert roots == [real.resolve(), Path("/tmp").resolve(), (tmp_path / "tmpdir").resolve()]
    # Codex's exclude_slash_tmp / exclude_tmpdir_env_var
    assert SandboxPolicy("workspace-write", real, include_tmpdir=False).writable() == [real.resolve(),
                                                                                       Path("/tmp").resolve()]


@needs_bwrap
def test_exclude_slash_tmp_reaches_the_sandbox(ocodex, fake, repo: Path) -> None:
    from fakes.fake_ollama import Turn

    marker = Path("/tmp") / f"ocodex-excluded-{uuid.uuid4().hex}"
    fake.script(Turn.tool_call("shell", {"command": f"touch {marker}"}), Turn.text("done"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                 "touch it")
    assert run.returncode == 0, run.stderr
    assert not marker.exists() and "Read-only file system" in run.items("command_execution")[0]["aggregated_output"]


def test_describe_mentions_mode_roots_and_network(tmp_path: Path) -> None:
    read_only = SandboxPolicy("read-only", tmp_path).describe()
    assert "`read-only`" in read_only and "only permits reading files" in read_only
    assert "Network access is restricted." in read_only
    write = SandboxPolicy("workspace-write", tmp_path, network_access=True).describe()
    assert f"`{tmp_path.resolve()}`" in write and "`/tmp`" in write
    assert "Network access is enabled." in write and "`.git`" in write
    full = SandboxPolicy("danger-full-access", tmp_path).describe()
    assert "No filesystem sandboxing - all commands are permitted. Network access is enabled." in full


# ---- wrapping ----------------------------------------------------------------------------------


def test_danger_full_access_runs_the_argv_unchanged(tmp_path: Path) -> None:
    assert build_argv(["echo", "hi"], SandboxPolicy("danger-full-access", tmp_path)) == ["echo", "hi"]


def test_bwrap_argv_for_workspace_write(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    (workspace / ".git").mkdir()
    ws = str(workspace.resolve())
    argv = build_argv(["ls"], SandboxPolicy("workspace-write", workspace, include_tmp=False))
    joined = " ".join(argv)
    assert f"--bind {ws} {ws}" in joined
    assert f"--ro-bind-try {ws}/.git {ws}/.git" in joined
    assert joined.index("--bind") < joined.index(f"--ro-bind-try {ws}/.git")
    assert "--unshare-net" in argv and "--unshare-pid" in argv and "--die-with-parent" in argv
    assert argv[-2:] == ["--", "ls"] and argv[argv.index("--chdir") + 1] == ws
    with_net = build_argv(["ls"], SandboxPolicy("workspace-write", workspace, network_access=True))
    assert "--unshare-net" not in with_net


def test_bwrap_argv_for_read_only_binds_nothing_writable(workspace: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    argv = build_argv(["ls"], SandboxPolicy("read-only", workspace))
    assert "--bind" not in argv
    # The only writable place is the per-command scratch tmpfs (the tools' HOME and TMPDIR).
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "--tmpfs"] == [str(sandbox.scratch_home().parent)]
    assert argv[argv.index("--ro-bind"):argv.index("--ro-bind") + 3] == ["--ro-bind", "/", "/"]


def test_seatbelt_argv_on_macos(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    (workspace / ".git").mkdir()
    ws = workspace.resolve()
    argv = build_argv(["ls"], SandboxPolicy("workspace-write", workspace, include_tmp=False))
    assert argv[:2] == [sandbox.SEATBELT_EXECUTABLE, "-p"]
    profile = argv[2]
    assert "(deny default)" in profile and "(allow file-write*" in profile
    assert "network-outbound" not in profile
    assert f"-DWRITABLE_ROOT_0={ws}" in argv and f"-DWRITABLE_ROOT_0_RO_0={ws / '.git'}" in argv
    assert argv[-2:] == ["--", "ls"]
    read_only = build_argv(["ls"], SandboxPolicy("read-only", workspace, network_access=True))
    assert "(allow file-write*" not in read_only[2] and "(allow network-outbound)" in read_only[2]


# ---- availability ------------------------------------------------------------------------------


def test_check_available_without_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    policy = SandboxPolicy("workspace-write", tmp_path)
    with pytest.raises(SandboxUnavailable) as caught:
        check_available(policy)
    assert str(caught.value) == "sandbox mode 'workspace-write' needs bubblewrap, which is not installed"
    assert caught.value.hint is not None
    assert "apt-get install bubblewrap" in caught.value.hint
    assert "--sandbox danger-full-access" in caught.value.hint
    with pytest.raises(SandboxUnavailable, match="'read-only'"):
        run_command(["true"], cwd=tmp_path, policy=SandboxPolicy("read-only", tmp_path), timeout_s=5)
    check_available(SandboxPolicy("danger-full-access", tmp_path))


def test_check_available_when_namespaces_are_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    real_which = shutil.which
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: str(fake) if name == "bwrap" else real_which(name))
    with pytest.raises(SandboxUnavailable) as caught:
        check_available(SandboxPolicy("read-only", tmp_path))
    assert "cannot create a sandbox here: bwrap: No permissions to create new namespace" in str(caught.value)
    assert caught.value.hint is not None and "danger-full-access" in caught.value.hint


def test_unsupported_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(SandboxUnavailable, match="not supported on win32"):
        check_available(SandboxPolicy("read-only", tmp_path))


@needs_bwrap
def test_check_available_passes_with_working_bwrap(tmp_path: Path) -> None:
    for mode in ("workspace-write", "read-only"):
        policy = SandboxPolicy(mode, tmp_path)
        check_available(policy)  # raises SandboxUnavailable when it cannot confine a command
        assert os.path.basename(build_argv(["true"], policy)[0]) == "bwrap"
        assert run_command(["true"], cwd=tmp_path, policy=policy, timeout_s=30).exit_code == 0


# ---- enforcement -------------------------------------------------------------------------------


@needs_bwrap
def test_read_only_allows_reading_but_blocks_writes(workspace: Path) -> None:
    result = run("cat data.txt; echo x > new.txt", SandboxPolicy("read-only", workspace))
    assert "hello from the workspace" in result.output
    assert "Read-only file system" in result.output
    assert result.exit_code != 0 and result.sandbox_denied
    assert not (workspace / "new.txt").exists()


@needs_bwrap
def test_read_only_cannot_write_to_tmp_but_sees_it(workspace: Path) -> None:
    scratch = Path("/tmp") / f"ocodex-test-{uuid.uuid4().hex}"
    visible = Path("/tmp") / f"ocodex-test-{uuid.uuid4().hex}"
    visible.write_text("seen\n")
    try:
        result = run(f"cat {visible} && echo scratch > {scratch}", SandboxPolicy("read-only", workspace))
        assert result.exit_code != 0 and result.output.startswith("seen\n") and result.sandbox_denied
        assert not scratch.exists()
    finally:
        visible.unlink()


@needs_bwrap
def test_workspace_write_allows_cwd_extra_roots_and_tmp(workspace: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    scratch = Path("/tmp") / f"ocodex-test-{uuid.uuid4().hex}"
    try:
        result = run(f"echo a > out.txt && echo b > {extra}/e.txt && echo c > {scratch}",
                     SandboxPolicy("workspace-write", workspace, [extra]))
        assert result.exit_code == 0, result.output
        assert (workspace / "out.txt").read_text() == "a\n"
        assert (extra / "e.txt").read_text() == "b\n"
        assert scratch.read_text() == "c\n"
    finally:
        scratch.unlink(missing_ok=True)


@needs_bwrap
def test_workspace_write_refuses_writes_outside_the_roots(workspace: Path, tmp_path: Path) -> None:
    # Without /tmp and $TMPDIR as roots, a sibling of the workspace is outside every writable root.
    outside = tmp_path / "outside"
    outside.mkdir()
    result = run(f"echo x > {outside}/f.txt", SandboxPolicy("workspace-write", workspace, include_tmp=False))
    assert result.exit_code != 0
    assert "Read-only file system" in result.output and result.sandbox_denied
    assert not (outside / "f.txt").exists()


@needs_bwrap
def test_workspace_write_keeps_git_and_codex_read_only(workspace: Path) -> None:
    (workspace / ".git").mkdir()
    (workspace / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (workspace / ".codex").mkdir()
    policy = SandboxPolicy("workspace-write", workspace)
    for script in ("echo bad > .git/HEAD", "touch .git/new", "touch .codex/config.toml", "rm -rf .git"):
        result = run(script, policy)
        assert result.exit_code != 0, script
    assert (workspace / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (workspace / ".git" / "new").exists() and not (workspace / ".codex" / "config.toml").exists()
    assert run("echo ok > file.txt", policy).exit_code == 0


@needs_bwrap
@pytest.mark.parametrize("mode", ["read-only", "workspace-write"])
def test_network_is_off_unless_allowed(workspace: Path, mode: sandbox.SandboxMode) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        connect = [sys.executable, "-c",
                   f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3).close()"]
        blocked = run_command(connect, cwd=workspace, policy=SandboxPolicy(mode, workspace), timeout_s=10)
        assert blocked.exit_code != 0 and "ConnectionRefusedError" in blocked.output
        allowed = run_command(connect, cwd=workspace, timeout_s=10,
                              policy=SandboxPolicy(mode, workspace, network_access=True))
        assert allowed.exit_code == 0, allowed.output


@needs_bwrap
def test_timeout_kills_the_sandboxed_process_tree(workspace: Path) -> None:
    marker = f"30.{uuid.uuid4().int % 10**6:06d}"
    started = time.monotonic()
    # Not /tmp as a root: on a shared machine it can hold hundreds of repositories, each one more
    # read-only mount for bubblewrap to set up before the command starts (README, "The sandbox").
    policy = SandboxPolicy("workspace-write", workspace, include_tmp=False)
    result = run(f"echo started; sleep {marker} & sleep {marker}", policy, timeout_s=2)
    assert time.monotonic() - started < 20  # far from the 30 s the sleeps wanted: they were killed
    assert result.timed_out and result.exit_code == 124 and not result.sandbox_denied
    assert result.output == "started\ncommand timed out after 2 s\n"
    assert wait_until(lambda: not pids_running(marker.encode()))


# ---- running (no sandbox needed) ---------------------------------------------------------------


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    policy = SandboxPolicy("danger-full-access", tmp_path)
    started = time.monotonic()
    result = run(f"echo $$ > {pidfile}; sleep 30 & echo $! >> {pidfile}; wait", policy, timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert (result.exit_code, result.timed_out) == (124, True)
    assert result.output.endswith("command timed out after 0.5 s\n")
    pids = [int(line) for line in pidfile.read_text().split()]
    assert len(pids) == 2
    assert wait_until(lambda: not any(is_alive(pid) for pid in pids))


def test_keyboard_interrupt_kills_the_group_and_propagates(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    def interrupt(_: str) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(f"echo $$ > {pidfile}; echo hi; sleep 30", SandboxPolicy("danger-full-access", tmp_path),
            on_output=interrupt)
    assert time.monotonic() - started < 3
    pid = int(pidfile.read_text())
    assert wait_until(lambda: not is_alive(pid))


def test_stdout_and_stderr_interleave_in_order(tmp_path: Path) -> None:
    chunks: list[str] = []
    result = run("echo out1; echo err1 >&2; echo out2; echo err2 >&2",
                 SandboxPolicy("danger-full-access", tmp_path), on_output=chunks.append)
    assert result.output == "out1\nerr1\nout2\nerr2\n"
    assert "".join(chunks) == result.output
    assert (result.exit_code, result.timed_out, result.sandbox_denied) == (0, False, False)


@needs_bwrap
def test_interleaving_inside_the_sandbox(workspace: Path) -> None:
    result = run("echo out1; echo err1 >&2; echo out2", SandboxPolicy("read-only", workspace))
    assert result.output == "out1\nerr1\nout2\n"


def test_danger_full_access_runs_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)  # no bwrap needed
    result = run("echo $$; echo written > f.txt", SandboxPolicy("danger-full-access", tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / "f.txt").read_text() == "written\n"


def test_exit_codes_and_spawn_failures(tmp_path: Path) -> None:
    policy = SandboxPolicy("danger-full-access", tmp_path)
    failed = run("echo nope >&2; exit 3", policy)
    assert (failed.exit_code, failed.output, failed.sandbox_denied) == (3, "nope\n", False)
    assert run("kill -TERM $$", policy).exit_code == 128 + 15
    missing = run_command(["ocodex-no-such-command"], cwd=tmp_path, policy=policy, timeout_s=5)
    assert missing.exit_code == 127 and "command not found" in missing.output
    gone = run_command(["true"], cwd=tmp_path / "absent", policy=policy, timeout_s=5)
    assert gone.exit_code == 127 and "working directory does not exist" in gone.output


def test_env_and_stdin(tmp_path: Path) -> None:
    policy = SandboxPolicy("danger-full-access", tmp_path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OCODEX_TEST": "value"}
    assert run('echo "$OCODEX_TEST"', policy, env=env).output == "value\n"
    started = time.monotonic()
    result = run_command(["cat"], cwd=tmp_path, policy=policy, timeout_s=5)
    assert result.exit_code == 0 and result.output == "" and time.monotonic() - started < 2


def test_captured_output_is_capped(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.write('HEAD' + 'x' * 200_000 + 'TAIL')"
    result = run_command([sys.executable, "-c", script], cwd=tmp_path, timeout_s=10,
                         policy=SandboxPolicy("danger-full-access", tmp_path), max_capture_bytes=10_000)
    assert result.exit_code == 0
    assert result.output.startswith("HEAD") and result.output.endswith("TAIL")
    assert "bytes of output dropped" in result.output
    assert len(result.output) < 10_200


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    script = "import sys; sys.stdout.buffer.write(b'a\\xffb\\xe2\\x82\\xac')"
    result = run_command([sys.executable, "-c", script], cwd=tmp_path, timeout_s=10,
                         policy=SandboxPolicy("danger-full-access", tmp_path))
    assert result.output == "a\ufffdb€"


def test_background_process_holding_the_pipe_does_not_block(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    result = run(f"sleep 5 & echo $! > {pidfile}; echo done", SandboxPolicy("danger-full-access", tmp_path))
    assert result.exit_code == 0 and result.output == "done\n"
    assert time.monotonic() - started < 2
    os.kill(int(pidfile.read_text()), 9)


def test_sandbox_denied_heuristic(tmp_path: Path) -> None:
    ro = SandboxPolicy("read-only", tmp_path)
    assert looks_sandbox_denied(1, "touch: cannot touch 'x': Read-only file system", ro)
    assert looks_sandbox_denied(1, "curl: (6) Could not resolve host: example.com", ro)
    assert not looks_sandbox_denied(0, "Read-only file system", ro)
    assert not looks_sandbox_denied(1, "AssertionError", ro)
    assert not looks_sandbox_denied(1, "Could not resolve host", SandboxPolicy("read-only", tmp_path,
                                                                                network_access=True))
    assert not looks_sandbox_denied(1, "Permission denied", SandboxPolicy("danger-full-access", tmp_path))
