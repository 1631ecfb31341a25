"""Getting an Ollama server ready for an `--oss` run, in Codex's order.

Owns the readiness sequence: probe (`/v1/models`), version, tags and model lookup, an optional
pull (its progress sent as `PullProgress` events for a face to draw), then `show` for the model's
capabilities and context. It decides nothing about chat; it only reports what it found in an
`OssReady`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocodex.errors import OcodexError, PullError
from ocodex.events import Event, OldServer, PullStarted
from ocodex.ollama.client import ModelDetails, OllamaClient, version_at_least
from ocodex.ollama.names import display_name, find_model
from ocodex.ollama.pull import pull_with_events

USAGE_VERSION = "0.5.2"
"""First Ollama version that reports token usage on streamed /v1/chat/completions."""


@dataclass(slots=True)
class OssReady:
    """The result of a successful readiness sequence."""

    model: str  # the server's spelling of the model
    version: str | None  # None when the server has no /api/version
    details: ModelDetails | None  # None when /api/show failed
    pulled: bool  # whether this run pulled the model


def _check_version(client: OllamaClient, emit: Callable[[Event], None]) -> str | None:
    version = client.version()
    if version is not None and not version_at_least(version, USAGE_VERSION):
        emit(OldServer(version, USAGE_VERSION))
    return version


def _show(client: OllamaClient, model: str) -> ModelDetails | None:
    try:
        return client.show(model)
    except OcodexError:
        return None


def prepare_oss(*, client: OllamaClient, model: str, auto_pull: bool, emit: Callable[[Event], None]) -> OssReady:
    """Probe the server, check the version, find (or pull) `model`, then read its details."""
    client.probe()
    version = _check_version(client, emit)
    found = find_model(model, (entry.name for entry in client.tags()))
    pulled = False
    if found is None:
        if not auto_pull:
            raise OcodexError(f"Model '{model}' is not available on the Ollama server at {client.root}",
                              hint=f"pull it first: `ollama pull {model}` or `ocodex pull {model}`")
        emit(PullStarted(model))
        try:
            pull_with_events(client, model, emit)
        except PullError as exc:
            if exc.hint is None:
                exc.hint = (f"check the name on https://ollama.com/library, and the server's disk space and "
                            f"network; `ocodex pull {model}` retries and resumes the download")
            raise
        found, pulled = display_name(model), True
    return OssReady(model=found, version=version, details=_show(client, found), pulled=pulled)
