"""Running a command the model asked for: `run_command` and the availability check in front of it.

`run_command` runs an argv (never through a shell of our own) in its own process group, confined as
the policy says (`sandbox.bwrap`), with a timeout that kills the whole group, stdout and stderr
interleaved as they arrive, streaming to an optional callback, and a memory cap on what is kept.
`check_available` proves once per process and policy shape that confinement works, and raises
`SandboxUnavailable` otherwise, so a sandboxed mode never silently runs unconfined.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ocodex.errors import SandboxUnavailable
from ocodex.sandbox import bwrap as wrap
from ocodex.sandbox import limits as limits_mod
from ocodex.sandbox.policy import SandboxPolicy
from ocodex.sandbox.seccomp import SeccompUnavailable, filter_fd

MAX_CAPTURE_BYTES = 8 * 1024 * 1024
TIMEOUT_EXIT_CODE = 124
KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
DRAIN_GRACE_S = 0.5  # how long to keep reading after the command exited or was killed
START_TIMEOUT_S = 10.0  # for bubblewrap to report its sandbox process


# ---- availability ------------------------------------------------------------------------------


def check_available(policy: SandboxPolicy) -> None:
    """Raise `SandboxUnavailable` unless commands can really be confined as `policy` asks."""
    confinement(policy)


def confinement(policy: SandboxPolicy) -> wrap.Confinement | None:
    """What the probe found inside the sandbox for `policy` (None: not sandboxed, or macOS)."""
    if not policy.sandboxed:
        return None
    mode = policy.mode
    if wrap.is_linux():
        bwrap = wrap.bwrap_path()
        if bwrap is None:
            raise wrap.missing_bwrap(mode)
        return _probe_linux(mode, bwrap, policy.network_access, policy.limits)
    if sys.platform == "darwin":
        _check_seatbelt(mode)
        return None
    raise SandboxUnavailable(f"sandbox mode '{mode}' is not supported on {sys.platform}",
                             hint=wrap.FULL_ACCESS_HINT)


def clear_availability_cache() -> None:
    """Forget earlier probe results (for tests, or after installing bubblewrap)."""
    _probe_linux.cache_clear()
    _probe_seatbelt.cache_clear()
    wrap._older.clear()
    wrap._help_features.cache_clear()


@functools.lru_cache(maxsize=16)
def _probe_linux(mode: str, bwrap: str, network: bool, limits: limits_mod.Limits) -> wrap.Confinement:
    try:
        limits_mod.check(limits)
    except limits_mod.LimitsUnavailable as exc:
        raise SandboxUnavailable(f"sandbox mode '{mode}' cannot limit processes here: {exc}",
                                 hint="set sandbox_limits.processes = 0 in config.toml to run without a "
                                      "process limit, run ocodex as a normal user, or " + wrap.FULL_ACCESS_HINT) \
            from None
    # Read-only (no writable roots to walk), with the policy's network setting and limits.
    probe = SandboxPolicy(mode="read-only", cwd=Path("/"), network_access=network, limits=limits)
    try:
        result = run_command(wrap.probe_command(), cwd=Path("/"), policy=probe, timeout_s=wrap.PROBE_TIMEOUT_S,
                             _checked=True)
        if result.exit_code != 0 and "Unknown option" in result.output and bwrap not in wrap._older:
            wrap.mark_older(bwrap)  # an older bubblewrap: without what it lacks (--disable-userns, --size)
            result = run_command(wrap.probe_command(), cwd=Path("/"), policy=probe,
                                 timeout_s=wrap.PROBE_TIMEOUT_S, _checked=True)
    except SandboxUnavailable as exc:
        raise SandboxUnavailable(f"sandbox mode '{mode}': {exc.message}", hint=exc.hint) from None
    if result.timed_out:
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' needs bubblewrap, but it did not start a test command within "
            f"{wrap.PROBE_TIMEOUT_S:g} s", hint=wrap.FULL_ACCESS_HINT)
    return wrap.verdict(mode, bwrap, result.exit_code, result.output)


def _check_seatbelt(mode: str) -> None:
    if not Path(wrap.SEATBELT_EXECUTABLE).exists():
        raise SandboxUnavailable(f"sandbox mode '{mode}' needs {wrap.SEATBELT_EXECUTABLE}, which is missing",
                                 hint=wrap.FULL_ACCESS_HINT)
    problem = _probe_seatbelt(mode)
    if problem is not None:
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' needs sandbox-exec, but it cannot create a sandbox here: {problem}",
            hint="this happens when ocodex itself already runs inside a sandbox; " + wrap.FULL_ACCESS_HINT)


@functools.lru_cache(maxsize=4)
def _probe_seatbelt(mode: str) -> str | None:
    argv = [*wrap.seatbelt_args(SandboxPolicy(mode="read-only", cwd=Path("/"))), "/usr/bin/true"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=wrap.PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"it did not start a test command within {wrap.PROBE_TIMEOUT_S:g} s"
    except OSError as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else f"a test command exited with code {done.returncode}"


# ---- wrapping ----------------------------------------------------------------------------------


def build_argv(argv: list[str], policy: SandboxPolicy, *, cwd: Path | None = None) -> list[str]:
    """The full argv that runs `argv` under `policy` in `cwd` (default `policy.cwd`).

    For display and tests: `run_command` adds the seccomp, --block-fd and --info-fd descriptors.
    """
    if not policy.sandboxed:
        return list(argv)
    workdir = Path(cwd if cwd is not None else policy.cwd).resolve()
    if sys.platform == "darwin":
        return [*wrap.seatbelt_args(policy), *argv]
    return [*wrap.bwrap_args(wrap.bwrap_path() or "bwrap", policy, workdir), *argv]


# ---- running -----------------------------------------------------------------------------------


@dataclass
class ExecResult:
    """The outcome of one command. `output` is stdout and stderr interleaved in arrival order."""

    exit_code: int
    output: str
    timed_out: bool
    duration_s: float
    sandbox_denied: bool


def run_command(argv: list[str], *, cwd: Path, policy: SandboxPolicy, timeout_s: float,
                env: Mapping[str, str] | None = None, stdin_devnull: bool = True,
                on_output: Callable[[str], None] | None = None,
                max_capture_bytes: int = MAX_CAPTURE_BYTES, _checked: bool = False) -> ExecResult:
    """Run `argv` in `cwd` under `policy`, killing its process group after `timeout_s` seconds.

    `env`, when given, is the command's whole environment. `on_output` receives decoded output as it
    arrives. Raises `SandboxUnavailable` if the policy cannot be enforced; failing to start the
    command is reported as exit code 127 (not found) or 126 (not executable), like a shell.
    """
    if not _checked:
        check_available(policy)
    started = time.monotonic()
    sink = _OutputSink(max_capture_bytes, on_output)
    popen = {"cwd": cwd, "env": dict(env) if env is not None else None,
             "stdin": subprocess.DEVNULL if stdin_devnull else None, "stdout": subprocess.PIPE,
             "stderr": subprocess.STDOUT, "start_new_session": True}
    try:
        if policy.sandboxed and wrap.is_linux():
            proc = _start_bwrap(argv, cwd, policy, popen)
        else:
            proc = subprocess.Popen(build_argv(argv, policy, cwd=cwd), **popen)  # type: ignore[call-overload]
    except OSError as exc:
        return _spawn_failure(argv, cwd, exc, started)
    # The timeout is the command's own time: the walk for protected paths and bwrap's set-up come first.
    timed_out = _pump(proc, sink, time.monotonic() + timeout_s)
    exit_code = TIMEOUT_EXIT_CODE if timed_out else _shell_exit_code(proc.returncode)
    if timed_out:
        sink.note(f"command timed out after {timeout_s:g} s\n")
    output = sink.finish()
    return ExecResult(exit_code=exit_code, output=output, timed_out=timed_out,
                      duration_s=time.monotonic() - started,
                      sandbox_denied=not timed_out and looks_sandbox_denied(exit_code, output, policy))


def _start_bwrap(argv: list[str], cwd: Path, policy: SandboxPolicy, popen: dict[str, object]
                 ) -> subprocess.Popen[bytes]:
    """Start bubblewrap blocked before the command runs, apply the limits to its sandbox process,
    then let it go (see `sandbox.limits` for why in this order)."""
    bwrap = wrap.bwrap_path() or "bwrap"
    workdir = Path(cwd).resolve()
    protection = wrap.protect(policy.writable(), policy.temp_roots()) if policy.mode == "workspace-write" else None
    try:
        seccomp = filter_fd(network=policy.network_access, unix_sockets=bool(policy.unix_sockets))
    except SeccompUnavailable as exc:
        raise SandboxUnavailable(f"sandbox mode '{policy.mode}' needs libseccomp: {exc}",
                                 hint=wrap.FULL_ACCESS_HINT) from None
    block_r, block_w = os.pipe()
    info_r, info_w = os.pipe()
    passed: tuple[int, ...] = (seccomp, block_r, info_w)
    env = popen["env"] if popen["env"] is not None else os.environ
    profile = None
    if env.get("HOME") == str(wrap.scratch_home()) and env.get("PATH"):  # type: ignore[attr-defined]
        profile = _memfd("ocodex-profile", wrap.profile_text(env["PATH"]))  # type: ignore[index]
        passed += (profile,)
    try:
        fds = wrap.SandboxFds(seccomp, block_r, info_w, profile)
        full = [*wrap.bwrap_args(bwrap, policy, workdir, fds, protection), *argv]
        proc = subprocess.Popen(full, pass_fds=passed, **popen)  # type: ignore[call-overload]
    except BaseException:
        for fd in (block_w, info_r):
            os.close(fd)
        raise
    finally:
        for fd in passed:
            os.close(fd)
    try:
        child = _child_pid(info_r, time.monotonic() + START_TIMEOUT_S)
        # No child, or one that is gone: bubblewrap failed, and its message and exit code are the result.
        with contextlib.suppress(ProcessLookupError, BrokenPipeError):
            if child is not None:
                limits_mod.apply(child, policy.limits)
                os.write(block_w, b"1")
    except (OSError, limits_mod.LimitsUnavailable) as exc:
        _kill_group(proc)
        said = proc.stdout.read(4096).decode("utf-8", "replace").strip()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
        reason = said.splitlines()[0] if said else str(exc)
        raise SandboxUnavailable(f"could not start a sandboxed command: {reason}",
                                 hint="set sandbox_limits.processes = 0 to run without a process limit, or "
                                      + wrap.FULL_ACCESS_HINT) from None
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        os.close(block_w)
        os.close(info_r)
    return proc


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _child_pid(fd: int, deadline: float) -> int | None:
    """The host pid of bubblewrap's sandbox process, from its --info-fd JSON; None if bwrap failed."""
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (wait := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=wait):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        else:
            raise OSError("bubblewrap did not report its sandbox process in time")
    try:
        pid = json.loads(data.decode("utf-8", "replace"))["child-pid"] if data else None
    except (ValueError, KeyError, TypeError):
        return None
    return pid if isinstance(pid, int) and pid > 0 else None


def _pump(proc: subprocess.Popen[bytes], sink: _OutputSink, deadline: float) -> bool:
    """Copy output into `sink` until the command is done; True if it had to be killed for time."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            finished = _read_until(proc, fd, selector, sink, deadline)
            if not finished:
                _kill_group(proc)
                _read_until(proc, fd, selector, sink, time.monotonic() + DRAIN_GRACE_S)
        proc.wait()
        return not finished
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        proc.stdout.close()


def _read_until(proc: subprocess.Popen[bytes], fd: int, selector: selectors.BaseSelector,
                sink: _OutputSink, deadline: float) -> bool:
    """Read until the command exited and its output ended. False if `deadline` came first.

    Background processes that keep the pipe open do not hold us up past `DRAIN_GRACE_S` after the
    command itself exited; they are left running (and get EPIPE if they write again).
    """
    exited_at: float | None = None
    eof = False
    while True:
        now = time.monotonic()
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and (eof or now - exited_at > DRAIN_GRACE_S):
            return True
        if exited_at is None and now >= deadline:
            return False
        if eof:  # output closed but the command still runs
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=deadline - now)
            continue
        wait = 0.05 if exited_at is not None else min(0.1, deadline - now)
        if selector.select(timeout=wait):
            data = os.read(fd, 65536)
            if data:
                sink.feed(data)
            else:
                eof = True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, then SIGKILL it after a grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE_S)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _shell_exit_code(returncode: int) -> int:
    """Signals as a shell reports them: killed by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _spawn_failure(argv: list[str], cwd: Path, exc: OSError, started: float) -> ExecResult:
    if not Path(cwd).is_dir():
        message, code = f"working directory does not exist: {cwd}", 127
    elif isinstance(exc, FileNotFoundError):
        message, code = f"{argv[0] if argv else ''}: command not found", 127
    else:
        message, code = f"{argv[0] if argv else ''}: {exc.strerror or exc}", 126
    return ExecResult(exit_code=code, output=message + "\n", timed_out=False,
                      duration_s=time.monotonic() - started, sandbox_denied=False)


class _OutputSink:
    """Decodes output for the callback and keeps at most `cap` bytes of it (head and tail)."""

    def __init__(self, cap: int, on_output: Callable[[str], None] | None) -> None:
        self._half = max(cap // 2, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._notes = ""
        self._on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        if self._on_output is not None:
            text = self._decoder.decode(data)
            if text:
                self._on_output(text)
        room = self._half - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        self._tail += data
        if len(self._tail) > 2 * self._half:  # trim rarely, so appending stays cheap
            excess = len(self._tail) - self._half
            del self._tail[:excess]
            self._dropped += excess

    def note(self, line: str) -> None:
        """Append a line of our own (e.g. the timeout notice) after the command's output."""
        self._flush_callback()
        if self._on_output is not None:
            self._on_output(line)
        self._notes += line

    def finish(self) -> str:
        self._flush_callback()
        text = self._captured_text()
        if self._notes and text and not text.endswith("\n"):
            text += "\n"
        return text + self._notes

    def _flush_callback(self) -> None:
        if self._on_output is not None:
            rest = self._decoder.decode(b"", final=True)
            if rest:
                self._on_output(rest)

    def _captured_text(self) -> str:
        if len(self._tail) > self._half:
            self._dropped += len(self._tail) - self._half
            del self._tail[: len(self._tail) - self._half]
        if not self._dropped:
            return (self._head + self._tail).decode("utf-8", "replace")
        head = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(bytes(self._head))
        tail = bytes(self._tail).lstrip(bytes(range(0x80, 0xC0)))  # no partial char at the cut
        marker = f"\n…{self._dropped} bytes of output dropped (more than {2 * self._half} bytes)…\n"
        return head + marker + tail.decode("utf-8", "replace")


# ---- diagnosis ---------------------------------------------------------------------------------

_FS_DENIAL_MARKERS = ("read-only file system", "permission denied", "operation not permitted")
_NET_DENIAL_MARKERS = ("network is unreachable", "temporary failure in name resolution",
                       "could not resolve host", "name or service not known",
                       "nodename nor servname provided", "no address associated with hostname")


def looks_sandbox_denied(exit_code: int, output: str, policy: SandboxPolicy) -> bool:
    """Best-effort guess that a failed sandboxed command was blocked by the sandbox."""
    if exit_code == 0 or not policy.sandboxed:
        return False
    lowered = output.lower()
    if any(marker in lowered for marker in _FS_DENIAL_MARKERS):
        return True
    return not policy.network_access and any(marker in lowered for marker in _NET_DENIAL_MARKERS)
