"""What went wrong with an HTTP exchange, in words a person can act on: the one home for that mapping.

Owns reading a failure: the one-line `reason()` of a transport exception, the message inside an error
body (Ollama's native `{"error": "..."}`, OpenAI's `{"error": {"message"}}`, a proxy's HTML page),
`Retry-After`, recognising TLS failures and plain-HTTP answers, the proxy a URL goes through, and the
`OcodexError` for a request that failed below HTTP. Providers and the Ollama client build their
status-specific errors on these.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from email.utils import parsedate_to_datetime

import httpx

from ocodex.errors import ProviderError, ServerUnavailable, StreamError
from ocodex.redact import scrub

PLAIN_HTTP_HINT = ("the server speaks plain HTTP, not TLS: use an http:// base URL, or put a TLS reverse proxy "
                   "in front of it")
PROXY_AUTH_HINT = ("put the proxy's user name and password in the HTTPS_PROXY (or HTTP_PROXY) URL, before its "
                   "host (user:password@), or add the model server's host to NO_PROXY")
_HTML_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def reason(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when it has none), secrets masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return scrub(text or type(exc).__name__)


def json_error(text: str) -> str | None:
    """The message of an error body in either of Ollama's shapes: native `{"error": "..."}` or OpenAI
    `{"error": {"message": ...}}`; None when `text` is not such a body."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    err = data.get("error", data)
    if isinstance(err, dict):
        err = err.get("message")
    return err.strip() if isinstance(err, str) and err.strip() else None


def error_message(body: bytes | str) -> str:
    """The human message inside an error body, whatever its shape."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    return json_error(text) or text[:500] or "(empty response body)"


def response_error_text(response: httpx.Response) -> str:
    """An error response's message in one line: a JSON error body's message, a proxy HTML page's title,
    the body's first line, or the status's reason phrase. Secrets masked."""
    try:
        text = response.text.strip()
    except (httpx.StreamError, UnicodeDecodeError):  # body never read (connection broke)
        text = ""
    message = json_error(text)
    if message is None and text.startswith("<"):  # nginx: `<html>\r\n<head><title>401 ...`
        title = _HTML_TITLE_RE.search(text)
        message = " ".join(title.group(1).split()) if title and title.group(1).strip() else None
    elif message is None and text:
        message = text.splitlines()[0].strip()[:200]
    return scrub(message or response.reason_phrase or f"HTTP {response.status_code}")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_plain_http_answer(exc: BaseException) -> bool:
    """True when a TLS handshake failed because the server answered in plain HTTP (https:// to http)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).upper()
        if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER_FAILURE" in text or "PACKET_LENGTH_TOO_LONG" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def proxy_for(url: str) -> str | None:
    """The proxy (credentials removed) that HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY pick for `url`."""
    import urllib.request
    from urllib.parse import urlsplit

    from ocodex.redact import redact_url

    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return redact_url(proxy)


def transport_error(exc: httpx.HTTPError, url: str) -> ProviderError | ServerUnavailable:
    """The error for a model request that failed below HTTP: refused, timed out, cut off, bad TLS."""
    url = scrub(url)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and is_plain_http_answer(exc):
        return ProviderError(f"TLS handshake failed with the model server at {url}: {reason(exc)}",
                             hint=PLAIN_HTTP_HINT)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and is_tls_failure(exc):
        return ProviderError(f"TLS verification failed for the model server at {url}: {reason(exc)}",
                             hint="if the server uses a private CA, set ca_cert on the provider (or "
                                  "SSL_CERT_FILE) to its CA certificate; verify_tls = false turns the "
                                  "check off (not recommended)")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        proxy = proxy_for(url)
        hint = "check that the server is running and the base URL is right"
        if proxy:
            hint = (f"requests to it go through the proxy {proxy} (from the environment): check that the "
                    "proxy is up, or add the host to NO_PROXY; and that the server is running")
        return ServerUnavailable(f"cannot connect to the model server at {url}: {reason(exc)}", hint)
    if isinstance(exc, httpx.ProxyError) and reason(exc).startswith(("407", "403")):
        proxy = proxy_for(url) or "the proxy"
        return ProviderError(f"authentication failed at the proxy {proxy} on the way to {url}: {reason(exc)}",
                             hint=PROXY_AUTH_HINT)
    if isinstance(exc, httpx.ProxyError):
        return ServerUnavailable(f"the proxy refused the connection to {url}: {reason(exc)}",
                                 "check HTTPS_PROXY / NO_PROXY")
    if isinstance(exc, httpx.TimeoutException):
        return StreamError(f"the model server stopped responding ({type(exc).__name__})", retryable=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return StreamError("the model stream broke off before the answer was complete "
                           f"(no finish_reason): {reason(exc)}", retryable=True)
    return ProviderError(f"model request failed: {reason(exc)}")
