"""Argument parsing for the Ollama management commands: models (oss list), pull, show, ps, rm, doctor,
bench, tunnel. argparse only, like `cli`, so `--help` stays fast; each command's module is imported
when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS = ("models", "oss", "pull", "show", "ps", "rm", "doctor", "bench", "tunnel")


def _common(parser: argparse.ArgumentParser, *, model: bool = False) -> None:
    parser.add_argument("-c", "--config", dest="config", action="append", default=None, metavar="key=value",
                        help="override a config value (dotted key; value parsed as TOML); repeatable")
    parser.add_argument("-p", "--profile", dest="profile", default=None, metavar="NAME",
                        help="use [profiles.NAME] from config.toml")
    if model:
        parser.add_argument("-m", "--model", dest="model", default=None, metavar="MODEL",
                            help="the model (default: what `exec --oss` would use here)")


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def add_commands(commands: Any) -> None:
    """Register the commands on `build_parser`'s subparsers object."""
    models = commands.add_parser(
        "models", help="list the Ollama server's models and the one --oss would pick",
        description="The server's models with size, parameters, quantisation, context length and "
                    "capabilities, and which model `exec --oss` would pick on this host and why.")
    _common(models, model=True)
    _json(models)

    oss = commands.add_parser("oss", help="Ollama helpers (`ocodex oss list` = `ocodex models`)")
    oss_commands = oss.add_subparsers(dest="oss_command", metavar="COMMAND")
    oss_list = oss_commands.add_parser("list", help="same as `ocodex models`")
    _common(oss_list, model=True)
    _json(oss_list)

    pull = commands.add_parser("pull", help="pull models onto the Ollama server (pre-pull for provisioning)",
                               description="Pull each MODEL onto the Ollama server, with progress. "
                                           "Exit code 1 if any pull failed, 130 on Ctrl-C; then one "
                                           "stderr line says which were pulled, failed, not attempted.")
    _common(pull)
    pull.add_argument("models", nargs="+", metavar="MODEL")

    show = commands.add_parser("show", help="show one model's details",
                               description="Architecture, parameters, quantisation, context length, "
                                           "Modelfile num_ctx and sampling, and capabilities of MODEL.")
    _common(show)
    _json(show)
    show.add_argument("name", metavar="MODEL")

    ps = commands.add_parser("ps", help="list models loaded in memory",
                             description="Loaded models with memory, CPU/GPU split, context and expiry.")
    _common(ps)
    _json(ps)

    rm = commands.add_parser("rm", help="delete models from the Ollama server",
                             description="Delete each MODEL from the server, after a confirmation.")
    _common(rm)
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    rm.add_argument("models", nargs="+", metavar="MODEL")

    doctor = commands.add_parser(
        "doctor", help="check that `exec --oss` can run here, with a fix for each problem",
        description="Check config, server, TLS and auth, latency, version, default model, context "
                    "window, RAM, sandbox and model storage. Exit code 1 when something blocks a run.")
    _common(doctor, model=True)
    _json(doctor)

    bench = commands.add_parser(
        "bench", help="measure latency, load time, first token and tokens/s on your server",
        description="Measure round trip, model load time, time to first token, prompt and generation "
                    "tokens per second and bytes per turn (medians over --runs), then suggest a setup. "
                    "Unloads the model before each run to time a cold load (see --warm).")
    _common(bench, model=True)
    _json(bench)
    bench.add_argument("--runs", type=int, default=3, metavar="N", help="runs to take the median of (default 3)")
    bench.add_argument("--warm", action="store_true",
                       help="do not unload the model first (no load time; polite on a shared server)")

    tunnel = commands.add_parser(
        "tunnel", help="open an SSH tunnel to a remote Ollama (ssh -N -L) and check it",
        description="Run `ssh -N -L 127.0.0.1:LOCAL:localhost:REMOTE DEST`, wait until Ollama answers "
                    "through it, print the CODEX_OSS_BASE_URL to use, and keep it open until Ctrl-C. "
                    "Give options before USER@HOST; extra ssh options go after `--`, e.g. "
                    "`ocodex tunnel --local-port 11435 me@gpu-box -- -p 2222 -i ~/.ssh/gpu`.")
    tunnel.add_argument("destination", metavar="USER@HOST")
    tunnel.add_argument("--local-port", type=int, default=11434, help="port on this machine (default 11434)")
    tunnel.add_argument("--remote-port", type=int, default=11434, help="Ollama's port there (default 11434)")
    tunnel.add_argument("--remote-host", default="localhost", help="Ollama's host as seen from there")
    tunnel.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for Ollama to answer")
    tunnel.add_argument("ssh_args", nargs="*", metavar="-- SSH_OPTION",
                        help="options passed to ssh, after `--` (e.g. -- -p 2222 -i KEY)")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Dispatch a parsed management command to its module."""
    command = args.command
    if command == "oss":
        if getattr(args, "oss_command", None) != "list":
            parser.error("oss: choose a subcommand: `ocodex oss list`")
        command = "models"
    if command == "models":
        from ocodex.commands.models import run_models

        return run_models(args)
    if command == "pull":
        from ocodex.commands.pull import run_pull

        return run_pull(args)
    if command == "show":
        from ocodex.commands.show import run_show

        return run_show(args)
    if command == "ps":
        from ocodex.commands.ps import run_ps

        return run_ps(args)
    if command == "rm":
        from ocodex.commands.rm import run_rm

        return run_rm(args)
    if command == "doctor":
        from ocodex.commands.doctor import run_doctor

        return run_doctor(args)
    if command == "bench":
        from ocodex.commands.bench import run_bench

        return run_bench(args)
    from ocodex.commands.tunnel import run_tunnel

    return run_tunnel(args)
