"""`ocodex exec`: one task, non-interactively, rendered for a person or as JSONL.

Wiring only: read the prompt (and `--image`/`--output-schema` files), find the session `exec resume`
continues, turn the flags into settings, pick the face (human or JSONL), open a `Thread` on them, run
one turn and turn its outcome into an exit code (and `-o FILE`). The thread does everything else:
the session file and its lock, the server and model, escalation, restoring a resumed thread. The
accepted-but-ignored Codex options get one `note:` line each on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from ocodex.errors import OcodexError, OutputError, Stopped, TurnInterrupted, UsageError, run_reporting
from ocodex.events import NoSessionToResume
from ocodex.last_message import LastMessageFile

PREVIEW_LINES = 40  # the human face echoes at most this much of the prompt (a 50 MB stdin is not shown)
PREVIEW_CHARS = 4000


def _valid_text(text: str) -> str:
    """`text` with bytes that were not UTF-8 (surrogate-escaped by Python) as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_stdin(stdin: TextIO) -> str:
    """All of stdin as text; bytes that are not UTF-8 (a binary diff, a Latin-1 file) become U+FFFD."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return buffer.read().decode("utf-8", "replace")
    return _valid_text(stdin.read())


def read_prompt(words: list[str], stdin: TextIO | None, err: TextIO) -> tuple[str, bool]:
    """The prompt text, and whether the seed's `-- json PROMPT` form asked for JSON output.

    `stdin` is None when it is closed (`<&-`): only an argument can be the prompt then."""
    words = [_valid_text(word) for word in words]
    json_word = len(words) >= 2 and words[0] == "json"
    if json_word:
        words = words[1:]
    prompt = " ".join(words)
    if words and prompt != "-" and not prompt.strip():
        raise UsageError("the prompt is empty", "give the task as an argument, or `-` to read it from stdin")
    if not words or prompt == "-":
        if stdin is None:
            raise UsageError("no prompt provided: give one as an argument (stdin is closed)")
        if stdin.isatty():
            raise UsageError("no prompt provided: give one as an argument, or pipe it into stdin")
        err.write("Reading prompt from stdin...\n")
        text = _read_stdin(stdin)
        if not text.strip():
            raise UsageError("No prompt provided via stdin.", exit_code=1)
        return text, json_word
    if stdin is not None and not stdin.isatty():
        data = _read_stdin(stdin)
        if data.strip():
            err.write("Reading additional input from stdin...\n")
            prompt = f"{prompt}\n\n<stdin>\n{data if data.endswith(chr(10)) else data + chr(10)}</stdin>"
    return prompt, json_word


def preview(prompt: str, *, max_lines: int = PREVIEW_LINES, max_chars: int = PREVIEW_CHARS) -> str:
    """The prompt as the human face echoes it: whole when short, else its start and what was left out."""
    lines = prompt.splitlines()
    if len(prompt) <= max_chars and len(lines) <= max_lines:
        return prompt
    shown = "\n".join(lines[:max_lines])[:max_chars]
    rest = len(prompt) - len(shown)
    return f"{shown}\n… ({rest:,} more characters, {len(lines):,} lines in all, not shown)"


def in_git_repo(path: Path) -> bool:
    return any((directory / ".git").exists() for directory in (path, *path.parents))


def run_exec(args: argparse.Namespace) -> int:
    return run_reporting(lambda: _run(args, sys.stderr))


def _compat_notes(settings: Any, add_dirs: list[Path]) -> list[str]:
    """One line per accepted Codex option that ocodex does not act on (they go to stderr, never stdout)."""
    notes = []
    if settings.approval_policy != "never":
        mcp = (", and MCP tool calls run unless their approval_mode is \"prompt\" (those are declined)"
               if any(server.enabled for server in settings.mcp_servers.values()) else "")
        notes.append(f"note: approval_policy={settings.approval_policy} is ignored: exec never asks for "
                     f"approval (as in Codex exec); commands stay inside the sandbox{mcp}")
    web_search = settings.extra.get("web_search")
    features = settings.extra.get("features")
    if web_search is not None and web_search != "disabled":
        notes.append(f"note: web_search={web_search} is ignored: ocodex has no web search tool")
    elif isinstance(features, dict) and features.get("web_search_request") is True:
        notes.append("note: features.web_search_request=true is ignored: ocodex has no web search tool")
    if settings.extra.get("openai_base_url") and settings.model_provider != "openai":
        notes.append("note: openai_base_url is ignored: it applies only to model_provider = \"openai\" "
                     f"(this run uses '{settings.model_provider}')")
    sdk_vars = [var for var in ("OPENAI_BASE_URL", "CODEX_API_KEY")
                if os.environ.get(var, "").strip() and var != settings.provider().env_key]
    if sdk_vars and settings.model_provider != "openai":
        notes.append(f"note: {' and '.join(sdk_vars)} {'is' if len(sdk_vars) == 1 else 'are'} ignored: "
                     f"{'it applies' if len(sdk_vars) == 1 else 'they apply'} only to model_provider = "
                     f"\"openai\" (this run uses '{settings.model_provider}')")
    if settings.sandbox_workspace_write.network_access and settings.sandbox_mode == "read-only":
        notes.append("note: sandbox_workspace_write.network_access is ignored: the read-only sandbox has no "
                     "network (use --sandbox workspace-write)")
    if add_dirs and settings.sandbox_mode == "read-only":
        notes.append("note: --add-dir is ignored: the read-only sandbox has no writable roots "
                     "(use --sandbox workspace-write)")
    return notes


def _add_dirs(values: list[str]) -> list[Path]:
    dirs = []
    for raw in values:
        path = Path(raw).expanduser().resolve()
        if not path.is_dir():
            raise UsageError(f"--add-dir {raw}: not a directory")
        dirs.append(path)
    return dirs


def _run(args: argparse.Namespace, err: TextIO) -> int:
    from ocodex.commands.flags import settings_flags, use_color, work_dir
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home
    from ocodex.thread import Thread
    from ocodex.thread.recording import find_resume_target, split_resume_words

    resuming = bool(getattr(args, "resume", False))
    if not resuming and (args.last or args.all_sessions):
        raise UsageError("--last and --all only apply to `ocodex exec resume`")
    session_id, words = split_resume_words(args.prompt, last=args.last) if resuming else (None, args.prompt)
    schema = None
    if args.output_schema:
        from ocodex.output_schema import OutputSchema, load_output_schema

        schema = OutputSchema(load_output_schema(Path(args.output_schema)), args.output_schema)
    images: list[str] = []
    if args.image:
        from ocodex.attachments import load_images

        images = load_images(args.image, Path.cwd())
    add_dirs = _add_dirs(args.add_dir)
    if sys.stdout is None:  # `>&-`: nowhere for the answer to go
        raise OutputError("stdout is closed", "run ocodex with stdout open (e.g. `> answer.txt`)")
    prompt, json_word = read_prompt(words, sys.stdin, err)
    json_mode = args.json or json_word
    home = ocodex_home()
    cwd = work_dir(args.cd)
    loaded = find_resume_target(home, session_id, cwd, args.all_sessions) if resuming else None
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=settings_flags(args))
    check_provider_allowed(settings, bool(args.openai))
    if add_dirs:
        roots = [*settings.sandbox_workspace_write.writable_roots, *(str(d) for d in add_dirs)]
        settings = settings.changed("--add-dir", {"sandbox_workspace_write.writable_roots": roots})
    if not args.skip_git_repo_check and not in_git_repo(cwd):
        raise OcodexError("Not inside a trusted directory and --skip-git-repo-check was not specified.",
                          hint=f"{cwd} is not in a git repository; run `git init` there, or pass "
                               "--skip-git-repo-check to run anyway")
    notes = _compat_notes(settings, add_dirs)
    if settings.approval_policy != "never":  # exec never asks for approval, as Codex exec
        settings = settings.changed("exec (it never asks)", {"approval_policy": "never"})

    if json_mode:
        from ocodex.render.jsonl import JsonlRenderer

        face: Any = JsonlRenderer(sys.stdout, err)
    else:
        from ocodex.render.human import HumanRenderer

        face = HumanRenderer(sys.stdout, err, color=use_color(args.color, err))
    for note in notes:
        from ocodex.render.safe import terminal_safe

        err.write(terminal_safe(note) + "\n")  # notes quote config values
    if resuming and loaded is None:
        face.on_event(NoSessionToResume(str(cwd)))

    out_file = LastMessageFile.open(args.output_last_message) if args.output_last_message else None
    try:
        thread = Thread.open(settings, cwd=cwd, home=home, face=face, resume=loaded,
                             ephemeral=bool(args.ephemeral), output_schema=schema, vision=bool(images))
        try:
            if not json_mode:
                effort = thread.settings.model_reasoning_effort or "default"
                face.note(f"workdir: {cwd}  sandbox: {thread.status.sandbox}  approval: {thread.status.approval}  "
                          f"reasoning effort: {effort}")
                face.note(f"user\n{preview(prompt)}")
            try:
                result = thread.run_turn(prompt, images)
            except TurnInterrupted as exc:
                if json_mode:
                    raise
                return exc.exit_code  # the renderer has shown the turn's failure: no second error line
            except Stopped as exc:  # SIGTERM/SIGHUP (exit 143/129): --json also says so on stderr, as for Ctrl-C
                exc.shown = exc.shown and not json_mode
                raise
        finally:
            thread.close()
        if result.final_message is not None:
            _deliver(face, out_file, result.final_message)
    finally:
        if out_file is not None:
            out_file.close()
    return 0 if result.ok else 1


def _deliver(face: Any, out_file: LastMessageFile | None, message: str) -> None:
    """The final answer to stdout, and to `-o FILE`, which gets it even when stdout cannot be written."""
    from ocodex.render.safe import valid_unicode

    try:
        face.final_message(message)
    except OutputError:
        if out_file is not None:
            with contextlib.suppress(OcodexError):
                out_file.write(valid_unicode(message))
        raise
    if out_file is not None:
        out_file.write(valid_unicode(message))
