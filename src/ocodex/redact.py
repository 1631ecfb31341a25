"""Keeping secrets out of everything ocodex shows or writes: URLs, headers, messages.

Owns the process-wide list of secret values (API keys, header values that authenticate, passwords from
`https://user:pass@host` URLs), `scrub(text)` that removes them (and any URL credentials or
`Bearer`/`Basic` tokens) from text, and the URL helpers that split credentials off a base URL. Every
error path that may quote a server, a URL or a header runs its text through `scrub`.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# Header names whose values authenticate: their values are registered as secrets.
_SENSITIVE_HEADER_RE = re.compile(r"auth|key|token|secret|cookie|password|credential", re.IGNORECASE)
_URL_USERINFO_RE = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
# A token has 8+ characters and a digit or base64 punctuation ("Basic authentication" is prose).
_SCHEME_TOKEN_RE = re.compile(r"\b(Bearer|Basic|Token)\s+(?=[A-Za-z0-9._~+/=-]*[0-9=+/._-])[A-Za-z0-9._~+/=-]{8,}",
                              re.IGNORECASE)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember `value` so `scrub` masks it wherever it appears."""
    if value is None:
        return
    text = value.strip()
    if len(text) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.add(text)
        # "Bearer abc": the token alone may also be quoted back.
        scheme, _, token = text.partition(" ")
        if token.strip() and len(token.strip()) >= _MIN_SECRET_LENGTH and scheme.isalpha():
            _secrets.add(token.strip())


def register_headers(headers: dict[str, str]) -> None:
    """Register the values of headers that carry credentials (Authorization, X-Api-Key, ...)."""
    for name, value in headers.items():
        if _SENSITIVE_HEADER_RE.search(name):
            register_secret(value)


def is_sensitive_header(name: str) -> bool:
    return bool(_SENSITIVE_HEADER_RE.search(name))


def _registered() -> list[str]:
    """The registered secrets, longest first (a secret that contains another is masked whole)."""
    with _lock:
        return sorted(_secrets, key=len, reverse=True)


def _scrub_with(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_USERINFO_RE.sub(r"\1", text)
    return _SCHEME_TOKEN_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)


def scrub(text: str) -> str:
    """`text` with every registered secret, URL credential and bearer/basic token masked."""
    if not text:
        return text
    return _scrub_with(text, _registered())


def scrub_value(value: Any) -> Any:
    """`value` (a JSON-like structure: dicts, lists, strings) with every string passed through `scrub`."""
    secrets = _registered()

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _scrub_with(item, secrets) if item else item
        if isinstance(item, dict):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(`url` without `user:pass@`, (user, password) percent-decoded) — or (url, None) without them."""
    parts = urlsplit(url.strip())
    if parts.username is None and parts.password is None:
        return url.strip(), None
    netloc = parts.netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    register_secret(password or user)  # https://TOKEN@host: a lone user name is the credential
    return clean, (user, password)


def redact_url(url: str) -> str:
    """`url` fit to show: credentials removed."""
    return split_credentials(url)[0] if "@" in url else url
