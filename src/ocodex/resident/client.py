"""The launcher's side: hand a run to a resident process, or say that it runs here; start one for next time.

`hand_over(words)` returns the run's exit code when a resident process did it, and None when this process
must run it itself; nothing of the run has happened then. It connects to `$OCODEX_HOME/run/KEY.sock`,
checks that the listener is this user in these namespaces, sends the run with descriptors 0-2 and the
working directory, receives the pid of the fork that will be the run, installs the signal relays, and
only then says go. From then on it waits for the exit status, relaying SIGINT, SIGQUIT, SIGHUP and
SIGWINCH to the run's process group (a terminal sends them to its foreground group), SIGTERM, SIGUSR1,
SIGUSR2 and SIGALRM to the run alone, and Ctrl-Z (SIGTSTP, then SIGCONT) as a stop of both. A run that
died by a signal ends the launcher by the same signal. If the resident process dies first, the run is
stopped (SIGTERM, then SIGKILL) before the launcher says so and exits 1: it never goes on unattended.

`after_direct_run()` records the run (`KEY.last`) and starts a resident process when the previous direct
run with this key was within `place.idle_sec`: the second of a series of runs pays for the start, a single
run never leaves a process behind.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import struct
import sys
import time

from ocodex.resident import place, wire

HANDSHAKE_SEC = 5.0
ORPHAN_GRACE_SEC = 15.0
_RELAYED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGALRM")
_GROUP = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGQUIT", "SIGHUP", "SIGWINCH", "SIGSTOP", "SIGCONT"))
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
        handed = _start()
    except Exception:  # OSError, WireError, a bug: nothing of the run has happened, it runs here
        return None
    if handed is None:
        return None
    sock, child, relay = handed
    # The run is under way elsewhere: from here on it is never run here.
    try:
        sock.settimeout(None)
        kind, value = wire.receive_word(sock)
    except (OSError, wire.WireError, struct.error):
        relay.uninstall()
        sock.close()
        _stop_orphan(child)
        sys.stderr.write("error: the resident ocodex process ended before the run did, so the run was stopped; "
                         "run it again (OCODEX_RESIDENT=0 runs without a resident process)\n")
        return 1
    relay.uninstall()
    sock.close()
    if kind == b"S":
        _die_by(value)
    return value


def _start() -> tuple[socket.socket, int, _Relay] | None:
    """Connect, check the listener, send the run, get the fork's pid, relay, say go."""
    if not eligible():
        return None
    directory = place.open_dir(place.home(os.environ), create=False)
    if directory is None:
        return None
    cwd = -1
    sock: socket.socket | None = None
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)  # EPERM in a sandbox
        sock.settimeout(HANDSHAKE_SEC)
        sock.connect(place.via(directory, f"{place.key()}.sock"))
        pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        if uid != os.geteuid() or not place.same_confinement(pid):
            sock.close()  # not ours (a sandboxed command's socket in our place, say): it is told nothing
            return None
        cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        ignored = [number for number in _numbers(wire.HANDED_OVER) if signal.getsignal(number) is signal.SIG_IGN]
        blocked = sorted(int(number) for number in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        run = wire.Run([os.fsencode(arg) for arg in sys.argv], list(os.environb.items()), _umask(), ignored,
                       blocked)
        wire.send_run(sock, run, [0, 1, 2, cwd])
        kind, child = wire.receive_word(sock)
        if kind != b"P" or child <= 0:
            sock.close()
            return None
        relay = _Relay(child, ignored)
        try:
            wire.send_word(sock, b"G")
        except BaseException:
            relay.uninstall()
            raise
        return sock, child, relay
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    finally:
        os.close(directory)
        if cwd >= 0:
            os.close(cwd)


def _stop_orphan(child: int) -> None:
    """The resident process died with the run under way: stop the run as SIGTERM would, and wait for it (SIGKILL
    after `ORPHAN_GRACE_SEC`), so nothing of it happens after this launcher has said it failed."""
    try:
        handle = os.pidfd_open(child)
    except OSError:
        return  # already gone
    try:
        _quietly(os.kill, child, signal.SIGTERM)
        import select

        if not select.select([handle], [], [], ORPHAN_GRACE_SEC)[0]:
            _quietly(signal.pidfd_send_signal, handle, signal.SIGKILL)
            select.select([handle], [], [], ORPHAN_GRACE_SEC)
    finally:
        os.close(handle)


def _die_by(number: int) -> None:
    """End this process by signal `number`, as the run ended, so a shell or `wait` sees the same."""
    _quietly(signal.signal, number, signal.SIG_DFL)  # SIGKILL and SIGSTOP have no handler to reset
    _quietly(signal.pthread_sigmask, signal.SIG_UNBLOCK, [number])
    _quietly(os.kill, os.getpid(), number)
    raise SystemExit(128 + number)  # a signal whose default is not to end a process


def _quietly(call, *args: object) -> bool:
    """`call(*args)`; False if it raised OSError or ValueError (`contextlib` would cost the launcher 5 ms)."""
    try:
        call(*args)
    except (OSError, ValueError):
        return False
    return True


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
        """A signal a terminal sends to its foreground group goes to the run's group (commands it started
        directly, as in a direct run); one sent to this process alone (`kill`, `timeout`) to the run alone."""
        if number in _GROUP and _quietly(os.killpg, self.child, number):
            return
        _quietly(os.kill, self.child, number)

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
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600,
                     dir_fd=directory)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return  # a FIFO or a device where the marker should be: not ours, not touched
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
