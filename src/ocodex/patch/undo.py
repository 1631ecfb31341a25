"""A turn's snapshot of the files its edits replaced, and putting them back (`/undo`).

`TurnSnapshot.record` is the journal `ocodex.patch.apply.apply_patch` calls just before a verified patch
is written: the first time a turn touches a file, its content then (bytes, a symlink's target, or "did
not exist") is kept in memory. Later edits of the same file in the same turn keep the first state, so
the snapshot is the workspace as it was before the turn, for exactly the files the turn's edits
changed (edits, additions, deletions, moves). Nothing comes from git.

`restore` puts each file back through `ocodex.patch.commit` (all or nothing, temp files created with
O_EXCL|O_NOFOLLOW, renames that replace a link instead of following it) and removes the files the turn
added. It never writes through a path the model could have redirected since: a file whose folder is no
longer the real folder it was (replaced by a symbolic link, say) or that is now a directory or a FIFO is
left alone and reported. Files changed by the model's shell commands are not in the snapshot (a
command's writes are not seen); `/diff` shows them.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ocodex.patch.commit import CommitFailed, Write, commit

MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024  # per turn; a file past it is reported as not restorable


@dataclass(slots=True)
class Saved:
    """One file as it was before the turn's first edit of it."""

    path: Path  # where the file really is (its folder resolved when the edit was planned)
    original: bytes | None  # a regular file's bytes; None: it did not exist (or was a link)
    link: str | None = None  # it was a symbolic link to this target
    mode: int | None = None
    write: Write | None = None  # the turn's first write of it: the folders committing it created
    too_large: bool = False

    @property
    def existed(self) -> bool:
        return self.original is not None or self.link is not None

    @property
    def made_dirs(self) -> list[Path]:
        return list(self.write.made_dirs) if self.write is not None else []


@dataclass(frozen=True, slots=True)
class Restored:
    """What `restore` did, paths as `shown` names them."""

    restored: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


class UndoFailed(Exception):
    """Writing the old content back failed; nothing was changed (or, if `clean` is false, some files were)."""

    def __init__(self, message: str, clean: bool) -> None:
        super().__init__(message)
        self.message, self.clean = message, clean


class TurnSnapshot:
    """The files one turn's edits changed, as they were before the turn."""

    def __init__(self, limit_bytes: int = MAX_SNAPSHOT_BYTES) -> None:
        self.files: dict[Path, Saved] = {}
        self.limit = limit_bytes
        self._bytes = 0

    def __bool__(self) -> bool:
        return bool(self.files)

    def record(self, writes: Sequence[Write]) -> None:
        """The journal for `apply_patch`: keep each file's state the first time the turn writes it."""
        for write in writes:
            if write.path in self.files:
                continue
            size = len(write.original or b"")
            too_large = self._bytes + size > self.limit
            if not too_large:
                self._bytes += size
            # The write itself is kept: committing it records the folders it created (`made_dirs`).
            self.files[write.path] = Saved(write.path, None if too_large else write.original, write.link,
                                           write.mode, write, too_large)

    def restore(self, shown: Callable[[Path], str]) -> Restored:
        """Put every file back as it was before the turn; raises `UndoFailed` if writing fails (then
        nothing changed). `shown(path)` names a path for people."""
        writes: list[Write] = []
        restored: list[str] = []
        removed: list[str] = []
        skipped: list[tuple[str, str]] = []
        links: list[Saved] = []
        for saved in self.files.values():
            name = shown(saved.path)
            problem = _unsafe(saved.path)
            if problem is None and saved.too_large:
                problem = "it was too large to keep a copy of"
            current: _State | None = None
            if problem is None:
                current, problem = _current(saved.path)
            if problem is not None or current is None:
                skipped.append((name, problem or "it cannot be read"))
                continue
            if not saved.existed:
                if current.exists:
                    writes.append(Write(saved.path, name, None, None, current.data, current.link))
                    removed.append(name)
                continue
            if saved.link is not None:
                if current.link == saved.link:
                    continue
                if current.exists:
                    writes.append(Write(saved.path, name, None, None, current.data, current.link))
                links.append(saved)
                restored.append(name)
                continue
            if current.link is None and current.data == saved.original:
                continue  # already as it was
            writes.append(Write(saved.path, name, saved.original, saved.mode, current.data, current.link))
            restored.append(name)
        try:
            commit(writes)
        except CommitFailed as failed:
            state = "nothing was changed" if failed.clean else "some files may be left changed"
            raise UndoFailed(f"undo failed while writing {failed.write.rel}: "
                             f"{failed.error.strerror or failed.error}; {state}", failed.clean) from None
        for saved in links:  # a link the turn deleted: made again (its folder was checked above)
            try:
                os.symlink(saved.link, saved.path)  # type: ignore[arg-type]
            except OSError as exc:
                name = shown(saved.path)
                restored.remove(name)
                skipped.append((name, f"the link could not be made again: {exc.strerror or exc}"))
        for saved in self.files.values():
            if not saved.existed:
                for directory in reversed(saved.made_dirs):
                    with contextlib.suppress(OSError):
                        os.rmdir(directory)  # only if empty: the user's own files stay
        self.files.clear()
        return Restored(tuple(restored), tuple(removed), tuple(skipped))


class _Shown:
    """How `restore` names a path: relative to the workspace where inside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root)).resolve()

    def __call__(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def shown_from(root: Path) -> Callable[[Path], str]:
    """The path namer `TurnSnapshot.restore` takes, for a workspace at `root`."""
    return _Shown(root)


@dataclass(frozen=True, slots=True)
class _State:
    exists: bool
    data: bytes | None = None
    link: str | None = None


def _unsafe(path: Path) -> str | None:
    """Why writing at `path` could go somewhere else than where the edit wrote, or None if it cannot.

    The edit resolved the folder, so a folder that no longer resolves to itself was replaced (by a link)."""
    folder = path.parent
    while not os.path.lexists(folder):  # the model removed the folder: it is made again, below its parent
        if folder == folder.parent:
            return "its folder is gone"
        folder = folder.parent
    try:
        if folder.resolve() != folder or not folder.is_dir():
            return "its folder was replaced since the edit (by a link, or a file)"
    except (OSError, RuntimeError) as exc:
        return f"its folder cannot be checked: {exc}"
    return None


def _current(path: Path) -> tuple[_State | None, str | None]:
    """What is at `path` now (never following a link), or why it is left alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return _State(False), None
    except OSError as exc:
        return None, f"it cannot be read: {exc.strerror or exc}"
    if stat.S_ISLNK(info.st_mode):
        return _State(True, link=os.readlink(path)), None
    if stat.S_ISDIR(info.st_mode):
        return None, "it is a directory now"
    if not stat.S_ISREG(info.st_mode):
        return None, "it is no longer a regular file"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, f"it cannot be read: {exc.strerror or exc}"
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as exc:
        return None, f"it cannot be read: {exc.strerror or exc}"
    finally:
        os.close(fd)
    return _State(True, b"".join(chunks)), None
