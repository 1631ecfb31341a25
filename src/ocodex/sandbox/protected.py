"""Which paths inside the writable roots stay read-only: `.git`, `.codex`, `.ocodex`, `.agents`, `.aws`.

One rule, used by the shell sandbox (bubblewrap's read-only re-binds, Seatbelt's exclusions) and by
`apply_patch` alike: a path inside a writable root is protected when any part of it below that root
is a protected name, at any depth (`vendor/lib/.git/hooks/pre-commit` too), or when it lies inside the
git directory that a `.git` file (`gitdir: ...`, as git worktrees and `--separate-git-dir` write) points
to. Names are compared the way the filesystems that fold names compare them, so `.GIT` (case-insensitive
filesystems), `.g\u200cit` (HFS+ ignores some invisible code points) and `.git.` (NTFS drops trailing
dots and spaces) are all `.git`, as git itself treats them.

`scan(roots)` finds the existing protected entries with one walk per root. The shared temp roots
(`/tmp`, `$TMPDIR`, passed as `shallow`) are walked only `TEMP_ROOT_DEPTH` levels down: they hold other
programs' trees (a test suite's hundreds of throwaway repositories, build directories) whose every
`.git` would otherwise cost a read-only mount per command, while a repository someone works in from
`/tmp` sits near its top (`/tmp/clone/.git`). A workspace or writable root inside a temp root is still
walked to any depth. The walk is bounded: it
never follows symlinks, never descends into a protected entry (it is read-only as a whole), and stops
with `ProtectionUnknown` past `MAX_WALK_ENTRIES` entries, so a tree too big to check fails closed
instead of running unchecked. Directories whose modification time, inode and device are unchanged
since the last walk are not listed again (a new entry changes its directory's mtime), so the walk
before each command costs one `stat` per directory once the tree is known.

What this cannot cover: a protected directory the sandboxed command itself creates during a command
(`mkdir -p x/.git/hooks && ...` in one command) is writable until that command ends; it is found and
re-bound read-only from the next command on, and `apply_patch` refuses it by name at once.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROTECTED_NAMES: tuple[str, ...] = (".git", ".codex", ".ocodex", ".agents", ".aws")
MAX_WALK_ENTRIES = 1_000_000
TEMP_ROOT_DEPTH = 3  # /tmp/a/b/.git is found; /tmp/a/b/c/.git is not (see the module docstring)

_FOLDED = frozenset(PROTECTED_NAMES)
# Code points HFS+ ignores when comparing names (git's is_hfs_dotgit list).
_HFS_IGNORED = dict.fromkeys(map(ord, "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                      "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"))


class ProtectionUnknown(Exception):
    """A writable root is too big to check for protected directories."""


def is_protected_name(name: str) -> bool:
    """True for `.git` and the other protected names, however a filesystem may spell them."""
    return _fold(name) in _FOLDED


def _fold(name: str) -> str:
    if name.isascii():
        return name.rstrip(". ").lower()
    return unicodedata.normalize("NFC", name.translate(_HFS_IGNORED)).casefold().rstrip(". ")


@dataclass(frozen=True)
class Protection:
    """The protected entries of a set of writable roots, and the rule that decides for any path."""

    roots: tuple[Path, ...]
    named: tuple[Path, ...]  # existing entries with a protected name (resolved)
    gitdirs: tuple[Path, ...]  # git directories that `.git` files inside the roots point to (resolved)

    @property
    def existing(self) -> list[Path]:
        """Every existing protected path, each once, shortest first (what a sandbox re-binds read-only)."""
        kept: list[Path] = []
        seen: set[Path] = set()
        for path in sorted({*self.named, *self.gitdirs}, key=lambda p: (len(p.parts), p)):
            if path not in seen and seen.isdisjoint(path.parents):
                kept.append(path)
                seen.add(path)
        return kept

    def covers(self, path: Path) -> bool:
        """Whether writing `path` (absolute; it need not exist) would write a protected path."""
        for candidate in {_lexical(path), _resolved(path)}:
            for top in self.roots:
                rel = _relative_parts(candidate, top)
                if rel is not None and any(is_protected_name(part) for part in rel):
                    return True
            if any(_under(candidate, gitdir) for gitdir in self.gitdirs):
                return True
        return False


def scan(roots: Iterable[Path], *, max_entries: int | None = None, shallow: Iterable[Path] = ()) -> Protection:
    """Walk `roots` (existing directories; others are skipped) for protected entries, looking at
    no more than `max_entries` (default `MAX_WALK_ENTRIES`) files and directories in all. Roots also
    in `shallow` (the shared temp roots) are walked `TEMP_ROOT_DEPTH` levels down only."""
    tops = _tops([*roots, *shallow])
    shallow_real = {_resolved(Path(root)) for root in shallow}
    deep: list[Path] = []
    near: list[Path] = []
    for top in tops:  # walked once each, through their real paths (no symlink on the way down)
        real = _resolved(top)
        if not real.is_dir():
            continue
        group = near if real in shallow_real else deep
        if real not in group and not any(_under(real, t) for t in group):
            group[:] = [t for t in group if not _under(t, real)] + [real]
    near = [t for t in near if not any(_under(t, d) for d in deep)]  # inside a deep root: walked with it
    walks = [(top, None, ()) for top in deep]
    walks += [(top, TEMP_ROOT_DEPTH, tuple(d for d in deep if _under(d, top))) for top in near]
    real_tops = deep + near
    named: set[Path] = set()
    gitdirs: set[Path] = set()
    limit = MAX_WALK_ENTRIES if max_entries is None else max_entries
    budget = [limit]
    for top, depth, skip in walks:
        for path, is_link in _walk(top, budget, limit, depth, skip):
            if is_link:  # a bind mount follows links: protect where it points, if that is inside a root
                path = _resolved(path)
                if not path.exists() or not any(_under(path, t) for t in real_tops):
                    continue
            named.add(path)
            target = _gitdir_target(path)
            if target is not None and any(_under(target, t) for t in real_tops):
                gitdirs.add(target)
    return Protection(tops, tuple(sorted(named)), tuple(sorted(gitdirs)))


# ---- the walk ----------------------------------------------------------------------------------

@dataclass(slots=True)
class _Listing:
    key: tuple[int, int, int]  # (st_dev, st_ino, st_mtime_ns)
    subdirs: list[str]
    named: list[tuple[str, bool]]  # (name, is a symlink)
    entries: int


_cache: dict[str, _Listing] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 200_000  # directories remembered; past it the cache starts over


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _walk(top: Path, budget: list[int], limit: int, max_depth: int | None = None,
          skip: tuple[Path, ...] = ()) -> list[tuple[Path, bool]]:
    """Protected entries under `top`, each with whether it is a symlink; `budget[0]` counts down.
    A protected entry `max_depth` directories below `top` is still found; nothing deeper is listed.
    Directories in `skip` (walked on their own) are not entered."""
    found: list[tuple[Path, bool]] = []
    skipped = {str(path) for path in skip}
    stack = [(str(top), 0)]
    while stack:
        directory, depth = stack.pop()
        if directory in skipped:
            continue
        listing = _listing(directory)
        if listing is None:
            continue
        budget[0] -= listing.entries
        if budget[0] < 0:
            raise ProtectionUnknown(
                f"{top} holds more than {limit:,} files and directories, too many to check for "
                "nested .git directories before each command")
        found.extend((Path(directory, name), is_link) for name, is_link in listing.named)
        if max_depth is None or depth < max_depth:
            stack.extend((os.path.join(directory, name), depth + 1) for name in listing.subdirs)
    return found


def _listing(directory: str) -> _Listing | None:
    try:
        st = os.lstat(directory)
    except OSError:
        return None
    key = (st.st_dev, st.st_ino, st.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(directory)
    if cached is not None and cached.key == key:
        return cached
    subdirs: list[str] = []
    named: list[tuple[str, bool]] = []
    entries = 0
    try:
        with os.scandir(directory) as it:
            for entry in it:
                entries += 1
                try:
                    if is_protected_name(entry.name):  # read-only as a whole: nothing below to look at
                        named.append((entry.name, entry.is_symlink()))
                    elif entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.name)
                except OSError:
                    continue
    except OSError:
        return None
    listing = _Listing(key, subdirs, named, entries)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[directory] = listing
    return listing


def _gitdir_target(path: Path) -> Path | None:
    """Where a `.git` *file* points (`gitdir: ../.git/worktrees/x`), resolved; None for anything else."""
    if _fold(path.name) != ".git":
        return None
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 4096:
            return None
        text = path.read_text("utf-8", "replace")
    except OSError:
        return None
    first = text.splitlines()[0] if text else ""
    if not first.startswith("gitdir:"):
        return None
    target = Path(first[len("gitdir:"):].strip())
    return _resolved(target if target.is_absolute() else path.parent / target)


# ---- path helpers ------------------------------------------------------------------------------

def _tops(roots: Iterable[Path]) -> tuple[Path, ...]:
    """Each root lexically and resolved, de-duplicated, in order."""
    tops: list[Path] = []
    for root in roots:
        for top in (_lexical(Path(root)), _resolved(Path(root))):
            if top not in tops:
                tops.append(top)
    return tuple(tops)


def _lexical(path: Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


def _resolved(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return _lexical(path)


def _relative_parts(path: Path, top: Path) -> tuple[str, ...] | None:
    try:
        return path.relative_to(top).parts
    except ValueError:
        return None


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents
