"""The resident process: ocodex imported once, then forked for each run a launcher hands over.

Started by a launcher (`ocodex.resident.client.spawn`) as `python -P -m ocodex.resident.server KEY HOME`,
in a session of its own with /dev/null for stdio. It imports what an `exec` run imports, takes the lock
`HOME/run/KEY.lock` (one resident process per key; a second one exits at once), checks that its own key
is KEY, listens on `HOME/run/KEY.sock` (its pid in `KEY.pid`), and exits after `place.idle_sec` with
nothing to do (or on SIGTERM, once its runs have ended), removing both.

Per connection, single-threaded: the peer must be this user, confined exactly as this process is
(`place.same_confinement`; anything else is closed unread). The run is forked with the signals a
launcher relays blocked: the child waits for the client's go, then puts the run's descriptors on 0-2,
enters its working directory, takes its environment, umask, argv, signal dispositions and mask (a
signal relayed meanwhile is delivered then), rebuilds `sys.stdin`/`stdout`/`stderr` as the interpreter
would have made them, and returns from `main` to run `ocodex.cli.main` and end as a fresh process would
(threads joined, `atexit`). The parent tells the client the child's exit status when it has reaped it,
and sends the run SIGTERM (its process group) if the client goes away first (a launcher killed by
`timeout -s KILL`, say). No error of one connection ends the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

from ocodex import offmain
from ocodex.resident import place, wire

# What a one-shot `exec` imports lazily (`python -X importtime -m ocodex exec --oss --json hi` lists it), and
# what its first command or edit adds. Importing these has no effect beyond defining things.
PRELOAD = (
    "ocodex.cli", "ocodex.commands.exec", "ocodex.commands.flags", "ocodex.thread.core", "ocodex.thread.assembly",
    "ocodex.thread.signals", "ocodex.thread.escalation", "ocodex.thread.recording", "ocodex.config.load",
    "ocodex.config.endpoints", "ocodex.agent.loop", "ocodex.agent.prompt", "ocodex.agent.assisted",
    "ocodex.net.connection", "ocodex.net.transport", "ocodex.net.coalesce", "ocodex.net.request_log",
    "ocodex.ollama.bootstrap", "ocodex.ollama.client", "ocodex.ollama.probe_cache", "ocodex.ollama.ready",
    "ocodex.ollama.window", "ocodex.ollama.pull", "ocodex.providers.select", "ocodex.providers.chat",
    "ocodex.render.jsonl", "ocodex.render.human", "ocodex.sessions", "ocodex.output_schema",
    "ocodex.last_message", "ocodex.sandbox.verified", "ocodex.sandbox.run", "ocodex.sandbox.bwrap",
    "ocodex.sandbox.seccomp", "ocodex.tools.select", "ocodex.tools.shell", "ocodex.tools.plan",
    "ocodex.tools.env", "ocodex.tools.apply_patch", "ocodex.tools.file_edit", "ocodex.patch.commit", "httpx",
)
HANDSHAKE_SEC = 5.0
_PEERCRED = struct.Struct("3i")


def preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # an optional part that is not installed: a run reports it
            importlib.import_module(name)
    gc.collect()
    gc.freeze()  # what every run shares is never scanned again, nor copied by the collector's writes


class Child:
    """In the forked child: the run, until `start` has made this process into it."""

    def __init__(self, run: wire.Run, fds: list[int], go: socket.socket) -> None:
        self.run, self.fds, self.go = run, fds, go

    def start(self) -> list[str]:
        """Wait for the go, become the run, and give the argv for `ocodex.cli.main`."""
        try:
            self.go.settimeout(HANDSHAKE_SEC + 1)
            if self.go.recv(1) != b"G":
                os._exit(1)  # the client took the run back: nothing of it may happen here
        except OSError:
            os._exit(1)
        self.go.close()
        run = self.run
        _restore_signals(run.ignored, run.blocked)
        for target, fd in enumerate(self.fds[:3]):
            os.dup2(fd, target, inheritable=True)
        os.fchdir(self.fds[3])
        for fd in self.fds:
            if fd > 2:
                os.close(fd)
        os.umask(run.umask)
        os.environ.clear()
        for name, value in run.env:
            os.environb[name] = value
        time.tzset()  # TZ is the run's
        if "tempfile" in sys.modules:
            sys.modules["tempfile"].tempdir = None  # so is TMPDIR, should anything have asked already
        sys.argv = [os.fsdecode(arg) for arg in run.argv]
        _rebuild_stdio()
        return sys.argv[1:]


def _restore_signals(ignored: list[int], blocked: list[int]) -> None:
    """As a fresh interpreter started by the caller has them: Python's own, what the caller ignored, and its
    mask. They were blocked since the fork, so one relayed meanwhile is delivered now, not lost."""
    signal.set_wakeup_fd(-1)
    for name in wire.HANDED_OVER:
        number = getattr(signal, name)
        if number in ignored:
            signal.signal(number, signal.SIG_IGN)
        else:
            signal.signal(number, signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _rebuild_stdio() -> None:
    """`sys.stdin`, `stdout`, `stderr` on the new 0-2, with the encodings and error handlers the interpreter
    chose at start-up (the key covers what it chose them from) and its buffering rules."""
    import io

    made = []
    for fd, old, mode in ((0, sys.__stdin__, "r"), (1, sys.__stdout__, "w"), (2, sys.__stderr__, "w")):
        encoding = old.encoding if old is not None else "utf-8"
        errors = old.errors if old is not None else "strict"
        unbuffered = old is not None and old.write_through  # -u / PYTHONUNBUFFERED
        buffering = 0 if unbuffered and fd != 0 else -1
        buffer = open(fd, mode + "b", buffering=buffering, closefd=False)  # noqa: SIM115 - the process's own
        made.append(io.TextIOWrapper(buffer, encoding=encoding, errors=errors, newline="\n",
                                     line_buffering=fd == 2 or (fd == 1 and os.isatty(fd)),
                                     write_through=unbuffered and fd != 0))
    sys.stdin, sys.stdout, sys.stderr = made
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made


class Server:
    """The parent: accepts runs, forks them, reports how they ended."""

    def __init__(self, listener: socket.socket, closing: Callable[[], None]) -> None:
        self.listener = listener
        self.closing = closing  # closes what only the parent may hold (lock, directory, socket)
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, socket.socket | None] = {}  # pid -> the client waiting for its status
        self.stopping = False
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.idle = place.idle_sec(os.environ)

    def serve(self) -> Child | None:
        """Until idle or stopped: None in the parent; in a forked child, that child's run."""
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the runs' own groups
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.selector.register(self.wake_r, selectors.EVENT_READ, 0)
        idle_since = time.monotonic()
        while True:
            if self.stopping and self.listener.fileno() >= 0:
                self.selector.unregister(self.listener)
                self.closing()
                self.listener.close()
            if not self.children:
                left = idle_since + self.idle - time.monotonic()
                if self.stopping or left <= 0:
                    return None
            else:
                left = None
            events = self.selector.select(left)
            if events:
                idle_since = time.monotonic()
            for key, _ in events:
                try:
                    if key.data is None:
                        child = self._accept()
                        if child is not None:
                            return child
                    elif key.data == 0:
                        with contextlib.suppress(OSError):
                            os.read(self.wake_r, 4096)
                        self._reap()
                    elif self.children.get(key.data) is key.fileobj:  # not reaped earlier in this batch
                        self._client_gone(key.data, key.fileobj)  # type: ignore[arg-type]
                except OSError:  # one run's trouble (EMFILE, EAGAIN on fork) never ends the others' server
                    continue

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def _accept(self) -> Child | None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return None
        try:
            conn.settimeout(HANDSHAKE_SEC)
            pid, uid, _gid = _PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
            if uid != os.geteuid() or not place.same_confinement(pid):
                conn.close()  # another user, a sandboxed command, a launcher under a filter: not a word is read
                return None
            run, fds = wire.receive_run(conn)
        except (OSError, wire.WireError, ValueError, EOFError, TypeError, struct.error):
            conn.close()
            return None
        try:
            mine, theirs = socket.socketpair()
        except OSError:
            conn.close()
            _close_all(fds)
            raise
        # Until the child has the run's dispositions, a relayed signal waits (blocked) instead of meeting ours.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, offmain.SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            conn.close()
            mine.close()
            theirs.close()
            _close_all(fds)
            raise
        if pid == 0:
            mine.close()
            conn.close()
            self._leave()
            return Child(run, fds, theirs)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        theirs.close()
        _close_all(fds)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # its own process group, as the child also makes it (whoever is first)
        try:
            wire.send_word(conn, b"P", pid)
            kind, _ = wire.receive_word(conn)
            if kind != b"G":
                raise wire.WireError("no go")
            mine.sendall(b"G")
        except (OSError, wire.WireError, struct.error):
            conn.close()
            self.children[pid] = None  # reaped without a report: the client runs the task itself
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # still waiting for its go: nothing of the run has happened
            return None
        finally:
            mine.close()
        self.children[pid] = conn
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, pid)
        return None

    def _leave(self) -> None:
        """In a new child: let go of everything that belongs to the server."""
        signal.set_wakeup_fd(-1)  # before its pipe is closed: a signal must not write to a reused descriptor
        self.selector.close()
        self.listener.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        self.closing = lambda: None
        self.children = {}
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        _close_inherited()

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.settimeout(HANDSHAKE_SEC)
                if os.WIFSIGNALED(status):
                    wire.send_word(conn, b"S", os.WTERMSIG(status))
                else:
                    wire.send_word(conn, b"X", os.waitstatus_to_exitcode(status))
            conn.close()

    def _client_gone(self, pid: int, conn: socket.socket) -> None:
        """The client's end is readable: it has closed it (it never sends more). Its run ends as on SIGTERM."""
        with contextlib.suppress(BlockingIOError):
            if conn.recv(1):
                return
        self.selector.unregister(conn)
        conn.close()
        self.children[pid] = None
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGTERM)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _close_inherited() -> None:
    """The lock and the directory the parent holds are close-on-exec, but a fork keeps them: the child
    must not hold the lock (a later server would wait for it) or the directory."""
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


_held: list[int] = []


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return 2
    key, home = argv
    directory = place.open_dir(home, create=False)
    if directory is None:
        return 1
    _held.append(directory)
    lock = os.open(f"{key}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory)
    _held.append(lock)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another resident process has this key
    preload()
    import threading

    if threading.active_count() > 1:  # something started a thread: a fork would copy it half-way
        return 1
    if place.key() != key:  # started differently than the launcher that asked (a relative PYTHONPATH, a change
        return 1  # made since): it would run other code than a fresh start there
    name = f"{key}.sock"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=directory)  # a server that died left it; we hold the lock, so it is not live
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(place.via(directory, name))
    listener.listen(64)
    _write_pid(directory, f"{key}.pid")

    def closing() -> None:
        for entry in (name, f"{key}.pid"):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=directory)

    server = Server(listener, closing)
    try:
        child = server.serve()
    finally:
        server.closing()
    if child is None:
        return 0
    from ocodex.cli import main as cli_main

    try:
        argv = child.start()
    except KeyboardInterrupt:  # a Ctrl-C relayed before the run began: it ends as one during start-up would
        return 130
    return cli_main(argv)


def _write_pid(directory: int, name: str) -> None:
    """`KEY.pid`: this process, for `kill $(cat ...)` (a name match would also hit the runs, which are forks)."""
    temp = f".{name}.{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    os.rename(temp, name, src_dir_fd=directory, dst_dir_fd=directory)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
