"""The embedded provider (`--oss --local-provider embedded`): a bundled model served by llama.cpp in this process.

`EmbeddedServer.connect` is the `ModelServer` for provider `embedded`: it picks the bundled model (`-m` or
`model` naming one of `ocodex.embedded.weights.CATALOGUE`, default the 1.5B), checks that llama.cpp's server
(the `local` extra) is importable before anything slow happens, assembles the GGUF into the cache on first use
(progress as `AssemblyProgress` events, drawn by the face; sha256-checked), starts the server on 127.0.0.1 and
connects to it over loopback HTTP with the chat wire format, as any other provider. Closing the connection stops
the server. The context window follows `ocodex.context_window` (the one rule): `model_context_window` if set,
else `EMBEDDED_WINDOW`, never more than the model was trained for. The edit format and tools come from the
model's profile (`ocodex.profile`, from the family and parameter size given here), as for Ollama's models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ocodex.config import Settings
from ocodex.context_window import SMALL_WINDOW, effective_window
from ocodex.errors import ConfigError
from ocodex.events import AssemblyEnded, AssemblyProgress, ContextSized, EmbeddedAssembling, EmbeddedLoading

if TYPE_CHECKING:
    from ocodex.embedded.weights import ModelWeights
    from ocodex.thread.assembly import Ask, Connected, Emit

DEFAULT_MODEL = "qwen2.5-coder:1.5b"
"""The bundled model `--local-provider embedded` runs without `-m` (the 0.5B is for tight machines)."""
TRAINED_WINDOW = 32768
"""Both bundled Qwen2.5-Coder models are trained for 32,768 tokens."""
EMBEDDED_WINDOW = SMALL_WINDOW
"""The window llama.cpp allocates unless `model_context_window` says otherwise: the smallest one the context
rule calls enough for an agent session (its KV cache is about 450 MiB for the 1.5B, 200 MiB for the 0.5B)."""
PROGRESS_STEP = 16 * 1024 * 1024
"""Bytes between two `AssemblyProgress` events (the assembly reports every 8 MiB)."""


def bundled_model(settings: Settings) -> tuple[ModelWeights, str]:
    """The bundled model `settings` ask for, and why: `-m`/`model` naming one, else the default."""
    from ocodex.embedded.weights import CATALOGUE, WeightsError, find_model

    if not settings.model:
        return CATALOGUE[DEFAULT_MODEL], ("default for --local-provider embedded; -m qwen2.5-coder:0.5b for a "
                                          "tight machine")
    source = settings.describe_source("model")
    try:
        weights = find_model(settings.model)
    except WeightsError:
        raise ConfigError(f"model {settings.model!r} (from {source}) is not a bundled model; the embedded "
                          f"provider runs {' or '.join(CATALOGUE)}",
                          hint=f"pass -m {DEFAULT_MODEL} (the default) or -m qwen2.5-coder:0.5b, or use "
                               "--local-provider ollama for other models") from None
    return weights, "from -m" if source == "command line" else f"from {source}"


class EmbeddedServer:
    """The `ModelServer` of the embedded provider: one bundled GGUF served in-process for the thread's model."""

    def connect(self, settings: Settings, emit: Emit, ask: Ask | None = None) -> Connected:
        from ocodex.embedded.server import LlamaServer, require_xllamacpp
        from ocodex.embedded.weights import cache_dir, cached_model, ensure_model
        from ocodex.net.connection import connect
        from ocodex.providers.select import make_provider
        from ocodex.thread.assembly import Connected, ModelChoice

        weights, reason = bundled_model(settings)
        require_xllamacpp(weights.extra)  # before a gigabyte is copied for a server that cannot start
        if cached_model(weights) is None:
            emit(EmbeddedAssembling(weights.name, weights.title, weights.size, str(cache_dir())))
            path = _assemble(weights, emit)
        else:
            path = ensure_model(weights)
        window, how = effective_window(configured=settings.model_context_window, num_ctx=EMBEDDED_WINDOW,
                                       trained=TRAINED_WINDOW)
        assert window is not None
        capped = settings.model_context_window is not None and settings.model_context_window > TRAINED_WINDOW
        emit(EmbeddedLoading(weights.name, window))
        server = LlamaServer(path, alias=weights.name, n_ctx=window, extra=weights.extra)
        server.start()
        try:
            provider_config = settings.provider()
            connection = connect(provider_config, f"{server.base_url}/v1", os.environ, warn_plain_http=False,
                                 notify=emit, log_requests=settings.log_requests)
            transport = connection.transport
            try:
                provider = make_provider(provider_config, connection.base_url, transport)
            except BaseException:
                transport.close()
                raise
        except BaseException:
            server.stop()
            raise

        def close() -> None:
            try:
                transport.close()
            finally:
                server.stop()

        sized = ContextSized(window, "configured" if how == "configured" else "embedded", TRAINED_WINDOW,
                             weights.name, capped=capped)
        choice = ModelChoice(weights.name, reason, capabilities=("completion", "tools"), context_window=window,
                             context=sized, server_version=f"llama.cpp ({weights.title})", family="qwen2",
                             parameter_size=weights.name.rsplit(":", 1)[1].upper())  # the profile: a small model
        return Connected(provider, choice, connection.base_url, "embedded (in this process)", close)


def _assemble(weights: ModelWeights, emit: Emit) -> Path:
    """Assemble `weights` into the cache, its progress as events; `AssemblyEnded` says how it ended."""
    from ocodex.embedded.weights import ensure_model

    last = [-PROGRESS_STEP]

    def progress(done: int, total: int) -> None:
        if done - last[0] >= PROGRESS_STEP or done == total:
            last[0] = done
            emit(AssemblyProgress(weights.name, done, total))

    try:
        path = ensure_model(weights, progress=progress)
    except BaseException:
        emit(AssemblyEnded(weights.name, False))
        raise
    emit(AssemblyEnded(weights.name, True))
    return path
