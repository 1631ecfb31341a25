"""Turning a model server's HTTP error into a `ProviderError` a person can act on.

Ollama and OpenAI-style servers return `{"error": {"message": ...}}` on /v1, `{"error": "..."}` on
native routes and plain text elsewhere. We branch on the status and on well-known message substrings
(Ollama's `does not support tools`/`thinking`, `not found`), never on the error `type`.
"""

from __future__ import annotations

import json

from ocodex.errors import ProviderError

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


def http_error(status: int, body: bytes | str, *, model: str, url: str) -> ProviderError:
    """A `ProviderError` for an HTTP error status from a model request."""
    message = error_message(body)
    hint: str | None = None
    if "does not support tools" in message:
        hint = (f"model '{model}' cannot call tools, which ocodex needs; choose one that can "
                "(e.g. gpt-oss:20b, qwen3, llama3.1) with -m; `ollama show MODEL` lists capabilities")
    elif "does not support thinking" in message:
        hint = "unset model_reasoning_effort for this model (it has no thinking capability)"
    elif status == 404 and "not found" in message:
        hint = f"pull it with `ollama pull {model}`, or check the name with `ollama list`"
    elif status == 404:
        hint = f"check the base URL ({url}); for Ollama it should end in /v1"
    elif status in (401, 403):
        hint = ("authentication failed: check the provider's env_key / http_headers settings, "
                "or the credentials your reverse proxy expects")
    elif status == 503:
        hint = "the server is busy or still loading the model; try again"
    return ProviderError(f"model request failed ({status}): {message}", hint, status=status,
                         retryable=status in RETRYABLE_STATUSES)
