"""Small local models end to end: lean prompts, text-form tool calls, loops, context limits, escalation."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from fakes.fake_ollama import Turn


def _chat_bodies(fake) -> list[bytes]:
    return [r.body for r in fake.requests if r.path == "/v1/chat/completions"]


def test_first_request_is_lean_and_the_prefix_is_stable(ocodex, fake, repo: Path) -> None:
    (repo / "a.txt").write_text("alpha\n")
    fake.script(Turn.tool_call("shell", {"command": "cat a.txt"}, reasoning="read it"),
                Turn.tool_call("shell", {"command": "ls"}),
                Turn.text("done"))
    run = ocodex("exec", "--oss", "--full-auto", "say hi")
    assert run.returncode == 0, run.stderr
    bodies = _chat_bodies(fake)
    assert len(bodies) == 3
    assert len(bodies[0]) <= 6000, len(bodies[0])
    previous: list[str] | None = None
    for body in bodies:
        messages = [json.dumps(m, sort_keys=True) for m in json.loads(body)["messages"]]
        if previous is not None:  # append-only: every request starts with the previous one's messages
            assert messages[:len(previous)] == previous
            assert len(messages) > len(previous)
        previous = messages
    # The raw bytes of the shared prefix are identical too (the server's KV cache sees the same tokens).
    first = bodies[0].decode()
    head = first[:first.index('"messages"')]
    assert all(b.decode().startswith(head) for b in bodies[1:])


def test_context_line_reports_the_servers_window(ocodex, fake) -> None:
    fake.loaded_context = 4096
    run = ocodex("exec", "--oss", "hi")
    assert run.returncode == 0, run.stderr
    assert "context: 4096 tokens (as loaded by the server; trained for 131072)" in run.stderr
    assert "model_context_window=32768" not in run.stderr  # a small turn: the window does not matter yet


def test_the_context_rule_is_said_once_a_turn_comes_close_to_a_small_window(ocodex, fake) -> None:
    from ocodex.context_window import rule_text

    fake.loaded_context = 4096
    run = ocodex("exec", "--oss", "summarise this:\n" + "lorem ipsum dolor sit amet " * 300)
    assert run.returncode == 0, run.stderr
    [line] = [line for line in run.stderr.splitlines() if rule_text() in line]
    assert line.startswith("warning: this turn used ") and "of the 4,096-token context window" in line
    assert "-c model_context_window=32768 makes ocodex use a larger variant" in line


def test_model_context_window_creates_a_variant_once(ocodex, fake) -> None:
    run = ocodex("exec", "--oss", "-c", "model_context_window=32768", "hi")
    assert run.returncode == 0, run.stderr
    assert "created gpt-oss:20b-ctx32k from gpt-oss:20b with num_ctx 32768" in run.stderr
    creates = [r.json for r in fake.requests if r.path == "/api/create"]
    assert creates == [{"model": "gpt-oss:20b-ctx32k", "from": "gpt-oss:20b",
                        "parameters": {"num_ctx": 32768}, "stream": False}]
    assert {b["model"] for b in fake.chat_requests} == {"gpt-oss:20b-ctx32k"}
    assert all("num_ctx" not in json.dumps(b) for b in fake.chat_requests)  # never per request

    again = ocodex("exec", "--oss", "-c", "model_context_window=32768", "hi")
    assert again.returncode == 0, again.stderr
    assert "using gpt-oss:20b-ctx32k" in again.stderr
    assert len([r for r in fake.requests if r.path == "/api/create"]) == 1


def test_prompt_that_cannot_fit_a_4096_window_is_refused_before_sending(ocodex, fake) -> None:
    fake.loaded_context = 4096
    run = ocodex("exec", "--oss", "--json", "summarise this:\n" + "lorem ipsum dolor sit amet " * 800)
    assert run.returncode == 1
    failed = run.events()[-1]
    assert failed["type"] == "turn.failed"
    assert "context window is 4096 tokens" in failed["error"]["message"]
    assert "model_context_window" in failed["error"]["message"]
    assert fake.chat_requests == []  # nothing was sent to be silently truncated


def test_silent_truncation_is_flagged(ocodex, fake) -> None:
    fake.loaded_context = None  # an old server: /api/ps does not say, so the window is unknown
    fake.script(Turn.text("hm", usage=(300, 1)))
    run = ocodex("exec", "--oss", "--json", "look at this: " + "word " * 2600)
    assert run.returncode == 0, run.stderr
    errors = [i["message"] for i in run.items("error")]
    assert any("probably cut the conversation" in e for e in errors), errors


# Text calls are the protocol of models without native tools (a native-tools model's quoted JSON is text:
# tests/test_hostile_model_e2e.py); these run as such a model.
TEXT_ONLY = {"gpt-oss:20b": ["completion"]}


def test_tool_call_in_qwen_tags_is_run_and_stripped(ocodex, fake) -> None:
    fake.capabilities = TEXT_ONLY
    fake.script(Turn.text('Checking.\n<tool_call>\n{"name": "shell", "arguments": {"command": "echo tagged"}}\n'
                          "</tool_call>"),
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 0, run.stderr
    assert "tagged" in run.items("command_execution")[0]["aggregated_output"]
    assert [m["text"] for m in run.items("agent_message")] == ["Checking.", "ok"]
    messages = fake.chat_requests[-1]["messages"]
    assert messages[-2] == {"role": "assistant", "content": 'Checking.\n<tool_call>\n{"name": "shell", '
                            '"arguments": {"command": "echo tagged"}}\n</tool_call>'}  # as the model wrote it
    assert messages[-1]["role"] == "user" and messages[-1]["content"].startswith('<tool_result name="shell">')


def test_tool_call_in_a_fenced_block_is_run(ocodex, fake) -> None:
    fake.capabilities = TEXT_ONLY
    fake.script(Turn.text('```json\n{"name": "shell", "arguments": {"command": ["echo", "fenced"],}}\n```'),
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 0, run.stderr
    assert "fenced" in run.items("command_execution")[0]["aggregated_output"]
    assert [m["text"] for m in run.items("agent_message")] == ["ok"]


def test_bare_json_object_naming_a_tool_is_run(ocodex, fake) -> None:
    fake.capabilities = TEXT_ONLY
    fake.script(Turn.text("{'name': 'shell', 'parameters': {'command': 'echo bare'}}"), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 0, run.stderr
    assert "bare" in run.items("command_execution")[0]["aggregated_output"]


def test_json_that_is_only_an_answer_is_left_alone(ocodex, fake) -> None:
    fake.script(Turn.text('{"status": "ok", "name": "not-a-tool"}'))
    run = ocodex("exec", "--oss", "--json", "go")
    assert run.returncode == 0, run.stderr
    assert run.items("agent_message")[-1]["text"] == '{"status": "ok", "name": "not-a-tool"}'
    assert run.items("command_execution") == []


def test_near_valid_arguments_are_repaired(ocodex, fake) -> None:
    fake.script(Turn.tool_call("shell", "{'command': ['echo', 'repaired'],}"), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 0, run.stderr
    assert "repaired" in run.items("command_execution")[0]["aggregated_output"]
    sent = next(m for m in fake.chat_requests[-1]["messages"] if m.get("tool_calls"))
    assert json.loads(sent["tool_calls"][0]["function"]["arguments"]) == {"command": ["echo", "repaired"]}


def test_broken_arguments_get_the_expected_shape(ocodex, fake) -> None:
    fake.script(Turn.tool_call("shell", '{"command": ["ls"'), Turn.text("recovered"))
    run = ocodex("exec", "--oss", "--json", "go")
    assert run.returncode == 0, run.stderr
    reply = next(m["content"] for m in fake.chat_requests[-1]["messages"] if m["role"] == "tool")
    assert "could not be read" in reply and '"command": <array/string>' in reply
    # The history the server gets back holds valid JSON (Ollama rejects invalid arguments there).
    sent = next(m for m in fake.chat_requests[-1]["messages"] if m.get("tool_calls"))
    json.loads(sent["tool_calls"][0]["function"]["arguments"])


def test_a_repeated_call_is_a_loop_that_fails_the_turn(ocodex, fake) -> None:
    fake.script(*[Turn.tool_call("shell", {"command": "echo same"}) for _ in range(5)])
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 1
    assert len(fake.chat_requests) == 3  # stopped at the third identical call
    error = run.items("error")[-1]["message"]
    assert "loop detected" in error and "3 times" in error
    assert run.events()[-1]["type"] == "turn.failed"


def test_repeated_tool_errors_fail_the_turn(ocodex, fake) -> None:
    fake.script(*[Turn.tool_call("nosuchtool", {"n": i}) for i in range(6)])
    run = ocodex("exec", "--oss", "--json", "go")
    assert run.returncode == 1
    assert len(fake.chat_requests) == 5
    assert "tool calls all failed" in run.events()[-1]["error"]["message"]


def test_long_conversation_is_compacted_and_continues(ocodex, fake, repo: Path) -> None:
    (repo / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    fake.script(
        Turn.tool_call("shell", {"command": "head -c 2000 big.txt"}),
        Turn.tool_call("shell", {"command": "tail -c 2000 big.txt"}),
        Turn.text("SUMMARY: read the head and the tail of big.txt."),  # the compaction request
        Turn.tool_call("shell", {"command": "wc -l big.txt"}),
        Turn.text("The file has 400 lines."),
    )
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "model_auto_compact_token_limit=2000",
                 "how long is big.txt?")
    assert run.returncode == 0, run.stderr
    assert run.items("agent_message")[-1]["text"] == "The file has 400 lines."
    requests = fake.chat_requests
    assert len(requests) == 5  # one compaction, no loop
    assert "context: summarised 2 earlier messages to stay within the window" in run.stderr
    summarise = requests[2]
    assert "tools" not in summarise
    assert "CONTEXT CHECKPOINT COMPACTION" in summarise["messages"][-1]["content"]
    assert "line 5 of a long file" in json.dumps(summarise)  # the model summarises the old turns
    after = requests[3]["messages"]
    text = json.dumps(after)
    assert after[:3] == requests[0]["messages"][:3]  # system prompt and environment unchanged
    assert "how long is big.txt?" in text  # the user prompt survives verbatim
    assert "SUMMARY: read the head and the tail of big.txt." in text
    assert "line 5 of a long file" not in text  # the first tool output was summarised away
    assert after[-1]["role"] == "tool" and "line 399 of a long file" in after[-1]["content"]  # recent: verbatim
    # After compaction the history is append-only again.
    assert requests[4]["messages"][:len(after)] == after


def test_escalation_retries_once_with_the_large_model(ocodex, fake) -> None:
    fake.models.append("gpt-oss:120b")
    fake.script(*[Turn.tool_call("shell", {"command": "echo stuck"}) for _ in range(3)],
                Turn.text("Solved by the large model."))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--escalate", "go")
    assert run.returncode == 0, run.stderr
    models = [b["model"] for b in fake.chat_requests]
    assert models == ["gpt-oss:20b"] * 3 + ["gpt-oss:120b"]
    assert "escalating: gpt-oss:20b failed the task (it got stuck in a loop); retrying it once with " \
           "gpt-oss:120b" in run.stderr
    assert "usage by model: gpt-oss:20b (in " in run.stderr
    events = run.events()
    assert [e["type"] for e in events if e["type"].startswith("turn.")] == [
        "turn.started", "turn.failed", "turn.started", "turn.completed"]
    split = re.search(r"usage by model: gpt-oss:20b \(in (\d+),.*gpt-oss:120b \(in (\d+),", run.stderr)
    assert split, run.stderr
    small, large = int(split.group(1)), int(split.group(2))
    assert small > 0 and large > 0
    assert events[-1]["usage"]["input_tokens"] == small + large  # both attempts, as thread totals
    assert run.items("agent_message")[-1]["text"] == "Solved by the large model."


def test_escalation_via_config_and_only_once(ocodex, fake) -> None:
    fake.models.append("gpt-oss:120b")
    fake.script(*[Turn.tool_call("shell", {"command": "echo stuck"}) for _ in range(6)])
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "escalate=true", "go")
    assert run.returncode == 1
    assert [b["model"] for b in fake.chat_requests] == ["gpt-oss:20b"] * 3 + ["gpt-oss:120b"] * 3


def test_bad_escalate_value_is_a_config_error(ocodex, home) -> None:
    run = ocodex("exec", "--oss", "-c", "escalate=sometimes", "go")
    assert run.returncode == 2  # given on the command line: a usage error (issue 10, item 13)
    assert "escalate must be true or false" in run.stderr
    (home / "config.toml").write_text('escalate = "sometimes"\n')
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 1  # in the config file: a config error, as before
    assert "escalate must be true or false" in run.stderr and "config.toml" in run.stderr


def test_server_errors_do_not_escalate(ocodex, fake) -> None:
    fake.models.append("gpt-oss:120b")
    fake.script(Turn.error(400, "fake bad request"))
    run = ocodex("exec", "--oss", "--json", "--escalate", "go")
    assert run.returncode == 1
    assert [b["model"] for b in fake.chat_requests] == ["gpt-oss:20b"]


@pytest.mark.skipif(shutil.which("rg") is None, reason="ripgrep is not installed (scripts/test installs it)")
def test_project_filters_narrow_what_rg_lists_and_searches(ocodex, fake, repo: Path, home: Path) -> None:
    for name in ("src/app.py", "build/gen.py", "web/lib.min.js", "web/page.js"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("needle\n")
    (repo / ".gitignore").write_text("build/\n")
    (home / "config.toml").write_text('[project_filters]\nexclude = ["*.min.js"]\n')
    fake.script(Turn.tool_call("shell", {"command": ["rg", "--files", "--sort", "path"]}),
                Turn.tool_call("shell", {"command": ["rg", "-l", "--sort", "path", "needle"]}), Turn.text("ok"))
    run = ocodex("exec", "--oss", "--json", "list")
    assert run.returncode == 0, run.stderr
    listed, searched = (c["aggregated_output"].split() for c in run.items("command_execution"))
    assert listed == searched == ["src/app.py", "web/page.js"]  # not .gitignored build/, not *.min.js
    assert len(fake.chat_requests[0]["messages"][0]["content"]) < 3000  # filters cost no prompt bytes


def test_bad_project_filter_is_refused(ocodex, home: Path) -> None:
    (home / "config.toml").write_text('[project_filters]\nexclude = ["!*.js"]\n')
    run = ocodex("exec", "--oss", "list")
    assert run.returncode == 1
    assert "put patterns to skip in project_filters.exclude without the '!'" in run.stderr


def test_does_not_support_tools_from_the_server_switches_to_the_text_protocol(ocodex, fake) -> None:
    fake.models.append("gemma3:4b")  # no tools capability; a generic /v1 provider cannot ask /api/show
    fake.script(Turn.text('<tool_call>{"name": "shell", "arguments": {"command": "echo via-text"}}</tool_call>'),
                Turn.text("done"))
    run = ocodex("exec", "--full-auto", "--json", "-m", "gemma3:4b", "-c", "model_provider=lan",
                 "-c", f'model_providers.lan.base_url="{fake.base_url}"', "go")
    assert run.returncode == 0, run.stderr
    assert "does not support tools: switching to ocodex's text tool protocol" in run.stderr
    assert "via-text" in run.items("command_execution")[0]["aggregated_output"]
    refused, *rest = [r.json for r in fake.requests if r.path == "/v1/chat/completions"]
    assert "tools" in refused and all("tools" not in body for body in rest)
    assert "<tool_call>" in rest[0]["messages"][0]["content"]


def test_reasoning_effort_goes_only_to_thinking_models(ocodex, fake) -> None:
    fake.models.append("qwen2.5-coder:7b")  # tools, no thinking
    run = ocodex("exec", "--oss", "--json", "-m", "qwen2.5-coder:7b", "-c", "model_reasoning_effort=high", "hi")
    assert run.returncode == 0, run.stderr
    assert "ignoring model_reasoning_effort=high" in run.stderr
    assert "reasoning_effort" not in fake.chat_requests[0]
    thinking = ocodex("exec", "--oss", "--json", "-c", "model_reasoning_effort=high", "hi")
    assert thinking.returncode == 0, thinking.stderr
    assert fake.chat_requests[-1]["reasoning_effort"] == "high"


def test_human_mode_shows_a_loop_error_once(ocodex, fake) -> None:
    fake.script(*[Turn.tool_call("shell", {"command": "echo same"}) for _ in range(3)])
    run = ocodex("exec", "--oss", "--full-auto", "go")
    assert run.returncode == 1
    assert run.stderr.count("error: loop detected") == 1
