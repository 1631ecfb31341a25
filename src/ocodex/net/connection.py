"""Connecting to a provider's server(s): base URLs, credentials, TLS, failover and the plain-HTTP warning.

Owns turning a `ProviderConfig` plus its primary base URL into a `Connection`: the base URL with any
`user:pass@` removed (the only form ever shown or passed on), the `Transport` that carries headers,
Basic auth, TLS settings and the failover list (`base_urls`), and the warnings a person should see
before prompts leave this machine unencrypted. No network I/O happens here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from ocodex.config import ProviderConfig
from ocodex.errors import ConfigError
from ocodex.events import Event, PlainHttp, TlsUnverified
from ocodex.net.request_log import log_path
from ocodex.net.transport import Endpoint, Transport
from ocodex.net.urls import is_loopback, server_root
from ocodex.redact import register_headers, register_secret, split_credentials

PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


@dataclass(slots=True)
class Connection:
    """A provider's servers, ready to be asked: the base URL shown to people, the transport, the warnings."""

    base_url: str  # the primary base URL, credentials removed
    transport: Transport
    base_urls: list[str] = field(default_factory=list)  # every candidate, primary first, credentials removed
    warnings: list[PlainHttp | TlsUnverified] = field(default_factory=list)  # for a person, before any request


def candidate_urls(provider: ProviderConfig, primary: str) -> list[str]:
    """The primary base URL, then `base_urls` (duplicates dropped), as configured (credentials kept)."""
    urls = [primary]
    for url in provider.base_urls:
        if split_credentials(url)[0].rstrip("/") not in (split_credentials(u)[0].rstrip("/") for u in urls):
            urls.append(url)
    return urls


def _check(url: str, provider: ProviderConfig) -> None:
    parts = urlsplit(url)
    try:
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
        if valid:
            httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        valid = False
    if not valid:
        where = f"model_providers.{provider.id}.base_url(s)"
        if provider.id == "oss":
            where = f"CODEX_OSS_BASE_URL or {where}"
        raise ConfigError(f"provider '{provider.id}' has a base URL that is not a valid http:// or https:// URL: "
                          f"{split_credentials(url)[0]!r}", hint=f"check {where}; e.g. https://host/v1")


def plain_http_warning(url: str, provider: ProviderConfig) -> PlainHttp | None:
    """The warning for prompts sent unencrypted to another machine, or None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or is_loopback(url):
        return None
    key = "oss.warn_plain_http" if provider.id == "oss" else f"model_providers.{provider.id}.warn_plain_http"
    return PlainHttp(parts.hostname or url, key)


def connect(provider: ProviderConfig, base_url: str, env: Mapping[str, str] | None = None, *,
            warn_plain_http: bool = True, notify: Callable[[Event], None] | None = None,
            log_requests: str | None = None) -> Connection:
    """The connection for `provider` whose primary base URL is `base_url` (may hold `user:pass@`).

    `log_requests` is the configured request-log path; `OCODEX_LOG_REQUESTS` in `env` overrides it.
    """
    env = os.environ if env is None else env
    headers = provider.resolved_headers(env)
    register_headers(headers)
    register_headers(dict(provider.query_params))  # e.g. Azure's ?api-key=...
    for variable in provider.env_http_headers.values():  # kept out of config files: treat as secret,
        value = env.get(variable, "").strip()  # unless too short to be a credential ("prod" would mask prose)
        if len(value) >= 8:
            register_secret(value)
    if provider.env_key:
        register_secret(env.get(provider.env_key))
    for name in PROXY_VARS:  # http://user:pass@proxy:3128: the password is a secret too
        if "@" in env.get(name, ""):
            split_credentials(env[name])
    endpoints: list[Endpoint] = []
    clean_urls: list[str] = []
    for url in candidate_urls(provider, base_url):
        _check(url, provider)
        clean, auth = split_credentials(url)
        clean_urls.append(clean)
        endpoints.append(Endpoint(server_root(clean), auth))
    verify: bool | str = provider.ca_cert or provider.verify_tls
    plain_only = all(u.lower().startswith("http://") for u in clean_urls) and not any(
        env.get(name) for name in PROXY_VARS)
    transport = Transport(headers=headers, query_params=dict(provider.query_params), verify=verify,
                          read_timeout=provider.stream_idle_timeout_ms / 1000, plain_http_only=plain_only,
                          endpoints=endpoints, notify=notify, log_requests=log_path(log_requests, env))
    warnings: list[PlainHttp | TlsUnverified] = []
    if warn_plain_http and provider.warn_plain_http:
        for url in clean_urls:
            warning = plain_http_warning(url, provider)
            if warning:
                warnings.append(warning)
    if provider.verify_tls is False and any(u.lower().startswith("https://") for u in clean_urls):
        warnings.append(TlsUnverified(provider.id))
    return Connection(clean_urls[0], transport, clean_urls, warnings)
