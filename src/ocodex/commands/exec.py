"""`ocodex exec`: one task, non-interactively, rendered for a person or as JSONL.

Wiring only: read the prompt (and `--image`/`--output-schema` files), find the session `exec resume`
continues, load settings, pick the face, prepare the provider (for `oss`: probe, choose and pull the
model), start recording the session, then hand one turn to the agent and turn its outcome into an exit
code. The accepted-but-ignored Codex options get one `note:` line each on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from ocodex.errors import OcodexError, TurnInterrupted, UsageError, run_reporting
from ocodex.events import Notice, StreamErrorEvent, ThreadStarted


def _valid_text(text: str) -> str:
    """`text` with bytes that were not UTF-8 (surrogate-escaped by Python) as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_stdin(stdin: TextIO) -> str:
    """All of stdin as text; bytes that are not UTF-8 (a binary diff, a Latin-1 file) become U+FFFD."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return buffer.read().decode("utf-8", "replace")
    return _valid_text(stdin.read())


def read_prompt(words: list[str], stdin: TextIO, err: TextIO) -> tuple[str, bool]:
    """The prompt text, and whether the seed's `-- json PROMPT` form asked for JSON output."""
    words = [_valid_text(word) for word in words]
    json_word = len(words) >= 2 and words[0] == "json"
    if json_word:
        words = words[1:]
    prompt = " ".join(words)
    if not words or prompt == "-":
        if stdin.isatty():
            raise UsageError("no prompt provided: give one as an argument, or pipe it into stdin")
        err.write("Reading prompt from stdin...\n")
        text = _read_stdin(stdin)
        if not text.strip():
            raise UsageError("No prompt provided via stdin.", exit_code=1)
        return text, json_word
    if not stdin.isatty():
        data = _read_stdin(stdin)
        if data.strip():
            err.write("Reading additional input from stdin...\n")
            prompt = f"{prompt}\n\n<stdin>\n{data if data.endswith(chr(10)) else data + chr(10)}</stdin>"
    return prompt, json_word


def in_git_repo(path: Path) -> bool:
    return any((directory / ".git").exists() for directory in (path, *path.parents))


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    if args.model:
        flags["model"] = args.model
    if args.oss:
        flags["model_provider"] = "oss"
    if getattr(args, "escalate", False):
        flags["escalate"] = True
    if args.full_auto:
        flags["sandbox_mode"] = "workspace-write"
        flags["approval_policy"] = "never"
    if args.sandbox:
        flags["sandbox_mode"] = args.sandbox
    return flags


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty()


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temp file and a rename; a symlink's target is what changes.

    `/dev/null`, `/dev/stdout` or a FIFO is written into directly: renaming over it would replace
    the device with a regular file (for root, `/dev/null` itself).
    """
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.ocodex-tmp")
    try:
        if target.exists() and not target.is_file():
            with open(target, "w", encoding="utf-8") as stream:
                stream.write(text)
            return
        tmp.write_text(text, "utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OcodexError(f"could not write the last message to {path}: {exc.strerror or exc}",
                          "the answer is on stdout; check the -o/--output-last-message path") from None


def run_exec(args: argparse.Namespace) -> int:
    return run_reporting(lambda: _run(args, sys.stderr))


def _compat_notes(settings: Any, add_dirs: list[Path]) -> list[str]:
    """One line per accepted Codex option that ocodex does not act on (they go to stderr, never stdout)."""
    notes = []
    if settings.approval_policy != "never":
        notes.append(f"note: approval_policy={settings.approval_policy} is ignored: exec never asks for "
                     "approval (as in Codex exec); commands stay inside the sandbox")
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
    from ocodex.config import check_provider_allowed, load_settings, ocodex_home
    from ocodex.thread.recording import EventTee, split_resume_words

    resuming = bool(getattr(args, "resume", False))
    if not resuming and (args.last or args.all_sessions):
        raise UsageError("--last and --all only apply to `ocodex exec resume`")
    session_id, words = split_resume_words(args.prompt, last=args.last) if resuming else (None, args.prompt)
    schema = None
    if args.output_schema:
        from ocodex.output_schema import load_output_schema

        schema = load_output_schema(Path(args.output_schema))
    images: list[str] = []
    if args.image:
        from ocodex.attachments import load_images

        images = load_images(args.image, Path.cwd())
    add_dirs = _add_dirs(args.add_dir)
    prompt, json_word = read_prompt(words, sys.stdin, err)
    json_mode = args.json or json_word
    home = ocodex_home()

    cwd = Path(args.cd).expanduser() if args.cd else Path.cwd()
    if not cwd.is_dir():
        raise UsageError(f"--cd {args.cd}: not a directory")
    cwd = cwd.resolve()
    if args.output_last_message:  # refused now, not after the whole task has run
        target = Path(args.output_last_message).expanduser()
        if not target.parent.is_dir():
            raise UsageError(f"-o {args.output_last_message}: the directory {target.parent} does not exist",
                             "create it first, or choose another path")
    loaded = None
    if resuming:
        from ocodex.thread.recording import find_resume_target

        loaded = find_resume_target(home, session_id, cwd, args.all_sessions)
    settings = load_settings(home=home, overrides=args.config, profile=args.profile, flags=_flags(args))
    check_provider_allowed(settings, bool(args.openai))
    if loaded is not None:
        from ocodex.thread.recording import keep_session_model

        keep_session_model(settings, loaded)
    settings.sandbox_workspace_write.writable_roots.extend(str(d) for d in add_dirs)
    if not args.skip_git_repo_check and not in_git_repo(cwd):
        raise OcodexError("Not inside a trusted directory and --skip-git-repo-check was not specified.",
                          hint=f"{cwd} is not in a git repository; run `git init` there, or pass "
                               "--skip-git-repo-check to run anyway")

    if json_mode:
        from ocodex.render.jsonl import JsonlRenderer

        render: Any = JsonlRenderer(sys.stdout, err)
    else:
        from ocodex.render.human import HumanRenderer

        render = HumanRenderer(sys.stdout, err, color=_use_color(args.color, err))
    emit = EventTee(render)

    for warning in settings.warnings:
        emit(Notice(warning, "warning"))
    for note in _compat_notes(settings, add_dirs):
        from ocodex.render.safe import terminal_safe

        err.write(terminal_safe(note) + "\n")  # notes quote config values
    if resuming and loaded is None:
        emit(Notice(f"no saved session for {cwd}; starting a new one", "warning"))

    from ocodex.thread.assembly import prepare_runtime
    from ocodex.thread.escalation import for_large_model, plan_escalation, run_with_escalation

    escalation = plan_escalation(settings, emit)
    from ocodex.thread.recording import start_runtime

    runtime, writer = start_runtime(settings=settings, cwd=cwd, home=home, emit=emit, loaded=loaded,
                                    ephemeral=bool(args.ephemeral))
    try:
        if images and runtime.capabilities is not None and "vision" not in runtime.capabilities:
            raise UsageError(f"--image: model '{runtime.model}' cannot read images (no vision capability)",
                             "choose a vision model, e.g. -m qwen2.5vl:7b or -m gemma3:4b")
        from ocodex.output_schema import WithResponseFormat, response_format

        if schema is not None:
            runtime.agent.provider = WithResponseFormat(runtime.agent.provider, response_format(schema))
        if not args.ephemeral:
            from ocodex.thread.recording import open_session, record_run_start

            writer = open_session(home, runtime, cwd, loaded, emit, locked=writer)
        elif loaded is not None:
            from ocodex.thread.recording import restore_only

            restore_only(runtime, loaded, emit)
        if writer is not None:
            emit.sink = writer.event
        emit(ThreadStarted(runtime.thread_id))
        if writer is not None:
            record_run_start(writer, settings=settings, runtime=runtime, cwd=cwd, prompt=prompt,
                             images=len(images))
        if not json_mode:
            effort = settings.model_reasoning_effort or "default"
            emit(Notice(f"workdir: {cwd}  sandbox: {settings.sandbox_mode}  approval: never  "
                        f"reasoning effort: {effort}"))
            emit(Notice(f"user\n{prompt}"))
        history = list(runtime.agent.messages)  # what an escalated retry starts from (a resumed thread too)

        def large_runtime(model: str) -> Any:
            second = prepare_runtime(
                settings=for_large_model(settings, escalation), cwd=cwd, home=home, emit=emit,  # type: ignore[arg-type]
                thread_id=runtime.thread_id)
            second.agent.messages[:] = list(history)
            if writer is not None:  # a later resume continues on the model that took over
                writer.write("turn_context", {"cwd": str(cwd), "model": second.model,
                                              "model_provider": second.provider_id, "escalated": True})
            if schema is not None:
                second.agent.provider = WithResponseFormat(second.agent.provider, response_format(schema))
            return second

        try:
            result = run_with_escalation(runtime, prompt, images, plan=escalation, emit=emit,
                                         make_runtime=large_runtime)
        except TurnInterrupted as exc:
            if json_mode:
                raise
            return exc.exit_code  # the renderer has shown the turn's failure: no second error line
        if result.final_message is not None and schema is not None:
            from ocodex.output_schema import OutputSchemaMismatch, check_output

            try:
                check_output(result.final_message, schema, args.output_schema)
            except OutputSchemaMismatch as exc:
                emit(StreamErrorEvent(exc.message))
                raise
    finally:
        runtime.close()
        if writer is not None:
            writer.close()
    if result.final_message is not None:
        render.final_message(result.final_message)
        if args.output_last_message:
            from ocodex.render.safe import valid_unicode

            write_atomically(Path(args.output_last_message), valid_unicode(result.final_message))
    return 0 if result.ok else 1
