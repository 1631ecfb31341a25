"""The interactive session's parts, in process: the command line's `ocodex PROMPT`, the history file, diffs
and the live region as drawn, mentions, git changes, the footer, and the turn's keyboard on a pty."""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ocodex.cli import build_parser, parse_args, split_root_prompt
from ocodex.events import (
    CommandExecution,
    CommandOutput,
    ItemCompleted,
    ItemStarted,
    Reconnecting,
    Streamed,
    TurnCompleted,
    TurnStarted,
)
from ocodex.render.diff import split_files, summary
from ocodex.render.live import LiveRegion, TurnProgress, fit, wrap

pytestmark = pytest.mark.fast


def plain(text: str, *names: str) -> str:
    return text


# ---- `ocodex PROMPT` ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,options,prompt", [
    (["fix the bug"], [], ["fix the bug"]),
    (["-m", "qwen3:8b", "fix", "it"], ["-m", "qwen3:8b"], ["fix", "it"]),
    (["--ephemeral", "hello", "-m", "q"], ["--ephemeral", "-m", "q"], ["hello"]),
    (["--", "models"], [], ["models"]),
    (["exec", "hi"], ["exec", "hi"], []),
    (["models"], ["models"], []),
    (["-m", "models"], ["-m", "models"], []),
    (["resume", "--last"], ["resume", "--last"], []),
])
def test_a_first_word_that_names_no_command_is_the_prompt(argv: list[str], options: list[str],
                                                           prompt: list[str]) -> None:
    assert split_root_prompt(argv) == (options, prompt)


def test_the_prompt_reaches_the_interactive_session_and_commands_still_parse() -> None:
    args = parse_args(build_parser(["-m", "x", "explain"]), ["-m", "x", "explain"])
    assert args.command is None and args.prompt == ["explain"] and args.model == "x"
    args = parse_args(build_parser(["exec", "--json", "hi"]), ["exec", "--json", "hi"])
    assert args.command == "exec" and args.prompt == ["hi"] and args.json


# ---- the history file ------------------------------------------------------------------------------

def test_history_reads_both_formats() -> None:
    from ocodex.ui.input import parse_history

    assert parse_history("one\ntwo\n") == ["one", "two"]  # readline's: one entry per line
    kept = "\n# 2026-01-01\n+first\n\n# 2026-01-02\n+multi\n+line\n"
    assert parse_history(kept) == ["first", "multi\nline"]


def test_history_is_written_private_and_never_through_a_link(tmp_path: Path) -> None:
    pytest.importorskip("prompt_toolkit")
    from ocodex.ui.input import _history_class

    history = _history_class()(tmp_path / "history")
    history.store_string("use my token abc123\nand more")
    assert (tmp_path / "history").stat().st_mode & 0o777 == 0o600
    assert list(history.load_history_strings()) == ["use my token abc123\nand more"]
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "linked").symlink_to(victim)
    _history_class()(tmp_path / "linked").store_string("secret")
    assert victim.read_text() == "keep\n"


# ---- diffs -----------------------------------------------------------------------------------------

def test_a_diff_summary_names_each_file_with_its_counts_and_cuts_long_hunks() -> None:
    body = "".join(f"+line {n}\n" for n in range(12))
    diff = ("--- a/src/a.py\n+++ b/src/a.py\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n"
            f"--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,12 @@\n{body}--- a/old\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n")
    lines = summary(diff, plain, lines_per_file=4)
    assert lines[0] == "  M src/a.py (+1 -1)" and lines[1:5] == ["    @@ -1,2 +1,2 @@", "     one", "    -two",
                                                                "    +three"]
    assert "  A new.txt (+12)" in lines and "    … 9 more lines" in lines and "  D old (-1)" in lines
    git = ("diff --git a/x b/x\nnew file mode 100644\nindex 0000000..e69de29\n--- /dev/null\n+++ b/x\n"
           "@@ -0,0 +1 @@\n+y\n"
           "diff --git a/img.png b/img.png\ndeleted file mode 100644\nBinary files a/img.png and /dev/null differ\n")
    assert [(f.kind, f.path, f.body) for f in split_files(git)] == [
        ("A", "x", ["@@ -0,0 +1 @@", "+y"]), ("D", "img.png", ["Binary files a/img.png and /dev/null differ"])]


# ---- the live region -------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_indicator_counts_seconds_then_tokens_per_second() -> None:
    clock = Clock()
    progress = TurnProgress(clock=clock, stream_text=True)
    progress.observe(TurnStarted())
    assert progress.status().endswith("Working · 0s · ctrl-c to interrupt")
    clock.now += 3
    progress.observe(Streamed("text", "Hello"))
    clock.now += 0.5
    progress.observe(Streamed("text", " world"))
    assert "Writing · 3s · 2.0 tok/s" in progress.status()
    assert progress.lines(80, plain)[0] == "Hello world"
    progress.observe(Reconnecting(1, 5, "the stream broke"))  # a retried stream starts over
    assert progress.text == "" and "tok/s" not in progress.status()
    progress.observe(ItemStarted(CommandExecution("item_1", "pytest -q")))
    progress.observe(CommandOutput("item_1", "collected 3\n.."))
    progress.observe(CommandOutput("item_1", ".\n3 passed\n"))
    assert progress.lines(80, plain) == ["  collected 3", "  ...", "  3 passed",
                                         progress.status()] and "Running pytest -q" in progress.status()
    progress.observe(ItemCompleted(CommandExecution("item_1", "pytest -q", "", 0, "completed")))
    progress.observe(TurnCompleted(__import__("ocodex.events", fromlist=["Usage"]).Usage()))
    assert not progress.running


def test_live_lines_are_safe_masked_and_fit_the_width() -> None:
    from ocodex.redact import register_secret

    register_secret("sk-live-7a6b5c4d3e2f")
    progress = TurnProgress(stream_text=True)
    progress.observe(TurnStarted())
    progress.observe(Streamed("text", "key sk-live-7a6b5c4d3e2f \x1b]52;c;eA==\x07 " + "long " * 15))
    lines = progress.lines(40, plain)
    assert all(len(line) <= 39 for line in lines)
    joined = "".join(lines)
    assert "sk-live" not in joined and "\x1b" not in joined and "␛]52" in joined
    assert fit("日本語のテキスト", 7) == "日本語…" and wrap("a b c d", 3) == ["a b", "c d"]


def test_the_region_is_erased_exactly_before_text_is_printed_above_it() -> None:
    out = io.StringIO()
    region = LiveRegion(out)
    region.show(["one", "two"])
    region.print("permanent")
    region.clear()
    assert out.getvalue() == ("\x1b[?25lone\ntwo"  # drawn, the cursor on its last line
                              "\r\x1b[1A\x1b[Jpermanent\n\x1b[?25lone\ntwo"  # erased, the text, drawn again
                              "\r\x1b[1A\x1b[J\x1b[?25h")  # erased, the cursor shown again


# ---- mentions ------------------------------------------------------------------------------------

def test_mentions_attach_files_and_listings_and_say_what_they_could_not(tmp_path: Path) -> None:
    from ocodex.ui.attach import prepare

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("A = 1\n")
    (tmp_path / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    os.mkfifo(tmp_path / "pipe")
    prepared = prepare("look at @src/a.py, @src and @missing.txt and @pipe and @shot.png", tmp_path, vision=False)
    assert prepared.text.startswith("look at @src/a.py, @src and @missing.txt")
    assert '<file path="src/a.py">\nA = 1\n</file>' in prepared.text
    assert '<directory path="src/">\na.py\n</directory>' in prepared.text
    assert prepared.attached == ["src/a.py", "src/"] and prepared.images == []
    assert any("@missing.txt: no such file" in note for note in prepared.notes)
    assert any("@pipe: not a regular file" in note for note in prepared.notes)  # a FIFO never blocks
    assert any("cannot read images" in note for note in prepared.notes)
    with_vision = prepare(f"what is in {tmp_path / 'shot.png'}?", tmp_path, vision=True)  # a pasted path
    assert len(with_vision.images) == 1 and with_vision.images[0].startswith("data:image/png;base64,")


# ---- git changes -----------------------------------------------------------------------------------

def test_changes_cover_edits_and_untracked_files_even_before_the_first_commit(tmp_path: Path) -> None:
    from ocodex.ui.workspace import NotARepository, changes

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "new.txt").write_text("hello\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
    text = changes(tmp_path)
    assert "+++ b/new.txt\n@@ -0,0 +1,1 @@\n+hello\n" in text and "Binary files /dev/null and b/blob.bin" in text
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    assert changes(tmp_path) == ""
    (tmp_path / "new.txt").write_text("hello\nworld\n")
    assert "+world" in changes(tmp_path)
    with pytest.raises(NotARepository):
        changes(tmp_path.parent / "nowhere-near-git")  # not a directory, let alone a repository


# ---- the footer and the interactive defaults ---------------------------------------------------------

def test_the_footer_and_the_context_bar() -> None:
    from ocodex.events import Usage
    from ocodex.thread.core import ThreadStatus
    from ocodex.ui.face import context_bar, footer

    assert context_bar(1024, 4096, width=8) == "[##------]  1,024 / 4,096 tokens (25%)"
    assert context_bar(9000, 4096, width=4) == "[####]  9,000 / 4,096 tokens (100%)"
    assert context_bar(None, None).startswith("unknown")
    status = ThreadStatus("t1", "ollama", "http://127.0.0.1:11434", "default", None, "qwen2.5-coder:7b", "flag",
                          ("tools",), 4096, 1024, Usage(), "workspace-write", "on-request", "apply_patch", None,
                          "/w", None)
    assert footer(status) == "qwen2.5-coder:7b · context 1,024/4,096 (25%) · workspace-write · approval on-request"
    assert "context window unknown" in footer(replace(status, context_window=None))


def test_the_interactive_defaults_unless_configured() -> None:
    from ocodex.config import Settings
    from ocodex.ui.repl import interactive_settings

    chosen = interactive_settings(Settings())
    assert (chosen.sandbox_mode, chosen.approval_policy) == ("workspace-write", "on-request")
    configured = interactive_settings(Settings().changed("config.toml", {"approval_policy": "never",
                                                                           "sandbox_mode": "read-only"}))
    assert (configured.sandbox_mode, configured.approval_policy) == ("read-only", "never")


# ---- the turn's keyboard ---------------------------------------------------------------------------

def _until(condition, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened")
        time.sleep(0.01)


def test_esc_interrupts_a_key_answers_and_typed_text_waits_for_the_prompt() -> None:
    from ocodex.ui.keys import TurnKeys

    master, slave = os.openpty()
    escaped: list[bool] = []
    try:
        with TurnKeys(lambda: escaped.append(True), fd=slave) as keys:
            os.write(master, b"\x1b[A")  # an arrow key is no Esc
            os.write(master, b"next ")
            _until(lambda: keys.typeahead == "next ", "type-ahead kept")
            os.write(master, b"\x1b")
            _until(lambda: escaped == [True], "Esc seen")
            answers: list[str] = []
            asker = threading.Thread(target=lambda: answers.append(keys.ask("yna")))
            asker.start()
            _until(keys._asking.is_set, "the question waiting")
            os.write(master, b"xA\r")  # x is not an answer; A is; the Enter after it belongs to it
            asker.join(5)
            assert answers == ["a"]
            os.write(master, b"z")
            _until(lambda: keys.typeahead == "next z", "the Enter swallowed, z kept")
        import termios

        assert termios.tcgetattr(slave)[3] & termios.ECHO  # the terminal is as it was
    finally:
        os.close(master)
        os.close(slave)


# ---- start-up ------------------------------------------------------------------------------------

def test_what_runs_before_the_prompt_imports_no_server_code() -> None:
    """The prompt is drawn before the thread opens (benchmarks/startup.py measures it): the modules on
    that path, the stop-signal handler included, leave the thread core, httpx and rich for later."""
    import sys

    code = ("import sys, ocodex.cli, ocodex.thread.signals, ocodex.ui.repl, ocodex.ui.session, ocodex.ui.face, "
            "ocodex.ui.input, ocodex.ui.commands, ocodex.ui.keys\n"
            "heavy = ('httpx', 'rich', 'ocodex.thread.core', 'ocodex.agent.loop')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
