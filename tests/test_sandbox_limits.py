"""Process, memory and file-size limits for sandboxed commands (`[sandbox_limits]`, ocodex.sandbox.limits).

Written to hold as root, where RLIMIT_NPROC binds nothing and the process limit is a pids cgroup.
The fork-bomb test only runs after a harmless test proved the limit holds, so a broken limit cannot
take the (shared) machine down with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocodex.config import load_settings
from ocodex.errors import ConfigError, SandboxUnavailable
from ocodex.sandbox import Limits, SandboxPolicy, clear_availability_cache, run_command
from ocodex.sandbox import limits as limits_mod
from ocodex.tools.env import tool_env
from test_sandbox import needs_bwrap

ALLOC_64_GIB = ("import mmap\ntry:\n    m = mmap.mmap(-1, 64 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS "
                "| 0x4000)  # MAP_NORESERVE\n    print('allocated', len(m) >> 30, 'GiB')\nexcept OSError as e:\n"
                "    print('refused', e.errno)\n")


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    clear_availability_cache()


def run(script: str, policy: SandboxPolicy, timeout_s: float = 30) -> tuple[int, str]:
    result = run_command(["bash", "-c", script], cwd=policy.cwd, policy=policy, timeout_s=timeout_s,
                         env=tool_env(policy=policy))
    return result.exit_code, result.output


def test_defaults_and_what_they_become() -> None:
    limits = Limits()
    assert (limits.processes, limits.file_size_mb, limits.cpu_seconds) == (1024, 16384, 0)
    total = limits_mod.host_ram_bytes()
    assert total and limits.memory_bytes() == total // 2
    assert Limits(memory_mb=0).memory_bytes() is None and Limits(memory_mb=100).memory_bytes() == 100 << 20


def test_sandbox_limits_come_from_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[sandbox_limits]\nmemory_mb = 2048\nprocesses = 256\ncpu_seconds = 60\n")
    settings = load_settings(home=home, env={})
    assert settings.sandbox_limits == Limits(memory_mb=2048, processes=256, file_size_mb=16384, cpu_seconds=60)
    (home / "config.toml").write_text("[sandbox_limits]\nprocesses = -1\n")
    with pytest.raises(ConfigError, match=r"config.toml:2: sandbox_limits.processes: expected an integer of at least"):
        load_settings(home=home, env={})
    (home / "config.toml").write_text("[sandbox_limits]\nthreads = 5\n")
    assert any("threads" in w for w in load_settings(home=home, env={}).warnings)


@needs_bwrap
def test_a_64_gib_allocation_fails_inside_and_ocodex_carries_on(tmp_path: Path) -> None:
    (tmp_path / "alloc.py").write_text(ALLOC_64_GIB)
    policy = SandboxPolicy("workspace-write", tmp_path, limits=Limits(memory_mb=4096))
    _code, output = run(f"{sys.executable} alloc.py; {sys.executable} -c 'bytearray(64 << 30)' 2>&1 | tail -1",
                       policy)
    assert output.splitlines() == ["refused 12", "MemoryError"], output  # ENOMEM: RLIMIT_DATA
    # Without the limit the same reservation (no pages touched) succeeds: the limit is what refused it.
    free = SandboxPolicy("workspace-write", tmp_path, limits=Limits(memory_mb=0))
    assert run(f"{sys.executable} alloc.py", free)[1].strip() == "allocated 64 GiB"


SPAWN_100 = """import subprocess
procs, refused = [], 0
for _ in range(100):
    try:
        procs.append(subprocess.Popen(["sleep", "30"]))
    except OSError:
        refused += 1
print("started", len(procs), "refused", refused)
for proc in procs:
    proc.kill()
"""


@needs_bwrap
def test_the_process_limit_binds_also_as_root(tmp_path: Path) -> None:
    (tmp_path / "spawn.py").write_text(SPAWN_100)
    policy = SandboxPolicy("read-only", tmp_path, limits=Limits(processes=32))
    _code, output = run(f"{sys.executable} spawn.py", policy)
    words = output.split()
    assert words[0] == "started" and words[2] == "refused", output
    assert int(words[1]) < 32 and int(words[3]) == 100 - int(words[1]), output


@needs_bwrap
def test_a_fork_bomb_fails_without_hurting_ocodex(tmp_path: Path) -> None:
    test_the_process_limit_binds_also_as_root(tmp_path)  # never bomb unless the limit is proven first
    policy = SandboxPolicy("workspace-write", tmp_path, limits=Limits(processes=64))
    result = run_command(["bash", "-c", "bomb() { bomb | bomb & }; bomb; sleep 2"], cwd=tmp_path, policy=policy,
                         timeout_s=15, env=tool_env(policy=policy))
    assert "fork: retry: Resource temporarily unavailable" in result.output, result.output
    # Nothing of it is left running (the sandbox's PID namespace died with the command).
    group = limits_mod._group
    if group is not None:
        deadline = time.monotonic() + 10
        while group.live_tasks() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group.live_tasks() == []
    # ocodex is fine: it still runs commands, sandboxed and not.
    after = run_command(["bash", "-c", "echo fine"], cwd=tmp_path, policy=policy, timeout_s=30,
                        env=tool_env(policy=policy))
    assert after.output == "fine\n"
    assert subprocess.run(["true"], check=False).returncode == 0


@needs_bwrap
def test_file_size_limit(tmp_path: Path) -> None:
    policy = SandboxPolicy("workspace-write", tmp_path, limits=Limits(file_size_mb=1))
    _code, output = run("head -c 2M /dev/zero > big; echo exit=$?; stat -c %s big", policy)
    assert "exit=153" in output and output.split()[-1] == str(1 << 20), output  # 128 + SIGXFSZ


@needs_bwrap
def test_limits_show_in_the_sandbox(tmp_path: Path) -> None:
    policy = SandboxPolicy("read-only", tmp_path, limits=Limits(memory_mb=3000, cpu_seconds=7, processes=99))
    _code, output = run("cat /proc/self/limits", policy)
    rows = {line[:26].strip(): line[26:].split() for line in output.splitlines()[1:]}
    assert rows["Max data size"][:2] == [str(3000 << 20)] * 2
    assert rows["Max cpu time"][:2] == ["7", "7"] and rows["Max processes"][:2] == ["99", "99"]


def test_as_root_without_a_pids_cgroup_the_mode_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_mod, "_group", None)
    monkeypatch.setattr(limits_mod, "_group_failed", True)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(limits_mod.LimitsUnavailable, match="RLIMIT_NPROC does not bind root"):
        limits_mod.check(Limits())
    limits_mod.check(Limits(processes=0))  # the documented way out
    if not os.environ.get("OCODEX_SKIP_BWRAP_CHECK") and sys.platform.startswith("linux"):
        from test_sandbox import BWRAP_PROBLEM

        if BWRAP_PROBLEM is None:
            with pytest.raises(SandboxUnavailable) as caught:
                run_command(["true"], cwd=tmp_path, policy=SandboxPolicy("read-only", tmp_path), timeout_s=10)
            assert "cannot limit processes here" in caught.value.message
            assert "sandbox_limits.processes = 0" in (caught.value.hint or "")


@needs_bwrap
def test_commands_started_from_many_threads_each_get_their_limit(tmp_path: Path) -> None:
    """Parallel commands (the benchmark's workers, concurrent tool calls) share this process's pids cgroup:
    one thread's clean-up must never remove the group another thread is putting its command in."""
    from concurrent.futures import ThreadPoolExecutor

    policy = SandboxPolicy("read-only", tmp_path, limits=Limits(processes=32))
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: run(f"echo {i}", policy), range(60)))
    assert results == [(0, f"{i}\n") for i in range(60)]
