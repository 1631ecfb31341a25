"""Drop-in compatibility with Codex exec consumers: golden JSONL per item type, the TypeScript SDK's exact
invocation (prompt on stdin, resume by thread_id), --output-schema, --image, --add-dir, and the one-line
notes for accepted-but-ignored options. Every parsed stdout line is also checked against
tests/schemas/codex_exec_event.schema.json by `Run.events()` (conftest)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from conftest import Run, base_env, event_validator
from fakes.fake_ollama import Turn

GOLDEN = Path(__file__).parent / "golden"
PATCH = "*** Begin Patch\n*** Update File: a.txt\n@@\n-old\n+new\n*** End Patch\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def normalised(run: Run, repo: Path) -> list[dict]:
    out = []
    for event in run.events():
        text = json.dumps(event).replace(str(repo), "<REPO>")
        event = json.loads(text)
        if event["type"] == "thread.started":
            event["thread_id"] = "<THREAD>"
        item = event.get("item") or {}
        if item.get("type") == "command_execution":
            # A login shell may print profile noise first; the command's own output ends the text.
            item["aggregated_output"] = item["aggregated_output"].rpartition("isn't writable\n")[2]
        out.append(event)
    return out


def test_golden_jsonl_for_every_item_type(ocodex, fake, repo: Path) -> None:
    (repo / "a.txt").write_text("old\n")
    usage = (2000, 10)
    fake.script(
        Turn.tool_call("update_plan", {"plan": [{"step": "Look", "status": "in_progress"},
                                                {"step": "Fix", "status": "pending"}]},
                       reasoning="Plan first.", usage=usage),
        Turn.tool_call("shell", {"command": "echo hello"}, text="Running a command.", usage=usage),
        Turn.tool_call("shell", {"command": "exit 3"}, usage=usage),
        Turn.tool_call("apply_patch", {"input": PATCH}, usage=usage),
        Turn.tool_call("update_plan", {"plan": [{"step": "Look", "status": "completed"},
                                                {"step": "Fix", "status": "completed"}]}, usage=usage),
        Turn.text("All done.", finish_reason="length", usage=usage),
    )
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 0, run.stderr
    golden = [json.loads(line) for line in (GOLDEN / "exec_every_item_type.jsonl").read_text().splitlines()]
    assert normalised(run, repo) == golden


def test_golden_jsonl_for_a_retry_and_a_failed_turn(ocodex, fake, repo: Path) -> None:
    fake.script(Turn.error(503, "server busy"), Turn.error(400, "invalid tool call arguments"))
    run = ocodex("exec", "--oss", "--json", "-c", "model_providers.oss.request_max_retries=1", "go")
    assert run.returncode == 1
    events = normalised(run, repo)
    assert [e["type"] for e in events] == ["thread.started", "turn.started", "error", "turn.failed"]
    assert events[2]["message"].startswith("Reconnecting... 1/1 (")
    assert "invalid tool call arguments" in events[3]["error"]["message"]


def test_the_schema_rejects_what_codex_consumers_would_choke_on() -> None:
    validator = event_validator()
    good = {"type": "item.completed", "item": {"id": "item_0", "type": "agent_message", "text": "hi"}}
    assert not list(validator.iter_errors(good))
    for bad in (
        {"type": "item.completed", "item": {"id": "msg_0", "type": "agent_message", "text": "hi"}},
        {"type": "item.completed", "item": {"id": "item_0", "type": "agent_message"}},
        {"type": "turn.completed", "usage": {"input_tokens": 1}},
        {"type": "turn.failed", "error": "boom"},
        {"type": "notice", "message": "for people only"},
        {"type": "item.completed", "item": {"id": "item_1", "type": "command_execution", "command": "ls",
                                            "aggregated_output": "", "exit_code": 0, "status": "done"}},
    ):
        assert list(validator.iter_errors(bad)), bad


def sdk_exec(fake, home: Path, repo: Path, prompt: str, *extra: str, thread: str | None = None,
             images: tuple[str, ...] = ()) -> tuple[int, list[dict], str]:
    """Spawn ocodex exactly as @openai/codex-sdk's CodexExec.run spawns codex: flags in its order,
    `resume THREAD_ID` and `--image` last, the prompt written to stdin which is then closed."""
    args = ["exec", "--experimental-json", "--config", 'approval_policy="never"', "--model", "gpt-oss:20b",
            "--sandbox", "workspace-write", "--cd", str(repo), *extra, "--skip-git-repo-check",
            "--config", 'model_reasoning_effort="low"', "--config", "sandbox_workspace_write.network_access=false",
            "--config", 'web_search="disabled"', "--config", 'approval_policy="never"']
    if thread:
        args += ["resume", thread]
    for image in images:
        args += ["--image", image]
    proc = subprocess.Popen([sys.executable, "-m", "ocodex", *args], env=base_env(home, fake.base_url),
                            cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(prompt)
    proc.stdin.close()
    lines = [line for line in proc.stdout]  # read line by line, as the SDK's readline loop does
    stderr = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=60)
    events = Run(proc.returncode, "".join(lines), stderr).events()  # schema-checked
    return proc.returncode, events, stderr


def test_driven_the_way_the_codex_sdk_drives_it(fake, home: Path, repo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    fake.script(Turn.tool_call("shell", {"command": f"echo from-sdk > {extra}/out.txt"}),
                Turn.text("Wrote it."))
    code, events, stderr = sdk_exec(fake, home, repo, "write the file", "--add-dir", str(extra))
    assert code == 0, stderr
    assert events[0]["type"] == "thread.started" and events[-1]["type"] == "turn.completed"
    assert (extra / "out.txt").read_text() == "from-sdk\n"  # --add-dir made it writable
    body = fake.chat_requests[0]
    assert body["model"] == "gpt-oss:20b" and body["reasoning_effort"] == "low"
    thread = events[0]["thread_id"]

    fake.script(Turn.text("Yes, out.txt."))
    code, events, stderr = sdk_exec(fake, home, repo, "did you write it?", thread=thread)
    assert code == 0, stderr
    assert events[0] == {"type": "thread.started", "thread_id": thread}
    assert [e["item"]["text"] for e in events if e["type"] == "item.completed"] == ["Yes, out.txt."]
    sent = fake.chat_requests[-1]["messages"]
    assert {"role": "user", "content": "write the file"} in sent and sent[-1]["content"] == "did you write it?"
    assert not any(line.startswith("note:") for line in stderr.splitlines())  # nothing ignored here


def test_accepted_but_ignored_options_get_one_note_each_on_stderr(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "--json", "-c", 'approval_policy="on-request"', "-c", 'web_search="live"',
                 "-c", 'openai_base_url="http://127.0.0.1:9/v1"', "--add-dir", ".",
                 "-c", "sandbox_workspace_write.network_access=true", "hi")
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 5
    assert any("sandbox_workspace_write.network_access is ignored" in n for n in notes)
    assert any("approval_policy=on-request is ignored" in n for n in notes)
    assert any("web_search=live is ignored" in n for n in notes)
    assert any("openai_base_url is ignored" in n for n in notes)
    assert any("--add-dir is ignored" in n for n in notes)
    assert "note:" not in run.stdout
    run.events()  # stdout is still pure schema-valid JSONL


def test_sdk_openai_env_vars_get_one_note_when_the_provider_is_not_openai(ocodex, fake) -> None:
    secret = "sk-sdk-0123456789abcdefSECRET"
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "CODEX_API_KEY": secret}
    run = ocodex("exec", "--oss", "--json", "hi", env=env)
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    assert notes == ["note: OPENAI_BASE_URL and CODEX_API_KEY are ignored: they apply only to "
                     "model_provider = \"openai\" (this run uses 'oss')"]
    assert "note:" not in run.stdout and secret not in run.stdout + run.stderr
    run.events()
    # The SDK's key is a credential: the model's shell never sees it, even when no provider uses it.
    fake.script(Turn.tool_call("shell", {"command": ["env"]}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "hi", env={"CODEX_API_KEY": secret})
    shown = run.items("command_execution")[0]["aggregated_output"]
    assert "PATH=" in shown and "CODEX_API_KEY" not in shown and secret not in shown
    assert [line for line in run.stderr.splitlines() if line.startswith("note:")] == [
        "note: CODEX_API_KEY is ignored: it applies only to model_provider = \"openai\" (this run uses 'oss')"]
    assert "note:" not in ocodex("exec", "--oss", "--json", "hi").stderr


def test_output_schema_is_sent_and_the_answer_validated(ocodex, fake, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"],
              "additionalProperties": False}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    fake.script(Turn.text('{"greeting":"hi"}'))
    out = tmp_path / "last.txt"
    run = ocodex("exec", "--oss", "--json", "--output-schema", str(path), "-o", str(out), "greet")
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[0]["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "codex_output_schema", "strict": True, "schema": schema}}
    assert out.read_text() == '{"greeting":"hi"}'

    fake.script(Turn.text('{"greeting": 5}'))
    run = ocodex("exec", "--oss", "--json", "--output-schema", str(path), "greet")
    assert run.returncode == 1
    assert f"does not match --output-schema {path}: at greeting: 5 is not of type 'string'" in run.stderr
    assert run.events()[-1]["type"] == "error"

    fake.script(Turn.text("hello there"))
    run = ocodex("exec", "--oss", "--output-schema", str(path), "greet")
    assert run.returncode == 1 and "the final message is not JSON" in run.stderr


def test_bad_output_schema_files_are_usage_errors(ocodex, tmp_path: Path) -> None:
    missing = ocodex("exec", "--oss", "--output-schema", str(tmp_path / "nope.json"), "hi")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": ')
    run = ocodex("exec", "--oss", "--output-schema", str(broken), "hi")
    assert run.returncode == 2 and "not valid JSON (line 1" in run.stderr
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"type": 12}')
    run = ocodex("exec", "--oss", "--output-schema", str(invalid), "hi")
    assert run.returncode == 2 and "not a valid JSON Schema" in run.stderr


def test_images_attach_to_the_prompt_for_vision_models(ocodex, fake, repo: Path) -> None:
    fake.models.append("qwen2.5vl:7b")
    fake.capabilities["qwen2.5vl:7b"] = ["completion", "tools", "vision"]
    (repo / "shot.png").write_bytes(PNG)
    (repo / "b.png").write_bytes(PNG)
    fake.script(Turn.text("A blank image."))
    run = ocodex("exec", "--oss", "--json", "-m", "qwen2.5vl:7b", "-i", "shot.png,b.png", "describe it")
    assert run.returncode == 0, run.stderr
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert fake.chat_requests[0]["messages"][-1] == {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": "describe it"}]}


def test_images_are_refused_clearly(ocodex, fake, repo: Path) -> None:
    (repo / "notes.txt").write_text("not an image")
    run = ocodex("exec", "--oss", "--image", "notes.txt", "hi")
    assert run.returncode == 2 and "--image notes.txt: not a PNG, JPEG or WebP image" in run.stderr
    run = ocodex("exec", "--oss", "--image", "missing.png", "hi")
    assert run.returncode == 2 and "--image missing.png: no such file" in run.stderr
    (repo / "shot.png").write_bytes(PNG)
    run = ocodex("exec", "--oss", "--image", "shot.png", "hi")  # gpt-oss has no vision
    assert run.returncode == 2 and "cannot read images (no vision capability)" in run.stderr
    assert fake.chat_requests == []


def test_model_provider_can_come_from_config(ocodex, fake, home: Path) -> None:
    (home / "config.toml").write_text('model_provider = "oss"\nmodel = "gpt-oss:20b"\n')
    run = ocodex("exec", "--json", "hi")  # no --oss, as SDK consumers never pass it
    assert run.returncode == 0, run.stderr
    assert fake.chat_requests[0]["model"] == "gpt-oss:20b"


def test_help_lists_the_session_and_sdk_options() -> None:
    exec_help = subprocess.run([sys.executable, "-m", "ocodex", "exec", "--help"], capture_output=True, text=True)
    for flag in ("--ephemeral", "--add-dir", "--output-schema", "--image", "--last", "--all", "resume"):
        assert flag in exec_help.stdout
    sessions_help = subprocess.run([sys.executable, "-m", "ocodex", "sessions", "--help"], capture_output=True,
                                   text=True)
    assert sessions_help.returncode == 0
    for flag in ("--json", "--here", "--limit"):
        assert flag in sessions_help.stdout


def test_unknown_options_after_the_prompt_are_still_usage_errors(ocodex) -> None:
    run = ocodex("exec", "--oss", "hi", "--no-such-flag")
    assert run.returncode == 2 and "unrecognized arguments: --no-such-flag" in run.stderr


def test_an_escalated_retry_keeps_the_resumed_history_and_the_output_schema(ocodex, fake, tmp_path: Path) -> None:
    fake.models.append("gpt-oss:120b")
    fake.script(Turn.text("noted"))
    assert ocodex("exec", "--oss", "--json", "remember 7").returncode == 0
    schema_file = tmp_path / "schema.json"
    schema_file.write_text('{"type": "object", "required": ["n"]}')
    fake.script(*[Turn.tool_call("shell", {"command": "echo stuck"}) for _ in range(3)], Turn.text('{"n": 7}'))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--escalate", "--output-schema", str(schema_file),
                 "resume", "--last", "what number?")
    assert run.returncode == 0, run.stderr
    large = fake.chat_requests[-1]
    assert large["model"] == "gpt-oss:120b" and large["response_format"]["json_schema"]["name"] == \
        "codex_output_schema"
    assert {"role": "user", "content": "remember 7"} in large["messages"]
    assert large["messages"][-1] == {"role": "user", "content": "what number?"}


def test_the_older_sdk_order_images_before_resume_and_web_search_feature(fake, home: Path, repo: Path) -> None:
    """@openai/codex-sdk before `--add-dir` existed put `--image` before `resume THREAD_ID` and sent
    `features.web_search_request=BOOL`; both forms must work."""
    fake.models.append("qwen2.5vl:7b")
    fake.capabilities["qwen2.5vl:7b"] = ["completion", "tools", "vision"]
    (repo / "shot.png").write_bytes(PNG)
    fake.script(Turn.text("first"))
    code, events, stderr = sdk_exec(fake, home, repo, "look", "--model", "qwen2.5vl:7b",
                                    "--config", "features.web_search_request=false")
    assert code == 0, stderr
    assert "note:" not in stderr  # web search disabled: nothing to say
    thread = events[0]["thread_id"]
    args = ["exec", "--experimental-json", "--model", "qwen2.5vl:7b", "--sandbox", "read-only", "--cd", str(repo),
            "--skip-git-repo-check", "--config", "features.web_search_request=true",
            "--image", str(repo / "shot.png"), "resume", thread]
    fake.script(Turn.text("A blank image."))
    proc = subprocess.run([sys.executable, "-m", "ocodex", *args], env=base_env(home, fake.base_url), cwd="/",
                          input="describe it", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    events = Run(proc.returncode, proc.stdout, proc.stderr).events()
    assert events[0] == {"type": "thread.started", "thread_id": thread}
    assert [line for line in proc.stderr.splitlines() if line.startswith("note:")] == [
        "note: features.web_search_request=true is ignored: ocodex has no web search tool"]
    sent = fake.chat_requests[-1]["messages"]
    assert {"role": "user", "content": "look"} in sent
    assert sent[-1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert sent[-1]["content"][-1] == {"type": "text", "text": "describe it"}


def test_the_compaction_summary_is_not_forced_into_the_output_schema(ocodex, fake, repo: Path,
                                                                     tmp_path: Path) -> None:
    (repo / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    schema = {"type": "object", "properties": {"lines": {"type": "integer"}}, "required": ["lines"]}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    fake.script(Turn.tool_call("shell", {"command": "head -c 2000 big.txt"}),
                Turn.tool_call("shell", {"command": "tail -c 2000 big.txt"}),
                Turn.text("SUMMARY: read the head and the tail of big.txt."),  # the compaction request
                Turn.text('{"lines": 400}'))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--output-schema", str(path),
                 "-c", "model_auto_compact_token_limit=2000", "how long is big.txt?")
    assert run.returncode == 0, run.stderr
    assert "context: summarised" in run.stderr
    formats = [body.get("response_format") for body in fake.chat_requests]
    assert formats[2] is None  # the summary is plain text, as the compaction prompt asks
    assert all(f is not None and f["json_schema"]["schema"] == schema for i, f in enumerate(formats) if i != 2)
    assert "SUMMARY: read the head and the tail" in json.dumps(fake.chat_requests[3]["messages"])
