"""One request, one write: a network backend for httpcore that holds a connection's writes until it reads.

httpcore writes a request's head and its body as two separate socket writes. On a kept-alive connection the
second write is small and the first is not yet acknowledged, so Nagle's algorithm holds the body back until
the server's ACK arrives, and the server delays that ACK (up to 40 ms on Linux) because it is waiting for
the rest of the request: write-write-read, a stall on every model request. Through an SSH tunnel, a VPN or
a proxy that forwards each segment as it comes, the same stall happens again on the far side, and over a
WAN it costs a round trip more. The fix is the usual one: buffer what is written and send it in one write
when the connection next reads (the request is complete then), and set TCP_NODELAY so a large body's tail
is not held either. Buffers are flushed at `FLUSH_BYTES`, so an upload is not held in memory whole.

`coalesce_writes(client)` installs the backend on an `httpx.Client`'s transports (its default one and the
ones it mounted for `HTTP(S)_PROXY`). It reaches into httpx's transport for httpcore's pool, so it is a
no-op when a future httpx lays that out differently; `tests/test_coalesce.py` says when that happens.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import httpcore

FLUSH_BYTES = 64 * 1024
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class CoalescingStream(httpcore.NetworkStream):
    """A stream whose writes wait for its next read (or `FLUSH_BYTES`, a TLS upgrade, or close)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner
        self._pending: list[bytes] = []
        self._size = 0
        self._timeout: float | None = None

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending, self._size = [], 0
            self.inner.write(data, self._timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._pending.append(buffer)
        self._size += len(buffer)
        self._timeout = timeout
        if self._size >= FLUSH_BYTES:
            self._flush()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._flush()
        return self.inner.read(max_bytes, timeout)

    def close(self) -> None:
        self._pending, self._size = [], 0  # an unfinished request: nothing will read its answer
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        self._flush()  # a proxy's CONNECT is answered before this, but never reorder bytes around a handshake
        return CoalescingStream(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class CoalescingBackend(httpcore.NetworkBackend):
    """Wraps the backend a pool had: its streams coalesce, its TCP sockets are NODELAY."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        options = [*(socket_options or ()), _NODELAY]
        return CoalescingStream(self.inner.connect_tcp(host, port, timeout, local_address, options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return CoalescingStream(self.inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def coalesce_writes(client: Any) -> int:
    """Install `CoalescingBackend` on every transport of `client` that has an httpcore pool; how many did."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    done = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None or isinstance(backend, CoalescingBackend):
            continue
        pool._network_backend = CoalescingBackend(backend)  # type: ignore[union-attr]
        done += 1
    return done
