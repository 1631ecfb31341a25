"""The seccomp filter bubblewrap loads (`--seccomp FD`) for every sandboxed command on Linux.

A mount namespace does not stop `connect()` to a unix socket file, and a read-only bind does not
either, so without it a command could talk to docker.sock, the D-Bus bus, an ssh-agent in /tmp or a
tmux server in /tmp/tmux-0 and have them act outside the sandbox. The filter (built with libseccomp
through `pyseccomp`, compiled once per process) says, for the host's native architecture:

* without network access: `socket()` only for AF_INET, AF_INET6 (the sandbox's own empty network
  namespace: loopback servers a test starts still work) and AF_NETLINK; AF_UNIX gets EPERM and every
  other family (AF_VSOCK reaches a VM's host, for one) EAFNOSUPPORT. `socketpair()` stays allowed:
  it makes an already-connected pair and can reach nothing outside (asyncio, multiprocessing pipes
  and subprocess plumbing use it). A workspace-write policy with `allow_unix_sockets` keeps AF_UNIX
  open (see `sandbox.bwrap` for how the rest of /run is hidden then).
* always: `io_uring_setup` is ENOSYS (io_uring can create and connect sockets without `socket()`),
  and the kernel keyring calls (`keyctl`, `add_key`, `request_key`) are EPERM: keys there may be
  credentials.
* any other architecture's syscalls (i386 `int 0x80`, where `socketcall` would get around the
  `socket()` rule, and x32) kill the process: libseccomp's filter checks the architecture first.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import tempfile

ALLOWED_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK)
_MAX_FAMILY = 64  # above every AF_* the kernel knows (AF_MAX is 46 in Linux 6.x)


class SeccompUnavailable(Exception):
    """libseccomp (or its Python binding) is missing; the message says what to install."""


def filter_fd(*, network: bool, unix_sockets: bool) -> int:
    """A new memfd holding the compiled filter, positioned at 0, for `bwrap --seccomp FD`.

    The caller passes it to bwrap (`pass_fds`) and closes its own copy once bwrap has started.
    """
    program = compiled(network=network, unix_sockets=unix_sockets)
    fd = os.memfd_create("ocodex-seccomp", os.MFD_CLOEXEC)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@functools.lru_cache(maxsize=4)
def compiled(*, network: bool, unix_sockets: bool) -> bytes:
    """The BPF program (an array of `struct sock_filter`) for the host's architecture."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError, AttributeError) as exc:  # OSError/AttributeError: no libseccomp.so.2
        raise SeccompUnavailable(f"libseccomp is not usable ({exc}); install the package libseccomp2 "
                                 "(dnf/zypper: libseccomp) and ocodex's dependency pyseccomp") from None
    rules = sc.SyscallFilter(sc.ALLOW)
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "io_uring_setup")
    for name in ("keyctl", "add_key", "request_key"):
        rules.add_rule(sc.ERRNO(errno.EPERM), name)
    if not network:
        denied = [family for family in range(_MAX_FAMILY + 1) if family not in ALLOWED_FAMILIES]
        for family in denied:
            if family == socket.AF_UNIX:
                if not unix_sockets:
                    rules.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.EQ, family))
            else:
                rules.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, family))
        rules.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.GT, _MAX_FAMILY))
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        program = out.read()
    if not program or len(program) % 8:
        raise SeccompUnavailable("libseccomp produced no usable filter program")
    return program
