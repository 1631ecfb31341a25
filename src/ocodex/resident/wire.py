"""The few messages between a launcher (`client`) and a resident process (`server`), over a unix socket.

1. client -> server: the run (`Run`, one length-prefixed `marshal` record) with descriptors 0, 1, 2 and
   the working directory attached (SCM_RIGHTS).
2. server -> client: `P` and the pid of the fork that will be the run (it waits for the next message).
3. client -> server: `G`: go. Until the client has the pid it can still run the task itself; after
   `G` it never does, so a run is never done twice.
4. server -> client: `X` and the exit code, or `S` and the signal that ended it.

Both peers are the same user in the same namespaces (checked before anything is read), which is why
`marshal` (no code runs when loading it) is fine here.
"""

from __future__ import annotations

import marshal
import os
import socket
import struct

MAGIC = b"OCXR1"
# The signals whose disposition a run takes from its caller (ignored, or the default / Python's own).
HANDED_OVER = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGWINCH", "SIGTSTP",
               "SIGTTIN", "SIGTTOU", "SIGCHLD", "SIGCONT")
MAX_RUN_BYTES = 16 * 1024 * 1024  # argv and the environment; Linux's own limit for both is far lower
FDS = 4  # stdin, stdout, stderr, the working directory
_HEAD = struct.Struct("!5sI")
_WORD = struct.Struct("!ci")


class WireError(Exception):
    """The peer said something else, or nothing."""


class Run:
    """What one run needs besides its descriptors (a plain class: `dataclasses` costs the launcher 5 ms)."""

    __slots__ = ("argv", "blocked", "env", "ignored", "umask")

    def __init__(self, argv: list[bytes], env: list[tuple[bytes, bytes]], umask: int, ignored: list[int],
                 blocked: list[int]) -> None:
        self.argv = argv
        self.env = env
        self.umask = umask
        self.ignored = ignored  # signals the caller ignores, so the run does too (`nohup` and the like)
        self.blocked = blocked  # the caller's signal mask


def send_run(sock: socket.socket, run: Run, fds: list[int]) -> None:
    body = marshal.dumps((run.argv, run.env, run.umask, run.ignored, run.blocked))
    message = _HEAD.pack(MAGIC, len(body)) + body
    sent = socket.send_fds(sock, [message], fds)
    if sent < len(message):
        sock.sendall(message[sent:])


def receive_run(sock: socket.socket) -> tuple[Run, list[int]]:
    """The run and its descriptors; on any error, every descriptor received is closed."""
    data, fds, _flags, _addr = socket.recv_fds(sock, 4096, FDS + 1)
    try:
        if len(fds) != FDS:
            raise WireError(f"{len(fds)} descriptors, not {FDS}")
        while len(data) < _HEAD.size:
            data += _receive(sock, _HEAD.size - len(data))
        magic, size = _HEAD.unpack_from(data)
        if magic != MAGIC or size > MAX_RUN_BYTES:
            raise WireError("not a run")
        body = bytearray(data[_HEAD.size:])
        while len(body) < size:
            body += _receive(sock, size - len(body))
        argv, env, umask, ignored, blocked = marshal.loads(bytes(body))
        return Run([bytes(a) for a in argv], [(bytes(k), bytes(v)) for k, v in env], int(umask),
                   [int(n) for n in ignored], [int(n) for n in blocked]), fds
    except BaseException:
        for fd in fds:
            _close(fd)
        raise


def send_word(sock: socket.socket, kind: bytes, value: int = 0) -> None:
    sock.sendall(_WORD.pack(kind, value))


def receive_word(sock: socket.socket) -> tuple[bytes, int]:
    data = b""
    while len(data) < _WORD.size:
        data += _receive(sock, _WORD.size - len(data))
    kind, value = _WORD.unpack(data)
    return kind, value


def _receive(sock: socket.socket, size: int) -> bytes:
    chunk = sock.recv(size)
    if not chunk:
        raise WireError("the peer closed the connection")
    return chunk


def _close(fd: int) -> None:
    try:  # noqa: SIM105 - `contextlib` would cost the launcher 5 ms
        os.close(fd)
    except OSError:
        pass
