"""Reading files the model may have created or replaced (AGENTS.md, `--image`, `--output-schema`).

`read_regular` opens without blocking (a FIFO the model left behind would otherwise wait for a writer
forever), checks with fstat that what it opened is a regular file (a link to one is followed), and
reads no more than asked. apply_patch has its own stricter reader (no links at all) in `ocodex.patch`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class NotRegularFile(OSError):
    """The path is a directory, FIFO, socket or device, not a regular file."""


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """At most `limit` bytes (all of them without a limit) of the regular file at `path`.

    Raises FileNotFoundError, `NotRegularFile`, or another OSError (a path with a NUL byte included)."""
    try:
        fd = os.open(path, _FLAGS)
    except ValueError as exc:  # a NUL byte, a lone surrogate
        raise OSError(str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        chunks: list[bytes] = []
        left = limit
        while left is None or left > 0:
            chunk = os.read(fd, 1 << 16 if left is None else min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            if left is not None:
                left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
