"""Building HTTP clients: one place that knows timeouts, headers and TLS settings.

httpx is imported here, lazily from the caller's point of view: nothing on the `--help`/`--version`
path imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from ocodex import __version__

USER_AGENT = f"ocodex/{__version__}"


@dataclass(slots=True)
class Transport:
    """How to reach one server: extra headers, query params, TLS verification, timeouts.

    `client()` hands out one shared `httpx.Client`, so the Ollama management calls and the model
    requests reuse one connection pool (and one TLS context); `close()` ends it.
    """

    headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    verify: bool | str = True
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    plain_http_only: bool = False  # every URL is http://: skip loading CA certificates (~20 ms)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def client(self) -> httpx.Client:
        if self._client is None or self._client.is_closed:
            headers = {"user-agent": USER_AGENT, **self.headers}
            timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
            verify = False if self.plain_http_only else self.verify
            self._client = httpx.Client(headers=headers, params=self.query_params or None, timeout=timeout,
                                        verify=verify, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
