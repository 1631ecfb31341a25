"""`ocodex pull MODEL...`: pre-pull models onto the Ollama server (the seed's "pre-pull and cache").

Every model is attempted, in order, with the same progress display `exec --oss` uses (a bar on a
terminal, sparse lines on a pipe); the exit code is 1 when any of them failed. Ctrl-C stops at once
(exit 130); losing the server stops too. Whenever not every model was pulled, one stderr line says
which were pulled, which failed and which were not attempted, so a provisioning script knows where
it stands.
"""

from __future__ import annotations

import argparse
import sys

from ocodex.commands.common import add_server_options, open_target, run_guarded
from ocodex.errors import Interrupted, OcodexError, ServerUnavailable, report


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.description = ("Pull each MODEL onto the Ollama server, with progress. Exit code 1 if any pull failed, "
                          "130 on Ctrl-C; then one stderr line says which were pulled, failed, not attempted.")
    add_server_options(parser)
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.set_defaults(run=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    return run_guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ocodex.ollama.pull import pull_with_progress
    from ocodex.render.progress import make_pull_display

    err = sys.stderr
    models: list[str] = list(args.models)
    pulled: list[str] = []
    failed: list[str] = []
    current: str | None = None
    target = open_target(args)
    try:
        target.client.probe()
        for model in models:
            current = model
            err.write(f"Pulling {model} onto {target.client.root}...\n")
            try:
                pull_with_progress(target.client, model, make_pull_display(err, model=model))
            except (Interrupted, KeyboardInterrupt):
                raise
            except OcodexError as exc:
                report(OcodexError(f"{model}: {exc.message}", exc.hint), err)
                failed.append(model)
                current = None
                if isinstance(exc, ServerUnavailable):
                    err.write(_summary("stopped: the server went away", models, pulled, failed))
                    return exc.exit_code
                continue
            current = None
            pulled.append(model)
            print(f"pulled {model}", flush=True)
    except (Interrupted, KeyboardInterrupt):
        if current is not None:
            failed.append(current)
        err.write(_summary("interrupted", models, pulled, failed, interrupted=current))
        return Interrupted.exit_code
    finally:
        target.close()
    if failed:
        err.write(_summary(f"{len(failed)} of {len(models)} pulls failed", models, pulled, failed))
        err.write("hint: check the names on https://ollama.com/library, the server's disk space and "
                  "network; run the command again to resume (Ollama keeps partial downloads)\n")
        return 1
    return 0


def _summary(what: str, models: list[str], pulled: list[str], failed: list[str],
             interrupted: str | None = None) -> str:
    """`error: WHAT; pulled: ...; failed: ...; not attempted: ...` (one line, `none` for an empty list)."""
    skipped = models[len(pulled) + len(failed):]  # models are attempted in order, each lands in one list
    shown = [f"{m} (interrupted)" if m == interrupted else m for m in failed]
    parts = [f"pulled: {', '.join(pulled) or 'none'}", f"failed: {', '.join(shown) or 'none'}",
             f"not attempted: {', '.join(skipped) or 'none'}"]
    return f"error: {what}; {'; '.join(parts)}\n"
