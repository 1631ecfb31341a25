"""`ocodex ps`: the models loaded in the server's memory now, with memory, context and expiry (`/api/ps`)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ocodex.commands.common import (
    add_json_option,
    add_server_options,
    console,
    open_target,
    print_json,
    run_guarded,
    size_text,
    table,
    until_text,
)
from ocodex.render.safe import terminal_safe


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = "Loaded models with memory, CPU/GPU split, context and expiry."
    add_server_options(parser)
    add_json_option(parser)
    parser.set_defaults(run=run_ps)


def run_ps(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _placement(size: int | None, vram: int | None) -> str:
    if not size or vram is None:
        return "-"
    if vram >= size:
        return "100% GPU"
    if vram <= 0:
        return "100% CPU"
    gpu = round(100 * vram / size)
    return f"{100 - gpu}%/{gpu}% CPU/GPU"


def _run(args: argparse.Namespace) -> int:
    target = open_target(args)
    try:
        loaded = target.client.ps()
    finally:
        target.close()
    if args.json:
        print_json({"server": target.base_url, "models": [asdict(model) for model in loaded]})
        return 0
    out = console()
    if not loaded:
        out.print(terminal_safe(f"No models loaded on {target.base_url}."), markup=False)
        return 0
    grid = table("NAME", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL", title=f"Loaded on {target.base_url}")
    for model in loaded:
        context = f"{model.context_length:,}" if model.context_length else "-"
        grid.add_row(model.name, size_text(model.size), _placement(model.size, model.size_vram), context,
                     until_text(model.expires_at))
    out.print(grid)
    return 0
