"""Apply a parsed Codex patch to a workspace, all or nothing.

Two phases. *Verify*: resolve every path, read every file, locate every chunk and compute every new
file in memory (later hunks see the results of earlier ones, so a patch may add a file and then
update it). Any failure raises `PatchError` naming the hunk and the reason, and nothing on disk has
changed. Only regular files are read (opened without blocking and without following a last link,
then checked with fstat): a FIFO, socket or device is refused, never waited on. *Commit*
(`ocodex.patch.commit`): every new file is staged as a temp file next to its target first, then
renamed into place; an OSError or Ctrl-C before the patch is whole rolls everything back, so the
tree is all old or all new and no temp file is left.

Choices (where Codex differs, the reason is given):
* `Add File` on an existing file is an error unless the content is identical (Codex overwrites,
  which silently loses data; the model is told to use `Update File`). Same for `Move to` onto an
  existing file.
* Relative paths are resolved against the workspace root; a path (absolute, or relative with `..`)
  that lands outside every allowed root (the workspace, plus any extra writable roots), lexically
  or through a symlink, is refused. Writing through an in-workspace symlink edits its target;
  `Delete File` on a symlink removes the link (wherever it points: the link itself is in the workspace).
* Where chunks are placed in a file: `ocodex.patch.chunks`.

`rewrite_files` is the same machinery for the edit tools that compute a file's new text themselves
(`write_file`, `replace`): the same path rules, the same reading of regular files only, the same commit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ocodex.patch.chunks import HunkRejected as _Reject
from ocodex.patch.chunks import apply_chunks
from ocodex.patch.commit import CommitFailed, Write, commit
from ocodex.patch.parser import (
    AddFile,
    DeleteFile,
    Hunk,
    Patch,
    PatchError,
    UpdateFile,
    describe_hunk,
    parse_patch,
)

ChangeKind = Literal["add", "delete", "update"]

_VERIFY = "apply_patch verification failed"


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One hunk as applied. `path` is absolute; for a move it is the new path and `move_from` the old."""

    path: Path
    kind: ChangeKind
    move_from: Path | None = None


Journal = Callable[[Sequence[Write]], None]


def apply_patch(patch: Patch, root: Path, roots: Sequence[Path] = (), journal: Journal | None = None
                ) -> list[AppliedChange]:
    """Apply every hunk of `patch` under `root`, or none of them (raising `PatchError`).

    Relative paths are taken from `root`; every path must land inside `roots` (default: `root` only).
    `journal` sees every file's write (its old and new content) once the patch is verified, just before
    anything is written: a turn's snapshot for /undo, and the diff shown to people.
    """
    workspace = _Workspace(Path(root), roots)
    changes = []
    for index, hunk in enumerate(patch.hunks, 1):
        try:
            changes.append(workspace.plan(hunk))
        except _Reject as exc:
            raise PatchError(f"{_VERIFY}: {describe_hunk(index, hunk)}: {exc}") from None
    workspace.commit(journal)
    return changes


Rewrite = Callable[[str | None], str]
"""A file's new text from its text now (None: the file does not exist); raises `HunkRejected` to refuse."""


def rewrite_files(edits: Sequence[tuple[str, Rewrite]], root: Path, roots: Sequence[Path] = (), *,
                  tool: str, journal: Journal | None = None) -> list[AppliedChange]:
    """Give each path of `edits` the text its function returns, all or none (raising `PatchError` whose
    message starts with `{tool} failed`). Paths follow `apply_patch`'s rules; a file whose new text equals
    its old one is not written, and is not in the changes returned. `journal`: as for `apply_patch`."""
    workspace = _Workspace(Path(root), roots)
    changes = []
    for rel, rewrite in edits:
        try:
            target = _resolve(workspace.root, workspace.real_root, rel, real_roots=workspace.real_roots)
            entry = workspace.file(target)
            workspace.check_creatable(target, entry)
            if entry.exists and entry.text is None:
                raise _Reject(f"{rel} is not UTF-8 text; {tool} only edits text files")
            existed = entry.exists
            before = entry.text if existed else None
            entry.set_text(rewrite(before))
        except _Reject as exc:
            raise PatchError(f"{tool} failed: {exc}") from None
        if entry.text != before or not existed:
            changes.append(AppliedChange(target.lexical, "update" if existed else "add"))
    try:
        workspace.commit(journal)
    except PatchError as exc:
        raise PatchError(str(exc).replace("apply_patch failed", f"{tool} failed", 1)) from None
    return changes


def apply_patch_text(text: str, root: Path) -> tuple[list[AppliedChange], str]:
    """Parse and apply `text`; also return Codex's summary (`Success. Updated the following files:`...)."""
    changes = apply_patch(parse_patch(text), root)
    return changes, format_summary(changes, root)


def format_summary(changes: Sequence[AppliedChange], root: Path) -> str:
    """Codex's tool output: added (A), then modified (M), then deleted (D) paths, relative to `root`."""
    base = os.path.abspath(root)
    lines: dict[str, None] = {}  # ordered and without repeats
    for kind, letter in (("add", "A"), ("update", "M"), ("delete", "D")):
        for change in changes:
            if change.kind != kind:
                continue
            shown = os.path.relpath(change.path, base)
            if shown == ".." or shown.startswith("../"):  # in another writable root: show it absolute
                shown = str(change.path)
            lines[f"{letter} {Path(shown).as_posix()}"] = None
    return "\n".join(["Success. Updated the following files:", *lines])


# ---- paths --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Target:
    rel: str  # as written in the patch
    lexical: Path  # root / normalised rel (or the normalised absolute path): what is reported
    io: Path  # where reads and writes really go (symlinks resolved)
    top: Path  # the resolved allowed root that contains `io`


def _resolve(root: Path, real_root: Path, rel: str, *, follow_link: bool = True,
             real_roots: Sequence[Path] = ()) -> _Target:
    """Resolve `rel` inside an allowed root (default: the workspace), refusing anything that would leave it."""
    if "\x00" in rel:
        raise _Reject(f"the path contains a NUL character: {rel!r}")
    if any("\ud800" <= char <= "\udfff" for char in rel):
        raise _Reject(f"the path is not valid Unicode (it holds a lone surrogate): {rel!r}")
    if rel.startswith("~"):
        raise _Reject(f"Path escapes the workspace: {rel}")
    lexical = Path(os.path.normpath(root / rel))
    if lexical == root:
        raise _Reject(f"the path '{rel}' is the workspace root, not a file")
    try:
        parent = Path(os.path.normpath(real_root / rel)).parent.resolve()
        io = parent / lexical.name
        final = io.resolve() if follow_link else io  # not following: a link is itself the target
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop (Python < 3.13)
        raise _Reject(f"cannot resolve the path '{rel}': {exc}") from None
    for top in real_roots or (real_root,):
        if final.is_relative_to(top) and final != top and parent.is_relative_to(top):
            return _Target(rel, lexical, final if follow_link else io, top)
    raise _Reject(f"Path escapes the workspace: {rel}")


# ---- the in-memory state of each touched file -----------------------------------------------------

@dataclass(slots=True)
class _File:
    """What was on disk before the patch, and what the patch has made of it so far."""

    io: Path
    rel: str
    original: bytes | None = None  # a regular file's bytes before the patch
    link: str | None = None  # a symlink's target (seen only by Delete File, which does not follow links)
    mode: int | None = None  # permission bits to keep
    is_dir: bool = False
    exists: bool = False  # whether it exists after the hunks planned so far
    text: str | None = None  # its text, if it exists and is UTF-8 text

    def new_bytes(self) -> bytes | None:
        return self.text.encode("utf-8") if self.exists and self.text is not None else None

    def changed(self) -> bool:
        if not self.exists:
            return self.original is not None or self.link is not None
        return self.text is not None and self.new_bytes() != self.original

    def set_text(self, text: str) -> None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _Reject(f"the new content of {self.rel} cannot be encoded as UTF-8: {exc.reason}") from None
        self.exists, self.text = True, text


_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _not_regular(rel: str, mode: int) -> _Reject:
    kind = next((name for test, name in _SPECIAL if test(mode)), "not a regular file")
    return _Reject(f"{rel} is {kind}, not a regular file; apply_patch only reads and writes regular files")


def _read_regular(io: Path, rel: str) -> tuple[bytes, int]:
    """A regular file's bytes and mode, opened without blocking (a FIFO would wait for a writer forever)
    and without following a link that replaced it since it was resolved."""
    try:
        fd = os.open(io, _READ)
    except OSError as exc:
        raise _Reject(f"Failed to read {rel}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(rel, info.st_mode)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), info.st_mode
    except OSError as exc:
        raise _Reject(f"Failed to read {rel}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _load(io: Path, rel: str) -> _File:
    try:
        info = io.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return _File(io, rel)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte; UnicodeEncodeError: a lone surrogate
        raise _Reject(f"cannot access {rel}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        return _File(io, rel, link=os.readlink(io), exists=True)
    if stat.S_ISDIR(info.st_mode):
        return _File(io, rel, is_dir=True)
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(rel, info.st_mode)
    data, mode = _read_regular(io, rel)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None  # binary: it may be deleted, not edited
    return _File(io, rel, data, mode=stat.S_IMODE(mode), exists=True, text=text)


class _Workspace:
    """Plans hunks against an in-memory view of the workspace, then commits them."""

    def __init__(self, root: Path, roots: Sequence[Path] = ()) -> None:
        self.root = Path(os.path.abspath(root))
        if not self.root.is_dir():
            raise PatchError(f"{_VERIFY}: the workspace {root} is not a directory")
        self.real_root = self.root.resolve()
        self.real_roots = [Path(r).resolve() for r in roots] or [self.real_root]
        self.files: dict[Path, _File] = {}

    # -- verification --

    def plan(self, hunk: Hunk) -> AppliedChange:
        if isinstance(hunk, AddFile):
            return self.add(hunk)
        if isinstance(hunk, DeleteFile):
            return self.delete(hunk)
        return self.update(hunk)

    def file(self, target: _Target) -> _File:
        if target.io not in self.files:
            self.files[target.io] = _load(target.io, target.rel)
        return self.files[target.io]

    def add(self, hunk: AddFile) -> AppliedChange:
        target = _resolve(self.root, self.real_root, hunk.path, real_roots=self.real_roots)
        entry = self.file(target)
        self.check_creatable(target, entry)
        if entry.exists and entry.text != hunk.contents:
            raise _Reject(f"file already exists (use '*** Update File: {hunk.path}' to change it, "
                          f"or '*** Delete File: {hunk.path}' before adding it again)")
        entry.set_text(hunk.contents)
        return AppliedChange(target.lexical, "add")

    def delete(self, hunk: DeleteFile) -> AppliedChange:
        target = _resolve(self.root, self.real_root, hunk.path, follow_link=False,
                          real_roots=self.real_roots)
        entry = self.file(target)
        if entry.is_dir:
            raise _Reject(f"{hunk.path} is a directory; Delete File only deletes files")
        if not entry.exists:
            raise _Reject(f"Failed to delete file {hunk.path}: No such file or directory" + _gone(entry))
        entry.exists, entry.text = False, None
        return AppliedChange(target.lexical, "delete")

    def update(self, hunk: UpdateFile) -> AppliedChange:
        source = _resolve(self.root, self.real_root, hunk.path, real_roots=self.real_roots)
        entry = self.file(source)
        new_text = apply_chunks(_readable(entry), hunk.chunks)
        if hunk.move_to is None:
            entry.set_text(new_text)
            return AppliedChange(source.lexical, "update")
        dest = _resolve(self.root, self.real_root, hunk.move_to, real_roots=self.real_roots)
        if dest.io == source.io:
            entry.set_text(new_text)
            return AppliedChange(dest.lexical, "update")
        moved = self.file(dest)
        self.check_creatable(dest, moved)
        if moved.exists and moved.text != new_text:
            raise _Reject(f"cannot move to {hunk.move_to}: a different file already exists there")
        moved.set_text(new_text)
        moved.mode = moved.mode if moved.original is not None else entry.mode
        entry.exists, entry.text = False, None
        return AppliedChange(dest.lexical, "update", move_from=source.lexical)

    def check_creatable(self, target: _Target, entry: _File) -> None:
        """The path must not be a directory, and no parent of it may be a file."""
        if entry.is_dir:
            raise _Reject(f"{target.rel} is a directory")
        for parent in target.io.parents:
            if parent == target.top or not parent.is_relative_to(target.top):
                break
            known = self.files.get(parent)
            is_file = known.exists if known is not None else parent.exists() and not parent.is_dir()
            if is_file:
                raise _Reject(f"cannot create {target.rel}: "
                              f"{parent.relative_to(target.top).as_posix()} is a file")

    # -- commit --

    def commit(self, journal: Journal | None = None) -> None:
        writes = [Write(entry.io, entry.rel, entry.new_bytes(), entry.mode, entry.original, entry.link)
                  for entry in self.files.values() if entry.changed()]
        if journal is not None:
            journal(writes)
        try:
            commit(writes)
        except CommitFailed as failed:
            state = "no files were changed" if failed.clean else "some files may be left changed"
            raise PatchError(f"apply_patch failed while writing {failed.write.rel}: "
                             f"{failed.error.strerror or failed.error}; {state}") from None


def _readable(entry: _File) -> str:
    if entry.is_dir:
        raise _Reject(f"Failed to read file to update {entry.rel}: Is a directory")
    if not entry.exists:
        raise _Reject(f"Failed to read file to update {entry.rel}: No such file or directory" + _gone(entry))
    if entry.text is None:
        raise _Reject(f"{entry.rel} is not UTF-8 text; apply_patch only edits text files")
    return entry.text


def _gone(entry: _File) -> str:
    return " (it was deleted earlier in this patch)" if entry.original is not None else ""
