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


def error_message(body: bytes | str) -> str:
    """The human message inside an error body, whatever its shape."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(empty response body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            message = err.get("message")
            if isinstance(message, str):
                return message
        elif isinstance(err, str):
            return err
    return text[:500]


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
    elif status == 503:
        hint = "the server is busy or still loading the model; try again"
    retry_after = retry_after_seconds((headers or {}).get("retry-after"))
    return ProviderError(f"model request failed ({status}): {message}", hint, status=status,
                         retryable=status in RETRYABLE_STATUSES, retry_after=retry_after)


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


def transport_error(exc: httpx.HTTPError, url: str) -> ProviderError | ServerUnavailable:
    """The error for a model request that failed below HTTP: refused, timed out, cut off, bad TLS."""
    url = scrub(url)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and is_tls_failure(exc):
        return ProviderError(f"TLS verification failed for the model server at {url}: {_reason(exc)}",
                             hint="if the server uses a private CA, set ca_cert on the provider (or "
                                  "SSL_CERT_FILE) to its CA certificate; verify_tls = false turns the "
                                  "check off (not recommended)")
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ServerUnavailable(f"cannot connect to the model server at {url}: {_reason(exc)}",
                                 "check that the server is running and the base URL is right")
    if isinstance(exc, httpx.ProxyError):
        return ServerUnavailable(f"the proxy refused the connection to {url}: {_reason(exc)}",
                                 "check HTTPS_PROXY / NO_PROXY")
    if isinstance(exc, httpx.TimeoutException):
        return StreamError(f"the model server stopped responding ({type(exc).__name__})", retryable=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return StreamError("the model stream broke off before the answer was complete "
                           f"(no finish_reason): {_reason(exc)}", retryable=True)
    return ProviderError(f"model request failed: {_reason(exc)}")
