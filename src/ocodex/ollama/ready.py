"""An `--oss` run's readiness, cold or warm: the probes once, then what they found, remembered.

Cold (nothing cached for this server, model and configured window): the readiness sequence
(`bootstrap.prepare_oss`: probe, version and tags at once, a pull if needed, then show at the same time as
the context sizing), and the result is cached (`probe_cache`). Warm: the cached result is used as is, so the
model request goes out at once, and ONE validation request (`GET /api/tags`: the model is still there with
the same digest) runs in the background meanwhile. A disagreement drops the entry, so the next run probes
again: the model gone (a 404 on the model request is then also explained), a changed digest, a failed
check, or a server counting more prompt tokens than the cached window holds. A base URL with the
"Wrong endpoint" hint is never served from the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ocodex import offmain
from ocodex.errors import OcodexError, ServerUnavailable
from ocodex.events import ContextSized, Event
from ocodex.ollama.bootstrap import Ask, OssReady, prepare_oss
from ocodex.ollama.client import ModelDetails, OllamaClient
from ocodex.ollama.names import find_model
from ocodex.ollama.probe_cache import ProbeCache, ProbeKey
from ocodex.ollama.window import ContextPlan, loaded_window, size_context
from ocodex.protocol import ModelEvent, ModelRequest, Provider

VALIDATION_WAIT_S = 2.0
"""How long the end of a run waits for a validation still in flight (then it is ignored, not trusted)."""

_used = threading.Lock()
"""Taken by a process's first readiness, the only one the cache may serve: later ones (`/new`, a model switch,
an escalation) probe, as the server may have changed while the session sat."""


class ServerGone(OcodexError):
    """A warm run's server is not there: the probe's own message (not retried as a flaky request would be)."""


class Validation:
    """The warm run's one check, in the background: is the cached model still on the server, unchanged?"""

    def __init__(self, client: OllamaClient, cache: ProbeCache, key: ProbeKey, entry: dict[str, Any]) -> None:
        self._client, self._cache, self._key, self._entry = client, cache, key, entry
        self.reason: str | None = None
        self.gone: OcodexError | None = None  # the server is unreachable: what the probe says about it
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oss-validation", daemon=True)
        offmain.start(self._thread)

    def _run(self) -> None:
        model, digest = self._entry["model"], self._entry.get("digest")
        try:
            entries = self._client.tags()
        except ServerUnavailable as exc:
            self.reason = f"the check of the cached probes failed: {exc.message}"
            try:
                self._client.probe()  # the seed guide's words for a server that is not there
            except OcodexError as probed:
                self.gone = probed
        except OcodexError as exc:
            self.reason = f"the check of the cached probes failed: {exc.message}"
        except Exception as exc:  # a closed client at shutdown, anything: never trust an unchecked cache
            self.reason = f"the check of the cached probes failed: {exc}"
        else:
            found = find_model(model, [entry.name for entry in entries])
            now = next((entry.digest for entry in entries if entry.name == found), None)
            if found is None:
                self.reason = f"{model} is no longer on the server"
            elif digest and now and now != digest:
                self.reason = f"{model} changed on the server (digest {digest[:12]} is now {now[:12]})"
        finally:
            self._done.set()

    def outcome(self, prompt_tokens: int | None = None, window: int | None = None,
                wait: float = VALIDATION_WAIT_S) -> str | None:
        """Why the cache was wrong (and so dropped), or None. `prompt_tokens` and `window`: what the server
        counted for a request and the window the cache said; more than the window is a disagreement."""
        if not self._done.wait(wait):
            return None
        reason = self.reason
        if reason is None and prompt_tokens is not None and window is not None and prompt_tokens > window:
            reason = (f"the server counted {prompt_tokens:,} prompt tokens, more than the cached "
                      f"{window:,}-token window")
        if reason is not None:
            self._cache.drop(self._key)
        return reason


    def guard(self, provider: Provider) -> Provider:
        """`provider`, whose connection failures say "No running Ollama server detected" when the check found
        the server gone (the cold path's words), instead of being retried as a flaky request."""
        return _Guarded(provider, self)


class _Guarded:
    def __init__(self, inner: Provider, validation: Validation) -> None:
        self.inner, self.validation = inner, validation

    def stream(self, request: ModelRequest) -> Iterator[ModelEvent]:
        try:
            yield from self.inner.stream(request)
        except ServerUnavailable:
            self.validation._done.wait(VALIDATION_WAIT_S)
            gone = self.validation.gone
            if gone is not None:
                hint = "; ".join(part for part in (gone.hint, gone.also) if part) or None
                raise ServerGone(gone.message, hint) from None
            raise

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True, slots=True)
class Readiness:
    """What a run knows about its model: found now (`validation` None) or remembered (`validation` running)."""

    ready: OssReady
    plan: ContextPlan
    validation: Validation | None


def get_ready(*, client: OllamaClient, home: Path, model: str, requested: int | None, auto_pull: bool,
              emit: Callable[[Event], None], use_cache: bool = True, default: bool = False,
              ask: Ask | None = None) -> Readiness:
    """The model made ready: from the cache when it has this server, model and window (`use_cache`), else
    by the readiness sequence, whose result is then cached."""
    cache = ProbeCache(home)
    key = ProbeKey(client.root, model, requested)
    first = _used.acquire(blocking=False)
    entry = cache.get(key) if use_cache and first else None
    restored = _restore(entry) if entry is not None else None
    if restored is not None and entry is not None:
        ready, plan = restored
        return Readiness(ready, plan, Validation(client, cache, key, entry))
    window_for = (lambda found: loaded_window(client, found)) if requested is None else None
    ready = prepare_oss(client=client, model=model, auto_pull=auto_pull, emit=emit, window_for=window_for,
                        default=default, ask=ask)
    plan = size_context(client, ready.model, ready.details, requested, loaded=ready.loaded)
    if ready.details is not None and plan.window is not None:  # only what a later run can rely on
        cache.put(key, _entry(ready, plan))
    return Readiness(ready, plan, None)


def _entry(ready: OssReady, plan: ContextPlan) -> dict[str, Any]:
    return {"model": ready.model, "version": ready.version, "digest": ready.digest,
            "details": asdict(ready.details) if ready.details is not None else None,
            "plan": {"model": plan.model, "window": plan.window, "trained": plan.trained,
                     "sized": plan.sized._asdict()}}


def _restore(entry: dict[str, Any]) -> tuple[OssReady, ContextPlan] | None:
    """The entry as the sequence's results, or None when it is not of the shape this version writes."""
    try:
        details = ModelDetails(**entry["details"])
        plan = entry["plan"]
        sized = ContextSized(**plan["sized"])
        if sized.how == "created":  # the variant this entry's run created exists now
            sized = sized._replace(how="reused")
        ready = OssReady(model=str(entry["model"]), version=entry["version"], details=details, pulled=False,
                         digest=entry.get("digest"))
        window = plan["window"]
        if not isinstance(window, int) or not isinstance(plan["model"], str):
            return None
        return ready, ContextPlan(plan["model"], window, plan["trained"], sized)
    except (KeyError, TypeError, ValueError):
        return None
