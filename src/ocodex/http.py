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
    """How to reach one server: extra headers, query params, TLS verification, timeouts."""

    headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    verify: bool | str = True
    connect_timeout: float = 5.0
    read_timeout: float = 300.0

    def client(self) -> httpx.Client:
        headers = {"user-agent": USER_AGENT, **self.headers}
        timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        return httpx.Client(headers=headers, params=self.query_params or None, timeout=timeout,
                            verify=self.verify, follow_redirects=False)
