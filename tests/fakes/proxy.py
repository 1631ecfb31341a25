"""A reverse proxy for tests: TLS termination, Basic/Bearer auth and scripted faults in front of a fake.

It stands where nginx or Caddy stands in the seed guide's deployments (Docker/Kubernetes behind a TLS
proxy with auth): requests it accepts are forwarded to `upstream` (usually a `FakeOllama`) and the
answer streamed back as it arrives. Requests without the right credentials get a 401 as a proxy
sends it (HTML body, `WWW-Authenticate`). `fail_next()` queues faults — an HTTP status with headers
(503 + `Retry-After`), or a connection closed without an answer — consumed by matching requests.
Absolute-form request targets (`GET http://host/path`) are accepted too, so it also works as a plain
HTTP forward proxy (`HTTP_PROXY`). Standard library only; loopback only.

    with FakeOllama() as fake, AuthProxy(fake.root, bearer="s3cret", ssl_context=ctx) as proxy:
        ...  # point a client at proxy.base_url
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["AuthProxy", "Fault", "ProxiedRequest"]

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "content-length", "host"}
UNAUTHORIZED_BODY = (b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
                     b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
                     b"</body>\r\n</html>\r\n")


@dataclass(slots=True)
class Fault:
    """One scripted failure. `status=None` closes the connection without any answer."""

    status: int | None = 503
    body: bytes = b'{"error":{"message":"service unavailable","type":"server_error"}}'
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    path: str | None = None  # only requests for this path (without query) consume it


@dataclass(slots=True)
class ProxiedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case keys
    status: int | None  # what the proxy answered (None: connection dropped)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _target(self) -> str:
        if self.path.startswith(("http://", "https://")):
            parts = urlsplit(self.path)
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return self.path

    def _handle(self) -> None:
        proxy = self.server.proxy
        target = self._target()
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path = target.partition("?")[0]
        if not proxy._authorized(headers):  # before taking a fault: a refused request must not use one up
            proxy._record(self.command, path, headers, 401)
            self._send(401, UNAUTHORIZED_BODY, {"content-type": "text/html",
                                               "www-authenticate": 'Basic realm="ollama"'})
            return
        fault = proxy._take_fault(path)
        if fault is not None:
            proxy._record(self.command, path, headers, fault.status)
            if fault.status is None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            self._send(fault.status, fault.body, fault.headers)
            return
        self._forward(target, path, headers, body)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _forward(self, target: str, path: str, headers: dict[str, str], body: bytes) -> None:
        proxy = self.server.proxy
        upstream = urlsplit(proxy.upstream)
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port or 80, timeout=60)
        forwarded = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP and k != "authorization"}
        try:
            conn.request(self.command, target, body=body or None, headers=forwarded)
            response = conn.getresponse()
        except OSError:
            proxy._record(self.command, path, headers, 502)
            self._send(502, b"<html><body>502 Bad Gateway</body></html>", {"content-type": "text/html"})
            return
        proxy._record(self.command, path, headers, response.status)
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                self.wfile.write(chunk)
                self.wfile.flush()
        except (OSError, http.client.HTTPException):
            with contextlib.suppress(OSError):  # upstream broke off: break off too, don't end cleanly
                self.connection.shutdown(2)
        finally:
            conn.close()

    do_GET = do_POST = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: AuthProxy) -> None:
        self.proxy = proxy
        super().__init__((proxy.host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that go away, TLS handshakes a client refused: not worth a traceback


class AuthProxy:
    """A reverse proxy on 127.0.0.1 in front of `upstream` (e.g. `http://127.0.0.1:PORT`)."""

    def __init__(self, upstream: str, *, ssl_context: ssl.SSLContext | None = None,
                 basic: tuple[str, str] | None = None, bearer: str | None = None,
                 host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.ssl_context = ssl_context
        self.basic = basic
        self.bearer = bearer
        self.host = host
        self.requests: list[ProxiedRequest] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in list(self._faults):
                if fault.path is None or fault.path == path:
                    self._faults.remove(fault)
                    return fault
        return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.basic is None and self.bearer is None:
            return True
        given = headers.get("authorization", "")
        if self.bearer is not None and given == f"Bearer {self.bearer}":
            return True
        if self.basic is not None:
            token = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return given == f"Basic {token}"
        return False

    def _record(self, method: str, path: str, headers: dict[str, str], status: int | None) -> None:
        with self._lock:
            self.requests.append(ProxiedRequest(method, path, headers, status))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> AuthProxy:
        self._server = _Server(self)
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="auth-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> AuthProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "AuthProxy is not running"
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"
