"""Turning a model server's HTTP error into a `ProviderError` a person can act on.

Ollama and OpenAI-style servers return `{"error": {"message": ...}}` on /v1, `{"error": "..."}` on
native routes and plain text elsewhere. We branch on the status and on well-known message substrings
(Ollama's `does not support tools`/`thinking`, `not found`), never on the error `type`. Reading a
failure (body messages, Retry-After, TLS, proxies, transport errors) is `ocodex.net.errors`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from ocodex.errors import ProviderError
from ocodex.net.errors import (  # re-exported: the adapters read failures through this module
    PLAIN_HTTP_HINT,
    PROXY_AUTH_HINT,
    error_message,
    is_plain_http_answer,
    is_tls_failure,
    json_error,
    proxy_for,
    retry_after_seconds,
    transport_error,
)
from ocodex.redact import scrub

__all__ = ["PLAIN_HTTP_HINT", "PROXY_AUTH_HINT", "auth_hint", "error_message", "http_error", "is_document",
           "is_plain_http_answer", "is_tls_failure", "json_error", "not_a_stream", "proxy_for",
           "retry_after_seconds", "transport_error"]

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


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
