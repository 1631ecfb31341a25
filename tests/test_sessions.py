"""The session file format: writing, reading back, repairing a crashed history, redaction, finding, and the
`exec resume` argument rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ocodex.cli import build_parser, parse_args
from ocodex.events import AgentMessage, ItemCompleted, Notice, TurnCompleted, Usage
from ocodex.sessions import (
    Redactor,
    SessionError,
    SessionMeta,
    SessionWriter,
    find_latest,
    find_session,
    list_sessions,
    load_session,
    provider_secrets,
    repair_history,
)


def meta(thread: str, cwd: str = "/work") -> SessionMeta:
    return SessionMeta(id=thread, cwd=cwd, model="qwen3:8b", model_provider="oss", created="2026-01-01T00:00:00Z")


def write_session(home: Path, thread: str, cwd: str = "/work", prompt: str = "do it") -> Path:
    writer = SessionWriter.create(home, meta(thread, cwd))
    writer.message({"role": "system", "content": "sys"})
    writer.write("event_msg", {"type": "user_message", "message": prompt})
    writer.message({"role": "user", "content": prompt})
    writer.message({"role": "assistant", "content": "done"})
    writer.event(ItemCompleted(AgentMessage("item_0", "done")))
    writer.event(Notice("for people"))
    writer.event(TurnCompleted(Usage(input_tokens=10, output_tokens=2)))
    writer.close()
    return writer.path


def test_written_sessions_read_back(tmp_path: Path) -> None:
    path = write_session(tmp_path, "01aa-thread")
    loaded = load_session(path)
    assert loaded.meta.id == "01aa-thread" and loaded.meta.model == "qwen3:8b"
    assert loaded.messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "do it"},
                               {"role": "assistant", "content": "done"}]
    assert loaded.usage.input_tokens == 10 and loaded.usage.output_tokens == 2
    assert loaded.first_prompt == "do it" and loaded.truncated_line is None
    kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert "notice" not in path.read_text() and kinds[0] == "session_meta"


def test_an_incomplete_last_line_is_skipped_and_cut_before_appending(tmp_path: Path) -> None:
    path = write_session(tmp_path, "01aa-thread")
    whole = path.read_text()
    path.write_text(whole + '{"timestamp":"x","type":"response_it')
    loaded = load_session(path)
    assert loaded.truncated_line == len(whole.splitlines()) + 1
    assert len(loaded.messages) == 3
    writer = SessionWriter(path)
    writer.message({"role": "user", "content": "next"})
    writer.close()
    assert path.read_text() == whole + path.read_text().splitlines(keepends=True)[-1]
    assert load_session(path).messages[-1] == {"role": "user", "content": "next"}


@pytest.mark.parametrize(("content", "expected"), [
    ('{"type":"session_meta","payload":{"id":"a"}}\nnot json at all\n{"type":"x","payload":{}}\n',
     "line 2: corrupt session record (not valid JSON)"),
    ('{"type":"session_meta","payload":{"id":"a"}}\n[1, 2]\n', "line 2: corrupt session record (expected an"),
    ('{"type":"session_meta","payload":{"id":"a"}}\n{"type":"response_item","payload":{"x":1}}\n',
     "line 2: corrupt session record (a message without a role)"),
    ('{"type":"response_item","payload":{"role":"user"}}\n', "line 1: not an ocodex session file"),
    ("", "line 1: empty session file"),
])
def test_damaged_files_name_the_file_and_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "rollout.jsonl"
    path.write_text(content)
    with pytest.raises(SessionError) as info:
        load_session(path)
    assert info.value.message.startswith(f"{path}: {expected}")


def test_non_utf8_files_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(b'{"type":"session_meta"}\n\xff\xfe\n')
    with pytest.raises(SessionError, match="not UTF-8"):
        load_session(path)


def test_repair_answers_tool_calls_a_crash_left_open() -> None:
    call = {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]}
    done = {"role": "tool", "tool_call_id": "c1", "content": "ok"}
    history = [{"role": "user", "content": "go"}, call, done]
    repaired = repair_history(history)
    assert repaired[:3] == history
    assert repaired[3]["tool_call_id"] == "c2" and repaired[3]["content"].startswith("aborted")
    assert repair_history(repaired) == repaired  # idempotent
    complete = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "hi"}]
    assert repair_history(complete) == complete


def test_redaction_covers_known_values_url_passwords_and_bearer_tokens() -> None:
    secrets = provider_secrets({"Authorization": "Bearer tok-123456789", "X-Key": "abcd1234"},
                               {"MY_KEY": "env-secret-value"}, "MY_KEY", "https://u:pw-9876@host/v1")
    redactor = Redactor(secrets)
    record = {"a": ["tok-123456789 and abcd1234", {"b": "env-secret-value"}], "n": 3,
              "u": "see https://u:pw-9876@host/v1 and http://x:other@y/", "h": "Authorization: Bearer zzzzzzzzzzzz"}
    text = json.dumps(redactor.scrub(record))
    for secret in ("tok-123456789", "abcd1234", "env-secret-value", "pw-9876", "other", "zzzzzzzzzzzz"):
        assert secret not in text
    assert redactor.scrub(record)["n"] == 3
    assert Redactor(["ab"]).text("ab cab") == "ab cab"  # too short to be a secret worth masking


def test_find_by_id_prefix_and_newest_per_directory(tmp_path: Path) -> None:
    a = write_session(tmp_path, "01aa0000-first", cwd="/one")
    b = write_session(tmp_path, "01aa0000-second", cwd="/two")
    os.utime(a, (1_000_000, 1_000_000))
    assert find_session(tmp_path, "01aa0000-first") == a
    assert find_session(tmp_path, "01aa0000-s") == b
    with pytest.raises(SessionError, match="ambiguous"):
        find_session(tmp_path, "01aa0000")
    with pytest.raises(SessionError, match="no session with id"):
        find_session(tmp_path, "01aa")  # prefixes need 8 characters
    with pytest.raises(SessionError, match="no session with id"):
        find_session(tmp_path, "zzzzzzzzzz")
    assert find_session(tmp_path, str(a)) == a  # a path works too
    assert find_latest(tmp_path, Path("/one")) == a
    assert find_latest(tmp_path, None) == b
    assert find_latest(tmp_path, Path("/three")) is None
    assert [s.id for s in list_sessions(tmp_path)] == ["01aa0000-second", "01aa0000-first"]
    assert [s.first_prompt for s in list_sessions(tmp_path, cwd=Path("/one"))] == ["do it"]
    assert len(list_sessions(tmp_path, limit=1)) == 1


@pytest.mark.parametrize(("argv", "resume", "prompt"), [
    (["exec", "resume", "--last", "go on"], True, ["go on"]),
    (["exec", "resume", "ID", "go on"], True, ["ID", "go on"]),
    (["exec", "--json", "--image", "a.png", "resume", "ID"], True, ["ID"]),
    (["exec", "resume the work"], False, ["resume the work"]),
    (["exec", "--", "resume", "the", "work"], False, ["resume", "the", "work"]),
    (["exec", "--", "json", "hi"], False, ["json", "hi"]),
])
def test_the_resume_rule(argv: list[str], resume: bool, prompt: list[str]) -> None:
    args = parse_args(build_parser(), argv)
    assert args.resume is resume and args.prompt == prompt


def test_a_session_file_is_private_and_written_by_one_run_at_a_time(tmp_path: Path) -> None:
    path = write_session(tmp_path, "01aa-thread")
    assert path.stat().st_mode & 0o777 == 0o600
    first = SessionWriter(path)
    with pytest.raises(SessionError, match="in use by another ocodex run"):
        SessionWriter(path)
    first.close()
    SessionWriter(path).close()  # free again once the first run is done
