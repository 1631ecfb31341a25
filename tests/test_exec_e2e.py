"""`ocodex exec` end to end: the real CLI in a temp git repo against the scripted fake Ollama."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

from conftest import base_env
from fakes.fake_ollama import Turn

PATCH = """*** Begin Patch
*** Update File: greet.py
@@
 def greet(name):
-    return "hello " + name
+    return f"Hello, {name}!"
*** Add File: NOTES.md
+Greeting is now capitalised.
*** End Patch
"""


def test_task_runs_a_command_applies_a_patch_and_answers(ocodex, fake, repo: Path) -> None:
    (repo / "greet.py").write_text('def greet(name):\n    return "hello " + name\n')
    fake.script(
        Turn.tool_call("shell", {"command": ["bash", "-lc", "cat greet.py"]}, reasoning="Look first."),
        Turn.tool_call("apply_patch", {"input": PATCH}),
        Turn.text("Capitalised the greeting and added NOTES.md."),
    )
    run = ocodex("exec", "--oss", "--full-auto", "--json", "capitalise the greeting")

    assert run.returncode == 0, run.stderr
    assert (repo / "greet.py").read_text() == 'def greet(name):\n    return f"Hello, {name}!"\n'
    assert (repo / "NOTES.md").read_text() == "Greeting is now capitalised.\n"

    events = run.events()
    types = [e["type"] for e in events]
    assert types[0] == "thread.started" and types[1] == "turn.started" and types[-1] == "turn.completed"
    command = run.items("command_execution")[0]
    assert command["exit_code"] == 0 and command["status"] == "completed"
    assert "return \"hello \" + name" in command["aggregated_output"]
    started = run.items("command_execution", "item.started")[0]
    assert started["status"] == "in_progress" and started["exit_code"] is None
    change = run.items("file_change")[0]
    assert change["status"] == "completed"
    assert {(Path(c["path"]).name, c["kind"]) for c in change["changes"]} == {
        ("greet.py", "update"), ("NOTES.md", "add")}
    assert run.items("agent_message")[-1]["text"] == "Capitalised the greeting and added NOTES.md."
    assert run.items("reasoning")[0]["text"] == "Look first."
    ids = [e["item"]["id"] for e in events if e["type"].startswith("item.")]
    assert all(i.startswith("item_") for i in ids)
    usage = events[-1]["usage"]
    assert set(usage) == {"input_tokens", "cached_input_tokens", "cache_write_input_tokens",
                          "output_tokens", "reasoning_output_tokens"}
    assert usage["input_tokens"] > 0

    # The model saw the command's output and the patch result, in tool messages tied to its calls.
    last = fake.chat_requests[-1]["messages"]
    tool_messages = [m for m in last if m["role"] == "tool"]
    assert "Exit code: 0" in tool_messages[0]["content"]
    assert tool_messages[1]["content"].startswith("Success. Updated the following files:")
    assistant_calls = [m for m in last if m["role"] == "assistant" and m.get("tool_calls")]
    assert assistant_calls[0]["reasoning"] == "Look first."  # gpt-oss wants its reasoning back
    assert tool_messages[0]["tool_call_id"] == assistant_calls[0]["tool_calls"][0]["id"]


def test_every_request_sends_sampling_and_usage_options(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "say hi")
    assert run.returncode == 0, run.stderr
    body = fake.chat_requests[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 1.0 and body["top_p"] == 1.0
    assert {t["function"]["name"] for t in body["tools"]} == {"shell", "apply_patch", "update_plan"}


def test_human_mode_prints_only_the_answer_on_stdout(ocodex, fake) -> None:
    fake.script(Turn.tool_call("shell", {"command": "echo from-tool"}), Turn.text("All done."))
    run = ocodex("exec", "--oss", "--full-auto", "do it")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "All done.\n"
    assert "echo from-tool" in run.stderr and "exit 0" in run.stderr
    assert "tokens used" in run.stderr
    assert "\x1b[" not in run.stderr  # no colour on a pipe


def test_seed_json_word_form_means_json_output(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "-m", "gpt-oss:20b", "--", "json", "Your prompt here")
    assert run.returncode == 0, run.stderr
    assert run.events()[0]["type"] == "thread.started"
    assert fake.chat_requests[0]["messages"][-1]["content"] == "Your prompt here"


def test_output_last_message_file(ocodex, fake, tmp_path: Path) -> None:
    fake.script(Turn.text('{"greeting":"hi"}'))
    out = tmp_path / "last.txt"
    run = ocodex("exec", "--oss", "-o", str(out), "greet")
    assert run.returncode == 0, run.stderr
    assert out.read_text() == '{"greeting":"hi"}'


def test_output_last_message_to_a_missing_directory_is_refused_up_front(ocodex, fake, tmp_path: Path) -> None:
    run = ocodex("exec", "--oss", "-o", str(tmp_path / "no" / "last.txt"), "greet")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: -o {tmp_path / 'no' / 'last.txt'}: the directory")
    assert fake.chat_requests == []  # nothing was run


def test_output_last_message_keeps_special_files_and_symlinks(ocodex, fake, tmp_path: Path) -> None:
    # `-o /dev/null` once replaced /dev/null with a regular file (the temp-file rename); a FIFO
    # stands in for the device here, so a regression cannot break the machine running the tests.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    fake.script(Turn.text("to the pipe"))
    run = ocodex("exec", "--oss", "-o", str(fifo), "greet")
    reader.join(timeout=30)
    assert run.returncode == 0, run.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and received == ["to the pipe"]

    real, link = tmp_path / "real.txt", tmp_path / "link.txt"
    real.write_text("old")
    link.symlink_to(real)
    fake.script(Turn.text("through the link"))
    run = ocodex("exec", "--oss", "-o", str(link), "greet")
    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and real.read_text() == "through the link"


def test_prompt_from_stdin_and_appended_stdin_block(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "-", input="prompt from stdin\n")
    assert run.returncode == 0, run.stderr
    assert "Reading prompt from stdin..." in run.stderr
    assert fake.chat_requests[-1]["messages"][-1]["content"] == "prompt from stdin\n"

    run = ocodex("exec", "--oss", "summarize this", input="line one\nline two\n")
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[-1]["messages"][-1]["content"] == (
        "summarize this\n\n<stdin>\nline one\nline two\n</stdin>")


def test_stdin_that_is_not_utf8_is_read_not_a_crash(fake, home: Path, repo: Path) -> None:
    for args, data in ((["review this"], b"caf\xe9 \xff diff\n"), (["-"], b"fix caf\xe9\n")):
        proc = subprocess.run([sys.executable, "-m", "ocodex", "exec", "--oss", "--json", *args], cwd=repo,
                              input=data, capture_output=True, env=base_env(home, fake.base_url))
        assert proc.returncode == 0, proc.stderr.decode()
        assert "caf\ufffd" in fake.chat_requests[-1]["messages"][-1]["content"]


def test_empty_stdin_is_refused(ocodex) -> None:
    run = ocodex("exec", "--oss", input="")
    assert run.returncode == 1
    assert "No prompt provided via stdin." in run.stderr


def test_outside_a_git_repo_is_refused(ocodex, fake, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    run = ocodex("exec", "--oss", "hi", cwd=plain)
    assert run.returncode == 1
    assert "Not inside a trusted directory and --skip-git-repo-check was not specified." in run.stderr
    assert fake.chat_requests == []
    assert ocodex("exec", "--oss", "--skip-git-repo-check", "hi", cwd=plain).returncode == 0


def test_no_server_gives_the_seed_message(ocodex, home: Path) -> None:
    run = ocodex("exec", "--oss", "--json", "hi", env={"CODEX_OSS_BASE_URL": "http://127.0.0.1:9/v1"})
    assert run.returncode == 1
    assert "No running Ollama server detected" in run.stderr
    assert "ollama serve" in run.stderr and "CODEX_OSS_BASE_URL" in run.stderr
    assert "http://127.0.0.1:9" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_missing_model_is_pulled_with_progress(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "-m", "qwen3:8b", "--json", "hi")
    assert run.returncode == 0, run.stderr
    pulls = [r for r in fake.requests if r.path == "/api/pull"]
    assert pulls and pulls[0].json == {"model": "qwen3:8b", "stream": True}
    assert "Pulling model qwen3:8b" in run.stderr
    assert "success" in run.stderr
    assert all(line.startswith("{") for line in run.stdout.splitlines())


def test_pull_error_fails_the_run(ocodex, fake) -> None:
    fake.pull_error = "pull model manifest: file does not exist"
    run = ocodex("exec", "--oss", "-m", "qwen3:8b", "hi")
    assert run.returncode == 1
    assert "Pull failed: pull model manifest: file does not exist" in run.stderr
    assert fake.chat_requests == []


def test_default_model_follows_host_memory(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "hi", env={"OCODEX_HOST_MEMORY_GIB": "128"})
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[-1]["model"] == "gpt-oss:120b"
    assert "gpt-oss:120b" in run.stderr and "64 GiB" in run.stderr
    run = ocodex("exec", "--oss", "hi")
    assert fake.chat_requests[-1]["model"] == "gpt-oss:20b"


def test_wrong_endpoint_hint(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "hi", env={"CODEX_OSS_BASE_URL": fake.root})
    assert "Wrong endpoint used" in run.stderr


def test_bad_config_override_value(ocodex) -> None:
    run = ocodex("exec", "--oss", "-c", "sandbox_mode=bogus", "hi")
    assert run.returncode != 0
    assert "sandbox_mode" in run.stderr and "read-only" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_config_file_names_file_and_line(ocodex, home: Path) -> None:
    (home / "config.toml").write_text('model = "gpt-oss:20b"\nthis is not toml\n')
    run = ocodex("exec", "--oss", "hi")
    assert run.returncode != 0
    assert "config.toml:2" in run.stderr
    assert "Traceback" not in run.stderr


def test_openai_provider_needs_the_openai_flag(ocodex) -> None:
    run = ocodex("exec", "-c", "model_provider=openai", "hi")
    assert run.returncode != 0
    assert "--openai" in run.stderr


def test_stream_cut_mid_answer_is_an_error(ocodex, fake) -> None:
    fake.script(Turn.cut("The answer is partial", after_chunks=2))
    run = ocodex("exec", "--oss", "--json", "-c", "model_providers.oss.stream_max_retries=0", "hi")
    assert run.returncode == 1
    events = run.events()
    assert events[-1]["type"] == "turn.failed"
    assert "finish_reason" in events[-1]["error"]["message"]
    assert not run.items("agent_message")


def test_cut_stream_is_retried_visibly(ocodex, fake) -> None:
    fake.script(Turn.cut("partial", after_chunks=1), Turn.text("whole answer"))
    run = ocodex("exec", "--oss", "--json", "hi")
    assert run.returncode == 0, run.stderr
    errors = [e for e in run.events() if e["type"] == "error"]
    assert errors and errors[0]["message"].startswith("Reconnecting... 1/5")
    assert run.items("agent_message")[-1]["text"] == "whole answer"


def test_patch_that_does_not_apply_changes_nothing(ocodex, fake, repo: Path) -> None:
    (repo / "a.txt").write_text("one\ntwo\n")
    (repo / "b.txt").write_text("three\n")
    bad = ("*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+ONE\n"
           "*** Update File: b.txt\n@@\n-not in the file\n+x\n*** End Patch\n")
    fake.script(Turn.tool_call("apply_patch", {"input": bad}), Turn.text("Could not patch."))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "edit")
    assert run.returncode == 0, run.stderr
    assert (repo / "a.txt").read_text() == "one\ntwo\n"
    assert (repo / "b.txt").read_text() == "three\n"
    assert not run.items("file_change")
    tool_reply = next(m for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool")["content"]
    assert "b.txt" in tool_reply and "No files were changed" in tool_reply
    assert "apply_patch verification failed: hunk 2 (Update File: b.txt)" in run.stderr  # people see it too


def test_sandbox_refuses_a_write_outside_the_workspace(ocodex, fake, repo: Path, tmp_path: Path) -> None:
    outside = Path.home() / f".ocodex-test-outside-{tmp_path.name}"
    try:
        fake.script(Turn.tool_call("shell", {"command": ["bash", "-lc", f"echo x > {outside}"]}),
                    Turn.text("Blocked."))
        run = ocodex("exec", "--oss", "--full-auto", "--json", "write outside")
        assert run.returncode == 0, run.stderr
        assert not outside.exists()
        command = run.items("command_execution")[0]
        assert command["status"] == "failed" and command["exit_code"] != 0
        tool_reply = next(m for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool")["content"]
        assert "sandbox" in tool_reply
    finally:
        outside.unlink(missing_ok=True)


def test_read_only_sandbox_refuses_patches(ocodex, fake, repo: Path) -> None:
    fake.script(Turn.tool_call("apply_patch", {"input": "*** Begin Patch\n*** Add File: x.txt\n+x\n*** End Patch"}),
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "add x")
    assert run.returncode == 0, run.stderr
    assert not (repo / "x.txt").exists()


def test_workspace_write_patches_cannot_touch_git(ocodex, fake, repo: Path) -> None:
    (repo / "link").symlink_to(".git")
    hook = "*** Begin Patch\n*** Add File: .git/hooks/pre-commit\n+#!/bin/sh\n*** End Patch"
    via_link = "*** Begin Patch\n*** Add File: link/hooks/post-commit\n+#!/bin/sh\n*** End Patch"
    heredoc = f"apply_patch <<'EOF'\n{hook}\nEOF"
    fake.script(Turn.tool_call("apply_patch", {"input": hook}), Turn.tool_call("apply_patch", {"input": via_link}),
                Turn.tool_call("shell", {"command": ["bash", "-lc", heredoc]}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "add a hook")
    assert run.returncode == 0, run.stderr
    assert not (repo / ".git/hooks/pre-commit").exists() and not (repo / ".git/hooks/post-commit").exists()
    assert run.items("file_change") == []
    replies = [m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"]
    assert len(replies) == 3 and all("read-only in the workspace-write sandbox" in r for r in replies)
    assert ".git/hooks/pre-commit is read-only" in replies[0]


def test_a_shell_patch_from_outside_the_workspace_is_refused(ocodex, fake, repo: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: n.txt\n+hi\n*** End Patch"
    fake.script(Turn.tool_call("shell", {"command": ["bash", "-lc", f"cd .. && apply_patch <<'EOF'\n{patch}\nEOF"]}),
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "add n.txt one level up")
    assert run.returncode == 0, run.stderr
    assert not (repo / "n.txt").exists() and not (repo.parent / "n.txt").exists()
    reply = next(m for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool")["content"]
    assert "outside the workspace" in reply and "No files were changed" in reply


def test_binary_output_is_summarised_for_the_model(ocodex, fake, repo: Path) -> None:
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 64)
    (repo / "latin1.txt").write_bytes("café naïve\n".encode("latin-1"))
    fake.script(Turn.tool_call("shell", {"command": ["cat", "blob.bin"]}),
                Turn.tool_call("shell", {"command": ["cat", "latin1.txt"]}),
                Turn.tool_call("shell", {"command": ["find", ".", "-name", "*.txt", "-print0"]}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "look at the files")
    assert run.returncode == 0, run.stderr
    binary, latin1, nul_separated = [m["content"] for m in fake.chat_requests[-1]["messages"]
                                     if m["role"] == "tool"]
    assert "./latin1.txt\x00" in nul_separated  # text with NUL separators is still text
    assert "[binary output, about" in binary and "xxd" in binary and "\x00" not in binary
    assert "caf\ufffd na\ufffdve" in latin1  # text that is merely not UTF-8 is still shown
    assert run.items("command_execution")[0]["exit_code"] == 0


def test_ctrl_c_during_a_command_stops_the_run_with_one_error_line(fake, home: Path, repo: Path) -> None:
    fake.script(Turn.tool_call("shell", {"command": ["bash", "-c", "echo started; sleep 60"]}), Turn.text("no"))
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", "exec", "--oss", "--full-auto", "wait"], cwd=repo,
                            env=base_env(home, fake.base_url), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = ""
        while not seen.endswith("sleep 60'\n"):  # the `exec ...` line: the turn is running the command
            line = proc.stderr.readline()
            assert line, f"ocodex ended early: {seen}"
            seen += line
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out == ""
    assert (seen + rest).count("interrupted") == 1, seen + rest


def test_update_plan_drives_the_todo_list(ocodex, fake) -> None:
    fake.script(
        Turn.tool_call("update_plan", {"plan": [{"step": "Inspect", "status": "in_progress"},
                                                {"step": "Write", "status": "pending"}]}),
        Turn.tool_call("update_plan", {"plan": [{"step": "Inspect", "status": "completed"},
                                                {"step": "Write", "status": "completed"}]}),
        Turn.text("Done."))
    run = ocodex("exec", "--oss", "--json", "plan it")
    assert run.returncode == 0, run.stderr
    events = run.events()
    kinds = [(e["type"], e.get("item", {}).get("type")) for e in events]
    assert ("item.started", "todo_list") in kinds and ("item.updated", "todo_list") in kinds
    last_item = [e for e in events if e["type"] == "item.completed"][-1]["item"]
    assert last_item["type"] == "todo_list"  # completed at the end of the turn, after the answer
    assert last_item["items"] == [{"text": "Inspect", "completed": True}, {"text": "Write", "completed": True}]


def test_update_plan_accepts_the_statuses_small_models_write(ocodex, fake) -> None:
    fake.script(Turn.tool_call("update_plan", {"plan": ["Inspect", "Write"]}),
                Turn.tool_call("update_plan", {"plan": [{"step": "Inspect", "status": "Done"},
                                                        {"step": "Write", "status": "in-progress"}]}),
                Turn.text("Done."))
    run = ocodex("exec", "--oss", "--json", "plan it")
    assert run.returncode == 0, run.stderr
    assert [m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"] == ["Plan updated"] * 2
    last_item = [e for e in run.events() if e["type"] == "item.completed"][-1]["item"]
    assert last_item["items"] == [{"text": "Inspect", "completed": True}, {"text": "Write", "completed": False}]


def test_shell_arguments_small_models_send_are_understood(ocodex, fake, repo: Path) -> None:
    (repo / "marker.txt").write_text("m\n")
    fake.script(Turn.tool_call("shell", {"command": '["ls", "-a"]'}),  # argv as JSON text
                Turn.tool_call("shell", {"command": ["ls -a"]}),  # a command line as the only element
                Turn.tool_call("shell", {"command": ["ls"], "timeout_ms": "5000"}),  # a number as a string
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "list")
    assert run.returncode == 0, run.stderr
    replies = [m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"]
    assert len(replies) == 3
    assert all(r.startswith("Exit code: 0") and "marker.txt" in r for r in replies), replies


def test_a_missing_program_is_exit_127_in_every_sandbox_mode(ocodex, fake) -> None:
    for mode in ("read-only", "danger-full-access"):
        fake.script(Turn.tool_call("shell", {"command": ["nosuchprogram-qa"]}), Turn.text("ok"))
        run = ocodex("exec", "--oss", "--json", "-s", mode, "run it")
        assert run.returncode == 0, run.stderr
        reply = next(m for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool")["content"]
        assert reply.startswith("Exit code: 127") and "nosuchprogram-qa: command not found" in reply, reply
        assert run.items("command_execution")[0]["exit_code"] == 127


def test_tool_names_small_models_use_reach_the_right_tool(ocodex, fake, repo: Path) -> None:
    (repo / "marker.txt").write_text("m\n")
    fake.script(Turn.tool_call("functions.shell", {"command": ["ls"]}),
                Turn.tool_call("container.exec", {"cmd": ["ls"]}),  # gpt-oss's training-time tool
                Turn.tool_call("shell<|channel|>commentary", {"command": ["ls"]}),
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "list")
    assert run.returncode == 0, run.stderr
    messages = fake.chat_requests[-1]["messages"]
    replies = [m["content"] for m in messages if m["role"] == "tool"]
    assert len(replies) == 3 and all("marker.txt" in r for r in replies), replies
    names = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or ()]
    assert names == ["shell"] * 3  # the history shows the model the name it should use


def test_malformed_tool_call_gets_a_correctable_error(ocodex, fake) -> None:
    fake.script(Turn.tool_call("shell", '{"command": ["ls"'), Turn.tool_call("nosuchtool", {}),
                Turn.text("recovered"))
    run = ocodex("exec", "--oss", "--json", "go")
    assert run.returncode == 0, run.stderr
    tool_replies = [m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool"]
    assert "not valid JSON" in tool_replies[0]
    assert "unknown tool 'nosuchtool'" in tool_replies[1]


def test_model_without_tools_is_explained(ocodex, fake) -> None:
    fake.models.append("gemma3:4b")
    fake.capabilities = {"gemma3:4b": ["completion"]}
    fake.script(Turn.text('Listing.\n<tool_call>{"name": "shell", "arguments": {"command": "echo hi-from-tool"}}'
                          "</tool_call>"),
                Turn.text("It printed hi-from-tool."))
    run = ocodex("exec", "--oss", "--full-auto", "-m", "gemma3:4b", "hi")
    assert run.returncode == 0, run.stderr
    assert "has no native tool calling" in run.stderr
    assert run.stdout == "It printed hi-from-tool.\n"
    first, second = fake.chat_requests
    assert "tools" not in first  # the server would refuse them: "does not support tools"
    assert "<tool_call>" in first["messages"][0]["content"]  # the text protocol is in the system prompt
    result = second["messages"][-1]
    assert result["role"] == "user" and result["content"].startswith('<tool_result name="shell">')
    assert "hi-from-tool" in result["content"]


def test_server_error_fails_the_turn(ocodex, fake) -> None:
    fake.script(Turn.error(400, "fake bad request"))
    run = ocodex("exec", "--oss", "--json", "hi")
    assert run.returncode == 1
    failed = run.events()[-1]
    assert failed["type"] == "turn.failed" and "fake bad request" in failed["error"]["message"]


def test_agents_md_reaches_the_model(ocodex, fake, repo: Path, home: Path) -> None:
    (home / "AGENTS.md").write_text("GLOBAL RULE")
    (repo / "AGENTS.md").write_text("ROOT RULE")
    sub = repo / "pkg"
    sub.mkdir()
    (sub / "AGENTS.md").write_text("SUB RULE")
    (sub / "AGENTS.override.md").write_text("SUB OVERRIDE")
    run = ocodex("exec", "--oss", "hi", cwd=sub)
    assert run.returncode == 0, run.stderr
    text = json.dumps(fake.chat_requests[0]["messages"])
    assert text.index("GLOBAL RULE") < text.index("ROOT RULE") < text.index("SUB OVERRIDE")
    assert "SUB RULE" not in text
