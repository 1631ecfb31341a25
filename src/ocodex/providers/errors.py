"""Turning a model server's HTTP error into a `ProviderError` a person can act on.

Ollama and OpenAI-style servers return `{"error": {"message": ...}}` on /v1, `{"error": "..."}` on
native routes and plain text elsewhere. We branch on the status and on well-known message substrings
(Ollama's `does not support tools`/`thinking`, `not found`), never on the error `type`.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import httpx

from ocodex.errors import ProviderError, ServerUnavailable, StreamError
from ocodex.redact import scrub

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


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


def auth_hint(provider_id: str | None) -> str:
    """What to check after a 401/403: the settings that carry credentials for this provider."""
    table = f"model_providers.{provider_id}" if provider_id else "the provider"
    return (f"authentication failed at the server or a proxy in front of it: check {table}.env_key "
            f"(sent as a Bearer token), {table}.http_headers / env_http_headers, or user:password in "
            "the base URL (sent as Basic auth)")


PROXY_AUTH_HINT = ("put the proxy's user name and password in the HTTPS_PROXY (or HTTP_PROXY) URL, before its "
                   "host (user:password@), or add the model server's host to NO_PROXY")


def http_error(status: int, body: bytes | str, *, model: str, url: str,
               headers: Mapping[str, str] | None = None, provider_id: str | None = None) -> ProviderError:
    """A `ProviderError` for an HTTP error status from a model request."""
    message = scrub(error_message(body))
    url = scrub(url)
    hint: str | None = None
    if "does not support tools" in message:
        hint = (f"model '{model}' cannot call tools, which ocodex needs; choose one that can "
                "(e.g. gpt-oss:20b, qwen3, llama3.1) with -m; `ollama show MODEL` lists capabilities")
    elif "does not support thinking" in message:
        hint = "unset model_reasoning_effort for this model (it has no thinking capability)"
    elif status == 404 and "model" in message.lower() and "not found" in message:
        hint = f"pull it with `ollama pull {model}`, or check the name with `ollama list`"
    elif status == 404:
        hint = f"check the base URL ({url}); for Ollama it should end in /v1"
    elif status in (401, 403):
        hint = auth_hint(provider_id)
    elif status == 407:  # a forward proxy from HTTP_PROXY wants credentials
        message, hint = f"authentication failed at the proxy: {message}", PROXY_AUTH_HINT
    elif status == 503:
        hint = "the server is busy or still loading the model; try again"
    retryable = status in RETRYABLE_STATUSES
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if status == 429 and ("insufficient_quota" in raw or "exceeded your current quota" in message):
        # OpenAI's 429 for an exhausted quota or billing limit: waiting does not help (Codex agrees).
        retryable, hint = False, "the account's quota or billing limit is used up; check your plan"
    retry_after = retry_after_seconds((headers or {}).get("retry-after"))
    return ProviderError(f"model request failed ({status}): {message}", hint, status=status,
                         retryable=retryable, retry_after=retry_after)


def not_a_stream(content_type: str | None, body: bytes, url: str) -> ProviderError:
    """The error for a 2xx answer that is a web page or a JSON document instead of an event stream.

    A wrong base URL (a web UI, a landing page) or a server that ignores `stream: true` answers like
    this; retrying cannot help, so the error is not retryable.
    """
    kind = "a web page" if "html" in (content_type or "") else "a JSON document"
    return ProviderError(f"the server at {scrub(url)} answered with {kind} ({content_type}), not an event "
                         f"stream: {scrub(error_message(body))[:200]}",
                         hint="check the base URL: it should be the OpenAI-compatible API root (for Ollama, "
                              "http://host:11434/v1), not a web UI")


def is_document(content_type: str | None) -> bool:
    """True when a response's content type says it is not a stream (HTML or JSON)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in ("text/html", "application/json", "application/xhtml+xml")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return scrub(text or type(exc).__name__)


def is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
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


def is_plain_http_answer(exc: BaseException) -> bool:
    """True when a TLS handshake failed because the server answered in plain HTTP (https:// to http)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).upper()
        if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER_FAILURE" in text or "PACKET_LENGTH_TOO_LONG" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


PLAIN_HTTP_HINT = ("the server speaks plain HTTP, not TLS: use an http:// base URL, or put a TLS reverse proxy "
                   "in front of it")


def transport_error(exc: httpx.HTTPError, url: str) -> ProviderError | ServerUnavailable:
    """The error for a model request that failed below HTTP: refused, timed out, cut off, bad TLS."""
    url = scrub(url)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and is_plain_http_answer(exc):
        return ProviderError(f"TLS handshake failed with the model server at {url}: {_reason(exc)}",
                             hint=PLAIN_HTTP_HINT)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and is_tls_failure(exc):
        return ProviderError(f"TLS verification failed for the model server at {url}: {_reason(exc)}",
                             hint="if the server uses a private CA, set ca_cert on the provider (or "
                                  "SSL_CERT_FILE) to its CA certificate; verify_tls = false turns the "
                                  "check off (not recommended)")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        proxy = proxy_for(url)
        hint = "check that the server is running and the base URL is right"
        if proxy:
            hint = (f"requests to it go through the proxy {proxy} (from the environment): check that the "
                    "proxy is up, or add the host to NO_PROXY; and that the server is running")
        return ServerUnavailable(f"cannot connect to the model server at {url}: {_reason(exc)}", hint)
    if isinstance(exc, httpx.ProxyError) and _reason(exc).startswith(("407", "403")):
        proxy = proxy_for(url) or "the proxy"
        return ProviderError(f"authentication failed at the proxy {proxy} on the way to {url}: {_reason(exc)}",
                             hint=PROXY_AUTH_HINT)
    if isinstance(exc, httpx.ProxyError):
        return ServerUnavailable(f"the proxy refused the connection to {url}: {_reason(exc)}",
                                 "check HTTPS_PROXY / NO_PROXY")
    if isinstance(exc, httpx.TimeoutException):
        return StreamError(f"the model server stopped responding ({type(exc).__name__})", retryable=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return StreamError("the model stream broke off before the answer was complete "
                           f"(no finish_reason): {_reason(exc)}", retryable=True)
    return ProviderError(f"model request failed: {_reason(exc)}")
