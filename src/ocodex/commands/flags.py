"""Flag-to-settings wiring that `exec` and the interactive session share: the settings flags, the
working directory (`--cd`, the same error in both), and whether stderr gets colour."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

from ocodex.errors import UsageError


def settings_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line layer of the settings (`load_settings(flags=...)`)."""
    flags: dict[str, Any] = {}
    if args.model is not None:  # `-m ""` is refused by the settings check, not taken as "no -m"
        flags["model"] = args.model
    local = getattr(args, "local_provider", None)
    if args.oss or local:  # `--local-provider X` alone means `--oss --local-provider X`
        flags["model_provider"] = "oss"
    if local:
        flags["oss_provider"] = local
    if getattr(args, "escalate", False):
        flags["escalate"] = True
    if args.full_auto:
        flags["sandbox_mode"] = "workspace-write"
        flags["approval_policy"] = "never"
    if args.sandbox:
        flags["sandbox_mode"] = args.sandbox
    return flags


def work_dir(cd: str | None) -> Path:
    """The directory a run works in: `--cd DIR` (which must be a directory), else the current one."""
    cwd = Path(cd).expanduser() if cd else Path.cwd()
    if not cwd.is_dir():
        raise UsageError(f"--cd {cd}: not a directory")
    return cwd.resolve()


def use_color(choice: str, stream: TextIO) -> bool:
    """`--color always|never|auto`; auto: a terminal, unless NO_COLOR is set."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()
