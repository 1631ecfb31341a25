"""`SandboxPolicy`: what a command may touch (Codex's `read-only`, `workspace-write` and
`danger-full-access` modes), and the permissions paragraph the model is shown for it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from ocodex.sandbox.limits import Limits
from ocodex.sandbox.protected import PROTECTED_NAMES

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
SANDBOX_MODES: tuple[SandboxMode, ...] = get_args(SandboxMode)

# Directories inside a writable root that stay read-only, at any depth (Codex: .git, .agents, .codex, .aws).
PROTECTED_SUBPATHS: tuple[str, ...] = PROTECTED_NAMES


@dataclass
class SandboxPolicy:
    """What commands may do. `writable_roots`, `include_tmp` and `allow_unix_sockets` only matter for
    workspace-write; `limits` for both sandboxed modes."""

    mode: SandboxMode
    cwd: Path
    writable_roots: list[Path] = field(default_factory=list)
    network_access: bool = False
    include_tmp: bool = True  # /tmp (Codex: not `exclude_slash_tmp`), and $TMPDIR unless include_tmpdir is off
    include_tmpdir: bool = True  # Codex: not `exclude_tmpdir_env_var`
    allow_unix_sockets: list[Path] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)

    @property
    def sandboxed(self) -> bool:
        return self.mode != "danger-full-access"

    @property
    def network_enabled(self) -> bool:
        return not self.sandboxed or self.network_access

    @property
    def unix_sockets(self) -> list[Path]:
        """The unix sockets a workspace-write command without network may connect to (config's choice)."""
        return list(self.allow_unix_sockets) if self.mode == "workspace-write" else []

    def writable(self) -> list[Path]:
        """Resolved, de-duplicated writable roots: cwd, extra roots, then /tmp and $TMPDIR."""
        if self.mode != "workspace-write":
            return []
        candidates = [self.cwd, *self.writable_roots]
        if self.include_tmp:
            candidates.append(Path("/tmp"))
        tmpdir = os.environ.get("TMPDIR")
        if tmpdir and self.include_tmp and self.include_tmpdir:
            candidates.append(Path(tmpdir))
        return unique_resolved(candidates)

    def temp_roots(self) -> list[Path]:
        """The shared temp directories among the writable roots (/tmp, $TMPDIR), unless the workspace
        or an explicit writable root is one of them: `protected.scan` walks these only near the top."""
        if self.mode != "workspace-write" or not self.include_tmp:
            return []
        temps = [Path("/tmp")]
        tmpdir = os.environ.get("TMPDIR")
        if tmpdir and self.include_tmpdir:
            temps.append(Path(tmpdir))
        chosen = unique_resolved([self.cwd, *self.writable_roots])
        return [path for path in unique_resolved(temps) if path not in chosen]

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


    def brief(self) -> str:
        """The permissions in one sentence, for a small model's system prompt (it copies long paragraphs)."""
        if self.mode == "read-only":
            return "Files cannot be changed here (a read-only sandbox): say which change you would make."
        if self.mode == "workspace-write":
            return "You may change the files of the workspace; there is no network access." \
                if not self.network_enabled else "You may change the files of the workspace."
        return "You may change any file."


def unique_resolved(paths: Iterable[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        if resolved not in seen:
            seen.append(resolved)
    return seen
