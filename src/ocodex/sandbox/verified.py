"""Remembering that the sandbox probe passed on this machine, so a warm run does not probe again.

`check_available` (`ocodex.sandbox.run`) starts a confined command and checks that it has no capabilities
and cannot write; that costs a warm one-shot `exec` about a tenth of its time (bubblewrap, the seccomp
library's lookup, the Python around them), for the same answer every run. A passed probe is remembered in
`$OCODEX_HOME/cache/sandbox.json` (`ocodex.cache_file`) under a fingerprint of everything its answer depends on:
the bubblewrap binary (path, inode, size, mtime, mode: a setuid change shows), the kernel (release and build),
the user ids and the capability sets ocodex runs with, the user-namespace switches, the policy's mode, network
and limits, and ocodex's version. An entry is trusted for `MAX_AGE_S`. A failed probe is never remembered,
and `ocodex doctor` always probes afresh.

If the machine changes in a way the fingerprint does not see, a command fails to start in the sandbox (it is
never run unconfined) and says why; nothing is weakened, only reported later.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from ocodex import __version__
from ocodex.cache_file import newest, read_entries, stamped, write_entries
from ocodex.sandbox.policy import SandboxPolicy

FORMAT = 1
MAX_ENTRIES = 16
MAX_AGE_S = 24 * 3600
_SWITCHES = ("/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/user/max_user_namespaces",
             "/proc/sys/kernel/apparmor_restrict_unprivileged_userns")


def _read(path: str, limit: int = 4096) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return "-"


def fingerprint(policy: SandboxPolicy) -> str | None:
    """What the probe's answer for `policy` depends on, hashed; None where nothing is remembered (not
    Linux, or no bubblewrap: the probe then says what is missing)."""
    if not sys.platform.startswith("linux") or not policy.sandboxed:
        return None
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    try:
        found = os.stat(bwrap)
    except OSError:
        return None
    status = [line for line in _read("/proc/self/status").splitlines() if line.startswith(("Cap", "Uid", "Gid"))]
    uname = os.uname()
    parts = [__version__, bwrap, str(found.st_ino), str(found.st_dev), str(found.st_size), str(found.st_mtime_ns),
             oct(found.st_mode), str(found.st_uid), uname.release, uname.version, uname.machine,
             *status, *(_read(path).strip() for path in _SWITCHES),
             policy.mode, str(policy.network_access), repr(policy.limits)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class VerifiedSandboxes:
    """The fingerprints of probes that passed, under `home` (`$OCODEX_HOME`)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "cache" / "sandbox.json"

    def known(self, print_: str) -> bool:
        entry = read_entries(self.path, FORMAT).get(print_)
        saved = entry.get("saved") if entry is not None else None
        return isinstance(saved, int | float) and 0 <= time.time() - saved < MAX_AGE_S

    def remember(self, print_: str) -> None:
        entries = read_entries(self.path, FORMAT)
        entries[print_] = stamped({})
        write_entries(self.path, FORMAT, newest(entries, MAX_ENTRIES))
