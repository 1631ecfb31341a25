"""Which base URL a provider's requests go to, and how it was chosen: the one home for that rule.

For the built-in `oss` provider this is Codex's rule: `CODEX_OSS_BASE_URL` if non-blank, else
`http://localhost:${CODEX_OSS_PORT:-11434}/v1`; a configured `base_url` (or the first of
`base_urls`, unless `CODEX_OSS_BASE_URL` is set) comes first. Every other provider has its own
`base_url`/`base_urls` (config insists). Runs and the management commands both ask `base_url_for`.
Pure functions; the URL may still carry `user:pass@` (`ocodex.net.connection` splits it off).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ocodex.config.settings import ProviderConfig
from ocodex.errors import ConfigError

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


def base_url_for(provider: ProviderConfig, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(the provider's primary base URL, where it came from: a config key, or for oss
    CODEX_OSS_BASE_URL, CODEX_OSS_PORT or "default")."""
    env = os.environ if env is None else env
    if provider.base_url:
        return provider.base_url, f"model_providers.{provider.id}.base_url"
    if provider.base_urls and (provider.id != "oss" or not env.get(BASE_URL_VAR, "").strip()):
        return provider.base_urls[0], f"model_providers.{provider.id}.base_urls"
    if provider.id == "oss":
        return oss_base_url(env)
    raise ConfigError(f"provider '{provider.id}' has no base_url; set "
                      f"model_providers.{provider.id}.base_url in config.toml")
