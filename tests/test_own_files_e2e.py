"""ocodex's own files (`-o FILE`, the request log) are never written through a path the model changed.

Issue 10, items 2 and 3: between the start of a run and the moment ocodex writes the answer or a log
line, the model's commands run, and in workspace-write they can swap FILE, its directory or the log
for links to a file outside (a shell start-up file). Each test scripts such a model through the real
CLI and checks that the outside file is untouched and the output went where the user asked.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fakes.fake_ollama import Turn


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the workspace the model would like ocodex to write: a stand-in for ~/.bashrc."""
    home = tmp_path / "user-home"
    home.mkdir()
    path = home / ".bashrc"
    path.write_text("# the user's own start-up file\n")
    return path


def shell(script: str) -> Turn:
    return Turn.tool_call("shell", {"command": ["sh", "-c", script]})


def ran(run) -> None:
    """The model's command ran and succeeded (so the attack really happened)."""
    assert run.returncode == 0, run.stderr
    commands = run.items("command_execution")
    assert commands and all(c["exit_code"] == 0 for c in commands), commands


# ---- item 2: -o FILE ------------------------------------------------------------------------------

def test_o_file_swapped_for_a_link_is_replaced_not_followed(ocodex, fake, repo: Path, victim: Path) -> None:
    out = repo / "answer.txt"
    out.write_text("last run's answer\n")
    out.chmod(0o640)
    fake.script(shell(f"rm answer.txt && ln -s {victim} answer.txt"), Turn.text("the answer"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-o", str(out), "go")
    ran(run)
    assert victim.read_text() == "# the user's own start-up file\n"
    assert not out.is_symlink() and out.read_text() == "the answer"  # the planted link was replaced
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # the user's file keeps its permissions
    assert [p.name for p in repo.iterdir() if "ocodex-tmp" in p.name] == []


def test_o_file_old_temp_name_planted_as_a_link_is_not_followed(ocodex, fake, repo: Path, victim: Path) -> None:
    out = repo / "answer.txt"  # does not exist yet
    fake.script(shell(f"ln -s {victim} .answer.txt.ocodex-tmp"), Turn.text("the answer"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-o", str(out), "go")
    ran(run)
    assert victim.read_text() == "# the user's own start-up file\n"
    assert out.read_text() == "the answer" and not out.is_symlink()
    assert (repo / ".answer.txt.ocodex-tmp").is_symlink()  # the model's link is left alone, unused


def test_o_file_whose_directory_is_swapped_for_a_link(ocodex, fake, repo: Path, victim: Path) -> None:
    (repo / "out").mkdir()
    out = repo / "out" / ".bashrc"
    fake.script(shell(f"mv out out.moved && ln -s {victim.parent} out"), Turn.text("the answer"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-o", str(out), "go")
    ran(run)
    assert victim.read_text() == "# the user's own start-up file\n"
    # The directory opened at the start got the answer, wherever the model moved it.
    assert (repo / "out.moved" / ".bashrc").read_text() == "the answer"


def test_o_file_replaced_by_a_directory_fails_cleanly(ocodex, fake, repo: Path) -> None:
    out = repo / "answer.txt"
    out.write_text("old\n")
    fake.script(shell("rm answer.txt && mkdir answer.txt"), Turn.text("the answer"))
    run = ocodex("exec", "--oss", "--full-auto", "-o", str(out), "go")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stdout == "the answer\n"  # the answer is not lost
    assert f"error: could not write the last message to {out}" in run.stderr
    assert out.is_dir() and list(out.iterdir()) == []
    assert [p.name for p in repo.iterdir() if "ocodex-tmp" in p.name] == []  # no temp file left


def test_o_names_this_process_s_own_stdout(ocodex, fake) -> None:
    fake.script(Turn.text("twice"))
    run = ocodex("exec", "--oss", "-o", "/dev/stdout", "go")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "twice\ntwice"  # the face's line, then -o's copy through the same pipe


def test_o_a_directory_is_refused_before_anything_runs(ocodex, fake, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    run = ocodex("exec", "--oss", "-o", str(tmp_path / "taken"), "greet")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"error: -o {tmp_path / 'taken'}: is a directory" in run.stderr
    assert fake.chat_requests == []


# ---- item 3: the request log ---------------------------------------------------------------------

def test_the_request_log_swapped_for_a_link_mid_run(ocodex, fake, home: Path, victim: Path) -> None:
    log = home / "requests.jsonl"
    moved = home / "requests.moved"
    fake.script(shell(f"mv {log} {moved} && ln -s {victim} {log}"), Turn.text("logged"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go", env={"OCODEX_LOG_REQUESTS": str(log)})
    ran(run)
    assert victim.read_text() == "# the user's own start-up file\n"
    assert log.is_symlink()  # never opened again by name
    records = [json.loads(line) for line in moved.read_text().splitlines()]
    chats = [r for r in records if r["type"] == "request" and r["url"].endswith("/chat/completions")]
    assert len(chats) == 2  # the request sent after the swap went on into the file opened at start
    answered = {r["id"] for r in records if r["type"] == "response"}
    assert chats[-1]["id"] in answered and "logged" in json.dumps(records[-1])
    assert stat.S_IMODE(moved.stat().st_mode) == 0o600


def test_a_request_log_that_is_not_a_plain_file_of_the_user_is_refused(ocodex, fake, tmp_path: Path,
                                                                         victim: Path) -> None:
    link = tmp_path / "log-link.jsonl"
    link.symlink_to(victim)
    fifo = tmp_path / "log-fifo"
    os.mkfifo(fifo)
    cases = {str(link): "symbolic link", str(fifo): "not a regular file"}
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign.jsonl"
        foreign.write_text("")
        os.chown(foreign, 65534, 65534)
        cases[str(foreign)] = "owned by another user"
    for path, reason in cases.items():
        run = ocodex("exec", "--oss", "hi", env={"OCODEX_LOG_REQUESTS": path})
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        assert f"error: cannot write the request log {path}: it is" in run.stderr and reason in run.stderr
        assert "OCODEX_LOG_REQUESTS" in run.stderr
    assert victim.read_text() == "# the user's own start-up file\n"
    assert fake.chat_requests == []
