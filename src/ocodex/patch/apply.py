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
* Chunks are located like Codex's `seek_sequence`: from the end of the previous chunk (and after the
  `@@` anchor line), trying an exact match, then ignoring trailing whitespace, then leading and
  trailing whitespace, then with typographic punctuation folded to ASCII. An anchor may also match
  as a prefix of a line (`@@ class Foo` finds `class Foo(Base):`). If the anchor is not found but
  the chunk's old lines occur exactly once, that place is used.
* `*** End of File` pins the old lines to the end of the file (blank lines after them allowed).
  A chunk with no old lines inserts after its anchor, or at the end of the file.
* Updated files always end with a newline (as in Codex); a UTF-8 BOM and CRLF line endings are kept.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ocodex.patch.commit import CommitFailed, Write, commit
from ocodex.patch.parser import (
    AddFile,
    Chunk,
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
_SHOW_LINES = 30


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One hunk as applied. `path` is absolute; for a move it is the new path and `move_from` the old."""

    path: Path
    kind: ChangeKind
    move_from: Path | None = None


class _Reject(Exception):
    """A verification failure inside one hunk; `apply_patch` adds which hunk it was."""


def apply_patch(patch: Patch, root: Path, roots: Sequence[Path] = ()) -> list[AppliedChange]:
    """Apply every hunk of `patch` under `root`, or none of them (raising `PatchError`).

    Relative paths are taken from `root`; every path must land inside `roots` (default: `root` only).
    """
    workspace = _Workspace(Path(root), roots)
    changes = []
    for index, hunk in enumerate(patch.hunks, 1):
        try:
            changes.append(workspace.plan(hunk))
        except _Reject as exc:
            raise PatchError(f"{_VERIFY}: {describe_hunk(index, hunk)}: {exc}") from None
    workspace.commit()
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

    def commit(self) -> None:
        writes = [Write(entry.io, entry.rel, entry.new_bytes(), entry.mode, entry.original, entry.link)
                  for entry in self.files.values() if entry.changed()]
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


# ---- locating chunks ------------------------------------------------------------------------------

_PUNCTUATION = str.maketrans({
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
    **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
})

_Normaliser = Callable[[str], str]
_LEVELS: tuple[_Normaliser, ...] = (
    lambda s: s,
    str.rstrip,
    str.strip,
    lambda s: s.strip().translate(_PUNCTUATION),
)


def apply_chunks(text: str, chunks: Sequence[Chunk]) -> str:
    """Return `text` with `chunks` applied (raising `_Reject` if one cannot be placed)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    eol = "\r\n" if body.count("\r\n") * 2 > body.count("\n") else "\n"
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()
    if eol == "\r\n":
        lines = [line.removesuffix("\r") for line in lines]
    new_lines = _splice(lines, _replacements(lines, chunks))
    return bom + "".join(line + eol for line in new_lines)


_Replacement = tuple[int, int, list[str]]  # (start, how many old lines, new lines)


def _splice(lines: list[str], replacements: list[_Replacement]) -> list[str]:
    out: list[str] = []
    cursor = 0
    for start, length, new in replacements:
        out.extend(lines[cursor:start])
        out.extend(new)
        cursor = start + length
    out.extend(lines[cursor:])
    return out


def _replacements(lines: list[str], chunks: Sequence[Chunk]) -> list[_Replacement]:
    result: list[_Replacement] = []
    index = 0
    for number, chunk in enumerate(chunks, 1):
        where = f"chunk {number} of {len(chunks)}: " if len(chunks) > 1 else ""
        if chunk.anchor is not None:
            found = _seek_anchor(lines, chunk.anchor, index)
            if found is None and _unique(lines, chunk.old_lines, index) is None:
                raise _Reject(f"{where}could not find the context line '@@ {chunk.anchor}' "
                              f"(searched from line {index + 1}; the file has {len(lines)} lines)")
            index = index if found is None else found + 1
        if not chunk.old_lines:
            at = index if chunk.anchor is not None and not chunk.is_end_of_file else len(lines)
            if chunk.new_lines:
                result.append((at, 0, list(chunk.new_lines)))
                index = at
            continue
        start, length, new = _locate(lines, chunk, index, where)
        result.append((start, length, new))
        index = start + length
    return result


def _locate(lines: list[str], chunk: Chunk, index: int, where: str) -> _Replacement:
    """Find the chunk's old lines; a trailing empty context line may stand for the final newline."""
    old, new = list(chunk.old_lines), list(chunk.new_lines)
    start = _seek(lines, old, index, chunk.is_end_of_file)
    while start is None and old and old[-1] == "":
        old.pop()
        if new and new[-1] == "":
            new.pop()
        start = _seek(lines, old, index, chunk.is_end_of_file) if old else _end_or(lines, chunk, index)
    if start is None:
        raise _Reject(where + _not_found(lines, chunk, index))
    return start, len(old), new


def _end_or(lines: list[str], chunk: Chunk, index: int) -> int:
    return len(lines) if chunk.is_end_of_file else index


def _seek(lines: list[str], pattern: list[str], start: int, eof: bool = False) -> int | None:
    """First index at or after `start` where `pattern` matches, at the loosest level needed."""
    size = len(pattern)
    if size > len(lines):
        return None
    for normalise in _LEVELS:
        want = [normalise(line) for line in pattern]
        for i in _candidates(lines, size, start, eof):
            if all(normalise(lines[i + k]) == want[k] for k in range(size)):
                return i
    return None


def _candidates(lines: list[str], size: int, start: int, eof: bool) -> range:
    last = len(lines) - size
    if not eof:
        return range(start, last + 1)
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return range(last, max(start, end - size) - 1, -1)  # at the very end first, then before blank lines


def _seek_anchor(lines: list[str], anchor: str, start: int) -> int | None:
    found = _seek(lines, [anchor], start)
    if found is not None:
        return found
    key = _LEVELS[-1](anchor)
    return next((i for i in range(start, len(lines)) if _LEVELS[-1](lines[i]).startswith(key)), None)


def _unique(lines: list[str], pattern: list[str], start: int) -> int | None:
    """The only place `pattern` occurs (ignoring trailing whitespace), or None."""
    if not pattern:
        return None
    want = [line.rstrip() for line in pattern]
    hits = [i for i in range(start, len(lines) - len(pattern) + 1)
            if [line.rstrip() for line in lines[i:i + len(pattern)]] == want]
    return hits[0] if len(hits) == 1 else None


# ---- messages a model can act on --------------------------------------------------------------------

def _indent(lines: Sequence[str]) -> str:
    shown = [f"  {line}" for line in lines[:_SHOW_LINES]]
    if len(lines) > _SHOW_LINES:
        shown.append(f"  ... ({len(lines) - _SHOW_LINES} more lines)")
    return "\n".join(shown)


def _not_found(lines: list[str], chunk: Chunk, index: int) -> str:
    place = "at the end of the file" if chunk.is_end_of_file else "to replace"
    parts = [f"could not find the lines {place}:", _indent(chunk.old_lines)]
    earlier = _seek(lines, chunk.old_lines, 0) if index > 0 else None
    if earlier is not None and earlier < index:
        parts.append(f"They occur at line {earlier + 1}, but this chunk is searched for only from line "
                     f"{index + 1} (after the previous chunk and its '@@' line): "
                     "chunks must be in file order.")
    elif (near := _closest(lines, chunk.old_lines)) is not None:
        start, score = near
        parts.append(f"The closest match starts at line {start + 1} ({score} of {len(chunk.old_lines)} "
                     "lines match); the file there reads:")
        parts.append(_indent(lines[start:start + len(chunk.old_lines)]))
    parts.append(f"(the file has {len(lines)} lines; check the context lines match the file exactly)")
    return "\n".join(parts)


def _closest(lines: list[str], pattern: list[str]) -> tuple[int, int] | None:
    """Where most non-blank pattern lines line up with the file (ignoring indentation)."""
    want = [line.strip() for line in pattern]
    have = [line.strip() for line in lines]
    best: tuple[int, int] | None = None
    for i in range(len(have)):
        window = have[i:i + len(want)]
        score = sum(1 for a, b in zip(window, want, strict=False) if b and a == b)
        if score and (best is None or score > best[1]):
            best = (i, score)
    return best
