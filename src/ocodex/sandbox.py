"""The sandbox and the command runner: every command the model asks for runs through `run_command`.

This module owns three things:

* `SandboxPolicy`: what a command may touch (Codex's `read-only`, `workspace-write` and
  `danger-full-access` modes), and the permissions paragraph the model is shown for it.
* Enforcement: on Linux the command is wrapped in bubblewrap (`bwrap`), which mounts the whole
  filesystem read-only, binds the writable roots read-write, re-binds `.git`, `.codex`, `.ocodex`,
  `.agents` and `.aws` inside them read-only again, and gives the command its own PID namespace and
  (unless network access is on) its own empty network namespace. On macOS a Seatbelt profile is
  applied with `sandbox-exec`. `check_available` proves once per process that this works and
  raises `SandboxUnavailable` otherwise, so a sandboxed mode never silently runs unconfined.
* `run_command`: runs an argv (never through a shell of our own) in its own process group, with a
  timeout that kills the whole group, stdout and stderr interleaved as they arrive, streaming to an
  optional callback, and a memory cap on what is kept.

Read-only mode means exactly that: the whole filesystem, `/tmp` included, is visible and nothing can
be written. (A private tmpfs on `/tmp` would hide projects, virtualenvs and tools that live there;
bubblewrap 0.8, Debian 12's, has no overlay to show them and still discard writes.)
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from ocodex.errors import SandboxUnavailable

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
SANDBOX_MODES: tuple[SandboxMode, ...] = get_args(SandboxMode)

# Directories inside a writable root that stay read-only (Codex: .git, .agents, .codex, .aws).
PROTECTED_SUBPATHS: tuple[str, ...] = (".git", ".codex", ".ocodex", ".agents", ".aws")

MAX_CAPTURE_BYTES = 8 * 1024 * 1024
TIMEOUT_EXIT_CODE = 124
KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
DRAIN_GRACE_S = 0.5  # how long to keep reading after the command exited or was killed
PROBE_TIMEOUT_S = 5.0
SEATBELT_EXECUTABLE = "/usr/bin/sandbox-exec"

_FULL_ACCESS_HINT = "run with --sandbox danger-full-access to run commands without a sandbox"

# ---- policy ------------------------------------------------------------------------------------


@dataclass
class SandboxPolicy:
    """What commands may do. `writable_roots` and `include_tmp` only matter for workspace-write."""

    mode: SandboxMode
    cwd: Path
    writable_roots: list[Path] = field(default_factory=list)
    network_access: bool = False
    include_tmp: bool = True

    @property
    def sandboxed(self) -> bool:
        return self.mode != "danger-full-access"

    @property
    def network_enabled(self) -> bool:
        return not self.sandboxed or self.network_access

    def writable(self) -> list[Path]:
        """Resolved, de-duplicated writable roots: cwd, extra roots, then /tmp and $TMPDIR."""
        if self.mode != "workspace-write":
            return []
        candidates = [self.cwd, *self.writable_roots]
        if self.include_tmp:
            candidates.append(Path("/tmp"))
            tmpdir = os.environ.get("TMPDIR")
            if tmpdir:
                candidates.append(Path(tmpdir))
        return _unique_resolved(candidates)

    def describe(self) -> str:
        """The permissions paragraph for the system prompt (Codex's wording, adapted)."""
        network = "Network access is enabled." if self.network_enabled else "Network access is restricted."
        intro = "Filesystem sandboxing defines which files can be read or written."
        if self.mode == "danger-full-access":
            return f"{intro} `sandbox_mode` is `danger-full-access`: No filesystem sandboxing - all " \
                   f"commands are permitted. {network}"
        if self.mode == "read-only":
            return (f"{intro} `sandbox_mode` is `read-only`: The sandbox only permits reading files; "
                    f"commands cannot write anywhere, /tmp included. {network}")
        roots = ", ".join(f"`{p}`" for p in self.writable())
        protected = ", ".join(f"`{name}`" for name in PROTECTED_SUBPATHS)
        return (f"{intro} `sandbox_mode` is `workspace-write`: The sandbox permits reading files, and "
                "editing files in `cwd` and `writable_roots`. Editing files in other directories is "
                f"blocked (\"Read-only file system\"); {protected} inside the writable roots stay "
                f"read-only. {network}\n The writable roots are {roots}.")


def _unique_resolved(paths: Iterable[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        if resolved not in seen:
            seen.append(resolved)
    return seen


# ---- availability ------------------------------------------------------------------------------


def check_available(policy: SandboxPolicy) -> None:
    """Raise `SandboxUnavailable` unless commands can really be confined as `policy` asks."""
    if not policy.sandboxed:
        return
    mode = policy.mode
    if sys.platform.startswith("linux"):
        _check_bwrap(mode)
    elif sys.platform == "darwin":
        _check_seatbelt(mode)
    else:
        raise SandboxUnavailable(f"sandbox mode '{mode}' is not supported on {sys.platform}",
                                 hint=_FULL_ACCESS_HINT)


def clear_availability_cache() -> None:
    """Forget earlier probe results (for tests, or after installing bubblewrap)."""
    _probe.cache_clear()


def _check_bwrap(mode: SandboxMode) -> None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' needs bubblewrap, which is not installed",
            hint="install it (apt-get install bubblewrap / dnf install bubblewrap), or " + _FULL_ACCESS_HINT)
    problem = _probe((*_bwrap_args(bwrap, _probe_policy(), Path("/")), _true_path()))
    if problem is not None:
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' needs bubblewrap, but it cannot create a sandbox here: {problem}",
            hint="unprivileged user namespaces are probably disabled; enable them (Ubuntu 24.04+: "
                 "sysctl kernel.apparmor_restrict_unprivileged_userns=0; older kernels: "
                 "kernel.unprivileged_userns_clone=1), or " + _FULL_ACCESS_HINT)


def _check_seatbelt(mode: SandboxMode) -> None:
    if not Path(SEATBELT_EXECUTABLE).exists():
        raise SandboxUnavailable(f"sandbox mode '{mode}' needs {SEATBELT_EXECUTABLE}, which is missing",
                                 hint=_FULL_ACCESS_HINT)
    problem = _probe((*_seatbelt_args(_probe_policy()), _true_path()))
    if problem is not None:
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' needs sandbox-exec, but it cannot create a sandbox here: {problem}",
            hint="this happens when ocodex itself already runs inside a sandbox; " + _FULL_ACCESS_HINT)


def _probe_policy() -> SandboxPolicy:
    return SandboxPolicy(mode="read-only", cwd=Path("/"))


def _true_path() -> str:
    return shutil.which("true") or "/bin/true"


@functools.lru_cache(maxsize=8)
def _probe(argv: tuple[str, ...]) -> str | None:
    """Run a trivial sandboxed command; None if it worked, else the first line of what went wrong."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        return f"it did not start a test command within {PROBE_TIMEOUT_S:g} s"
    except OSError as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else f"a test command exited with code {done.returncode}"


# ---- wrapping ----------------------------------------------------------------------------------


def build_argv(argv: list[str], policy: SandboxPolicy, *, cwd: Path | None = None) -> list[str]:
    """The full argv that runs `argv` under `policy` in `cwd` (default `policy.cwd`)."""
    if not policy.sandboxed:
        return list(argv)
    workdir = Path(cwd if cwd is not None else policy.cwd).resolve()
    if sys.platform == "darwin":
        return [*_seatbelt_args(policy), *argv]
    bwrap = shutil.which("bwrap") or "bwrap"
    return [*_bwrap_args(bwrap, policy, workdir), *argv]


def _bwrap_args(bwrap: str, policy: SandboxPolicy, workdir: Path) -> list[str]:
    args = [bwrap, "--new-session", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
            "--proc", "/proc", "--unshare-pid"]
    if not policy.network_access:
        args.append("--unshare-net")
    if policy.mode == "workspace-write":
        args += _writable_mounts(policy.writable())
    return [*args, "--chdir", str(workdir), "--"]


def _writable_mounts(roots: list[Path]) -> list[str]:
    """Bind each existing root read-write, then its protected subpaths read-only on top."""
    existing = sorted((root for root in roots if root.exists()), key=lambda p: len(p.parts))
    args: list[str] = []
    for root in existing:
        args += ["--bind", str(root), str(root)]
    for path in _protected_paths(existing):
        args += ["--ro-bind", str(path), str(path)]
    return args


def _protected_paths(roots: list[Path]) -> list[Path]:
    found = [root / name for root in roots for name in PROTECTED_SUBPATHS if (root / name).exists()]
    return _unique_resolved(found)


def _seatbelt_args(policy: SandboxPolicy) -> list[str]:
    """`sandbox-exec -p <profile> -D...` for macOS (cwd comes from Popen); paths go in as parameters."""
    rules = [_SEATBELT_BASE]
    params: list[str] = []
    roots = [root for root in policy.writable() if root.exists()]
    if roots:
        clauses = []
        for i, root in enumerate(roots):
            params.append(f"-DWRITABLE_ROOT_{i}={root}")
            excluded = []
            for j, path in enumerate(_protected_paths([root])):
                params.append(f"-DWRITABLE_ROOT_{i}_RO_{j}={path}")
                excluded.append(f'(require-not (subpath (param "WRITABLE_ROOT_{i}_RO_{j}")))')
            subpath = f'(subpath (param "WRITABLE_ROOT_{i}"))'
            clauses.append(f"(require-all {subpath} {' '.join(excluded)})" if excluded else subpath)
        rules.append("(allow file-write*\n  " + "\n  ".join(clauses) + ")")
    if policy.network_access:
        rules.append("(allow network-outbound)\n(allow network-inbound)\n(allow system-socket)")
    return [SEATBELT_EXECUTABLE, "-p", "\n".join(rules), *params, "--"]


# Closed by default, like Codex's profile: read anything, run and signal processes in the sandbox,
# write only /dev/null; writable roots and network are appended per policy.
_SEATBELT_BASE = """(version 1)
(deny default)
(allow file-read*)
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))
(allow sysctl-read)
(allow user-preference-read)
(allow pseudo-tty)
(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))
(allow file-write-data (require-all (path "/dev/null") (vnode-type CHARACTER-DEVICE)))"""


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
                max_capture_bytes: int = MAX_CAPTURE_BYTES) -> ExecResult:
    """Run `argv` in `cwd` under `policy`, killing its process group after `timeout_s` seconds.

    `env`, when given, is the command's whole environment. `on_output` receives decoded output as it
    arrives. Raises `SandboxUnavailable` if the policy cannot be enforced; failing to start the
    command is reported as exit code 127 (not found) or 126 (not executable), like a shell.
    """
    check_available(policy)
    started = time.monotonic()
    sink = _OutputSink(max_capture_bytes, on_output)
    try:
        proc = subprocess.Popen(
            build_argv(argv, policy, cwd=cwd), cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if stdin_devnull else None, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        return _spawn_failure(argv, cwd, exc, started)
    timed_out = _pump(proc, sink, started + timeout_s)
    exit_code = TIMEOUT_EXIT_CODE if timed_out else _shell_exit_code(proc.returncode)
    if timed_out:
        sink.note(f"command timed out after {timeout_s:g} s\n")
    output = sink.finish()
    return ExecResult(exit_code=exit_code, output=output, timed_out=timed_out,
                      duration_s=time.monotonic() - started,
                      sandbox_denied=not timed_out and looks_sandbox_denied(exit_code, output, policy))


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
