"""Process and memory limits for sandboxed commands (`[sandbox_limits]` in config.toml).

Each sandboxed command gets, before it runs a single instruction of its own:

* `memory_mb`: RLIMIT_DATA for every process (heap and private writable mappings; unlike RLIMIT_AS
  it leaves the address-space reservations of V8, Go and the JVM alone). Default: half the host's RAM.
* `processes`: how many tasks (processes and threads) the command may have at once. RLIMIT_NPROC
  does not bind root (the kernel exempts uid 0 whatever its capabilities), so ocodex puts each
  command in a pids cgroup (`pids.max`) when it can create one, as root can; otherwise it uses
  RLIMIT_NPROC, which inside the sandbox's user namespace counts only the command's own tasks. As
  root with no usable pids cgroup, sandboxed modes are refused (`processes = 0` lifts the limit).
* `file_size_mb`: RLIMIT_FSIZE, the largest file a command may write.
* `cpu_seconds`: RLIMIT_CPU per process (0 = none; the command's wall-clock timeout applies anyway).

How they are applied without a race: bubblewrap is started with `--block-fd`, so its sandbox process
waits after setting up its namespaces and before loading the seccomp filter and running the command;
ocodex reads that process's pid from `--info-fd`, applies the limits with `prlimit(2)`, moves it into
the cgroup, and only then lets it go. Everything the command forks inherits both.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """`[sandbox_limits]`. 0 means no limit; `memory_mb = None` means half the host's RAM."""

    memory_mb: int | None = None
    processes: int = 1024
    file_size_mb: int = 16384
    cpu_seconds: int = 0

    def memory_bytes(self) -> int | None:
        if self.memory_mb is None:
            total = host_ram_bytes()
            return total // 2 if total else None
        return self.memory_mb * MIB if self.memory_mb > 0 else None

    def rlimits(self) -> list[tuple[int, int]]:
        """(resource, value) pairs for `prlimit(2)`: soft and hard limit alike."""
        pairs: list[tuple[int, int]] = []
        memory = self.memory_bytes()
        if memory:
            pairs.append((resource.RLIMIT_DATA, memory))
        if self.file_size_mb > 0:
            pairs.append((resource.RLIMIT_FSIZE, self.file_size_mb * MIB))
        if self.cpu_seconds > 0:
            pairs.append((resource.RLIMIT_CPU, self.cpu_seconds))
        if self.processes > 0:
            pairs.append((resource.RLIMIT_NPROC, self.processes))
        return pairs


def host_ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


class LimitsUnavailable(Exception):
    """The limits cannot be enforced here; the message says why and what to do."""


def apply(pid: int, limits: Limits) -> None:
    """Apply `limits` to the (blocked) sandbox process `pid`: rlimits, then the pids cgroup."""
    for which, value in limits.rlimits():
        current = resource.prlimit(pid, which)
        hard = value if current[1] == resource.RLIM_INFINITY else min(value, current[1])
        resource.prlimit(pid, which, (hard, hard))
    if limits.processes > 0:
        group = _pids_cgroup()
        if group is not None:
            group.add(pid, limits.processes)
        elif os.geteuid() == 0:
            raise LimitsUnavailable(_NO_CGROUP)


def check(limits: Limits) -> None:
    """Raise `LimitsUnavailable` if `limits` cannot be enforced on this host."""
    if limits.processes > 0 and os.geteuid() == 0 and _pids_cgroup() is None:
        raise LimitsUnavailable(_NO_CGROUP)


_NO_CGROUP = ("as root, the sandbox's process limit needs a pids cgroup (RLIMIT_NPROC does not bind root), "
              "and ocodex cannot create one here (no writable cgroup filesystem with the pids controller)")


# ---- the pids cgroup ---------------------------------------------------------------------------


class _Cgroup:
    """This ocodex process's pids cgroup (no limit of its own), holding one child per command.

    A fresh child per command, because the kernel releases a finished command's tasks (and their
    pids.current charge) a second or two after they exit: a shared group would still look full.
    Finished children are removed as soon as they are empty. Commands start from several threads (the
    benchmark's workers, concurrent tool calls), so one lock covers making a child and filling it: an
    empty child is another thread's command about to move in, not a finished one to remove.
    """

    def __init__(self, path: Path, procs: str) -> None:
        self.path = path
        self._procs = procs
        self._count = 0
        self._children: list[Path] = []
        self._lock = threading.Lock()

    def add(self, pid: int, limit: int) -> None:
        """Put `pid` alone in a new child cgroup limited to `limit` tasks."""
        with self._lock:
            self._reap()
            self._count += 1
            child = self.path / f"cmd-{self._count}"
            child.mkdir()
            self._children.append(child)
            (child / "pids.max").write_text(str(limit))
            (child / self._procs).write_text(str(pid))

    def live_tasks(self) -> list[int]:
        """The tasks still in any of this process's command cgroups."""
        tasks: list[int] = []
        with self._lock:
            children = list(self._children)
        for child in children:
            with contextlib.suppress(OSError, ValueError):
                tasks += [int(t) for t in (child / self._procs).read_text().split()]
        return tasks

    def _reap(self) -> None:
        for child in list(self._children):
            with contextlib.suppress(OSError):
                child.rmdir()  # EBUSY while tasks (or their charges) remain: try again next time
                self._children.remove(child)

    def remove(self) -> None:
        with self._lock:
            self._reap()
        with contextlib.suppress(OSError):
            self.path.rmdir()


_group: _Cgroup | None = None
_group_failed = False
_group_lock = threading.Lock()


def _pids_cgroup() -> _Cgroup | None:
    global _group, _group_failed
    with _group_lock:
        if _group is None and not _group_failed:
            _group = _create_cgroup()
            _group_failed = _group is None
            if _group is not None:
                atexit.register(_group.remove)
        return _group


def _create_cgroup() -> _Cgroup | None:
    if not sys.platform.startswith("linux"):
        return None
    for parent, procs in _candidate_parents():
        _remove_stale(parent)
        path = parent / f"ocodex-{os.getpid()}"
        try:
            path.mkdir(exist_ok=True)
            if not (path / "pids.max").exists():
                path.rmdir()
                continue
            if procs == "cgroup.procs" and (path / "cgroup.subtree_control").exists():
                (path / "cgroup.subtree_control").write_text("+pids")  # v2: let the children count
            return _Cgroup(path, procs)
        except OSError:
            continue
    return None


def _candidate_parents() -> list[tuple[Path, str]]:
    """Directories under which a pids cgroup may be made: our own cgroup in v2, then in v1."""
    try:
        own = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    v1: dict[str, str] = {}
    v2 = ""
    for line in own:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            v2 = path
        for controller in controllers.split(","):
            v1[controller] = path
    found: list[tuple[Path, str]] = []
    for line in mounts:  # ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER_OPTIONS
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or not tail:
            continue
        mount_root, mount_point = fields[3], fields[4]
        fstype, options = tail[0], tail[2] if len(tail) > 2 else ""
        if fstype == "cgroup2" and v2:
            parent = _inside(mount_point, mount_root, v2)
            if parent is not None and _enable_pids_v2(parent):
                found.append((parent, "cgroup.procs"))
        elif fstype == "cgroup" and "pids" in options.split(",") and "pids" in v1:
            parent = _inside(mount_point, mount_root, v1["pids"])
            if parent is not None:
                found.append((parent, "cgroup.procs"))
    return found


def _inside(mount_point: str, mount_root: str, path: str) -> Path | None:
    """Where cgroup `path` appears under a mount of the hierarchy's `mount_root` at `mount_point`."""
    rel = os.path.relpath(path, mount_root) if mount_root != "/" else path.lstrip("/")
    if rel.startswith(".."):
        return None
    candidate = Path(mount_point) / rel if rel not in ("", ".") else Path(mount_point)
    return candidate if candidate.is_dir() else None


def _enable_pids_v2(parent: Path) -> bool:
    try:
        if "pids" not in (parent / "cgroup.controllers").read_text().split():
            return False
        if "pids" not in (parent / "cgroup.subtree_control").read_text().split():
            (parent / "cgroup.subtree_control").write_text("+pids")
        return True
    except OSError:
        return False


def _remove_stale(parent: Path) -> None:
    """Remove the empty cgroups of ocodex processes that are gone (killed before their exit hook ran)."""
    with contextlib.suppress(OSError):
        for group in parent.glob("ocodex-*"):
            pid = group.name.removeprefix("ocodex-")
            if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    for child in group.glob("cmd-*"):
                        child.rmdir()
                    group.rmdir()
