"""`ocodex pull MODEL...`: pre-pull models onto the Ollama server (the seed's "pre-pull and cache").

Every model is attempted, in order, with the same progress display `exec --oss` uses (a bar on a
terminal, sparse lines on a pipe); the exit code is 1 when any of them failed.
"""

from __future__ import annotations

import argparse
import sys

from ocodex.commands.common import open_target, run_guarded
from ocodex.errors import Interrupted, OcodexError, ServerUnavailable


def run_pull(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ocodex.ollama.bootstrap import pull_with_progress
    from ocodex.render.progress import make_pull_display

    err = sys.stderr
    target = open_target(args)
    failed: list[str] = []
    try:
        target.client.probe()
        for model in args.models:
            err.write(f"Pulling {model} onto {target.client.root}...\n")
            try:
                pull_with_progress(target.client, model, make_pull_display(err, model=model))
            except (Interrupted, ServerUnavailable):
                raise
            except OcodexError as exc:
                err.write(f"error: {model}: {exc.message}\n")
                if exc.hint:
                    err.write(f"hint: {exc.hint}\n")
                failed.append(model)
                continue
            print(f"pulled {model}")
    finally:
        target.close()
    if failed:
        err.write(f"error: {len(failed)} of {len(args.models)} pulls failed: {', '.join(failed)}\n")
        err.write("hint: check the names on https://ollama.com/library, the server's disk space and "
                  "network; run the command again to resume (Ollama keeps partial downloads)\n")
        return 1
    return 0
