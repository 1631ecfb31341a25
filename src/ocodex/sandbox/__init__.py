"""The sandbox every command the model asks for runs in.

* `policy`: `SandboxPolicy`, what a command may touch in each mode, and the paragraph the model reads.
* `protected`: the one rule for which paths inside writable roots stay read-only (`.git` and the
  others, nested, in any case spelling), shared with `apply_patch`.
* `bwrap`: how a command is confined (bubblewrap on Linux: no capabilities, namespaces, read-only
  mounts, a scratch HOME; Seatbelt on macOS) and what the availability probe must see.
* `seccomp`: the syscall filter (no unix sockets without network, no io_uring, no keyrings).
* `limits`: memory, process, file-size and CPU limits (`[sandbox_limits]`).
* `run`: `run_command` and `check_available`.

Read-only mode means the whole filesystem, `/tmp` included, is visible and nothing on it can be
written; each command only gets a private scratch tmpfs (HOME, TMPDIR) that vanishes when it ends.
(A private tmpfs on `/tmp` would hide projects, virtualenvs and tools that live there; bubblewrap 0.8,
Debian 12's, has no overlay to show them and still discard writes.)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocodex.sandbox.bwrap import SEATBELT_EXECUTABLE, Confinement, scratch_home, scratch_tmp, tool_bin_dir
    from ocodex.sandbox.limits import Limits
    from ocodex.sandbox.policy import PROTECTED_SUBPATHS, SANDBOX_MODES, SandboxMode, SandboxPolicy
    from ocodex.sandbox.run import (
        MAX_CAPTURE_BYTES,
        TIMEOUT_EXIT_CODE,
        ExecResult,
        build_argv,
        check_available,
        clear_availability_cache,
        confinement,
        looks_sandbox_denied,
        run_command,
    )

# Each name is loaded from its module on first use (PEP 562): the config needs `Limits` and a thread's
# prompt needs `SandboxPolicy` long before any command runs, and neither should load bubblewrap's argv
# builder, the seccomp compiler (pyseccomp) or the runner on the way.
_HOMES = {
    "bwrap": ("SEATBELT_EXECUTABLE", "Confinement", "scratch_home", "scratch_tmp", "tool_bin_dir"),
    "limits": ("Limits",),
    "policy": ("PROTECTED_SUBPATHS", "SANDBOX_MODES", "SandboxMode", "SandboxPolicy"),
    "run": ("MAX_CAPTURE_BYTES", "TIMEOUT_EXIT_CODE", "ExecResult", "build_argv", "check_available",
            "clear_availability_cache", "confinement", "looks_sandbox_denied", "run_command"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


__all__ = [
    "MAX_CAPTURE_BYTES",
    "PROTECTED_SUBPATHS",
    "SANDBOX_MODES",
    "SEATBELT_EXECUTABLE",
    "TIMEOUT_EXIT_CODE",
    "Confinement",
    "ExecResult",
    "Limits",
    "SandboxMode",
    "SandboxPolicy",
    "build_argv",
    "check_available",
    "clear_availability_cache",
    "confinement",
    "looks_sandbox_denied",
    "run_command",
    "scratch_home",
    "scratch_tmp",
    "tool_bin_dir",
]
