"""Where a resident process listens (`$OCODEX_HOME/run`, checked as ours) and which one a run may use.

A run may use a resident process only if starting ocodex afresh would have given the same process: the
key is a digest of the interpreter (path, version, flags, `sys.path`), the installed code (the
modification times of ocodex's source files and of every directory on `sys.path`), the environment
variables the interpreter reads at start-up, and what the process is (user and groups, cgroup, rlimits,
CPU affinity, priority). What legitimately differs between runs (argv, the rest of the environment, the
working directory, umask, descriptors 0-2, ignored signals) is handed over with each run instead.

Only the standard library's cheapest modules are imported: this runs before every eligible `exec`.
"""

from __future__ import annotations

import os
import sys
import zlib

IDLE_SEC = 900.0  # a resident process exits after this long without a run (see `idle_sec`)
_START_ENV_PREFIXES = ("PYTHON", "LC_")
_START_ENV = ("LANG", "LANGUAGE")
_UNUSUAL_FLAGS = ("debug", "inspect", "interactive", "optimize", "verbose", "bytes_warning", "quiet",
                  "dev_mode", "isolated", "ignore_environment", "no_site", "no_user_site")


def enabled(env: dict[str, str] | os._Environ[str]) -> bool:
    """`OCODEX_RESIDENT=0` (or false/no/off) turns it off."""
    return env.get("OCODEX_RESIDENT", "").strip().lower() not in ("0", "false", "no", "off")


def idle_sec(env: dict[str, str] | os._Environ[str]) -> float:
    """`IDLE_SEC`, or `OCODEX_RESIDENT_IDLE_SEC` when it is a positive number of seconds."""
    try:
        value = float(env.get("OCODEX_RESIDENT_IDLE_SEC", ""))
    except ValueError:
        return IDLE_SEC
    return value if 0 < value < 10**7 else IDLE_SEC


def plain_interpreter() -> bool:
    """No `-X` or `-W` option, none of the flags that change how code runs or what it prints."""
    flags = sys.flags
    return (sys.platform == "linux" and not sys._xoptions and not sys.warnoptions
            and not any(getattr(flags, name, 0) for name in _UNUSUAL_FLAGS))


def home(env: dict[str, str] | os._Environ[str]) -> str:
    """`$OCODEX_HOME`, else `~/.ocodex` (as `ocodex.config.settings.ocodex_home`)."""
    value = env.get("OCODEX_HOME", "").strip()
    if value:
        return os.path.expanduser(value)
    base = env.get("HOME", "").strip() or os.path.expanduser("~")
    return os.path.join(base, ".ocodex")


def open_dir(home_path: str, *, create: bool) -> int | None:
    """A descriptor on `home_path/run`, or None unless it is a directory of ours that nobody else can
    enter. Every later path goes through it (`/proc/self/fd/N/...`), so a directory swapped for a link
    after this check is never followed."""
    path = os.path.join(home_path, "run")
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)
        return None
    return fd


def via(fd: int, name: str) -> str:
    """The path of `name` inside the directory open as `fd`, resolved through the descriptor."""
    return f"/proc/self/fd/{fd}/{name}"


def key() -> str:
    """What a fresh start of this process would be, as 16 hex digits (worked out once per process)."""
    global _key
    if _key is None:
        _key = _compute_key()
    return _key


_key: str | None = None


def _compute_key() -> str:
    parts: list[str] = [sys.executable, sys.version, sys.prefix, repr(sys.flags.utf8_mode),
                        repr(sys.flags.hash_randomization), repr(sys.flags.dont_write_bytecode)]
    # sys.path[0] is the script's directory (or the working directory under -m): never the code we run.
    search = sys.path if sys.flags.safe_path else sys.path[1:]
    for entry in search:
        parts.append(entry)
        try:
            parts.append(str(os.stat(entry).st_mtime_ns))  # a package installed or removed changes it
        except OSError:
            parts.append("-")
    parts.append(_source_stamp())
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(_START_ENV_PREFIXES) or k in _START_ENV)
    parts += [str(os.geteuid()), str(os.getegid()), repr(sorted(os.getgroups()))]
    parts.append(_read("/proc/self/cgroup"))
    parts.append(repr(_limits()))
    parts.append(repr(sorted(os.sched_getaffinity(0))))
    parts.append(str(os.getpriority(os.PRIO_PROCESS, 0)))
    parts.append(repr(getattr(sys.__stdout__, "write_through", None)))  # -u / PYTHONUNBUFFERED
    text = "\0".join(parts).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(text):08x}{zlib.adler32(text[::-1]):08x}"


def _source_stamp() -> str:
    """The count and newest modification time of ocodex's own source files."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    newest, count = 0, 0
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    count += 1
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime_ns)
    return f"{root}:{count}:{newest}"


def _limits() -> list[tuple[int, int]]:
    import resource

    return [resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
            if name.startswith("RLIMIT_")]


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""


_NAMESPACES = ("user", "mnt", "pid", "net", "uts", "ipc", "cgroup", "time")
_CONFINEMENT_FIELDS = ("Seccomp", "Seccomp_filters", "NoNewPrivs", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def confinement(pid: int | str) -> tuple[object, ...] | None:
    """What confines process `pid` (or "self"): its namespaces, seccomp state, no_new_privs, capability sets and
    LSM label. None if it cannot be read (the process is gone, or /proc is not ours)."""
    try:
        spaces = []
        for kind in _NAMESPACES:
            try:
                info = os.stat(f"/proc/{pid}/ns/{kind}")
                spaces.append((info.st_dev, info.st_ino))
            except FileNotFoundError:  # a kind this kernel does not have
                spaces.append(None)
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            fields = dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
        label = _read(f"/proc/{pid}/attr/current")
    except (OSError, ValueError):
        return None
    return (*spaces, *(fields.get(name) for name in _CONFINEMENT_FIELDS), label)


def same_confinement(pid: int) -> bool:
    """Whether process `pid` is exactly as confined as this one: a sandboxed command never is (bubblewrap gives it
    new namespaces, a seccomp filter, no capabilities), nor an ocodex started under someone else's seccomp filter,
    no_new_privs or another LSM label, whose run must not be done by a process without them. (Landlock cannot be
    read from outside: a launcher under Landlock alone is not told apart.)"""
    mine = confinement("self")
    return mine is not None and confinement(pid) == mine
