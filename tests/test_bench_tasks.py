"""benchmarks/tasks.py's own parts: the task suite is sound, scoring cannot be gamed, the baseline's whole-file
parser reads what small models write, and failures get the documented cause."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from taskbench.agent import Transcript, classify, read_transcript
from taskbench.baseline import baseline_prompt, write_files
from taskbench.record import usage_from_request_log
from taskbench.suite import (
    KINDS,
    QUICK,
    TaskError,
    changes,
    load_task,
    load_tasks,
    make_repo,
    read_workspace,
    score,
    select,
    self_check,
)

from ocodex.agent.fileblocks import clean_path, fence_for, match_unnamed, parse_files
from ocodex.sandbox import SandboxPolicy, check_available


def sandbox_or_skip(tmp_path: Path) -> None:
    try:
        check_available(SandboxPolicy(mode="workspace-write", cwd=tmp_path))
    except Exception as exc:  # no bubblewrap here: scoring cannot run
        pytest.skip(f"the workspace-write sandbox is unavailable: {exc}")


# ---- the suite ------------------------------------------------------------------------------------


def test_the_suite_covers_every_kind_and_quick_takes_one_of_each() -> None:
    tasks = load_tasks()
    assert len(tasks) >= 24
    counts = {kind: sum(task.kind == kind for task in tasks) for kind in KINDS}
    assert min(counts.values()) >= 4, counts
    quick = select(tasks, quick=True)
    assert [task.id for task in quick] == list(QUICK)
    assert sorted(task.kind for task in quick) == sorted(KINDS)
    assert [t.id for t in select(tasks, names="tb_keyerror,fix_mean")] == ["tb_keyerror", "fix_mean"]
    with pytest.raises(TaskError, match="no task named nope"):
        select(tasks, names="fix_mean,nope")


def test_every_task_fails_untouched_and_passes_with_its_reference_solution(tmp_path: Path) -> None:
    sandbox_or_skip(tmp_path)
    tasks = load_tasks()
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = dict(zip([t.id for t in tasks],
                            pool.map(lambda t: self_check(t, tmp_path / t.id), tasks), strict=True))
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize(("toml", "files", "message"), [
    ('kind = "poetry"\n', {}, "kind must be one of"),
    ('kind = "spec"\ncolour = 1\n', {}, "unknown keys in task.toml: colour"),
    ('kind = "spec"\ntimeout = -3\n', {}, "timeout must be a positive number"),
    ('kind = "spec"\n', {"prompt.md": ""}, "prompt.md is missing or empty"),
    ('kind = "spec"\n', {"check/test_check_a.py": None}, "repo/ holds no files"),
    ('kind = "spec"\n', {"repo/a.py": "x = 1\n", "check/helper.py": "x = 1\n"}, "check/ must hold test_check_"),
])
def test_a_broken_task_directory_is_named(tmp_path: Path, toml: str, files: dict, message: str) -> None:
    root = tmp_path / "task_x"
    defaults = {"prompt.md": "Do it.", "repo/a.py": "x = 1\n", "check/test_check_a.py": "def test(): pass\n"}
    for rel, text in {**defaults, **files}.items():
        if text is None:
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if "repo/a.py" in files and files["repo/a.py"] is None:
        (root / "repo" / "a.py").unlink()
    if message == "repo/ holds no files":
        (root / "repo" / "a.py").unlink()
    (root / "task.toml").write_text(toml)
    with pytest.raises(TaskError, match=message):
        load_task(root)


# ---- scoring cannot be gamed ------------------------------------------------------------------------


def test_scoring_restores_the_tests_and_ignores_what_the_model_planted(tmp_path: Path) -> None:
    sandbox_or_skip(tmp_path)
    task = next(t for t in load_tasks() if t.id == "fix_mean")
    workspace = make_repo(task, tmp_path / "repo")
    (workspace / "check").mkdir()
    # A model that "fixes" the tests, plants a conftest that skips everything, an ini file, a stray pytest.py
    # and a symlinked copy of the solution: none of it may make the check pass.
    (workspace / "test_stats.py").write_text("def test_mean():\n    pass\n")
    (workspace / "conftest.py").write_text("import pytest\n\ndef pytest_collection_modifyitems(items):\n"
                                           "    for item in items:\n        item.add_marker(pytest.mark.skip)\n")
    (workspace / "pytest.ini").write_text("[pytest]\naddopts = --co\n")
    (workspace / "test_check_stats.py").write_text("def test_nothing():\n    pass\n")
    outside = tmp_path / "elsewhere.py"
    outside.write_text((task.root / "solution" / "stats.py").read_text())
    (workspace / "stats.py").unlink()
    (workspace / "stats.py").symlink_to(outside)
    files = read_workspace(workspace)
    assert "stats.py" not in files  # a symlink is not a file of the solution
    result = score(task, files, tmp_path / "score")
    assert not result.passed
    # The real fix, written as a regular file, passes even with the planted files still there.
    (workspace / "stats.py").unlink()
    (workspace / "stats.py").write_text(outside.read_text())
    assert score(task, read_workspace(workspace), tmp_path / "score").passed


def test_changes_and_the_workspace_reader_skip_caches(tmp_path: Path) -> None:
    task = next(t for t in load_tasks() if t.id == "fix_mean")
    workspace = make_repo(task, tmp_path / "repo")
    (workspace / "__pycache__").mkdir()
    (workspace / "__pycache__" / "stats.cpython-311.pyc").write_bytes(b"\0")
    (workspace / "new.py").write_text("x = 1\n")
    (workspace / "test_stats.py").unlink()
    assert changes(task.files("repo"), read_workspace(workspace)) == {"new.py": "added", "test_stats.py": "deleted"}


# ---- the baseline's whole-file replies -------------------------------------------------------------------


@pytest.mark.parametrize("reply", [
    "stats.py\n```python\nX = 1\n```\n",
    "**stats.py**\n\n```python\nX = 1\n```",
    "`stats.py`:\n```\nX = 1\n```",
    "### File: stats.py\n```py\nX = 1\n```",
    "```python stats.py\nX = 1\n```",
    "```stats.py\nX = 1\n```",
    "```python\n# stats.py\nX = 1\n```",
    "```\nstats.py\n```python\nX = 1\n```",
    "Here is the fix.\n\nstats.py\n~~~python\nX = 1\n~~~\nDone.",
])
def test_the_shapes_small_models_use_for_whole_files(reply: str) -> None:
    assert parse_files(reply).files == {"stats.py": "X = 1\n"}


def test_unusable_blocks_are_not_files() -> None:
    parsed = parse_files("```python\nprint(1)\n```\n../evil.py\n```python\nx\n```\n/etc/passwd\n```\nroot\n```\n"
                         ".git/config\n```\n[core]\n```\nsrc/app.py\n```python\nunfinished")
    assert parsed.files == {} and len(parsed.unnamed) == 4 and parsed.unclosed
    assert clean_path("./pkg/mod.py") == "pkg/mod.py"
    assert clean_path("README") is None and clean_path("a b.py") is None


_TEXT = st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e"
                                                                                           "\x85\u2028\u2029"),
                         max_size=30), max_size=8).map(lambda lines: "".join(line + "\n" for line in lines))


@settings(max_examples=200, deadline=None)
@given(files=st.dictionaries(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8})?\.(py|txt|md)", fullmatch=True), _TEXT,
                             min_size=1, max_size=3))
def test_files_in_the_prompts_own_form_read_back_exactly(files: dict[str, str]) -> None:
    reply = "Sure.\n\n" + "\n".join(f"{path}\n{fence_for(text)}python\n{text}{fence_for(text)}\n"
                                    for path, text in files.items())
    parsed = parse_files(reply)
    expected = {path: text for path, text in files.items() if not text.startswith(("#", "//"))}
    assert {p: t for p, t in parsed.files.items() if p in expected} == expected


def test_unnamed_blocks_go_to_the_file_they_resemble() -> None:
    repo = {"stats.py": b"def mean(values):\n    return sum(values) // len(values)\n",
            "test_stats.py": b"from stats import mean\n\ndef test_mean():\n    assert mean([1, 2]) == 1.5\n",
            "notes.txt": b"first\nsecond\n"}
    reply = ("```python\ndef mean(values):\n    return sum(values) / len(values)\n```\n"
             "```text\nnotes.txt\n```python\nthird\n```\n")
    parsed = parse_files(reply)
    assert parsed.files == {"notes.txt": "third\n"} and len(parsed.unnamed) == 1
    match_unnamed(parsed, repo)
    assert parsed.files["stats.py"] == "def mean(values):\n    return sum(values) / len(values)\n"
    assert parsed.matched == {"stats.py": parsed.files["stats.py"]}
    # Only one candidate of the block's language: it is taken, however different the block is.
    lone = parse_files("```python\nimport re\n```")
    match_unnamed(lone, {"app.py": b"print(1)\n", "data.json": b"{}\n"})
    assert lone.files == {"app.py": "import re\n"}


def test_the_prompt_shows_every_file_in_the_form_it_asks_for() -> None:
    task = next(t for t in load_tasks() if t.id == "multi_user_email")
    prompt = baseline_prompt(task)
    assert prompt.startswith(task.prompt)
    shown = parse_files(prompt).files
    assert shown == {path: data.decode() for path, data in task.files("repo").items()}


def test_written_files_never_go_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    write_files(root, {"link/x.py": "bad\n", "pkg/ok.py": "good\n"})
    assert not (tmp_path / "outside" / "x.py").exists()
    assert (root / "pkg" / "ok.py").read_text() == "good\n"


# ---- failure causes -----------------------------------------------------------------------------------


def _events(*events: dict) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def _session(*messages: dict) -> str:
    return "".join(json.dumps({"type": "response_item", "payload": m}) + "\n" for m in messages)


def _call(name: str, arguments: dict, call_id: str) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]}


FAILED_PATCH = _session(_call("apply_patch", {"input": "*** Begin Patch"}, "c1"),
                        {"role": "tool", "tool_call_id": "c1", "content": "apply_patch verification failed: no"})
TURN_FAILED_EMPTY = _events({"type": "turn.started"},
                            {"type": "turn.failed", "error": {"message": "the model returned an empty answer"}})
GUARD = _events({"type": "item.completed", "item": {"id": "i", "type": "error", "message":
                 "loop detected: the model called shell with the same arguments 3 times"}},
                {"type": "turn.failed", "error": {"message": "loop detected: ..."}})


def _classify(events: str, session: str | None = None, *, passed: bool = False, timed_out: bool = False,
              exit_code: int | None = 0, changed: bool = False, stderr: str = "") -> str | None:
    transcript = read_transcript(events, session)
    return classify(passed=passed, timed_out=timed_out, exit_code=exit_code, transcript=transcript,
                    changed=changed, check_output="E   assert 1 == 2\n", stderr=stderr)[0]


def test_causes_follow_the_documented_order() -> None:
    completed = _events({"type": "turn.completed", "usage": {"input_tokens": 1, "output_tokens": 1}})
    assert _classify(completed, passed=True) is None
    assert _classify(GUARD, FAILED_PATCH, timed_out=True, exit_code=None) == "timeout"
    assert _classify("", None, exit_code=1, stderr="Traceback...\nKeyError: 'x'\n") == "error"
    assert _classify(GUARD, FAILED_PATCH, exit_code=1) == "edit failed"  # nothing changed: the edit is the cause
    assert _classify(GUARD, FAILED_PATCH, exit_code=1, changed=True) == "loop"
    assert _classify(TURN_FAILED_EMPTY, exit_code=1) == "empty answer"
    assert _classify(TURN_FAILED_EMPTY, FAILED_PATCH, exit_code=1) == "edit failed"
    server = _events({"type": "turn.failed", "error": {"message": "HTTP 500 from the server"}})
    assert _classify(server, exit_code=1, changed=True) == "error"
    assert _classify(completed) == "no edit"
    text_call = _events({"type": "item.completed", "item": {"id": "m", "type": "agent_message", "text":
                         '```json\n{"name": "apply_patch", "arguments": {"input": "*** Begin Patch\n"}}\n```'}},
                        {"type": "turn.completed", "usage": {}})
    transcript = read_transcript(text_call, None)
    cause, detail = classify(passed=False, timed_out=False, exit_code=0, transcript=transcript, changed=False,
                             check_output="", stderr="")
    assert cause == "no edit" and detail.startswith("answered with a tool call written as text, which was not run")
    assert _classify(completed, changed=True) == "wrong code"


def test_a_shell_apply_patch_counts_as_an_edit_and_success_is_read_from_its_result() -> None:
    session = _session(_call("shell", {"command": "apply_patch <<'EOF'\n*** Begin Patch\nEOF"}, "a"),
                       {"role": "tool", "tool_call_id": "a", "content": "Success. Updated the following files:\nM x"},
                       _call("shell", {"command": ["ls"]}, "b"),
                       {"role": "tool", "tool_call_id": "b", "content": "Exit code: 0"},
                       _call("apply_patch", {"input": "x"}, "c"))  # cut off: no result
    transcript = read_transcript("", session)
    assert [(c.name, c.is_edit, c.edit_failed) for c in transcript.calls] == [
        ("shell", True, False), ("shell", False, False), ("apply_patch", True, True)]
    assert isinstance(transcript, Transcript) and len(transcript.failed_edits) == 1


def test_usage_is_summed_from_the_request_log() -> None:
    chunk = {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 7},
             "timings": {"prompt_n": 40, "prompt_ms": 500.0, "predicted_ms": 350.0}}
    lines = [{"type": "request", "id": 1, "url": "http://h/v1/chat/completions"},
             {"type": "response", "id": 1, "body": f"data: {{\"choices\":[]}}\n\ndata: {json.dumps(chunk)}\n\n"
                                                   "data: [DONE]\n"},
             {"type": "request", "id": 2, "url": "http://h/v1/chat/completions"},  # cut off: no response
             {"type": "request", "id": 3, "url": "http://h/api/tags"},
             {"type": "response", "id": 3, "body": {"usage": {"prompt_tokens": 999}}}]
    usage = usage_from_request_log("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    assert (usage.requests, usage.answered, usage.prompt_tokens, usage.completion_tokens) == (2, 1, 100, 7)
    assert (usage.prompt_processed, usage.prompt_ms, usage.predicted_ms) == (40, 500.0, 350.0)


def test_the_benchmark_cli_lists_and_refuses_bad_flags() -> None:
    import subprocess

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "tasks.py"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    listed = subprocess.run([sys.executable, str(script), "--list", "--quick"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == list(QUICK)
    bad = subprocess.run([sys.executable, str(script), "--tasks", "nope"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no task named nope")
    jobs = subprocess.run([sys.executable, str(script), "--jobs", "0"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert jobs.returncode == 2 and "--jobs must be at least 1" in jobs.stderr


# ---- priming ----------------------------------------------------------------------------------------------


def test_ocodexs_first_request_is_captured_for_priming(tmp_path: Path) -> None:
    sandbox_or_skip(tmp_path)
    from taskbench.agent import agent_template

    task = next(t for t in load_tasks() if t.id == "fix_mean")
    template = agent_template(task, model="qwen2.5-coder:1.5b", workdir=tmp_path / "job", n_ctx=8192)
    assert template is not None, "ocodex's first request no longer holds the prompt as a user message"
    assert template["model"] == "qwen2.5-coder:1.5b" and template["temperature"] == 0
    # a small model's tools are in its system prompt (text-tool mode), none go as specs
    assert template["messages"][0]["role"] == "system" and not template.get("tools")
    assert template["messages"][-1] == {"role": "user", "content": "Say hello."}
    # The same setting gives the same prefix: priming only works if nothing in it changes between tasks.
    again = agent_template(task, model="qwen2.5-coder:1.5b", workdir=tmp_path / "job", n_ctx=8192)
    assert again == template


def test_the_preflight_runs_a_command_through_ocodexs_own_shell_tool(tmp_path: Path) -> None:
    sandbox_or_skip(tmp_path)
    from taskbench.agent import tools_preflight

    task = next(t for t in load_tasks() if t.id == "fix_mean")
    assert tools_preflight(task, workdir=tmp_path / "ok", n_ctx=8192, command="test -f stats.py") is None
    problem = tools_preflight(task, workdir=tmp_path / "bad", n_ctx=8192, command="echo nope; exit 3")
    assert problem is not None and "nope" in problem
