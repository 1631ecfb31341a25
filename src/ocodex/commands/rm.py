"""`ocodex rm MODEL...`: delete models from the Ollama server, after a confirmation (or `--yes`)."""

from __future__ import annotations

import argparse
import sys

from ocodex.commands.common import add_server_options, open_target, run_guarded
from ocodex.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = "Delete each MODEL from the server, after a confirmation."
    add_server_options(parser)
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.set_defaults(run=run_rm)


def run_rm(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("refusing to delete models without confirmation: stdin is not a terminal",
                         hint="pass --yes to delete without asking")
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        sys.stderr.write("\n")  # so `error: interrupted` starts its own line, not after the prompt
        raise
    if not answer:  # Ctrl-D
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def _run(args: argparse.Namespace) -> int:
    from ocodex.ollama.names import find_model

    target = open_target(args)
    try:
        available = [entry.name for entry in target.client.tags()]
        found = []
        for name in args.models:
            match = find_model(name, available)
            if match is None:
                raise UsageError(f"model '{name}' is not on the Ollama server at {target.client.root}",
                                 hint="`ocodex models` lists the models it has", exit_code=1)
            found.append(match)
        if not args.yes and not _confirm(f"Delete {', '.join(found)} from {target.client.root}? [y/N] "):
            sys.stderr.write("nothing deleted\n")
            return 1
        for model in found:
            target.client.delete(model)
            print(f"deleted {model}")
    finally:
        target.close()
    return 0
