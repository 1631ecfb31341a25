"""Where the oss provider's Ollama server lives: the "wrong endpoint" hint, and (re-exported) the oss
base-URL rule from the environment (`ocodex.config.endpoints`), the native-API root and loopback
detection (`ocodex.net.urls`). Pure functions; no network.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ocodex.config.endpoints import BASE_URL_VAR, DEFAULT_OSS_PORT, PORT_VAR, oss_base_url
from ocodex.net.urls import is_loopback, server_root

__all__ = ["BASE_URL_VAR", "DEFAULT_OSS_PORT", "PORT_VAR", "endpoint_hint", "is_loopback", "oss_base_url",
           "server_root"]

def endpoint_hint(base_url: str) -> str | None:
    """A hint when the base URL's path does not end in `/v1`, else None."""
    path = urlsplit(base_url.strip()).path.rstrip("/")
    if path.endswith("/v1"):
        return None
    return ("Wrong endpoint used: for OSS via Ollama the base URL should look like "
            f"http://host:11434/v1 (got {base_url})")
