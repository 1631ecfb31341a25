"""How a command is confined: the bubblewrap argv on Linux, the Seatbelt profile on macOS, and the
availability probe that proves, once per process, that the confinement holds.

On Linux a command runs in bubblewrap with:

* a user namespace and `--cap-drop ALL`: no capabilities at all (CapEff, CapPrm, CapBnd and CapAmb
  are 0), also when ocodex runs as root, so it cannot remount `/`, unmount `/proc`, `setns` into the
  host's namespaces, or bypass file permissions; `--disable-userns` (bubblewrap 0.8+) stops it from
  making a nested user namespace to get capabilities back inside;
* its own PID, IPC, UTS and (when the kernel has them) cgroup namespaces, and, without network
  access, its own empty network namespace;
* the whole filesystem read-only, the writable roots read-write (workspace-write), and every
  protected entry inside them (`sandbox.protected`: `.git` and the others, nested ones too) read-only
  again;
* a private scratch tmpfs holding the tools' HOME (and TMPDIR in read-only mode): see
  `ocodex.tools.env` for the environment that points there;
* the seccomp filter of `sandbox.seccomp`, and the limits of `sandbox.limits`.

`check_available` runs `cat /proc/self/status` under exactly that wrapping and refuses the mode
unless every capability set is empty, no_new_privs is set and the seccomp filter is loaded.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ocodex.errors import SandboxUnavailable
from ocodex.sandbox.policy import SandboxPolicy, unique_resolved
from ocodex.sandbox.protected import Protection, ProtectionUnknown, scan

SEATBELT_EXECUTABLE = "/usr/bin/sandbox-exec"
PROBE_TIMEOUT_S = 10.0
MAX_PROTECTED_MOUNTS = 2000  # read-only re-binds per command: bubblewrap needs ~1 s for 600 here
SCRATCH_SIZE = 1024 * 1024 * 1024  # the scratch tmpfs (HOME, TMPDIR in read-only mode), per command
FULL_ACCESS_HINT = "run with --sandbox danger-full-access to run commands without a sandbox"
_CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


# ---- bubblewrap's features ---------------------------------------------------------------------

@dataclass(frozen=True)
class Features:
    disable_userns: bool
    tmpfs_size: bool


_MODERN = Features(disable_userns=True, tmpfs_size=True)  # bubblewrap 0.8+ (Debian 12, Ubuntu 24.04)
_older: set[str] = set()  # bwraps that refused an option: ask their --help what they have


def bwrap_features(bwrap: str) -> Features:
    return _help_features(bwrap) if bwrap in _older else _MODERN


def mark_older(bwrap: str) -> None:
    """The probe saw `Unknown option`: use only what this bubblewrap's --help lists from now on."""
    _older.add(bwrap)


@functools.lru_cache(maxsize=4)
def _help_features(bwrap: str) -> Features:
    try:
        text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    return Features(disable_userns="--disable-userns" in text, tmpfs_size="--size" in text)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


# ---- the scratch area --------------------------------------------------------------------------

_scratch: Path | None = None
_scratch_lock = threading.Lock()


def scratch_dir() -> Path:
    """An empty directory of ours where each sandboxed command gets a private tmpfs (Linux).

    Inside the sandbox it holds `home/` (the tools' HOME, with `.cache/`) and `tmp/`. Outside it stays
    empty; it is removed when ocodex exits.
    """
    global _scratch
    with _scratch_lock:
        if _scratch is not None and not _scratch.is_dir():
            with contextlib.suppress(OSError):  # removed under us (a /tmp cleaner): same path again,
                _scratch.mkdir(mode=0o700)      # since the tools' HOME already names it
        if _scratch is None or not _scratch.is_dir():
            _remove_stale("ocodex-sandbox-")
            _scratch = Path(tempfile.mkdtemp(prefix=f"ocodex-sandbox-{os.getpid()}-"))
            atexit.register(_remove_scratch, _scratch)
        return _scratch


def _remove_stale(prefix: str) -> None:
    """Remove what ocodex processes that are gone (killed before their exit hooks) left in the temp
    directory: empty scratch mount points, and tool directories holding only the `rg` link."""
    with contextlib.suppress(OSError):
        for path in Path(tempfile.gettempdir()).glob(prefix + "*-*"):
            pid = path.name.removeprefix(prefix).split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    link = path / "rg"
                    if link.is_symlink():
                        link.unlink()
                    path.rmdir()


def _remove_scratch(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


_tools: Path | None = None


def tool_bin_dir() -> Path:
    """A directory of ours for programs the tools get on PATH (`rg` from the ripgrep wheel: see
    `ocodex.tools.env`). Read-only inside the sandbox, so a command cannot swap what the next one runs."""
    global _tools
    with _scratch_lock:
        if _tools is None or not _tools.is_dir():
            _remove_stale("ocodex-tools-")
            _tools = Path(tempfile.mkdtemp(prefix=f"ocodex-tools-{os.getpid()}-"))
            atexit.register(_remove_tools, _tools)
        return _tools


def _remove_tools(path: Path) -> None:
    with contextlib.suppress(OSError):
        for entry in path.iterdir():
            entry.unlink()
        path.rmdir()


def scratch_home() -> Path:
    return scratch_dir() / "home"


def scratch_tmp() -> Path:
    return scratch_dir() / "tmp"


# ---- argv --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SandboxFds:
    """The file descriptors bubblewrap reads: its seccomp program, and the --block-fd/--info-fd pair."""

    seccomp: int | None = None
    block: int | None = None
    info: int | None = None
    profile: int | None = None  # the scratch HOME's .profile (see `profile_text`)


def profile_text(path_var: str) -> bytes:
    """The scratch HOME's `.profile`: a login shell (`bash -lc`, how most commands run) reads
    /etc/profile, which resets PATH, and then this, which puts the tools' PATH back."""
    return (f"# Written by ocodex for this sandboxed command: the tools' PATH again after /etc/profile.\n"
            f"PATH={shlex.quote(path_var)}; export PATH\n").encode()


def bwrap_args(bwrap: str, policy: SandboxPolicy, workdir: Path, fds: SandboxFds = SandboxFds(),
               protection: Protection | None = None) -> list[str]:
    """The bubblewrap prefix (ending in `--`) that confines a command in `workdir`."""
    features = bwrap_features(bwrap)
    args = [bwrap, "--new-session", "--die-with-parent", "--unshare-user"]
    if features.disable_userns:
        args.append("--disable-userns")
    args += ["--cap-drop", "ALL", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not policy.network_access:
        args.append("--unshare-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if policy.mode == "workspace-write":
        args += writable_mounts(policy.writable(), protection or protect(policy.writable(), policy.temp_roots()))
    sockets = policy.unix_sockets if not policy.network_access else []
    if sockets:
        # AF_UNIX is open for this policy: hide /run (docker.sock, the D-Bus buses, systemd) but the
        # chosen sockets. Sockets elsewhere (/tmp, the workspace) stay reachable; README says so.
        args += ["--tmpfs", "/run"]
        for sock in unique_resolved(sockets):
            if sock.exists():
                args += ["--bind", str(sock), str(sock)]
    if _tools is not None and _tools.is_dir():
        args += ["--ro-bind-try", str(_tools), str(_tools)]
    scratch = scratch_dir()
    args += ["--perms", "0700"]
    if features.tmpfs_size:
        args += ["--size", str(SCRATCH_SIZE)]
    args += ["--tmpfs", str(scratch), "--dir", str(scratch / "home"), "--dir", str(scratch / "home" / ".cache"),
             "--dir", str(scratch / "tmp")]
    if fds.profile is not None:
        args += ["--ro-bind-data", str(fds.profile), str(scratch / "home" / ".profile")]
    if fds.seccomp is not None:
        args += ["--seccomp", str(fds.seccomp)]
    if fds.info is not None:
        args += ["--info-fd", str(fds.info)]
    if fds.block is not None:
        args += ["--block-fd", str(fds.block)]
    return [*args, "--chdir", str(workdir), "--"]


def writable_mounts(roots: list[Path], protection: Protection | None = None) -> list[str]:
    """Bind each existing root read-write, then every protected entry inside them read-only on top."""
    existing = sorted((root for root in roots if root.exists()), key=lambda p: len(p.parts))
    args: list[str] = []
    for root in existing:
        args += ["--bind", str(root), str(root)]
    for path in (protection or protect(existing)).existing:
        # -try: one removed since the walk has nothing left to protect (and must not fail the command).
        args += ["--ro-bind-try", str(path), str(path)]
    return args


def protect(roots: Sequence[Path], shallow: Sequence[Path] = ()) -> Protection:
    """`protected.scan`, with a tree too big to check, or holding more protected entries than
    bubblewrap can re-bind in reasonable time (each costs it about a millisecond, growing with the
    number of mounts), turned into a refusal the user can act on."""
    try:
        protection = scan(roots, shallow=shallow)
    except ProtectionUnknown as exc:
        raise SandboxUnavailable(f"{exc}", hint=_fix(str(exc).split(" holds ", 1)[0])) from None
    count = len(protection.existing)
    if count > MAX_PROTECTED_MOUNTS:
        tops = [root for root in roots if any(p == root or root in p.parents for p in protection.existing)]
        where = max(tops, key=lambda r: sum(root_has(r, p) for p in protection.existing)) if tops else roots[0]
        raise SandboxUnavailable(
            f"the writable roots hold {count:,} .git (and other protected) directories, more than the "
            f"{MAX_PROTECTED_MOUNTS:,} a command can have re-bound read-only (most under {where})",
            hint=_fix(str(where)))
    return protection


def root_has(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _fix(where: str) -> str:
    fix = ("set sandbox_workspace_write.exclude_slash_tmp = true (or exclude_tmpdir_env_var)"
           if where in ("/tmp", os.environ.get("TMPDIR")) else
           "remove that directory from the writable roots (--add-dir / sandbox_workspace_write.writable_roots)")
    return f"{fix}, or {FULL_ACCESS_HINT}"


def seatbelt_args(policy: SandboxPolicy) -> list[str]:
    """`sandbox-exec -p <profile> -D...` for macOS (cwd comes from Popen); paths go in as parameters."""
    rules = [_SEATBELT_BASE]
    params: list[str] = []
    roots = [root for root in policy.writable() if root.exists()]
    if roots:
        protection = protect(roots, policy.temp_roots())
        clauses = []
        for i, root in enumerate(roots):
            params.append(f"-DWRITABLE_ROOT_{i}={root}")
            excluded = []
            inside = [p for p in protection.existing if p == root or root in p.parents]
            for j, path in enumerate(inside):
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


# ---- the probe's verdict -----------------------------------------------------------------------

@dataclass(frozen=True)
class Confinement:
    """What the probe saw inside the sandbox (Linux): the line `ocodex doctor` prints."""

    fields: dict[str, str]

    @property
    def problem(self) -> str | None:
        held = [f"{name} {self.fields.get(name, '?')}" for name in _CAP_FIELDS
                if self.fields.get(name, "").strip("0") != "" or name not in self.fields]
        if held:
            return "a sandboxed command keeps capabilities (" + ", ".join(held) + ")"
        if self.fields.get("NoNewPrivs") != "1":
            return "no_new_privs is not set inside the sandbox"
        if self.fields.get("Seccomp") != "2":
            return "the seccomp filter is not loaded inside the sandbox"
        return None

    def line(self) -> str:
        caps = "/".join(name.removeprefix("Cap") for name in _CAP_FIELDS)
        return f"no capabilities inside (Cap{caps} all 0), no_new_privs, seccomp filter loaded"


def parse_status(text: str) -> Confinement:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name in (*_CAP_FIELDS, "NoNewPrivs", "Seccomp"):
            fields[name] = value.strip()
    return Confinement(fields)


def missing_bwrap(mode: str) -> SandboxUnavailable:
    return SandboxUnavailable(
        f"sandbox mode '{mode}' needs bubblewrap, which is not installed",
        hint="install it (apt-get install bubblewrap / dnf install bubblewrap), or " + FULL_ACCESS_HINT)


def verdict(mode: str, bwrap: str, code: int, output: str) -> Confinement:
    """The probe's result as a `Confinement`, or `SandboxUnavailable` saying what is wrong and what to do."""
    if code != 0:
        lines = output.strip().splitlines()
        problem = lines[0] if lines else f"a test command exited with code {code}"
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' needs bubblewrap, but it cannot create a sandbox here: {problem}",
            hint="unprivileged user namespaces are probably disabled; enable them (Ubuntu 24.04+: "
                 "sysctl kernel.apparmor_restrict_unprivileged_userns=0; older kernels: "
                 "kernel.unprivileged_userns_clone=1), or " + FULL_ACCESS_HINT)
    confinement = parse_status(output)
    if confinement.problem is not None:
        raise SandboxUnavailable(
            f"sandbox mode '{mode}' is not safe here: {confinement.problem}",
            hint=f"ocodex needs bubblewrap 0.5 or later with user namespaces ({bwrap} --version); "
                 "upgrade it, or " + FULL_ACCESS_HINT)
    return confinement


def probe_command() -> list[str]:
    cat = shutil.which("cat") or "/bin/cat"
    return [cat, "/proc/self/status"]


def is_linux() -> bool:
    return sys.platform.startswith("linux")
