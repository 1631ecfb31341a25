"""Sessions end to end: every run is saved, `exec resume` continues it (after a normal end, a crash and a
truncated file), `--ephemeral` saves nothing, secrets never reach the file, `ocodex sessions` lists them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import base_env
from fakes.fake_ollama import Turn


def session_files(home: Path) -> list[Path]:
    return sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"))


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def thread_id(run) -> str:
    return run.events()[0]["thread_id"]


def test_a_run_is_saved_as_codex_style_jsonl(ocodex, fake, home: Path, repo: Path) -> None:
    fake.script(Turn.tool_call("shell", {"command": "echo saved"}), Turn.text("Done."))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "save me")
    assert run.returncode == 0, run.stderr

    [path] = session_files(home)
    tid = thread_id(run)
    assert path.name.endswith(f"-{tid}.jsonl") and path.name.startswith("rollout-20")
    assert path.parent.parent.parent.parent == home / "sessions"  # sessions/YYYY/MM/DD/
    lines = records(path)
    assert all(set(r) == {"timestamp", "type", "payload"} for r in lines)
    meta = lines[0]
    assert meta["type"] == "session_meta"
    assert meta["payload"]["id"] == tid and meta["payload"]["cwd"] == str(repo)
    assert meta["payload"]["model"] == "gpt-oss:20b" and meta["payload"]["model_provider"] == "oss"
    messages = [r["payload"] for r in lines if r["type"] == "response_item"]
    # Exactly the history the model saw on its last request, plus its final answer.
    assert messages == [*fake.chat_requests[-1]["messages"], {"role": "assistant", "content": "Done."}]
    events = [r["payload"] for r in lines if r["type"] == "event_msg" and r["payload"]["type"] != "user_message"]
    assert events == run.events()
    prompts = [r["payload"]["message"] for r in lines if r["payload"].get("type") == "user_message"]
    assert prompts == ["save me"]


def test_resume_last_continues_the_thread_with_its_history(ocodex, fake, home: Path) -> None:
    fake.script(Turn.text("First answer.", usage=(100, 10)))
    first = ocodex("exec", "--oss", "--json", "remember the number 42")
    assert first.returncode == 0, first.stderr
    fake.script(Turn.text("It was 42.", usage=(150, 5)))
    second = ocodex("exec", "--oss", "--json", "resume", "--last", "what was the number?")
    assert second.returncode == 0, second.stderr

    assert thread_id(second) == thread_id(first)
    [path] = session_files(home)  # appended to the same file
    before, after = fake.chat_requests
    assert after["messages"][: len(before["messages"])] == before["messages"]  # same prefix: KV cache reuse
    assert after["messages"][len(before["messages"]):] == [
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "what was the number?"}]
    # Usage is cumulative over the thread, as in Codex 0.169.
    assert second.events()[-1]["usage"]["input_tokens"] == 250
    assert second.events()[-1]["usage"]["output_tokens"] == 15
    assert [r["payload"]["message"] for r in records(path)
            if r["payload"].get("type") == "user_message"] == ["remember the number 42", "what was the number?"]


def test_resume_by_id_reads_the_prompt_from_stdin(ocodex, fake, home: Path, tmp_path: Path) -> None:
    first = ocodex("exec", "--oss", "--json", "hello")
    tid = thread_id(first)
    fake.script(Turn.text("again"))
    other = tmp_path / "elsewhere"
    other.mkdir()
    second = ocodex("exec", "--oss", "--json", "--skip-git-repo-check", "resume", tid[:13], cwd=other,
                    input="second prompt\n")
    assert second.returncode == 0, second.stderr
    assert thread_id(second) == tid
    assert fake.chat_requests[-1]["messages"][-1] == {"role": "user", "content": "second prompt\n"}


def test_resume_last_only_looks_at_this_directory_unless_all(ocodex, fake, home: Path, tmp_path: Path) -> None:
    first = ocodex("exec", "--oss", "--json", "in the repo")
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = ocodex("exec", "--oss", "--json", "--skip-git-repo-check", "resume", "--last", "new here",
                       cwd=other)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert thread_id(elsewhere) != thread_id(first)  # nothing for this directory: a new thread
    assert "no saved session for" in elsewhere.stderr
    # --all picks the newest session anywhere: the one just started in `other`.
    latest = ocodex("exec", "--oss", "--json", "resume", "--last", "--all", "go on")
    assert thread_id(latest) == thread_id(elsewhere)


def test_resume_after_a_crash_mid_turn(ocodex, fake, home: Path, repo: Path) -> None:
    fake.script(Turn.tool_call("shell", {"command": "echo step-one-done"}),
                Turn.text("never delivered", delay=30))
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--full-auto", "--json",
                             "do two steps"], cwd=repo, env=base_env(home, fake.base_url),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(fake.chat_requests) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert len(fake.chat_requests) == 2, proc.communicate(timeout=5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)

    [path] = session_files(home)
    saved = [r["payload"] for r in records(path) if r["type"] == "response_item"]
    assert saved == fake.chat_requests[1]["messages"]  # everything done before the kill is on disk
    assert "step-one-done" in saved[-1]["content"]

    fake.script(Turn.text("Finished step two."))
    run = ocodex("exec", "--oss", "--json", "resume", "--last", "continue")
    assert run.returncode == 0, run.stderr
    sent = fake.chat_requests[-1]["messages"]
    assert sent[: len(saved)] == saved and sent[-1] == {"role": "user", "content": "continue"}
    assert run.items("agent_message")[-1]["text"] == "Finished step two."


def test_resume_from_a_truncated_file(ocodex, fake, home: Path) -> None:
    fake.script(Turn.text("one"))
    first = ocodex("exec", "--oss", "--json", "first")
    [path] = session_files(home)
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    # Cut the file in the middle of its last record, as a crash mid-write would.
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    fake.script(Turn.text("two"))
    run = ocodex("exec", "--oss", "--json", "resume", "--last", "second")
    assert run.returncode == 0, run.stderr
    assert f"{path}: line {len(lines)} is an incomplete record" in run.stderr
    assert thread_id(run) == thread_id(first)
    # The half record was dropped and the new run's records follow on their own lines.
    loaded = records(path)
    assert [r["payload"]["message"] for r in loaded if r["payload"].get("type") == "user_message"] == [
        "first", "second"]


def test_a_corrupt_session_file_names_the_file_and_line(ocodex, fake, home: Path) -> None:
    first = ocodex("exec", "--oss", "--json", "first")
    [path] = session_files(home)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = "{not json\n"
    path.write_text("".join(lines))
    run = ocodex("exec", "--oss", "--json", "resume", thread_id(first), "again")
    assert run.returncode == 1
    assert f"error: {path}: line 3: corrupt session record" in run.stderr
    assert run.stdout == ""


def test_resume_needs_an_id_or_last_and_a_known_id(ocodex) -> None:
    run = ocodex("exec", "--oss", "resume", input="")
    assert run.returncode == 2 and "needs a SESSION_ID or --last" in run.stderr
    run = ocodex("exec", "--oss", "resume", "01234567-nope", "hi")
    assert run.returncode == 1 and "no session with id '01234567-nope'" in run.stderr
    run = ocodex("exec", "--oss", "--last", "hi")
    assert run.returncode == 2 and "only apply to `ocodex exec resume`" in run.stderr


def test_prompts_that_start_with_resume_stay_prompts(ocodex, fake, home: Path) -> None:
    run = ocodex("exec", "--oss", "--json", "resume the work")
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[-1]["messages"][-1]["content"] == "resume the work"
    run = ocodex("exec", "--oss", "--json", "--", "resume", "the", "work")
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[-1]["messages"][-1]["content"] == "resume the work"
    assert len(session_files(home)) == 2


def test_ephemeral_saves_nothing(ocodex, home: Path) -> None:
    run = ocodex("exec", "--oss", "--json", "--ephemeral", "hi")
    assert run.returncode == 0, run.stderr
    assert session_files(home) == []


def test_secrets_never_reach_the_session_file(ocodex, fake, home: Path) -> None:
    (home / "config.toml").write_text(
        '[model_providers.oss]\nenv_http_headers = { "Authorization" = "OLLAMA_PROXY_AUTH" }\n'
        'http_headers = { "X-Api-Key" = "static-key-0123456789" }\n')
    secret = "Bearer proxy-token-abcdef123456"
    fake.script(Turn.tool_call("shell", {"command": "echo $OLLAMA_PROXY_AUTH"}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json",
                 "use proxy-token-abcdef123456 and http://bob:hunter2pass@example.com/x and static-key-0123456789",
                 env={"OLLAMA_PROXY_AUTH": secret})
    assert run.returncode == 0, run.stderr
    assert fake.requests[-1].headers["authorization"] == secret  # it was sent to the server...
    [path] = session_files(home)
    text = path.read_text()
    for leaked in ("proxy-token-abcdef123456", "hunter2pass", "static-key-0123456789"):
        assert leaked not in text  # ...and never written down
    assert "example.com/x" in text


def test_sessions_lists_recent_sessions(ocodex, fake, home: Path, tmp_path: Path) -> None:
    ocodex("exec", "--oss", "--json", "first task\nwith a second line")
    other = tmp_path / "other"
    other.mkdir()
    ocodex("exec", "--oss", "--json", "--skip-git-repo-check", "second task", cwd=other)

    table = ocodex("sessions")
    assert table.returncode == 0, table.stderr
    header, newest, oldest = table.stdout.splitlines()
    assert header.split()[:4] == ["ID", "UPDATED", "(UTC)", "DIRECTORY"]
    assert str(other) in newest and newest.endswith("second task") and "gpt-oss:20b" in newest
    assert oldest.endswith("first task")

    listed = [json.loads(line) for line in ocodex("sessions", "--json").stdout.splitlines()]
    assert [s["first_prompt"] for s in listed] == ["second task", "first task\nwith a second line"]
    assert set(listed[0]) == {"id", "created", "updated", "cwd", "model", "first_prompt", "path"}
    here = [json.loads(line) for line in ocodex("sessions", "--json", "--here", cwd=other).stdout.splitlines()]
    assert [s["cwd"] for s in here] == [str(other)]
    there = ocodex("-C", str(other), "sessions", "--json", "--here").stdout.splitlines()  # -C counts as here
    assert [json.loads(line)["cwd"] for line in there] == [str(other)]
    assert len(ocodex("sessions", "--json", "-n", "1").stdout.splitlines()) == 1


def test_an_ephemeral_resume_sends_the_history_but_saves_nothing(ocodex, fake, home: Path) -> None:
    fake.script(Turn.text("first answer"))
    first = ocodex("exec", "--oss", "--json", "first")
    [path] = session_files(home)
    before = path.read_bytes()
    fake.script(Turn.text("second answer"))
    run = ocodex("exec", "--oss", "--json", "--ephemeral", "resume", "--last", "second")
    assert run.returncode == 0, run.stderr
    assert thread_id(run) == thread_id(first)
    assert {"role": "assistant", "content": "first answer"} in fake.chat_requests[-1]["messages"]
    assert path.read_bytes() == before and session_files(home) == [path]


def test_sessions_with_nothing_saved_says_so(ocodex, home: Path) -> None:
    run = ocodex("sessions")
    assert run.returncode == 0 and run.stdout == ""
    assert f"no saved sessions in {home / 'sessions'}" in run.stderr
    assert ocodex("sessions", "--json").stdout == ""
    bad = ocodex("sessions", "-n", "-1")
    assert bad.returncode == 2 and "--limit must be 0 (all) or a positive number" in bad.stderr


def test_resume_after_a_compaction_sends_the_compacted_history(ocodex, fake, home: Path, repo: Path) -> None:
    (repo / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    fake.script(
        Turn.tool_call("shell", {"command": "head -c 2000 big.txt"}),
        Turn.tool_call("shell", {"command": "tail -c 2000 big.txt"}),
        Turn.text("SUMMARY: read the head and the tail of big.txt."),  # the compaction request
        Turn.text("The file has 400 lines."),
    )
    first = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "model_auto_compact_token_limit=2000",
                   "how long is big.txt?")
    assert first.returncode == 0, first.stderr
    assert "context: summarised" in first.stderr
    compacted_history = fake.chat_requests[3]["messages"]  # what the agent sent after compacting

    [path] = session_files(home)
    assert [r["type"] for r in records(path)].count("compacted") == 1
    fake.script(Turn.text("Still 400."))
    second = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "model_auto_compact_token_limit=2000",
                    "resume", "--last", "and now?")
    assert second.returncode == 0, second.stderr
    sent = fake.chat_requests[-1]["messages"]
    assert "line 5 of a long file" not in json.dumps(sent)  # the summarised turns stay summarised
    assert sent[:len(compacted_history)] == compacted_history
    assert sent[len(compacted_history):] == [{"role": "assistant", "content": "The file has 400 lines."},
                                             {"role": "user", "content": "and now?"}]


def test_resume_after_an_escalation_continues_from_the_large_models_attempt(ocodex, fake, home: Path) -> None:
    fake.models.append("gpt-oss:120b")
    fake.script(*[Turn.tool_call("shell", {"command": "echo stuck"}) for _ in range(3)],
                Turn.text("Solved by the large model."))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "--escalate", "go")
    assert first.returncode == 0, first.stderr
    large_saw = fake.chat_requests[-1]["messages"]
    fake.script(Turn.text("next"))
    second = ocodex("exec", "--oss", "--full-auto", "--json", "resume", "--last", "again")
    assert second.returncode == 0, second.stderr
    # The failed small-model attempt is not replayed: the thread goes on from what the large model saw.
    assert fake.chat_requests[-1]["messages"] == [
        *large_saw, {"role": "assistant", "content": "Solved by the large model."},
        {"role": "user", "content": "again"}]
    assert fake.chat_requests[-1]["model"] == "gpt-oss:120b"  # and on the model that took over


def test_a_consumer_that_closes_stdout_stops_the_run_cleanly(fake, home: Path, repo: Path) -> None:
    fake.script(Turn.tool_call("shell", {"command": "echo hi"}), Turn.text("done"))
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--full-auto", "--json", "go"],
                            cwd=repo, env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the first event
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert "error: stdout was closed by its reader (broken pipe); the run stopped" in stderr
    [path] = session_files(home)
    events = [r["payload"]["type"] for r in records(path) if r["type"] == "event_msg"]
    assert events[0] == "thread.started"  # recorded although it could not be shown


def test_earlier_prompts_of_a_resumed_thread_survive_compaction_verbatim(ocodex, fake, home: Path,
                                                                         repo: Path) -> None:
    """The SDK runs every turn of a thread as a resume: the thread's earlier prompts must stay verbatim."""
    (repo / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    fake.script(Turn.text("Noted."))
    first = ocodex("exec", "--oss", "--full-auto", "--json", "the secret word is PINEAPPLE")
    assert first.returncode == 0, first.stderr
    fake.script(Turn.tool_call("shell", {"command": "head -c 2000 big.txt"}),
                Turn.tool_call("shell", {"command": "tail -c 2000 big.txt"}),
                Turn.text("SUMMARY: read big.txt."),  # the compaction request
                Turn.text("400 lines."))
    second = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "model_auto_compact_token_limit=2000",
                    "resume", "--last", "how long is big.txt?")
    assert second.returncode == 0, second.stderr
    assert "context: summarised" in second.stderr
    after = fake.chat_requests[-1]["messages"]
    assert {"role": "user", "content": "the secret word is PINEAPPLE"} in after
    assert {"role": "user", "content": "how long is big.txt?"} in after


def test_a_session_in_use_fails_before_the_server_is_asked(ocodex, fake, home: Path) -> None:
    import fcntl

    fake.script(Turn.text("Saved."))
    first = ocodex("exec", "--oss", "--json", "start")
    assert first.returncode == 0, first.stderr
    [path] = session_files(home)
    asked = len(fake.requests)
    with open(path, "a") as held:  # another run holds the session's lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for args in (("exec", "--oss", "--json", "resume", "--last", "go on"), ("resume", "--last", "--oss")):
            run = ocodex(*args)
            assert run.returncode != 0
            assert run.stdout == ""
            assert f"error: session file {path} is in use by another ocodex run" in run.stderr
            assert "wait for that run to finish" in run.stderr
            assert len(fake.requests) == asked  # no probe, no pull, no chat
    fake.script(Turn.text("Again."))  # the lock is released once the other run ends
    assert ocodex("exec", "--oss", "--json", "resume", "--last", "go on").returncode == 0
