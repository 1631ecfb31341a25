"""What a patch would change, before it is applied: the files and a unified diff, for an approval question;
and what it did change (`written_diff`, from the applier's writes), for the `file_change` item people see.

Reads only regular files, without following a final symlink and without blocking on a FIFO, and at most
`MAX_PREVIEW_BYTES` of each; when a file cannot be read or a hunk cannot be placed, the diff shows the
hunk's own lines instead (the applier will say exactly why it fails). Never writes anything.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from ocodex.patch.chunks import apply_chunks
from ocodex.patch.commit import Write
from ocodex.patch.parser import AddFile, DeleteFile, Patch, UpdateFile

MAX_PREVIEW_BYTES = 1024 * 1024


def read_text(path: Path) -> str | None:
    """The text of a regular file, or None (missing, not regular, too big, not UTF-8)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with contextlib.closing(os.fdopen(fd, "rb")) as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PREVIEW_BYTES:
            return None
        try:
            return handle.read(MAX_PREVIEW_BYTES + 1).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = list(difflib.unified_diff(_lines(old), _lines(new), old_name, new_name))
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def files_of(patch: Patch) -> tuple[tuple[str, str], ...]:
    """(path, kind) for every hunk: kind is add, delete or update."""
    kinds = {AddFile: "add", DeleteFile: "delete", UpdateFile: "update"}
    return tuple((hunk.path, kinds[type(hunk)]) for hunk in patch.hunks)


def preview(patch: Patch, base: Path) -> str:
    """A unified diff of what `patch` would do to the files under `base`."""
    parts: list[str] = []
    for hunk in patch.hunks:
        path = base / hunk.path
        match hunk:
            case AddFile(contents=contents):
                parts.append(_diff("", contents, "/dev/null", f"b/{hunk.path}"))
            case DeleteFile():
                parts.append(_diff(read_text(path) or "", "", f"a/{hunk.path}", "/dev/null"))
            case UpdateFile(move_to=move_to, chunks=chunks):
                old = read_text(path)
                new: str | None = None
                if old is not None:
                    try:
                        new = apply_chunks(old, chunks)
                    except Exception:  # a hunk that cannot be placed: the applier will say why
                        new = None
                target = f"b/{move_to or hunk.path}"
                if old is not None and new is not None:
                    parts.append(_diff(old, new, f"a/{hunk.path}", target))
                else:  # the file cannot be read or the hunk placed: each chunk's own lines
                    for chunk in chunks:
                        parts.append(_diff("".join(f"{line}\n" for line in chunk.old_lines),
                                           "".join(f"{line}\n" for line in chunk.new_lines),
                                           f"a/{hunk.path}", target))
    return "".join(parts)


def _text_of(data: bytes | None) -> str | None:
    """The text of file content for a diff; None for binary content."""
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def written_diff(writes: Sequence[Write], root: Path) -> str:
    """A unified diff of what `writes` do (their old and new content), paths relative to `root` where
    inside it; a binary file is one line saying so."""
    base = Path(os.path.abspath(root)).resolve()
    parts: list[str] = []
    for write in writes:
        name = _name(write.path, base)
        old_name = f"a/{name}" if write.existed else "/dev/null"
        new_name = f"b/{name}" if write.data is not None else "/dev/null"
        old = _text_of(write.original) if write.link is None else f"-> {write.link}\n"
        new = _text_of(write.data)
        if old is None or new is None:
            parts.append(f"--- {old_name}\n+++ {new_name}\nBinary file {name} changed\n")
            continue
        parts.append(_diff(old, new, old_name, new_name))
    return "".join(parts)
