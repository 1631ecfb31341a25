"""`exec --json` stdout and the session file, byte for byte, for scripted runs that cover the thread's
lifecycle: escalation, text-form tool calls, compaction, resume, a failed turn, a reconnect and
--output-schema. The golden files were recorded from the code before the thread core was built; a
change to any of them is a change to what Codex consumers or `ocodex resume` read.

Record them again (only after an intended change) with `OCODEX_UPDATE_GOLDENS=1`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import Run
from fakes.fake_ollama import Turn

GOLDEN = Path(__file__).parent / "golden"
U = {"usage": (1500, 12)}  # scripted token counts: the fake's own estimate depends on the temp path's length
UPDATE = os.environ.get("OCODEX_UPDATE_GOLDENS") == "1"
_STAMP = re.compile(r'"(timestamp|created)":"[^"]*"')
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
_CALL_ID = re.compile(r'"(call_[A-Za-z0-9_]+)"')
_DATE = re.compile(r"<current_date>[^<]*</current_date>|<timezone>[^<]*</timezone>")


def _normalise(text: str, repo: Path, home: Path) -> str:
    text = text.replace(str(repo), "<REPO>").replace(str(home), "<HOME>")
    text = _STAMP.sub(r'"\1":"<T>"', text)
    text = _ID.sub("<THREAD>", text)
    text = _DATE.sub("<DATE>", text)
    text = re.sub(r'"cli_version":"[^"]*"', '"cli_version":"<V>"', text)
    text = re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: <S> seconds", text)
    # The system prompt is measured elsewhere (tests/test_small_models_e2e.py); here only its place counts.
    text = re.sub(r'\{"role":"system","content":"(?:[^"\\]|\\.)*"\}', '{"role":"system","content":"<SYSTEM>"}', text)
    # A login shell may print profile noise before the command's own output.
    return re.sub(r'(?:pyenv|bash): [^"\\]*?isn\'t writable\\n', "", text)


def _session_text(home: Path) -> str:
    files = sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"))
    return "".join(path.read_text() for path in files)


def _check(name: str, run: Run, repo: Path, home: Path) -> None:
    run.events()  # every line is a Codex exec --json event
    stdout = _normalise(run.stdout, repo, home)
    session = _normalise(_session_text(home), repo, home)
    session = _CALL_ID.sub('"<CALL>"', session)
    for suffix, text in ((".jsonl", stdout), (".session.jsonl", session)):
        path = GOLDEN / f"{name}{suffix}"
        if UPDATE:
            path.write_text(text)
        assert text == path.read_text(), f"{path.name} changed"


@pytest.fixture
def check(repo: Path, home: Path):
    return lambda name, run: _check(name, run, repo, home)


def test_escalated_run(ocodex, fake, check) -> None:
    fake.models.append("gpt-oss:120b")
    fake.script(*[Turn.tool_call("shell", {"command": "echo stuck"}, **U) for _ in range(3)],
                Turn.text("Solved by the large model.", **U))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "--escalate", "go")
    assert run.returncode == 0, run.stderr
    check("escalated", run)


def test_text_tool_calls(ocodex, fake, check) -> None:
    fake.models.append("gemma3:4b")
    fake.capabilities = {"gemma3:4b": ["completion"]}
    fake.script(Turn.text('Listing.\n<tool_call>{"name": "shell", "arguments": {"command": "echo from-tool"}}'
                          "</tool_call>", **U),
                Turn.text("It printed from-tool.", **U))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-m", "gemma3:4b", "hi")
    assert run.returncode == 0, run.stderr
    check("text_tools", run)


def test_compaction(ocodex, fake, repo: Path, check) -> None:
    (repo / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    fake.script(Turn.tool_call("shell", {"command": "head -c 2000 big.txt"}, usage=(1200, 10)),
                Turn.tool_call("shell", {"command": "tail -c 2000 big.txt"}, usage=(1700, 10)),
                Turn.text("SUMMARY: read the head and the tail of big.txt.", usage=(2200, 12)),
                Turn.tool_call("shell", {"command": "wc -l big.txt"}, usage=(1300, 10)),
                Turn.text("The file has 400 lines.", usage=(1400, 8)))
    run = ocodex("exec", "--oss", "--full-auto", "--json", "-c", "model_auto_compact_token_limit=2000",
                 "how long is big.txt?")
    assert run.returncode == 0, run.stderr
    check("compaction", run)


def test_resumed_run(ocodex, fake, check) -> None:
    fake.script(Turn.text("Noted: 42.", **U), Turn.text("It was 42.", **U))
    first = ocodex("exec", "--oss", "--json", "remember 42")
    assert first.returncode == 0, first.stderr
    run = ocodex("exec", "--oss", "--json", "resume", "--last", "what number?")
    assert run.returncode == 0, run.stderr
    check("resumed", run)


def test_failed_turn(ocodex, fake, check) -> None:
    fake.script(*[Turn.tool_call("shell", {"command": "echo same"}, **U) for _ in range(5)])
    run = ocodex("exec", "--oss", "--full-auto", "--json", "go")
    assert run.returncode == 1
    check("failed_turn", run)


def test_reconnect(ocodex, fake, check) -> None:
    fake.script(Turn.cut("partial", after_chunks=1, **U), Turn.text("whole answer", **U))
    run = ocodex("exec", "--oss", "--json", "hi")
    assert run.returncode == 0, run.stderr
    check("reconnect", run)


def test_output_schema(ocodex, fake, repo: Path, check) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False}
    (repo / "schema.json").write_text(json.dumps(schema))
    fake.script(Turn.tool_call("shell", {"command": "echo 7"}, **U), Turn.text('{"n": 7}', **U))
    run = ocodex("exec", "--oss", "--json", "--output-schema", "schema.json", "count")
    assert run.returncode == 0, run.stderr
    check("output_schema", run)
