"""`ocodex models` (alias `ocodex oss list`): the server's models, and which one `--oss` would pick here.

For each model: size, parameter size, quantisation, context length and capabilities. Servers before
Ollama 0.30 leave the last two out of `/api/tags`; they are then read from `/api/show`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from typing import Any

from ocodex.commands.common import (
    Target,
    add_json_option,
    add_server_options,
    console,
    open_target,
    print_json,
    run_guarded,
    size_text,
    table,
)
from ocodex.render.safe import terminal_safe


@dataclass(slots=True)
class DefaultChoice:
    """The model `exec --oss` would use without `-m`, and why."""

    model: str
    reason: str
    present: str | None  # the server's spelling when it has the model


def default_choice(target: Target, available: list[str]) -> DefaultChoice:
    from ocodex.ollama.memory import oss_model
    from ocodex.ollama.names import find_model

    pick = oss_model(target.settings)
    return DefaultChoice(pick.model, pick.reason, find_model(pick.model, available))


def list_models(target: Target) -> list[dict[str, Any]]:
    """Every local model with its details, as `--json` prints them (`ocodex.ollama.catalog`)."""
    from ocodex.ollama.catalog import list_models as catalog

    return [{"name": entry.name, "size": entry.size, "parameter_size": entry.parameter_size,
             "quantization": entry.quantization, "context_length": entry.context_length,
             "capabilities": list(entry.capabilities), "remote_host": entry.remote_host}
            for entry in catalog(target.client)]


def _capabilities(caps: list[str]) -> str:
    shown = [c for c in caps if c != "completion"]
    return ", ".join(shown) if shown else ("completion" if caps else "-")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """`ocodex models`, and its alias `ocodex oss list`."""
    if name == "oss":
        oss_commands = parser.add_subparsers(dest="oss_command", metavar="COMMAND")
        oss_list = oss_commands.add_parser("list", help="same as `ocodex models`")
        add_arguments(oss_list, "models")
        parser.set_defaults(run=lambda args: parser.error("choose a subcommand: `ocodex oss list`"))
        return
    parser.description = ("The server's models with size, parameters, quantisation, context length and "
                          "capabilities, and which model `exec --oss` would pick on this host and why.")
    add_server_options(parser, model=True, local=True)
    add_json_option(parser)
    parser.set_defaults(run=run_models)


def run_models(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ocodex.commands.common import load_command_settings

    settings = load_command_settings(args)
    if settings.model_provider == "embedded":
        from ocodex.commands.embedded import print_models

        return print_models(settings, args.json)
    target = open_target(args, settings)
    try:
        rows = list_models(target)
        choice = default_choice(target, [row["name"] for row in rows])
    finally:
        target.close()
    if args.json:
        print_json({"server": target.base_url, "models": rows, "oss_default": asdict(choice)})
        return 0
    out = console()
    if not rows:
        out.print(terminal_safe(f"No models on the Ollama server at {target.base_url}."), markup=False)
    else:
        grid = table("NAME", "SIZE", "PARAMS", "QUANT", "CONTEXT", "CAPABILITIES",
                     title=f"Models on {target.base_url}")
        for row in rows:
            context = f"{row['context_length']:,}" if row["context_length"] else "-"
            grid.add_row(row["name"], size_text(row["size"]), row["parameter_size"] or "-",
                         row["quantization"] or "-", context, _capabilities(row["capabilities"]))
        out.print(grid)
    state = f"present as {choice.present}" if choice.present else \
        f"not on the server yet: `ocodex pull {choice.model}`"
    out.print(terminal_safe(f"--oss would use {choice.model} ({choice.reason}); {state}. Override with -m MODEL."),
              markup=False)
    sys.stdout.flush()
    return 0
