"""Writing a verified patch to disk all or nothing, also when Ctrl-C (SIGINT) arrives in the middle.

Three steps, for every file the patch changes:

1. *Stage*: the new content goes into a temp file `.ocodex-<random>.tmp` next to its target (created
   with O_EXCL and O_NOFOLLOW, so it never opens something that was already there, a planted link
   included), with the target's permission bits; missing parent directories are created; and every
   file or link that will be replaced or deleted gets a backup hard link `.ocodex-<random>.bak`.
   Nothing the user sees has changed yet.
2. *Commit*: deletions (unlink), then renames of the temp files over their targets. Each rename is
   atomic, so a reader sees a file's old or new content, never a mix.
3. *Finish*: the backups are removed.

A failure (an `OSError`, or Ctrl-C) before the finish rolls everything back: committed targets get
their backup renamed back (the very same inode: content, mode and owner), new files are removed, and
every temp file, backup and created directory goes. SIGINT is deferred while this runs (the handler
only records it), checked between files, and delivered once the tree is whole again: all old after a
rollback, or all new if it came during the finish. So Ctrl-C never leaves a half-applied patch or a
stray temp file. SIGTERM and SIGHUP, which stop a run as Ctrl-C does, are deferred the same way.
SIGKILL (or a power cut) cannot be deferred: it can leave `.ocodex-*.tmp` and `.ocodex-*.bak` files,
and a patch applied to only some files; each `.bak` holds the old content of the file next to it
(docs/architecture.md says so).

Where hard links are not supported, a backup is kept in memory instead (the bytes read during
verification, or a symlink's target) and written back on rollback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(slots=True)
class Write:
    """One file the patch changes. `path`'s parent is already resolved (it is where the file really is)."""

    path: Path
    rel: str  # as the patch names it, for messages
    data: bytes | None  # the new content; None: the file (or symlink) is deleted
    mode: int | None = None  # permission bits for the new content (None: 0666 minus the umask)
    original: bytes | None = None  # the regular file there now, as read during verification
    link: str | None = None  # the symlink there now: its target
    # filled in while staging and committing:
    tmp: Path | None = None
    backup: Path | None = None
    made_dirs: list[Path] = field(default_factory=list)
    done: bool = False

    @property
    def existed(self) -> bool:
        return self.original is not None or self.link is not None


class CommitFailed(Exception):
    """An OSError while writing; `clean` says whether the rollback restored everything."""

    def __init__(self, write: Write, error: OSError, clean: bool) -> None:
        super().__init__(f"{write.rel}: {error}")
        self.write, self.error, self.clean = write, error, clean


class _Interrupted(Exception):
    """Ctrl-C (or SIGTERM/SIGHUP) arrived while committing: roll back, then deliver it."""


# What stops a run (Ctrl-C; SIGTERM and SIGHUP, which `ocodex.thread.signals` handles as Ctrl-C):
# each is deferred while a patch is committed.
_DEFERRED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@dataclass(slots=True)
class _Signals:
    caught: list[int] = field(default_factory=list)  # in the order they came

    def check(self) -> None:
        if self.caught:
            raise _Interrupted


@contextlib.contextmanager
def _signals_deferred() -> Iterator[_Signals]:
    """Record SIGINT, SIGTERM and SIGHUP instead of acting on them, for the duration; the caller
    delivers them after. A signal that is ignored stays ignored."""
    flag = _Signals()
    previous: dict[int, Callable[..., object] | int | None] = {}
    if threading.current_thread() is threading.main_thread():
        for number in _DEFERRED:
            handler = signal.getsignal(number)
            if handler not in (signal.SIG_IGN, None):
                previous[number] = signal.signal(number, lambda signum, frame: flag.caught.append(signum))
    try:
        yield flag
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


def _deliver(caught: Sequence[int]) -> None:
    """What the deferred signals would have done: KeyboardInterrupt for Ctrl-C, else their handler (or
    the default action, for a signal nobody handles)."""
    for number in dict.fromkeys(caught):
        if number == signal.SIGINT and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            raise KeyboardInterrupt
        signal.raise_signal(number)


def commit(writes: Sequence[Write]) -> None:
    """Apply `writes` all or nothing: raises `CommitFailed` (after a rollback) on an OSError, and
    KeyboardInterrupt (after a rollback) when Ctrl-C came before the patch was whole (SIGTERM or
    SIGHUP: what their handler does, after the rollback)."""
    deleted = {w.path for w in writes if w.data is None}
    # A file written under a directory that replaces a file this patch deletes can only be staged
    # once that file is gone: it is written during the commit, after the deletions.
    late = {id(w) for w in writes if w.data is not None and any(p in deleted for p in w.path.parents)}
    order = [w for w in writes if w.data is None] + [w for w in writes if w.data is not None and id(w) not in late]
    order += [w for w in writes if id(w) in late]
    failure: CommitFailed | None = None
    current = order[0] if order else None
    with _signals_deferred() as deferred:
        try:
            for write in order:
                current = write
                deferred.check()
                _stage(write, stage_content=id(write) not in late)
            for write in order:
                current = write
                deferred.check()
                _commit_one(write)
            deferred.check()
        except (OSError, _Interrupted) as exc:
            clean = _rollback(order)
            if isinstance(exc, OSError) and current is not None:
                failure = CommitFailed(current, exc, clean)
        except BaseException:
            _rollback(order)
            raise
        else:
            for write in order:  # the patch is whole: a Ctrl-C now waits for the backups to go
                if write.backup is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(write.backup)
    _deliver(deferred.caught)
    if failure is not None:
        raise failure


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f".ocodex-{os.urandom(6).hex()}{suffix}")


def _stage(write: Write, *, stage_content: bool) -> None:
    if write.existed:
        backup = _sibling(write.path, ".bak")
        try:
            os.link(write.path, backup, follow_symlinks=False)
            write.backup = backup
        except OSError:  # no hard links here (or none allowed): the bytes read earlier are the backup
            write.backup = None
    if write.data is not None and stage_content:
        write.made_dirs = _make_parents(write.path.parent)
        write.tmp = _write_new(write.path, write.data, write.mode)


def _commit_one(write: Write) -> None:
    if write.data is None:
        os.unlink(write.path)
    else:
        if write.tmp is None:  # a late write: its directory exists only now
            write.made_dirs = _make_parents(write.path.parent)
            write.tmp = _write_new(write.path, write.data, write.mode)
        os.replace(write.tmp, write.path)
        write.tmp = None
    write.done = True


def _rollback(order: Sequence[Write]) -> bool:
    """Undo every committed write, newest first, and remove every temp file, backup and new directory."""
    clean = True

    def attempt(step: Callable[[], object]) -> None:
        nonlocal clean
        try:
            step()
        except OSError:
            clean = False

    for write in reversed(order):
        if write.done:
            if write.backup is not None:
                attempt(lambda w=write: os.replace(w.backup, w.path))  # type: ignore[arg-type]
                write.backup = None
            elif write.existed:
                attempt(lambda w=write: _restore_from_memory(w))
            else:
                attempt(lambda w=write: os.unlink(w.path))
            write.done = False
    for write in reversed(order):
        for leftover in (write.tmp, write.backup):
            if leftover is not None:
                attempt(lambda p=leftover: os.unlink(p))
        write.tmp = write.backup = None
        for directory in reversed(write.made_dirs):
            attempt(lambda d=directory: os.rmdir(d))
        write.made_dirs = []
    return clean


def _restore_from_memory(write: Write) -> None:
    if write.link is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(write.path)
        os.symlink(write.link, write.path)
        return
    assert write.original is not None
    tmp = _write_new(write.path, write.original, write.mode)
    try:
        os.replace(tmp, write.path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _make_parents(directory: Path) -> list[Path]:
    """Create missing directories, top down; return the ones created."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    made: list[Path] = []
    try:
        for path in reversed(missing):
            os.mkdir(path)
            made.append(path)
    except OSError:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(path)
        raise
    return made


def _write_new(target: Path, data: bytes, mode: int | None) -> Path:
    """A new temp file next to `target` holding `data`, with `mode` (new files: 0666 minus the umask)."""
    tmp = _sibling(target, ".tmp")
    fd = os.open(tmp, _NEW_FILE, 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp
