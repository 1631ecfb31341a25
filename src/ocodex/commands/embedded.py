"""What `ocodex models` and `ocodex doctor` say about the embedded provider (`--local-provider embedded`).

Owns the bundled models' state as a person needs it (ready in the cache, installed and assembled on first
use, or not installed, with the pip command), the embedded rows of `models`, and doctor's embedded checks:
the bundled model and why, llama.cpp's server, the weights, the context window (the rule of
`ocodex.context_window`, in its words) and the host's RAM. Nothing here starts a server or assembles a file.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocodex.config import Settings
    from ocodex.embedded.weights import ModelWeights

KV_BYTES_PER_TOKEN = {"qwen2.5-coder:1.5b": 28 * 2 * 2 * 128 * 2, "qwen2.5-coder:0.5b": 24 * 2 * 2 * 64 * 2}
"""llama.cpp's f16 KV cache per token of context: layers x (K and V) x KV heads x head size x 2 bytes."""


def model_state(weights: ModelWeights) -> dict[str, Any]:
    """One bundled model: name, title, size, extra, and `state` ("ready", "installed" or "missing") with the
    cache path or what is missing."""
    from ocodex.embedded.weights import WeightsError, cache_dir, cached_model, installed_parts

    row: dict[str, Any] = {"name": weights.name, "title": weights.title, "size": weights.size,
                           "extra": weights.extra, "install": weights.install_hint}
    cached = cached_model(weights)
    if cached is not None:
        return {**row, "state": "ready", "detail": f"assembled and verified in {cached}"}
    try:
        installed_parts(weights)
    except WeightsError as exc:
        return {**row, "state": "missing", "detail": exc.message}
    return {**row, "state": "installed", "detail": f"installed; assembled into {cache_dir()} on first use"}


def bundled_rows() -> list[dict[str, Any]]:
    from ocodex.embedded.weights import CATALOGUE

    return [model_state(weights) for weights in CATALOGUE.values()]


STATE_TEXT = {"ready": "ready", "installed": "installed (assembled on first use)", "missing": "not installed"}


def print_models(settings: Settings, as_json: bool) -> int:
    """`ocodex models` for the embedded provider: the bundled models and the one `--oss` would run."""
    from ocodex.commands.common import console, print_json, size_text, table
    from ocodex.thread.embedded import bundled_model

    rows = bundled_rows()
    weights, reason = bundled_model(settings)
    if as_json:
        print_json({"provider": "embedded", "models": rows,
                    "oss_default": {"model": weights.name, "reason": reason}})
        return 0
    out = console()
    grid = table("NAME", "SIZE", "MODEL", "STATE", "INSTALL", title="Bundled models (--local-provider embedded)")
    for row in rows:
        grid.add_row(row["name"], size_text(row["size"]), row["title"], STATE_TEXT[row["state"]],
                     row["install"] if row["state"] == "missing" else "-")
    out.print(grid)
    out.print(f"--oss --local-provider embedded would use {weights.name} ({reason}). Override with -m MODEL.",
              markup=False)
    return 0


def doctor_checks(settings: Settings, add: Callable[..., None]) -> None:
    """Doctor's checks for the embedded provider, each through `add(name, status, detail, fix=None)`."""
    from ocodex.context_window import SMALL_WINDOW, effective_window
    from ocodex.errors import OcodexError
    from ocodex.ollama.memory import format_gib, host_memory_bytes
    from ocodex.render.progress import format_bytes
    from ocodex.thread.embedded import EMBEDDED_WINDOW, TRAINED_WINDOW, bundled_model

    add("provider", "ok", "embedded: llama.cpp in this process, a bundled Qwen2.5-Coder model (no Ollama needed)")
    try:
        weights, reason = bundled_model(settings)
    except OcodexError as exc:
        add("model", "fail", exc.message, exc.hint)
        return
    add("model", "ok", f"{weights.name}: {weights.title} ({reason})")
    try:
        from ocodex.embedded.server import require_xllamacpp

        require_xllamacpp(weights.extra)
        add("llama.cpp", "ok", "llama.cpp's server (xllamacpp) is installed")
    except OcodexError as exc:
        add("llama.cpp", "fail", exc.message, exc.hint)
    state = model_state(weights)
    if state["state"] == "ready":
        add("weights", "ok", state["detail"])
    elif state["state"] == "installed":
        from ocodex.embedded.weights import cache_dir

        folder = cache_dir()
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < weights.size:
            add("weights", "fail", f"{state['detail']}, but {probe} has {format_bytes(free)} free and the model "
                f"needs {format_bytes(weights.size)}", "free some disk, or set XDG_CACHE_HOME to a larger volume")
        else:
            add("weights", "ok", f"{state['detail']} ({format_bytes(free)} free there)")
    else:
        add("weights", "fail", state["detail"], f"install them with: {weights.install_hint}")
    window, source = effective_window(configured=settings.model_context_window, num_ctx=EMBEDDED_WINDOW,
                                      trained=TRAINED_WINDOW)
    assert window is not None
    how = "model_context_window" if source == "configured" else "the embedded default"
    if window < SMALL_WINDOW:
        from ocodex.context_window import rule_text

        add("context", "warn", f"{window:,} tokens ({how}); trained {TRAINED_WINDOW:,}; {rule_text()}",
            f"-c model_context_window={EMBEDDED_WINDOW}")
    else:
        add("context", "ok", f"{window:,} tokens ({how}); trained {TRAINED_WINDOW:,}")
    memory = host_memory_bytes()
    need = weights.size + window * KV_BYTES_PER_TOKEN.get(weights.name, 0)
    if memory is None:
        add("memory", "warn", "host RAM unknown")
    elif need > memory:
        add("memory", "warn", f"host RAM {format_gib(memory)}, but {weights.name} with a {window:,}-token "
            f"window takes about {format_gib(need)}", "use -m qwen2.5-coder:0.5b, or a smaller window")
    else:
        add("memory", "ok", f"host RAM {format_gib(memory)}; {weights.name} takes about {format_gib(need)}")
