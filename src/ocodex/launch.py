"""The program's entry point (`ocodex`, `python -m ocodex`): which process does the run.

A one-shot `exec` that a resident process can take (`ocodex.resident`) is handed to it: the run then
starts in milliseconds. Everything else, and every run it cannot take, goes to `ocodex.cli.main` in this
process, as it always has. Only the standard library's cheapest modules are imported before that choice.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# The options that take a value as the next word: what tells a subcommand from an option's value.
VALUE_OPTIONS = frozenset({"-c", "--config", "-p", "--profile", "-m", "--model", "-C", "--cd", "-s", "--sandbox",
                           "--local-provider"})


def command_word(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names: its first word that is neither an option nor an option's value."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word in VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main() -> int:
    one_shot = command_word(sys.argv[1:]) in ("exec", "e")
    if one_shot:
        from ocodex.resident.client import hand_over

        code = hand_over()
        if code is not None:
            return code
    from ocodex.cli import main as cli_main

    code = cli_main()
    if one_shot:
        from ocodex.resident.client import after_direct_run

        after_direct_run()
    return code
