"""The launcher's side: hand a run to a resident process, or say that it runs here; start one for next time.

`hand_over(words)` returns the run's exit code when a resident process did it, and None when this process
must run it itself; nothing of the run has happened then. It connects to `$OCODEX_HOME/run/KEY.sock`,
checks that the listener is this user in these namespaces, sends the run with descriptors 0-2 and the
working directory, receives the pid of the fork that will be the run, installs the signal relays, and
only then says go. From then on it waits for the exit status, relaying SIGINT, SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1, SIGUSR2, SIGWINCH and SIGALRM to the run's process group, and Ctrl-Z (SIGTSTP, then SIGCONT)
as a stop of both.

`after_direct_run()` records the run (`KEY.last`) and starts a resident process when the previous direct
run with this key was within `place.idle_sec`: the second of a series of runs pays for the start, a single
run never leaves a process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import sys
import time

from ocodex.resident import place, wire

HANDSHAKE_SEC = 5.0
_RELAYED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGALRM")
_KEPT = ("SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCHLD", "SIGCONT")  # their dispositions are handed over too
_PEERCRED = struct.Struct("3i")


def eligible() -> bool:
    """Whether a resident process may do this run at all (the subcommand is the caller's check)."""
    if not (place.enabled(os.environ) and place.plain_interpreter() and hasattr(socket, "send_fds")):
        return False
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed one: the direct run has its own rules for it
        return not os.isatty(0)
    except OSError:
        return False


def hand_over() -> int | None:
    """The run's exit code if a resident process did it; None if it must run here."""
    try:
        if not eligible():
            return None
    except Exception:  # a bug here must never stop a run: it runs directly
        return None
    directory = place.open_dir(place.home(os.environ), create=False)
    if directory is None:
        return None
    cwd = -1
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(HANDSHAKE_SEC)
        try:
            sock.connect(place.via(directory, f"{place.key()}.sock"))
            pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              _PEERCRED.size))
            if uid != os.geteuid() or not place.same_namespaces(pid):
                return None  # not ours: a sandboxed command's socket in our place, say
            cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            ignored = [number for number in _numbers(_RELAYED + _KEPT)
                       if signal.getsignal(number) is signal.SIG_IGN]
            run = wire.Run([os.fsencode(arg) for arg in sys.argv], list(os.environb.items()), _umask(), ignored)
            wire.send_run(sock, run, [0, 1, 2, cwd])
            kind, child = wire.receive_word(sock)
            if kind != b"P" or child <= 0:
                return None
            relay = _Relay(child, ignored)
            try:
                wire.send_word(sock, b"G")
            except BaseException:
                relay.uninstall()
                raise
        except Exception:  # OSError, WireError, a bug: nothing of the run has happened, it runs here
            return None
    finally:
        os.close(directory)
        if cwd >= 0:
            os.close(cwd)
    # The run is under way elsewhere: from here on it is never run here.
    try:
        sock.settimeout(None)
        kind, value = wire.receive_word(sock)
    except (OSError, wire.WireError, struct.error):
        sys.stderr.write("error: the resident ocodex process ended before the run did; "
                         "set OCODEX_RESIDENT=0 to run without it\n")
        return 1
    finally:
        relay.uninstall()
        sock.close()
    return 128 + value if kind == b"S" else value


class _Relay:
    """The caller's signals, sent on to the run's process group while it runs."""

    def __init__(self, child: int, ignored: list[int]) -> None:
        self.child = child
        self.previous: dict[int, object] = {}
        for number in _numbers(_RELAYED):
            if number not in ignored:
                self.previous[number] = signal.signal(number, self._send)
        if signal.SIGTSTP not in ignored:
            self.previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, self._stop)
            self.previous[signal.SIGCONT] = signal.signal(signal.SIGCONT, self._resume)

    def _send(self, number: int, _frame: object = None) -> None:
        try:
            os.killpg(self.child, number)
        except OSError:
            with contextlib.suppress(OSError):
                os.kill(self.child, number)

    def _stop(self, _number: int, _frame: object) -> None:
        """Ctrl-Z: stop the run, then this process as the default action would."""
        self._send(signal.SIGSTOP)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stopped here until SIGCONT
        signal.signal(signal.SIGTSTP, self._stop)

    def _resume(self, _number: int, _frame: object) -> None:
        self._send(signal.SIGCONT)

    def uninstall(self) -> None:
        for number, previous in self.previous.items():
            signal.signal(number, previous)  # type: ignore[arg-type]


def _numbers(names: tuple[str, ...]) -> list[int]:
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def after_direct_run() -> None:
    """Record this run; start a resident process if the previous one with this key was recent."""
    try:
        _after_direct_run()
    except Exception:  # the run is over and has its exit code: nothing here may change that
        return


def _after_direct_run() -> None:
    if not eligible():
        return
    home = place.home(os.environ)
    if not os.path.isdir(home):
        return
    directory = place.open_dir(home, create=True)
    if directory is None:
        return
    try:
        key = place.key()
        marker = f"{key}.last"
        try:
            last = os.stat(marker, dir_fd=directory, follow_symlinks=False).st_mtime
            recent = time.time() - last < place.idle_sec(os.environ)
        except OSError:
            recent = False
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory)
        try:
            os.utime(fd)
        finally:
            os.close(fd)
        if recent:
            spawn(key, home)
    except OSError:
        pass
    finally:
        os.close(directory)


def spawn(key: str, home: str) -> None:
    """Start the resident process for `key`, detached: its own session, /dev/null for stdio, the root as its
    working directory, and only the environment the interpreter reads at start-up (a run brings its own)."""
    import subprocess

    env = {name: value for name, value in os.environ.items()
           if name.startswith(("PYTHON", "LC_"))
           or name in ("LANG", "LANGUAGE", "PATH", "HOME", "TMPDIR", "OCODEX_RESIDENT_IDLE_SEC")}
    subprocess.Popen([sys.executable, "-P", "-m", "ocodex.resident.server", key, home], cwd="/", env=env,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)
