"""Getting an Ollama server ready for an `--oss` run, in Codex's order.

Owns the readiness sequence: probe (`/v1/models`), version, tags and model lookup, an optional
pull (its progress sent as `PullProgress` events for a face to draw), then `show` for the model's
capabilities and context. The three independent probes (probe, version, tags) run concurrently, so a remote
server costs one round trip for them, not three; the probe's failure is the one reported. It decides nothing
about chat; it only reports what it found in an `OssReady`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocodex import offmain
from ocodex.approval import ApprovalRequest, PullRequest, Verdict
from ocodex.errors import OcodexError, PullError
from ocodex.events import DefaultMissing, Event, OldServer, PullStarted
from ocodex.ollama.client import ModelDetails, ModelEntry, OllamaClient, version_at_least
from ocodex.ollama.names import display_name, find_model
from ocodex.ollama.pull import pull_with_events

Ask = Callable[[ApprovalRequest], Verdict]  # `ApprovalGate.decide`

USAGE_VERSION = "0.5.2"
"""First Ollama version that reports token usage on streamed /v1/chat/completions."""


@dataclass(slots=True)
class OssReady:
    """The result of a successful readiness sequence."""

    model: str  # the server's spelling of the model
    version: str | None  # None when the server has no /api/version
    details: ModelDetails | None  # None when /api/show failed
    pulled: bool  # whether this run pulled the model
    digest: str | None = None  # the model's digest in /api/tags (None: just pulled, or not listed)
    loaded: int | bool | None = False  # `window_for`'s answer (asked with show); False: not asked


def _check_version(version: str | None, emit: Callable[[Event], None]) -> str | None:
    if version is not None and not version_at_least(version, USAGE_VERSION):
        emit(OldServer(version, USAGE_VERSION))
    return version


def _show(client: OllamaClient, model: str) -> ModelDetails | None:
    try:
        return client.show(model)
    except OcodexError:
        return None


def prepare_oss(*, client: OllamaClient, model: str, auto_pull: bool, emit: Callable[[Event], None],
                window_for: Callable[[str], int | None] | None = None, default: bool = False,
                ask: Ask | None = None) -> OssReady:
    """Probe the server, check the version, find (or pull) `model`, then read its details (and, with
    `window_for`, the window the server allocates for it, asked at the same time). `default`: `model` is
    the RAM rule's choice, not the user's: when it is missing, an installed model that calls tools is named.
    `ask` (the thread's approval gate) is asked before a pull larger than `PULL_ASK_BYTES` goes on."""
    found, version, digest, entries = probe_concurrently(client, model, emit)
    pulled = False
    if found is None and default:
        others = [entry.name for entry in entries if "tools" in entry.capabilities]
        if others:
            emit(DefaultMissing(model, others[0]))
    if found is None:
        if not auto_pull:
            raise OcodexError(f"Model '{model}' is not available on the Ollama server at {client.root}",
                              hint=f"pull it first: `ollama pull {model}` or `ocodex pull {model}`")
        emit(PullStarted(model))
        try:
            confirm = (lambda size: ask(PullRequest(model, size, client.root)) == "allowed") if ask else None
            pull_with_events(client, model, emit, confirm)
        except PullError as exc:
            if exc.hint is None:
                exc.hint = (f"check the name on https://ollama.com/library, and the server's disk space and "
                            f"network; `ocodex pull {model}` retries and resumes the download")
            raise
        found, pulled = display_name(model), True
    if window_for is None:
        return OssReady(model=found, version=version, details=_show(client, found), pulled=pulled, digest=digest)
    from concurrent.futures import ThreadPoolExecutor  # a cold run only: a warm one never gets here

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="window", initializer=offmain.block_here)
    try:
        window = pool.submit(window_for, found)
        details = _show(client, found)
        loaded = window.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return OssReady(model=found, version=version, details=details, pulled=pulled, digest=digest, loaded=loaded)


def probe_concurrently(client: OllamaClient, model: str, emit: Callable[[Event], None]
                       ) -> tuple[str | None, str | None, str | None, list[ModelEntry]]:
    """Probe, version and tags at once: (the server's spelling of `model` or None, the version, its digest,
    the models listed).
    A failed probe is the error raised (the server is not there), whatever the other two met."""
    from concurrent.futures import ThreadPoolExecutor  # a cold run only: a warm one never gets here

    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="probe", initializer=offmain.block_here)
    try:
        probe, version, tags = pool.submit(client.probe), pool.submit(client.version), pool.submit(client.tags)
        probe.result()
        entries = tags.result()
        found_version = _check_version(version.result(), emit)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C or a failure: closing the client ends the rest
    found = find_model(model, (entry.name for entry in entries))
    digest = next((entry.digest for entry in entries if entry.name == found), None)
    return found, found_version, digest, entries
