"""`exec -o FILE` (`--output-last-message`): the file the final answer goes to, safe from the model.

The model's commands run between the start of a run and the moment the answer is written, outside the
sandbox, by ocodex itself. In workspace-write they can change what FILE's path leads to: replace FILE
with a symlink to `~/.bashrc`, plant a link at a temp name next to it, or swap its directory for a link
to somewhere else. So nothing is looked up by name at the end (`LastMessageFile.open` before the model
runs, `write` after):

* at open, FILE is resolved: a symlink the user named is followed *then* (its target is the file that
  gets the answer; the link stays as it is), and FILE's directory is opened and its descriptor kept;
* at the end, the answer goes into a new temp file with a random name, created relative to that
  descriptor with O_CREAT|O_EXCL|O_NOFOLLOW (it can only be a file ocodex just made), written, fsynced,
  and renamed onto FILE's name relative to the same descriptor. A rename replaces whatever the name
  holds by then (a planted link or hard link is replaced, never followed), and the descriptor is the
  directory as it was at open, wherever it has been moved since. An existing FILE keeps its permission
  bits; a new one gets 0666 minus the umask. On failure the temp file is removed.
* a device, FIFO or terminal the user named (`-o /dev/null`, a named pipe) is opened at open, as a
  shell's `>` does (so a FIFO waits for its reader there, before the task runs), and written through
  that descriptor; `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` name this process's
  own descriptors, which are duplicated rather than reopened.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat

from ocodex.errors import OcodexError, UsageError

_OWN_FD = re.compile(r"^/(?:dev/(?P<std>stdout|stderr)|dev/fd/(?P<fd>\d+)|proc/self/fd/(?P<pfd>\d+))$")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
_HINT = "the answer is on stdout; check the -o/--output-last-message path"


def _own_fd(path: str) -> int | None:
    """The descriptor `path` names when it is one of this process's own (`/dev/stdout`, `/dev/fd/3`)."""
    match = _OWN_FD.match(os.path.normpath(path))
    if match is None:
        return None
    if match["std"]:
        return 1 if match["std"] == "stdout" else 2
    return int(match["fd"] or match["pfd"])


class LastMessageFile:
    """Where the final answer goes: a stream opened at start, or a directory descriptor and a name."""

    def __init__(self, shown: str, *, stream: int | None = None, directory: int | None = None,
                 name: str = "", mode: int | None = None) -> None:
        self.shown = shown  # the path as the user gave it, for messages
        self._stream = stream
        self._directory = directory
        self._name = name
        self._mode = mode  # the permission bits of the file being replaced; None: a new file

    @classmethod
    def open(cls, raw: str) -> LastMessageFile:
        """Resolve and open `raw` now, before the model runs. `UsageError` when it cannot be a file."""
        path = os.path.expanduser(raw)
        fd = _own_fd(path)
        if fd is not None:
            try:
                return cls(raw, stream=os.dup(fd))
            except OSError as exc:
                raise UsageError(f"-o {raw}: descriptor {fd} is not open ({exc.strerror or exc})") from None
        target = os.path.realpath(path)
        try:
            info: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise UsageError(f"-o {raw}: {exc.strerror or exc}", "choose another path") from None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise UsageError(f"-o {raw}: is a directory", "name a file to write the last message to")
        if info is not None and not stat.S_ISREG(info.st_mode):  # a device, FIFO or terminal: open it now
            try:
                return cls(raw, stream=os.open(target, os.O_WRONLY | os.O_NOCTTY | _CLOEXEC))
            except OSError as exc:
                raise UsageError(f"-o {raw}: cannot open it for writing: {exc.strerror or exc}") from None
        parent, name = os.path.split(target)
        try:
            directory = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        except OSError:
            raise UsageError(f"-o {raw}: the directory {os.path.dirname(path) or '.'} does not exist",
                             "create it first, or choose another path") from None
        mode = stat.S_IMODE(info.st_mode) & 0o777 if info is not None else None
        return cls(raw, directory=directory, name=name, mode=mode)

    def write(self, text: str) -> None:
        """Write `text` (UTF-8) as the file's whole content; `OcodexError` if it cannot be."""
        data = text.encode("utf-8")
        try:
            if self._stream is not None:
                _write_all(self._stream, data)
            else:
                self._replace(data)
        except OSError as exc:
            raise OcodexError(f"could not write the last message to {self.shown}: {exc.strerror or exc}",
                              _HINT) from None

    def _replace(self, data: bytes) -> None:
        directory = self._directory
        if directory is None:
            raise OSError("the file was closed")
        temp = f".{self._name[:200]}.{os.urandom(8).hex()}.ocodex-tmp"
        fd = os.open(temp, _NEW_FILE, 0o666 if self._mode is None else 0o600, dir_fd=directory)
        try:
            try:
                if self._mode is not None:
                    os.fchmod(fd, self._mode)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self._name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=directory)
            raise
        with contextlib.suppress(OSError):  # the rename itself on disk (not every file system can)
            os.fsync(directory)

    def close(self) -> None:
        for fd in (self._stream, self._directory):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._stream = self._directory = None

    def __enter__(self) -> LastMessageFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # os.write may write less than asked for
        view = view[os.write(fd, view):]
