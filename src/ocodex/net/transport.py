"""Building HTTP clients: one place that knows timeouts, headers, TLS, Basic auth and failover.

httpx is imported here, lazily from the caller's point of view: nothing on the `--help`/`--version`
path imports this module.

A `Transport` describes how to reach one provider: its headers and query params, TLS verification
(system/certifi roots or `SSL_CERT_FILE`, plus a per-provider `ca_cert`), and its `endpoints` — the
server roots it may use, each with optional Basic-auth credentials (from `https://user:pass@host`).
Callers always address the first endpoint; when a connection to the active one cannot be made, the
client re-sends the request to the next one and sticks with it (`base_urls = [...]` failover), for
the Ollama management calls and the model calls alike. `HTTPS_PROXY`/`NO_PROXY` are honoured
(httpx's `trust_env`). With `log_requests` set, every exchange is appended to that file
(`ocodex.net.request_log`). Each request leaves in one write (`ocodex.net.coalesce`).
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ocodex import __version__
from ocodex.errors import ConfigError
from ocodex.events import Event, Failover
from ocodex.net.coalesce import coalesce_writes
from ocodex.net.errors import reason
from ocodex.redact import register_headers, register_secret, scrub

_CLIENT_LOCK = threading.Lock()

USER_AGENT = f"ocodex/{__version__}"
_FAILOVER_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(slots=True)
class Endpoint:
    """One server root (no credentials in it, no trailing slash) and the Basic auth it wants."""

    root: str
    auth: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self.root = str(httpx.URL(self.root.strip().rstrip("/"))).rstrip("/")
        if self.auth is not None:
            register_secret(self.auth[1])


class FailoverClient(httpx.Client):
    """An `httpx.Client` that adds each endpoint's Basic auth and fails over between endpoints.

    A request whose URL starts with one endpoint's root is sent to the active endpoint instead;
    connect errors move on to the next one (each tried once per request), and the first endpoint
    that answers becomes the active one for later requests.
    """

    def __init__(self, *, endpoints: list[Endpoint], notify: Callable[[Event], None] | None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoints = endpoints
        self.notify = notify
        self.active = 0
        self._said: set[tuple[str, str]] = set()  # failovers told once (concurrent probes meet the same one)

    def _match(self, url: str) -> int | None:
        for index, endpoint in enumerate(self.endpoints):
            root = endpoint.root
            if url == root or url.startswith((root + "/", root + "?")):
                return index
        return None

    def _retarget(self, request: httpx.Request, source: int, target: int) -> httpx.Request:
        if source == target:
            return request
        url = str(request.url)
        new_url = self.endpoints[target].root + url[len(self.endpoints[source].root):]
        headers = httpx.Headers(request.headers)
        if "host" in headers:
            del headers["host"]
        request.read()
        return httpx.Request(request.method, new_url, headers=headers, content=request.content,
                             extensions=request.extensions)

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        source = self._match(str(request.url))
        if source is None:
            return super().send(request, **kwargs)
        count = len(self.endpoints)
        order = [self.active] + [i for i in range(count) if i != self.active]
        failures: list[tuple[str, Exception]] = []
        for position, index in enumerate(order):
            endpoint = self.endpoints[index]
            attempt_kwargs = dict(kwargs)
            if endpoint.auth is not None and kwargs.get("auth", httpx.USE_CLIENT_DEFAULT) is httpx.USE_CLIENT_DEFAULT:
                attempt_kwargs["auth"] = httpx.BasicAuth(*endpoint.auth)
            try:
                response = super().send(self._retarget(request, source, index), **attempt_kwargs)
            except _FAILOVER_ERRORS as exc:
                failures.append((endpoint.root, exc))
                if position + 1 < count and self.notify is not None:
                    following = self.endpoints[order[position + 1]].root
                    with _CLIENT_LOCK:
                        first = (endpoint.root, following) not in self._said
                        self._said.add((endpoint.root, following))
                    if first:
                        self.notify(Failover(scrub(endpoint.root), reason(exc), scrub(following)))
                continue
            self.active = index
            return response
        if count == 1:
            raise failures[0][1]
        # Keep the first failure's type (a TLS failure stays recognisable) but name every server tried.
        tried = "; ".join(f"{root} ({reason(exc)})" for root, exc in failures)
        error = type(failures[0][1])(f"none of the {count} servers answered: {tried}", request=request)
        raise error from failures[0][1]


def ssl_context(ca_cert: str | None, env: dict[str, str] | os._Environ[str] | None = None) -> ssl.SSLContext:
    """Default roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set, else certifi's), plus `ca_cert` if given."""
    env = os.environ if env is None else env
    try:
        if env.get("SSL_CERT_FILE"):
            ctx = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
        elif env.get("SSL_CERT_DIR"):
            ctx = ssl.create_default_context(capath=env["SSL_CERT_DIR"])
        else:
            import certifi

            ctx = ssl.create_default_context(cafile=certifi.where())
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the CA certificates named by SSL_CERT_FILE/SSL_CERT_DIR: {reason(exc)}",
                          hint="point SSL_CERT_FILE at a readable PEM bundle, or unset it") from None
    if ca_cert:
        path = os.path.expanduser(ca_cert)
        try:
            ctx.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the provider's ca_cert {path}: {reason(exc)}",
                              hint="set ca_cert to a readable PEM file holding your server's CA certificate") \
                from None
    return ctx


@dataclass(slots=True)
class Transport:
    """How to reach one server: extra headers, query params, TLS verification, timeouts, endpoints.

    `client()` hands out one shared `httpx.Client`, so the Ollama management calls and the model
    requests reuse one connection pool (and one TLS context); `close()` ends it.
    """

    headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    verify: bool | str = True  # False: no verification; a str: an extra CA bundle (ca_cert)
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    plain_http_only: bool = False  # every URL is http://: skip loading CA certificates (~20 ms)
    endpoints: list[Endpoint] = field(default_factory=list)
    notify: Callable[[Event], None] | None = None  # told about failovers and busy-server retries
    log_requests: str | None = None  # a file to append every request and response to (ocodex.net.request_log)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def _verify(self) -> bool | ssl.SSLContext:
        if self.plain_http_only or self.verify is False:
            return False
        return ssl_context(self.verify if isinstance(self.verify, str) else None)

    def client(self) -> httpx.Client:
        with _CLIENT_LOCK:  # the readiness probes run concurrently: build one client, not one per thread
            return self._make_client()

    def _make_client(self) -> httpx.Client:
        if self._client is None or self._client.is_closed:
            register_headers(self.headers)
            headers = {"user-agent": USER_AGENT, **self.headers}
            timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
            hooks: dict[str, list[Any]] = {}
            if self.log_requests:
                from ocodex.net.request_log import RequestLog

                hooks = RequestLog(self.log_requests).hooks()
            self._client = FailoverClient(endpoints=self.endpoints, notify=self.notify, headers=headers,
                                          params=self.query_params or None, timeout=timeout,
                                          verify=self._verify(), follow_redirects=False, event_hooks=hooks)
            coalesce_writes(self._client)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
