"""Command-line parsing and dispatch. No logic beyond turning argv into a command call.

Only `argparse` and the standard library are imported here, so `ocodex --help` and `--version` stay
fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ocodex import __version__

SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")


def _add_common(parser: argparse.ArgumentParser, prefix: str) -> None:
    """Options accepted both before and after the subcommand (`prefix` keeps them apart)."""
    d = prefix
    parser.add_argument("-c", "--config", dest=f"{d}config", action="append", default=None,
                        metavar="key=value",
                        help="override a config value (dotted key; value parsed as TOML); repeatable")
    parser.add_argument("-p", "--profile", dest=f"{d}profile", default=None, metavar="NAME",
                        help="use [profiles.NAME] from config.toml")
    parser.add_argument("-m", "--model", dest=f"{d}model", default=None, metavar="MODEL",
                        help="model to use, e.g. gpt-oss:20b")
    parser.add_argument("--oss", dest=f"{d}oss", action="store_true", default=None,
                        help="use the local Ollama server (the built-in 'oss' provider)")
    parser.add_argument("--openai", dest=f"{d}openai", action="store_true", default=None,
                        help="allow providers that send your code to OpenAI")
    parser.add_argument("-C", "--cd", dest=f"{d}cd", default=None, metavar="DIR",
                        help="run as if started in DIR")
    parser.add_argument("-s", "--sandbox", dest=f"{d}sandbox", choices=SANDBOX_MODES, default=None,
                        help="what commands the model runs may do (exec default: read-only)")
    parser.add_argument("--full-auto", dest=f"{d}full_auto", action="store_true", default=None,
                        help="workspace-write sandbox and no approval prompts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocodex",
        description="A coding agent for open models served by Ollama.",
        epilog="Run `ocodex exec --oss \"PROMPT\"` for one non-interactive task.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"ocodex {__version__}")
    _add_common(parser, "g_")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    exec_parser = commands.add_parser(
        "exec", aliases=["e"], help="run one task non-interactively",
        description="Run one task non-interactively. The prompt comes from the argument, or from "
                    "stdin when it is `-` or absent.")
    _add_common(exec_parser, "")
    exec_parser.add_argument("--json", "--experimental-json", dest="json", action="store_true",
                             help="print events as JSON lines on stdout (Codex exec --json schema)")
    exec_parser.add_argument("-o", "--output-last-message", dest="output_last_message", metavar="FILE",
                             help="write the final agent message to FILE")
    exec_parser.add_argument("--skip-git-repo-check", action="store_true",
                             help="allow running outside a git repository")
    exec_parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                             help="colour on stderr (default: auto)")
    exec_parser.add_argument("prompt", nargs="*", metavar="PROMPT",
                             help="the task; `-` or nothing reads it from stdin")
    return parser


def merge_common(args: argparse.Namespace) -> argparse.Namespace:
    """Fold the pre-subcommand options into the subcommand's: root `-c` values come first."""
    root_config = getattr(args, "g_config", None) or []
    sub_config = getattr(args, "config", None) or []
    args.config = [*root_config, *sub_config]
    for name in ("profile", "model", "oss", "openai", "cd", "sandbox", "full_auto"):
        if getattr(args, name, None) is None:
            setattr(args, name, getattr(args, f"g_{name}", None))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = merge_common(parser.parse_args(argv))
    if args.command in ("exec", "e"):
        from ocodex.commands.exec import run_exec

        return run_exec(args)
    parser.print_help(sys.stderr)
    return 2
