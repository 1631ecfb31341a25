"""One request, one write (`ocodex.net.coalesce`): the stream holds writes until it reads, flushes at the bound
and before TLS, and the clients `Transport` builds use it, over plain HTTP, over TLS and behind a proxy from
the environment, with TCP_NODELAY set on their sockets."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import pytest

from ocodex.net.coalesce import FLUSH_BYTES, CoalescingBackend, CoalescingStream, coalesce_writes
from ocodex.net.transport import Endpoint, Transport

pytestmark = pytest.mark.fast


class Recorder(httpcore.NetworkStream):
    """An inner stream that records what reaches it."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.log.append(("write", buffer))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.log.append(("read", max_bytes))
        return b"answer"

    def close(self) -> None:
        self.log.append(("close", None))

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        self.log.append(("start_tls", server_hostname))
        return Recorder(self.log)

    def get_extra_info(self, info: str) -> Any:
        return f"info:{info}"


def test_writes_wait_for_the_next_read_and_leave_as_one() -> None:
    log: list[tuple[str, Any]] = []
    stream = CoalescingStream(Recorder(log))
    stream.write(b"POST / HTTP/1.1\r\n\r\n")
    stream.write(b"")
    stream.write(b'{"a": 1}')
    assert log == []
    assert stream.read(10) == b"answer"
    assert log == [("write", b'POST / HTTP/1.1\r\n\r\n{"a": 1}'), ("read", 10)]
    stream.read(5)  # nothing pending: no empty write
    assert log[-1] == ("read", 5) and len(log) == 3
    assert stream.get_extra_info("socket") == "info:socket"


def test_a_large_body_is_flushed_at_the_bound_not_held_whole() -> None:
    log: list[tuple[str, Any]] = []
    stream = CoalescingStream(Recorder(log))
    stream.write(b"h" * 100)
    stream.write(b"b" * FLUSH_BYTES)
    assert [kind for kind, _ in log] == ["write"] and len(log[0][1]) == FLUSH_BYTES + 100
    stream.write(b"tail")
    stream.read(1)
    assert log[1:] == [("write", b"tail"), ("read", 1)]


def test_tls_upgrade_flushes_first_and_the_tls_stream_coalesces_too() -> None:
    log: list[tuple[str, Any]] = []
    stream = CoalescingStream(Recorder(log))
    stream.write(b"CONNECT host:443 HTTP/1.1\r\n\r\n")
    tls = stream.start_tls(ssl.create_default_context(), "host")
    assert log == [("write", b"CONNECT host:443 HTTP/1.1\r\n\r\n"), ("start_tls", "host")]
    assert isinstance(tls, CoalescingStream)
    tls.write(b"a")
    tls.write(b"b")
    tls.read(1)
    assert log[2:] == [("write", b"ab"), ("read", 1)]


def test_close_drops_an_unfinished_request() -> None:
    log: list[tuple[str, Any]] = []
    stream = CoalescingStream(Recorder(log))
    stream.write(b"half a request")
    stream.close()
    assert log == [("close", None)]


class Counting(httpcore.NetworkStream):
    """Wraps a real stream and counts its writes in `writes` (shared with the TLS stream it upgrades to)."""

    def __init__(self, inner: httpcore.NetworkStream, writes: list[int]) -> None:
        self.inner, self.writes = inner, writes

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes.append(len(buffer))
        self.inner.write(buffer, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return Counting(self.inner.start_tls(ssl_context, server_hostname, timeout), self.writes)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class CountingBackend(httpcore.SyncBackend):
    def __init__(self) -> None:
        self.writes: list[int] = []
        self.nodelay: list[int] = []

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        stream = super().connect_tcp(*args, **kwargs)
        self.nodelay.append(stream.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return Counting(stream, self.writes)


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the second request reuses the connection

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        answer = f"{len(body)} bytes".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def serve(ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo() -> Iterator[str]:
    yield from serve()


def counted(transport: Transport) -> tuple[Any, CountingBackend]:
    client = transport.client()
    backend = client._transport._pool._network_backend
    assert isinstance(backend, CoalescingBackend), "httpx's transport layout changed: ocodex.net.coalesce is off"
    spy = CountingBackend()
    backend.inner = spy
    return client, spy


def test_the_transport_sends_each_request_in_one_write_with_nodelay(echo: str) -> None:
    transport = Transport(endpoints=[Endpoint(echo)], plain_http_only=True)
    client, spy = counted(transport)
    try:
        for size in (10, 5000):
            response = client.post(f"{echo}/v1/chat/completions", content=b"x" * size)
            assert response.text == f"{size} bytes"
    finally:
        transport.close()
    assert len(spy.writes) == 2, spy.writes  # two requests on one kept-alive connection, one write each
    assert spy.nodelay == [1]


def test_over_tls_too(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    for url in serve(server_ctx):
        transport = Transport(endpoints=[Endpoint(url)], verify=str(tmp_path / "ca.pem"))
        client, spy = counted(transport)
        try:
            assert client.post(f"{url}/x", content=b"y" * 3000).text == "3000 bytes"
        finally:
            transport.close()
        assert len(spy.writes) == 1 and spy.writes[0] > 3000, spy.writes  # the handshake is the ssl module's


def test_proxies_from_the_environment_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    transport = Transport(endpoints=[Endpoint("https://example.invalid")], plain_http_only=True)
    try:
        client = transport.client()
        pools = [t._pool for t in client._mounts.values() if t is not None]
        assert pools and all(isinstance(p._network_backend, CoalescingBackend) for p in pools)
        assert coalesce_writes(client) == 0  # installed once, not wrapped twice
    finally:
        transport.close()
