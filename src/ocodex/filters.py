"""Project filters: which files the model's searches and listings see, at no cost in prompt bytes.

This module owns the `[project_filters]` include/exclude globs. They reach the model's commands
through ripgrep, which the system prompt names for searching (`rg PATTERN`) and listing
(`rg --files`): ripgrep already skips what `.gitignore`, `.ignore` and hidden paths exclude, and the
globs are added through a ripgrep config file (`RIPGREP_CONFIG_PATH`) in the tools' environment
(`ocodex.tools.env`). The alternatives cost context on every request: a `list_files`/`search` tool adds its
schema (~400 bytes) to each request, and a project tree in the environment context grows with the
repository; this way the 6 KB first-request budget is untouched.

The config file is content-addressed under `$OCODEX_HOME/cache/` (written atomically), and a user's
own `RIPGREP_CONFIG_PATH` file is included first, so their settings still apply.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ocodex.errors import ConfigError


def ripgrep_config(include: Sequence[str], exclude: Sequence[str], base: str = "") -> str:
    """The text of a ripgrep config file: the user's own lines, then one `--glob` per filter."""
    lines = [line for line in base.splitlines() if line.strip()]
    for pattern in include:
        lines.append(f"--glob={pattern}")
    for pattern in exclude:
        lines.append(f"--glob=!{pattern}")
    return "\n".join(lines) + "\n"


def _check(patterns: Sequence[str], key: str) -> None:
    for pattern in patterns:
        if not pattern.strip() or "\n" in pattern:
            raise ConfigError(f"project_filters.{key}: {pattern!r} is not a usable glob; use patterns like "
                              "\"src/**\" or \"*.min.js\"")
        if pattern.startswith("!"):
            raise ConfigError(f"project_filters.{key}: {pattern!r} starts with '!'; put patterns to skip "
                              "in project_filters.exclude without the '!'")


def ripgrep_config_file(include: Sequence[str], exclude: Sequence[str], home: Path,
                        environ: Mapping[str, str] = os.environ) -> Path:
    """The ripgrep config file for the filters (the user's own `RIPGREP_CONFIG_PATH` lines first),
    written once under `home/cache/`; `ocodex.tools.env` points the tools at it."""
    _check(include, "include")
    _check(exclude, "exclude")
    base = ""
    own = environ.get("RIPGREP_CONFIG_PATH")
    if own:
        try:
            base = Path(own).read_text("utf-8")
        except OSError:
            base = ""
    text = ripgrep_config(include, exclude, base)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = home / "cache" / f"ripgrep-{digest}.conf"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        # O_EXCL|O_NOFOLLOW: never write through a link someone left at the temporary name.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    return path
