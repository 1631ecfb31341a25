"""The session file format: writing, reading back, repairing a crashed history, redaction, finding, and the
`exec resume` argument rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ocodex import redact
from ocodex.cli import build_parser, parse_args
from ocodex.events import AgentMessage, ConfigWarning, ItemCompleted, TurnCompleted, Usage
from ocodex.sessions import (
    SessionError,
    SessionMeta,
    SessionWriter,
    find_latest,
    find_session,
    list_sessions,
    load_session,
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
    writer.event(ConfigWarning("for people"))
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


def test_redaction_covers_known_values_url_passwords_and_bearer_tokens(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact, "_secrets", set())  # the process-wide registry, fresh for this test
    # What `connection.connect` registers for a provider: auth header values, the env_key value, URL passwords.
    redact.register_headers({"Authorization": "Bearer tok-123456789", "X-Key": "abcd1234", "X-Org": "acme-org"})
    redact.register_secret("env-secret-value")
    redact.split_credentials("https://u:pw-9876@host/v1")
    redact.register_secret("ab")
    record = {"a": ["tok-123456789 and abcd1234", {"b": "env-secret-value"}], "n": 3, "short": "ab cab",
              "org": "acme-org", "u": "see https://u:pw-9876@host/v1 and http://x:other@y/",
              "h": "Authorization: Bearer zz9zzzzzzzzz"}
    writer = SessionWriter.create(tmp_path, meta("01aa-secret"))
    writer.write("event_msg", record)
    writer.close()
    text = writer.path.read_text()
    for secret in ("tok-123456789", "abcd1234", "env-secret-value", "pw-9876", "other", "zz9zzzzzzzzz"):
        assert secret not in text
    payload = json.loads(text.splitlines()[-1])["payload"]
    assert payload["n"] == 3
    assert payload["short"] == "ab cab"  # too short to be a secret worth masking
    assert payload["org"] == "acme-org"  # a header that does not authenticate stays readable


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
    with pytest.raises(SessionError, match="no session with id") as info:
        find_session(tmp_path, "zzzzzzzzzz")
    suggested = (info.value.hint or "").split("`")[1].split()  # the command the hint suggests exists
    assert suggested[0] == "ocodex" and parse_args(build_parser(), suggested[1:]).command == "sessions"
    assert "exec" not in (info.value.hint or "")  # `ocodex resume` and `ocodex exec resume` both say it
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


def test_a_compaction_record_replaces_the_history_read_so_far(tmp_path: Path) -> None:
    path = write_session(tmp_path, "01aa-compact")
    summary = [{"role": "system", "content": "sys"}, {"role": "user", "content": "do it"},
               {"role": "user", "content": "SUMMARY of the work"}]
    writer = SessionWriter(path)
    writer.compacted(summary)
    writer.message({"role": "assistant", "content": "after"})
    writer.close()
    assert load_session(path).messages == [*summary, {"role": "assistant", "content": "after"}]

    path.write_text(path.read_text() + '{"timestamp":"x","type":"compacted","payload":{"replacement_history":"x"}}\n')
    with pytest.raises(SessionError, match=r"line \d+: corrupt session record \(a compaction"):
        load_session(path)


@pytest.mark.parametrize(("record", "what"), [
    ({"type": "event_msg", "payload": {"type": "turn.completed", "usage": {"input_tokens": "many"}}},
     "token usage that is not a number"),
    ({"type": "event_msg", "payload": {"type": "turn.completed", "usage": {"output_tokens": [1]}}},
     "token usage that is not a number"),
    ({"type": "response_item", "payload": {"role": "assistant", "tool_calls": 5}}, "tool_calls are not a list"),
])
def test_well_formed_json_with_wrong_values_is_a_corrupt_record_not_a_crash(tmp_path: Path, record: dict,
                                                                            what: str) -> None:
    path = write_session(tmp_path, "01aa-values")
    path.write_text(path.read_text() + json.dumps({"timestamp": "x", **record}) + "\n")
    number = len(path.read_text().splitlines())
    with pytest.raises(SessionError, match=rf"line {number}: corrupt session record \(.*{what}"):
        load_session(path)


def test_an_unwritable_sessions_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sessions").write_text("a file where the directory should be")
    with pytest.raises(SessionError, match=r"cannot write session file .*: Not a directory") as info:
        SessionWriter.create(tmp_path, meta("01aa-nodir"))
    assert "--ephemeral" in (info.value.hint or "")


def test_a_failed_write_is_reported_once_and_recording_stops(tmp_path: Path) -> None:
    writer = SessionWriter.create(tmp_path, meta("01aa-full"))

    class FullDisk:
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            pass

    real = writer._file
    writer._file = FullDisk()  # type: ignore[assignment]
    with pytest.raises(SessionError, match="No space left on device"):
        writer.message({"role": "user", "content": "lost"})
    writer.message({"role": "user", "content": "ignored"})  # no second error, no traceback
    writer.close()
    assert real is not None
    real.close()
    assert [r["type"] for r in map(json.loads, writer.path.read_text().splitlines())] == ["session_meta"]


def test_resuming_reads_the_file_again_once_it_holds_the_lock(tmp_path: Path) -> None:
    """A run that loaded the thread while another run still wrote it continues from the newest history."""
    from ocodex.thread.recording import Recorder, RunInfo

    path = write_session(tmp_path, "01aa-race")
    stale = load_session(path)
    other = SessionWriter(path)  # the other run, finishing its turn after we read the file
    other.message({"role": "user", "content": "later"})
    other.message({"role": "assistant", "content": "later answer"})
    other.close()

    class StubAgent:
        def __init__(self) -> None:
            self.messages: list[dict] = [{"role": "system", "content": "sys"}]
            self.usage = Usage()
            self.on_message = self.on_compact = None

        def add_message(self, message: dict) -> None:
            self.messages.append(message)

        def resume_from(self, history: list[dict], prompts: list[str]) -> None:
            self.messages[:] = history

    agent = StubAgent()
    recorder = Recorder(tmp_path)
    recorder.begin(agent, RunInfo("01aa-race", Path("/work"), "m", "oss"), stale, lambda event: None)
    recorder.close()
    assert agent.messages[-2:] == [{"role": "user", "content": "later"},
                                   {"role": "assistant", "content": "later answer"}]
