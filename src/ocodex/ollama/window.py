"""Sizing an Ollama model's context window, once per session.

Ollama's /v1 API ignores `num_ctx` (reference §2.6), and a `num_ctx` that changes between requests
makes the server reload the model. So ocodex never sends one. The mechanism, chosen here:

- Without `model_context_window`: use what the server gives. The effective window is `/api/ps`'s
  `context_length` for the loaded model (the model is loaded first, with no options, so the value is
  the one /v1 requests will get), else the Modelfile `num_ctx`, else unknown. Below 16k tokens the user
  is told how to raise it.
- With `model_context_window = N`: ocodex uses a derived model `MODEL-ctxNk` created once through
  `POST /api/create {"from": MODEL, "parameters": {"num_ctx": N}}` (N capped at the trained context).
  Its Modelfile `num_ctx` is honoured on /v1; it is created only when missing and reused afterwards.

Either way a `ContextSized` says what was done. `OLLAMA_CONTEXT_LENGTH` on the server is the alternative the
hint names: it changes every model's default without a derived model.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocodex.context_window import SUGGESTED_WINDOW, effective_window, is_small
from ocodex.errors import OcodexError
from ocodex.events import ContextSized
from ocodex.ollama.client import ModelDetails, OllamaClient
from ocodex.ollama.names import find_model


@dataclass(frozen=True, slots=True)
class ContextPlan:
    """The model to send requests to, its context window, and what was done to get it."""

    model: str  # the model to send requests to (a derived one when the window was resized)
    window: int | None  # effective context in tokens; None when unknown
    trained: int | None
    sized: ContextSized  # what was done, for the user

    @property
    def line(self) -> str:
        return self.sized.text()


def variant_name(model: str, num_ctx: int) -> str:
    base, _, tag = model.partition(":")
    size = f"{num_ctx // 1024}k" if num_ctx % 1024 == 0 else str(num_ctx)
    return f"{base}:{tag or 'latest'}-ctx{size}"


def _loaded_context(client: OllamaClient, model: str) -> int | None:
    loaded = [m for m in client.ps() if find_model(model, [m.name]) is not None]
    return loaded[0].context_length if loaded else None


def _effective(client: OllamaClient, model: str) -> int | None:
    found = _loaded_context(client, model)
    if found is None:
        client.load(model)
        found = _loaded_context(client, model)
    return found


def loaded_window(client: OllamaClient, model: str) -> int | None:
    """The window the server allocates for `model` (loading it first when it is not loaded); None if unknown."""
    try:
        return _effective(client, model)
    except OcodexError:
        return None


def size_context(client: OllamaClient, model: str, details: ModelDetails | None,
                 requested: int | None, *, loaded: int | bool | None = False) -> ContextPlan:
    """Learn (and with `requested`, set) the context window for this session's model. `loaded`: what
    `loaded_window` found, when the caller asked it already (concurrently with `show`); False: ask now."""
    trained = details.context_length if details else None
    if requested is not None:
        target, _ = effective_window(configured=requested, trained=trained)
        assert target is not None
        capped = target < requested
        if details is not None and details.num_ctx == target:
            return ContextPlan(model, target, trained, ContextSized(target, "own_num_ctx", trained, model,
                                                                   capped=capped))
        name = variant_name(model, target)
        existing = find_model(name, [entry.name for entry in client.tags()])
        try:
            if existing is None:
                client.create_variant(name, model, {"num_ctx": target})
            else:
                name = existing
        except OcodexError as exc:
            raise OcodexError(f"could not create a {target}-token variant of {model}: {exc.message}",
                              hint="set OLLAMA_CONTEXT_LENGTH on the server instead, or drop "
                                   "model_context_window") from None
        how = "created" if existing is None else "reused"
        return ContextPlan(name, target, trained, ContextSized(target, how, trained, model, name, capped))

    if isinstance(loaded, bool):
        loaded = loaded_window(client, model)
    window, source = effective_window(loaded=loaded, num_ctx=details.num_ctx if details else None,
                                      trained=trained)
    if window is None:
        return ContextPlan(model, None, trained, ContextSized(None, "unknown", trained, model))
    suggested = SUGGESTED_WINDOW if is_small(window, trained) else None
    how = "loaded" if source == "loaded" else "num_ctx"
    return ContextPlan(model, window, trained, ContextSized(window, how, trained, model, suggested=suggested))
