"""The interactive session, driven in tmux as a person would: type, paste, press keys, read the screen.

Every wait polls the screen (or the fake server) until a condition holds or a timeout passes; nothing
sleeps blindly. The whole session is walked through at 80x24 and 140x45, with colour and with NO_COLOR
(`test_a_whole_session_*`); the other tests each look at one behaviour at one size.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import base_env
from fakes.fake_ollama import FakeOllama, Turn

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

FOOTER = re.compile(r" · approval (?:untrusted|on-request|on-failure|never) *$", re.M)  # the footer's end: it
# is printed after each turn (and at start-up)


def footers(screen_text: str) -> int:
    return len(FOOTER.findall(screen_text))
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;5;\d+)m")


def tmux(name: str, *args: str, **options: Any) -> subprocess.CompletedProcess:
    """`tmux ARGS` on the tmux server of the terminal `name`: each terminal has a server of its own, so no
    other run's tmux (other tests, other checkouts on this machine) can stop it or be stopped by it."""
    return subprocess.run(["tmux", "-S", str(_socket(name)), "-f", "/dev/null", *args], **options)


def _socket(name: str) -> Path:
    return Path(tempfile.gettempdir(), f"{name}.tmux")


class Screen:
    def __init__(self, name: str) -> None:
        self.name = name  # the session's and its server's name

    def tmux(self, *args: str, **options: Any) -> subprocess.CompletedProcess:
        return tmux(self.name, *args, **options)

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys, check=True)

    def type(self, text: str) -> None:
        self.send("-l", text)

    def paste(self, text: str) -> None:
        """A bracketed paste, as a terminal sends one when text is pasted into it."""
        buffer = f"b{uuid.uuid4().hex[:6]}"
        self.tmux("load-buffer", "-b", buffer, "-", input=text.encode(), check=True)
        self.tmux("paste-buffer", "-p", "-d", "-b", buffer, "-t", self.name, check=True)

    def text(self) -> str:
        proc = self.tmux("capture-pane", "-p", "-J", "-S", "-3000", "-t", self.name, capture_output=True, text=True)
        return proc.stdout

    def raw(self) -> str:
        """The screen with its colours and attributes as escape sequences."""
        proc = self.tmux("capture-pane", "-p", "-e", "-J", "-S", "-3000", "-t", self.name, capture_output=True,
                         text=True)
        return proc.stdout

    def until(self, condition: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if condition(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{what} never happened; the screen:\n{self.text()}")

    def wait_for(self, needle: str, count: int = 1, timeout: float = 30.0) -> str:
        return self.until(lambda s: s.count(needle) >= count, f"{needle!r} on screen ({count}x)", timeout)

    def idle(self) -> bool:
        lines = [line for line in self.text().splitlines() if line.strip()]
        return bool(lines) and lines[-1].rstrip() == "›"

    def ready(self, count: int = 1) -> str:
        """Wait until the prompt waits for input, after `count` footers (start-up counts one)."""
        return self.until(lambda s: footers(s) >= count and self.idle(), f"the prompt after {count} footers")

    def turn(self, text: str, *, paste: bool = False) -> str:
        """Once the prompt waits, send a prompt and wait for the turn to end (its footer, then the prompt).
        (Keys typed before the prompt is back are kept for it, but an Enter then sends nothing.)"""
        before = footers(self.until(lambda s: self.idle(), "the prompt"))
        if paste:
            self.paste(text)
        else:
            self.type(text)
        self.send("Enter")
        return self.ready(before + 1)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", self.name, capture_output=True).returncode == 0


@contextlib.contextmanager
def terminal(home: Path, cwd: Path, fake: FakeOllama | None, *args: str, size: tuple[int, int] = (120, 40),
             color: bool = False, program: str = "ocodex") -> Iterator[Screen]:
    """`ocodex ARGS...` (or `program`) running in a tmux pane of `size`, with colour or NO_COLOR."""
    name = f"ocodex-test-{uuid.uuid4().hex[:8]}"
    env = base_env(home, fake.base_url if fake is not None else "http://127.0.0.1:9/v1")
    if color:
        env.pop("NO_COLOR", None)
    keys = ("OCODEX_HOME", "CODEX_OSS_BASE_URL", "OCODEX_HOST_MEMORY_GIB", "NO_COLOR", "PATH", "HOME")
    env_args = [arg for key in keys if key in env for arg in ("-e", f"{key}={env[key]}")]
    unset = "" if not color else "unset NO_COLOR; "
    # The program starts once the pane is set up: tmux 3.3's scroll-on-clear would move the screen into the
    # scrollback whenever the prompt clears it from the top, which no terminal emulator does on that erase.
    command = (f"tmux wait-for {name}-go; {unset}cd {shlex.quote(str(cwd))} && {sys.executable} -m {program} "
               f"{shlex.join(args)}; echo OCODEX-EXITED=$?; sleep 60")
    tmux(name, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), *env_args, command,
         check=True)
    tmux(name, "set-option", "-w", "-t", name, "scroll-on-clear", "off", capture_output=True)
    tmux(name, "wait-for", "-S", f"{name}-go", check=True)
    try:
        yield Screen(name)
    finally:
        tmux(name, "kill-server", capture_output=True)
        _socket(name).unlink(missing_ok=True)


@pytest.fixture
def screen(home: Path, repo: Path, fake: FakeOllama) -> Iterator[Screen]:
    with terminal(home, repo, fake) as opened:
        yield opened


def user_messages(fake: FakeOllama, index: int = -1) -> list[str]:
    return [m["content"] for m in fake.chat_requests[index]["messages"] if m["role"] == "user"]


def commit_all(repo: Path) -> None:
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], check=True)


def prompt_line(screen_text: str) -> str:
    """The last line that starts with the prompt (a completion menu may be drawn below it)."""
    lines = [line.rstrip() for line in screen_text.splitlines() if line.startswith("›")]
    return lines[-1] if lines else ""


def seconds_shown(screen_text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(?:Working|Writing|Thinking) · (\d+)s", screen_text)}


def ticking() -> Callable[[str], bool]:
    """A condition: the indicator has shown two different elapsed seconds (it moves while nothing arrives)."""
    seen: set[int] = set()

    def condition(screen_text: str) -> bool:
        seen.update(seconds_shown(screen_text))
        return len(seen) >= 2

    return condition


# ---- the whole session, at two sizes, with and without colour -----------------------------------------

@pytest.mark.parametrize("size,color", [((80, 24), True), ((80, 24), False), ((140, 45), True), ((140, 45), False)],
                         ids=["80x24-colour", "80x24-NO_COLOR", "140x45-colour", "140x45-NO_COLOR"])
def test_a_whole_session(size: tuple[int, int], color: bool, home: Path, repo: Path) -> None:
    (repo / "notes.txt").write_text("alpha\nbeta\n")
    (repo / "scratch.txt").write_text("delete me\n")
    commit_all(repo)
    edit = ("*** Begin Patch\n*** Update File: notes.txt\n@@\n alpha\n-beta\n+gamma\n"
            "*** Add File: added.py\n+print('new')\n*** End Patch\n")
    rm = {"command": "rm scratch.txt", "with_escalated_permissions": True, "justification": "you asked me to"}
    with FakeOllama(models=["gpt-oss:20b", "qwen3:8b"]) as fake, \
            terminal(home, repo, fake, size=size, color=color) as screen:
        fake.script(Turn.text("one two three four five six seven eight nine ten", delay=0.3))
        screen.ready()

        # A slow reply: the indicator counts the seconds, then shows tokens/s; the answer ends the turn.
        before = footers(screen.text())
        screen.type("count slowly")
        screen.send("Enter")
        screen.until(ticking(), "two different elapsed seconds")
        screen.wait_for("tok/s")
        shown = screen.ready(before + 1)
        assert "one two three four five six seven eight nine ten" in shown
        assert "esc to interrupt" not in shown.splitlines()[-3:]  # the indicator is gone after the turn

        # An approval answered no (nothing happens, the model reads "denied"), then yes.
        fake.script(Turn.tool_call("shell", rm), Turn.tool_call("shell", rm), Turn.text("Deleted scratch.txt."))
        screen.type("delete scratch.txt")
        screen.send("Enter")
        screen.wait_for("run this command outside the sandbox?")
        assert "$ bash -lc 'rm scratch.txt'" in screen.text() and "why: you asked me to" in screen.text()
        screen.send("n")
        screen.wait_for("run this command outside the sandbox?", count=2)
        assert (repo / "scratch.txt").exists()
        denied = [m for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"][-1]["content"]
        assert denied.startswith("denied: the user did not approve running `bash -lc 'rm scratch.txt'`")
        screen.send("y")
        screen.wait_for("Deleted scratch.txt.")
        screen.ready(before + 2)
        assert not (repo / "scratch.txt").exists()

        # An edit shows its diff; /diff shows the workspace's changes, the untracked file included.
        fake.script(Turn.tool_call("apply_patch", {"input": edit}), Turn.text("Edited."))
        shown = screen.turn("edit notes.txt")
        assert "M notes.txt" in shown and "+gamma" in shown and "-beta" in shown and "A added.py" in shown
        assert str(repo) not in shown.split("edit notes.txt", 1)[1].split("Edited.")[0]  # relative paths
        if color:
            assert re.search(r"\x1b\[[0-9;]*32m\+gamma", screen.raw())  # additions in green
        screen.type("/diff")
        screen.send("Enter")
        shown = screen.wait_for("diff --git a/added.py b/added.py")
        assert "diff --git a/notes.txt b/notes.txt" in shown and shown.count("+print('new')") == 2
        assert "deleted file mode" in shown  # scratch.txt, removed with approval

        # /undo puts back exactly what the last turn changed, and tells the model.
        screen.type("/undo")
        screen.send("Enter")
        screen.wait_for("undo: restored notes.txt; removed added.py")
        assert (repo / "notes.txt").read_text() == "alpha\nbeta\n" and not (repo / "added.py").exists()

        # /model lists the server's models; /model NAME switches the next request to it.
        screen.type("/model")
        screen.send("Enter")
        shown = screen.wait_for("switch with /model NAME")
        assert re.search(r"\* +1 +gpt-oss:20b", shown) and "qwen3:8b" in shown and "ctx 131,072" in shown
        screen.type("/model qwen3:8b")
        screen.send("Enter")
        screen.wait_for("model: qwen3:8b from the next turn")
        fake.script(Turn.text("I am qwen.", usage=(1234, 5)))
        screen.turn("who are you?")
        assert fake.chat_requests[-1]["model"] == "qwen3:8b"
        assert any("undid the file changes" in m for m in user_messages(fake))

        # /status: the context window used, against the window the server loaded.
        screen.type("/status")
        screen.send("Enter")
        shown = screen.wait_for("1,234 / 4,096 tokens (30%)")
        assert "qwen3:8b" in shown and "workspace-write" in shown and "on-request" in shown

        # A 4-line paste is one prompt: one user message with its four lines.
        fake.script(Turn.text("Got four lines."))
        requests = len(fake.chat_requests)
        screen.turn("first line\nsecond line\nthird line\nfourth line", paste=True)
        assert len(fake.chat_requests) == requests + 1
        assert user_messages(fake)[-1] == "first line\nsecond line\nthird line\nfourth line"

        # Ctrl-C while the reply streams stops the turn; the conversation goes on.
        fake.script(Turn.text(" ".join(f"word{n}" for n in range(200)), delay=0.1), Turn.text("Still here."))
        screen.type("ramble")
        screen.send("Enter")
        screen.wait_for("word3 ")
        screen.send("C-c")
        screen.wait_for("the conversation continues")
        screen.turn("are you there?")
        screen.wait_for("Still here.")
        assert user_messages(fake)[-1] == "are you there?"

        # Up recalls the last prompt.
        screen.send("Up")
        screen.until(lambda s: prompt_line(s) == "› are you there?", "the last prompt recalled")
        screen.send("C-u")
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")
        coloured = COLOUR.search(screen.raw()) is not None
    assert coloured == color


# ---- one behaviour each --------------------------------------------------------------------------------

def test_a_conversation_in_the_terminal(screen: Screen, fake: FakeOllama, repo: Path) -> None:
    (repo / "notes.txt").write_text("remember the milk\n")
    fake.script(Turn.text("Hello from the **fake** model."),
                Turn.tool_call("shell", {"command": ["cat", "notes.txt"]}),
                Turn.text("The note says to remember the milk."))
    screen.ready()
    shown = screen.turn("say hello")
    assert "Hello from the fake model." in shown and "**fake**" not in shown  # Markdown rendered

    shown = screen.turn("what does notes.txt say?")
    assert "The note says to remember the milk." in shown
    assert "cat notes.txt" in shown and "exit 0" in shown
    # The second task was sent with the first exchange in the conversation.
    second = fake.chat_requests[1]["messages"]
    assert any(m["role"] == "assistant" and "fake" in (m.get("content") or "") for m in second)

    screen.type("/help")
    screen.send("Enter")
    screen.wait_for("/review")
    screen.type("/exit")
    screen.send("Enter")
    screen.wait_for("OCODEX-EXITED=0")


def test_ocodex_with_a_prompt_starts_the_session_with_it(home: Path, repo: Path, fake: FakeOllama) -> None:
    fake.script(Turn.text("Started with your prompt."))
    with terminal(home, repo, fake, "explain this repo") as screen:
        shown = screen.ready(2)  # the start-up footer, then the first turn's
        assert "Started with your prompt." in shown and "› explain this repo" in shown
        assert user_messages(fake, 0)[-1] == "explain this repo"
        screen.send("Up")  # the prompt is in the history too
        screen.until(lambda s: prompt_line(s) == "› explain this repo", "the first prompt recalled")
        screen.send("C-u")
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")


def test_ctrl_c_and_esc_during_a_command_keep_a_valid_conversation(screen: Screen, fake: FakeOllama) -> None:
    fake.script(Turn.tool_call("shell", {"command": "echo started; sleep 30"}), Turn.text("Next answer."),
                Turn.tool_call("shell", {"command": "echo again; sleep 30"}), Turn.text("Last answer."))
    screen.ready()
    screen.type("wait a while")
    screen.send("Enter")
    screen.wait_for("Running bash -lc 'echo started; sleep 30'")
    screen.wait_for("  started")  # the command's output, live, while it runs
    screen.send("C-c")
    screen.wait_for("the conversation continues")
    screen.turn("next task")
    screen.wait_for("Next answer.")
    sent = fake.chat_requests[-1]["messages"]
    calls = [c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls") or ()]
    answered = [m["tool_call_id"] for m in sent if m["role"] == "tool"]
    assert calls and answered == calls  # the interrupted call got a result, so the server accepts the history
    assert sent[-1] == {"role": "user", "content": "next task"}

    screen.type("and again")
    screen.send("Enter")
    screen.wait_for("  again")
    screen.send("Escape")
    screen.wait_for("interrupted by the user (Esc)")
    screen.turn("last task")
    screen.wait_for("Last answer.")


def test_history_is_kept_across_sessions_but_not_with_ephemeral(home: Path, repo: Path, fake: FakeOllama) -> None:
    fake.script(Turn.text("First."), Turn.text("Second."))
    with terminal(home, repo, fake) as screen:
        screen.ready()
        screen.turn("a prompt to remember")
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")
    assert (home / "history").stat().st_mode & 0o777 == 0o600
    with terminal(home, repo, fake) as screen:
        screen.ready()
        screen.send("Up")
        screen.until(lambda s: prompt_line(s) == "› a prompt to remember", "the earlier session's prompt")
        screen.send("C-u")
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")
    before = (home / "history").read_bytes()
    with terminal(home, repo, fake, "--ephemeral") as screen:
        screen.ready()
        screen.turn("not to be kept")
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")
    assert (home / "history").read_bytes() == before


def test_tab_completes_commands_and_mentions_and_a_mention_attaches_the_file(screen: Screen, fake: FakeOllama,
                                                                            repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "module.py").write_text("VALUE = 42\n")
    fake.script(Turn.text("It sets VALUE."))
    screen.ready()
    screen.type("/sta")
    screen.send("Tab")
    screen.until(lambda s: prompt_line(s) == "› /status", "/status completed")
    screen.send("C-u")
    screen.type("what is in @sr")
    screen.send("Tab")
    screen.until(lambda s: prompt_line(s) == "› what is in @src/", "@src/ completed")
    screen.type("mo")
    screen.send("Tab")
    screen.until(lambda s: prompt_line(s) == "› what is in @src/module.py", "@src/module.py completed")
    screen.type(" and @src/")
    screen.send("Enter")
    screen.wait_for("It sets VALUE.")
    assert "attached: src/module.py, src/" in screen.text()
    sent = user_messages(fake)[-1]
    assert sent.startswith("what is in @src/module.py and @src/")
    assert '<file path="src/module.py">\nVALUE = 42\n</file>' in sent
    assert '<directory path="src/">\nmodule.py\n</directory>' in sent


def test_unknown_commands_are_explained_and_a_path_is_a_prompt(screen: Screen, fake: FakeOllama) -> None:
    fake.script(Turn.text("That path is fine."), Turn.text("Three lines."))
    screen.ready()
    screen.type("/bogus")
    screen.send("Enter")
    screen.wait_for("unknown command /bogus")
    screen.turn("/usr/bin/env is missing?")
    assert user_messages(fake)[-1] == "/usr/bin/env is missing?"
    # Ctrl-J and Alt-Enter start a new line; Enter sends the three lines as one prompt.
    screen.type("one")
    screen.send("C-j")
    screen.type("two")
    screen.send("Escape", "Enter")
    screen.type("three")
    before = footers(screen.until(lambda s: s.rstrip().endswith("three"), "three lines"))
    assert "three" not in user_messages(fake)[-1]  # nothing was sent yet
    screen.send("Enter")
    screen.ready(before + 1)
    assert user_messages(fake)[-1] == "one\ntwo\nthree"
    screen.send("C-d")
    screen.wait_for("OCODEX-EXITED=0")


def test_a_folder_outside_git_asks_once_whether_to_allow_writes(home: Path, tmp_path: Path, fake: FakeOllama) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    patch = "*** Begin Patch\n*** Add File: made.txt\n+x\n*** End Patch\n"
    fake.script(Turn.tool_call("apply_patch", {"input": patch}), Turn.text("Could not write."),
                Turn.tool_call("apply_patch", {"input": patch}), Turn.text("Wrote it."))
    with terminal(home, plain, fake) as screen:
        screen.wait_for("is not a git repository")
        screen.send("n")
        screen.ready()
        assert "read-only · approval" in screen.text()
        screen.turn("make a file")
        assert not (plain / "made.txt").exists() and "the sandbox is read-only" in screen.text()
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")
    with terminal(home, plain, fake) as screen:
        screen.wait_for("is not a git repository")
        screen.send("y")
        screen.ready()
        screen.turn("make a file")
        assert (plain / "made.txt").read_text() == "x\n"
        screen.send("C-d")
        screen.wait_for("OCODEX-EXITED=0")


def test_exec_on_a_terminal_shows_the_indicator_on_stderr(home: Path, repo: Path, fake: FakeOllama) -> None:
    fake.script(Turn.text("alpha beta gamma delta epsilon zeta eta theta", delay=0.3))
    with terminal(home, repo, fake, "exec", "--oss", "say words", program="ocodex") as screen:
        screen.until(ticking(), "two different elapsed seconds")
        shown = screen.wait_for("OCODEX-EXITED=0")
    assert "ctrl-c to interrupt" not in shown  # erased when the turn ended
    assert "alpha beta gamma delta epsilon zeta eta theta" in shown


def test_each_conversation_is_saved_and_exec_resume_continues_it(screen: Screen, fake: FakeOllama, home: Path,
                                                                  ocodex) -> None:
    fake.script(Turn.text("First answer."), Turn.text("Second answer."))
    screen.ready()
    screen.turn("first task")
    screen.type("/new")
    screen.send("Enter")
    screen.wait_for("a new conversation")
    screen.type("/new")  # a conversation without a task leaves no file
    screen.send("Enter")
    screen.wait_for("a new conversation", count=2)
    screen.turn("second task")
    screen.type("/new")
    screen.send("Enter")
    screen.wait_for("a new conversation", count=3)
    screen.type("/exit")
    screen.send("Enter")
    screen.wait_for("OCODEX-EXITED=0")

    files = sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"), key=lambda p: p.stat().st_mtime)
    assert len(files) == 2  # /new started a new session file; the empty conversations left none
    saved = []
    for path in files:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert records[0]["type"] == "session_meta" and records[0]["payload"]["source"] == "cli"
        events = [r["payload"]["type"] for r in records if r["type"] == "event_msg"]
        assert events[:2] == ["thread.started", "user_message"] and events[-1] == "turn.completed"
        saved.append((records[0]["payload"]["id"], [r["payload"] for r in records if r["type"] == "response_item"]))
    (first_id, first_messages), (_, second_messages) = saved
    assert first_messages[-2:] == [{"role": "user", "content": "first task"},
                                   {"role": "assistant", "content": "First answer."}]
    assert "first task" not in json.dumps(second_messages)  # a new conversation

    fake.script(Turn.text("Continued."))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "resume", first_id, "go on")
    assert run.returncode == 0, run.stderr
    assert run.events()[0]["thread_id"] == first_id
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "first task"}, {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "go on"}]


def test_resume_picks_one_of_this_folders_sessions(home: Path, repo: Path, fake: FakeOllama, ocodex) -> None:
    fake.script(Turn.text("The number is 42."))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "remember 42")
    assert first.returncode == 0, first.stderr
    fake.script(Turn.text("You said 42."))
    with terminal(home, repo, fake) as screen:
        screen.ready()
        screen.type("/resume")
        screen.send("Enter")
        screen.wait_for("resume which (1-1, Enter to cancel)?")
        assert "remember 42" in screen.text()
        screen.type("1")
        screen.send("Enter")
        screen.wait_for("› remember 42")  # the recap of where it left off
        screen.ready(2)
        screen.turn("what number?")
        screen.wait_for("You said 42.")
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "remember 42"}, {"role": "assistant", "content": "The number is 42."},
        {"role": "user", "content": "what number?"}]


def test_ocodex_resume_continues_a_saved_session_here(fake: FakeOllama, home: Path, repo: Path, ocodex) -> None:
    fake.script(Turn.text("The number is 42."))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "remember 42")
    assert first.returncode == 0, first.stderr
    thread = first.events()[0]["thread_id"]
    fake.script(Turn.text("You said 42."))
    with terminal(home, repo, fake, "resume", "--last") as screen:
        screen.wait_for(f"resuming session {thread}")
        screen.ready()
        screen.turn("what number?")
        screen.wait_for("You said 42.")
        screen.type("/exit")
        screen.send("Enter")
        screen.wait_for("OCODEX-EXITED=0")
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "remember 42"}, {"role": "assistant", "content": "The number is 42."},
        {"role": "user", "content": "what number?"}]
    [path] = (home / "sessions").glob("*/*/*/rollout-*.jsonl")  # the same file goes on
    assert "You said 42." in path.read_text()

    with terminal(home, repo, fake, "resume") as screen:
        screen.wait_for("`ocodex resume` needs a SESSION_ID or --last")
        screen.wait_for("OCODEX-EXITED=2")
    assert "only applies with --last" in ocodex("resume", thread, "--all").stderr


def test_an_unwritable_sessions_directory_warns_and_the_conversation_goes_on(fake: FakeOllama, home: Path,
                                                                              repo: Path) -> None:
    (home / "sessions").write_text("a file where the directory should be")
    fake.script(Turn.text("Still here."))
    with terminal(home, repo, fake) as screen:
        screen.ready()
        screen.turn("hello")
        shown = screen.wait_for("Still here.")
        assert "this conversation is not being saved: cannot write session file" in shown
        screen.type("/exit")
        screen.send("Enter")
        screen.wait_for("OCODEX-EXITED=0")


def test_new_with_the_server_gone_reports_it_and_keeps_the_conversation(screen: Screen, fake: FakeOllama) -> None:
    fake.script(Turn.text("First answer."))
    screen.ready()
    screen.turn("first task")
    fake.stop()
    screen.type("/new")
    screen.send("Enter")
    screen.wait_for("error: ")
    screen.type("/status")
    screen.send("Enter")
    screen.wait_for("tokens    in")  # still in the session, not thrown out
    assert "OCODEX-EXITED" not in screen.text()
    screen.type("/exit")
    screen.send("Enter")
    screen.wait_for("OCODEX-EXITED=0")


def test_an_unreachable_server_ends_the_session_with_one_error(home: Path, repo: Path) -> None:
    with terminal(home, repo, None) as screen:
        shown = screen.wait_for("OCODEX-EXITED=1")
    assert shown.count("error: No running Ollama server detected") == 1


def test_ephemeral_saves_nothing_and_says_so_once(fake: FakeOllama, home: Path, repo: Path, ocodex) -> None:
    fake.script(Turn.text("First answer."), Turn.text("Second answer."))
    with terminal(home, repo, fake, "--ephemeral") as screen:
        screen.ready()
        screen.turn("first task")
        screen.type("/new")
        screen.send("Enter")
        screen.wait_for("a new conversation")
        screen.turn("second task")
        screen.type("/exit")
        screen.send("Enter")
        shown = screen.wait_for("OCODEX-EXITED=0")
    assert shown.count("--ephemeral: this conversation is not saved") == 1
    assert not list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
    assert not (home / "history").exists()

    fake.script(Turn.text("Saved answer."), Turn.text("Unsaved answer."))
    assert ocodex("exec", "--oss", "--json", "keep this").returncode == 0
    [path] = home.glob("sessions/*/*/*/rollout-*.jsonl")
    before = path.read_bytes()
    with terminal(home, repo, fake, "resume", "--last", "--ephemeral") as screen:
        screen.ready()
        screen.turn("and this?")
        screen.wait_for("Unsaved answer.")
        screen.type("/exit")
        screen.send("Enter")
        shown = screen.wait_for("OCODEX-EXITED=0")
    assert shown.count("this run is not saved") == 1
    assert fake.chat_requests[-1]["messages"][-3:] == [
        {"role": "user", "content": "keep this"}, {"role": "assistant", "content": "Saved answer."},
        {"role": "user", "content": "and this?"}]
    assert path.read_bytes() == before
    assert not (home / "history").exists()


def test_resume_shows_the_last_exchanges_before_the_prompt(fake: FakeOllama, home: Path, repo: Path,
                                                            ocodex) -> None:
    (repo / "notes.txt").write_text("remember the milk\n")
    long_answer = "\n".join(f"answer line {n}" for n in range(1, 10))
    fake.script(Turn.text("Answer one."),
                Turn.tool_call("shell", {"command": ["cat", "notes.txt"]}), Turn.text("It says milk."),
                Turn.text("Answer three."), Turn.text(long_answer))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "task one")
    thread = first.events()[0]["thread_id"]
    for prompt in ("what does notes.txt say?", "task three", "task four"):
        assert ocodex("exec", "--oss", "--full-auto", "--json", "resume", thread, prompt).returncode == 0
    with terminal(home, repo, fake, "resume", thread) as screen:
        screen.wait_for("answer line 4 …")
        shown = screen.ready()
        screen.type("/exit")
        screen.send("Enter")
        screen.wait_for("OCODEX-EXITED=0")
    recap = shown[shown.index("last exchanges:"):]
    assert "task one" not in recap and "Answer one." not in recap  # only the last three
    assert "› what does notes.txt say?\n  It says milk." in recap
    assert "cat notes.txt" not in recap  # no tool noise
    assert "› task three\n  Answer three." in recap
    assert "answer line 4 …" in recap and "answer line 5" not in recap  # long answers are clipped
    assert recap.rstrip().endswith("›")  # just above the prompt (and the footer)


def test_the_resume_recap_keeps_prompts_and_answers_only() -> None:
    from ocodex.agent.history import exchanges
    from ocodex.ui.repl import recap

    messages = [{"role": "system", "content": "you are an agent"},
                {"role": "user", "content": "<environment_context>...</environment_context>"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:..."}},
                                             {"type": "text", "text": "what is in the picture?"}]},
                {"role": "assistant", "content": "Let me look.", "tool_calls": [{"id": "c1"}]},
                {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
                {"role": "assistant", "content": "A cat."},
                {"role": "user", "content": "x" * 300},
                {"role": "tool", "tool_call_id": "c2", "content": "aborted"}]
    text = recap(exchanges(messages, ["what is in the picture?", "x" * 300]))
    assert text.splitlines() == ["last exchanges:", "› what is in the picture?", "  A cat.",
                                  "› " + "x" * 99 + "…", "  (no answer)"]
    assert recap(exchanges(messages[:2], [])) == ""


def test_prompts_piped_in_run_one_turn_each(fake: FakeOllama, ocodex) -> None:
    fake.script(Turn.text("One."), Turn.text("Two."))
    run = ocodex(input="first\n/status\nsecond\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["One.", "Two."]
    assert "tokens    in" in run.stderr


def test_approvals_init_review_and_compact(screen: Screen, fake: FakeOllama, repo: Path) -> None:
    from ocodex.ui.commands import INIT_PROMPT, REVIEW_PROMPT

    (repo / "app.py").write_text("print('hi')\n")
    commit_all(repo)
    screen.ready()

    # /approvals shows the policy; /approvals untrusted asks before a command that is not known read-only.
    screen.type("/approvals")
    screen.send("Enter")
    shown = screen.wait_for("change it with /approvals POLICY")
    assert re.search(r"\* on-request +ask when the model wants to run outside the sandbox", shown)
    screen.type("/approvals untrusted")
    screen.send("Enter")
    screen.wait_for("approval policy: untrusted (")
    fake.script(Turn.tool_call("shell", {"command": ["touch", "made.txt"]}), Turn.text("Not made."))
    screen.type("make a file")
    screen.send("Enter")
    screen.wait_for("run this command?")
    assert "$ touch made.txt" in screen.text()
    screen.send("n")
    screen.wait_for("Not made.")
    assert not (repo / "made.txt").exists()
    screen.wait_for("workspace-write · approval untrusted")  # the footer says so
    screen.until(lambda s: screen.idle(), "the prompt")

    # /init asks the model to survey the repository and write AGENTS.md.
    screen.type("/approvals never")
    screen.send("Enter")
    screen.wait_for("approval policy: never (never ask)")
    screen.until(lambda s: screen.idle(), "the prompt")
    agents = "*** Begin Patch\n*** Add File: AGENTS.md\n+# Agents\n+Run `python app.py`.\n*** End Patch\n"
    fake.script(Turn.tool_call("apply_patch", {"input": agents}), Turn.text("Wrote AGENTS.md."))
    screen.turn("/init")
    assert user_messages(fake)[-1] == INIT_PROMPT
    assert (repo / "AGENTS.md").read_text() == "# Agents\nRun `python app.py`.\n"

    # /review sends the working tree's changes (the untracked AGENTS.md too), and nothing in the diff is
    # taken for an @mention.
    (repo / "app.py").write_text("print('hi')\n@decorated\n")
    fake.script(Turn.text("Looks fine."))
    shown = screen.turn("/review")
    sent = user_messages(fake)[-1]
    assert sent.startswith(REVIEW_PROMPT) and "+++ b/AGENTS.md" in sent and "+@decorated" in sent
    assert "Looks fine." in shown and "@decorated: no such file" not in shown

    # /compact summarises the conversation so far; the next request carries the summary instead.
    fake.script(Turn.text(" ".join(f"detail{n}" for n in range(400))), Turn.text("Short."))
    screen.turn("tell me everything")  # the recent turns are kept; the older tool calls are summarised
    screen.turn("and briefly?")
    fake.script(Turn.text("SUMMARY: the user asked for details."), Turn.text("Compacted and ready."))
    requests = len(fake.chat_requests)
    screen.type("/compact")
    screen.send("Enter")
    screen.wait_for("context: summarised")
    assert len(fake.chat_requests) == requests + 1 and not fake.chat_requests[-1].get("tools")
    screen.turn("go on")
    last = json.dumps(fake.chat_requests[-1]["messages"])
    assert "SUMMARY: the user asked for details." in last and "Short." in last
    assert "denied: the user did not approve" not in last and "Success. Updated the following files" not in last
    screen.type("/quit")
    screen.send("Enter")
    screen.wait_for("OCODEX-EXITED=0")


def test_exec_on_a_terminal_asks_before_a_large_pull_and_a_no_pulls_nothing(home: Path, repo: Path,
                                                                            fake: FakeOllama) -> None:
    with terminal(home, repo, fake, "exec", "--oss", "-m", "gpt-oss:120b", "say hi", program="ocodex") as screen:
        asked = screen.wait_for("[y/N]")
        screen.type("n")
        screen.send("Enter")
        shown = screen.wait_for("OCODEX-EXITED=1")
    assert "gpt-oss:120b is not on the server: download" in asked and "GiB to it?" in asked
    assert "Did not pull gpt-oss:120b" in shown and "declined" in shown
    assert not [r for r in fake.requests if r.path.endswith("/chat/completions")]  # the run ended there
