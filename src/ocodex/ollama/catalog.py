"""The server's models with what a person chooses by: size, parameters, quantisation, context, capabilities.

`list_models` is `GET /api/tags`, completed by `POST /api/show` (concurrently) for what servers before
Ollama 0.30 leave out of the listing (context length, capabilities). `ocodex models` prints it; the
interactive `/model` lists it (through the thread's `ModelServer`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocodex import offmain
from ocodex.errors import OcodexError
from ocodex.ollama.records import ModelEntry

if TYPE_CHECKING:
    from ocodex.ollama.client import ModelDetails, OllamaClient

SHOW_WORKERS = 8
"""Concurrent `/api/show` calls: one round trip per model is slow to a remote server."""


def list_models(client: OllamaClient) -> list[ModelEntry]:
    """Every local model; `/api/show` fills in what `/api/tags` leaves out."""
    from concurrent.futures import ThreadPoolExecutor

    def show(name: str) -> ModelDetails | None:
        try:
            return client.show(name)
        except OcodexError:
            return None

    entries = client.tags()
    missing = [entry.name for entry in entries if entry.context_length is None or not entry.capabilities]
    shown: dict[str, ModelDetails | None] = {}
    if missing:
        pool = ThreadPoolExecutor(max_workers=min(SHOW_WORKERS, len(missing)), thread_name_prefix="show",
                                  initializer=offmain.block_here)
        try:
            shown = dict(zip(missing, pool.map(show, missing), strict=True))
        except BaseException:  # Ctrl-C: do not wait for calls in flight; closing the client ends them
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    for entry in entries:
        details = shown.get(entry.name)
        if details is not None:
            entry.context_length = entry.context_length or details.context_length
            entry.capabilities = entry.capabilities or list(details.capabilities)
            entry.parameter_size = entry.parameter_size or details.parameter_size
            entry.quantization = entry.quantization or details.quantization
    return entries
