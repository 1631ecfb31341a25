"""Where the oss provider's Ollama server lives: base URL from the environment, server root, hints.

Owns Codex's rule for the oss base URL (`CODEX_OSS_BASE_URL` if non-blank, else
`http://localhost:${CODEX_OSS_PORT:-11434}/v1`) and the "wrong endpoint" hint. Deriving the
native-API root and loopback detection are `ocodex.net.urls`'s (re-exported here). Pure functions; no
network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ocodex.errors import ConfigError
from ocodex.net.urls import is_loopback, server_root

__all__ = ["BASE_URL_VAR", "DEFAULT_OSS_PORT", "PORT_VAR", "endpoint_hint", "is_loopback", "oss_base_url",
           "server_root"]

DEFAULT_OSS_PORT = 11434
BASE_URL_VAR = "CODEX_OSS_BASE_URL"
PORT_VAR = "CODEX_OSS_PORT"


def _port_from(value: str) -> int:
    text = value.strip()
    if text.isdigit() and 1 <= int(text) <= 65535:
        return int(text)
    raise ConfigError(f"{PORT_VAR} must be a port number between 1 and 65535 (got {value!r})",
                      hint=f"unset {PORT_VAR} to use the default port {DEFAULT_OSS_PORT}")


def _shown(url: str) -> str:
    """`url` fit for an error message: no `user:password@`, even when the scheme is missing."""
    from ocodex.redact import redact_url

    shown = redact_url(url)
    head, sep, tail = shown.partition("/")
    if "://" not in shown and "@" in head:  # `bob:secret@host:11434/v1`: urlsplit sees no credentials
        shown = f"***@{head.rpartition('@')[2]}{sep}{tail}"
    return shown


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{BASE_URL_VAR} must be an http:// or https:// URL (got {_shown(url)!r})",
                          hint="for example CODEX_OSS_BASE_URL=http://localhost:11434/v1")
    return url


def oss_base_url(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The oss base URL and how it was chosen: "CODEX_OSS_BASE_URL", "CODEX_OSS_PORT" or "default"."""
    env = os.environ if env is None else env
    explicit = env.get(BASE_URL_VAR, "").strip()
    if explicit:
        return _check_url(explicit), BASE_URL_VAR
    port_text = env.get(PORT_VAR, "").strip()
    if port_text:
        return f"http://localhost:{_port_from(port_text)}/v1", PORT_VAR
    return f"http://localhost:{DEFAULT_OSS_PORT}/v1", "default"


def endpoint_hint(base_url: str) -> str | None:
    """A hint when the base URL's path does not end in `/v1`, else None."""
    path = urlsplit(base_url.strip()).path.rstrip("/")
    if path.endswith("/v1"):
        return None
    return ("Wrong endpoint used: for OSS via Ollama the base URL should look like "
            f"http://host:11434/v1 (got {base_url})")
