"""`ocodex show MODEL`: what the server knows about one model (`POST /api/show`), for people or `--json`."""

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
    table,
)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = ("Architecture, parameters, quantisation, context length, Modelfile num_ctx and "
                          "sampling, and capabilities of MODEL.")
    add_server_options(parser)
    add_json_option(parser)
    parser.add_argument("name", metavar="MODEL")
    parser.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ocodex.ollama.names import find_model

    target = open_target(args)
    try:
        found = find_model(args.name, (entry.name for entry in target.client.tags()))
        details = target.client.show(found or args.name)
    finally:
        target.close()
    if args.json:
        print_json(asdict(details))
        return 0
    grid = table("", "", title=f"{details.name} on {target.base_url}")
    rows = [
        ("architecture", details.architecture), ("family", details.family),
        ("parameters", details.parameter_size), ("quantization", details.quantization),
        ("context length", f"{details.context_length:,}" if details.context_length else None),
        ("num_ctx (Modelfile)", f"{details.num_ctx:,}" if details.num_ctx else "not set: server default"),
        ("temperature", None if details.temperature is None else f"{details.temperature:g}"),
        ("top_p", None if details.top_p is None else f"{details.top_p:g}"),
        ("capabilities", ", ".join(details.capabilities)),
    ]
    for key, value in rows:
        grid.add_row(key, value or "-")
    console().print(grid)
    return 0
