"""Unit level: what the model or a server controls is read safely, and no handler bug escapes as a traceback."""

from __future__ import annotations

import io
import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from ocodex.agent.prompt import load_agents_md
from ocodex.agent.textcalls import repair_arguments
from ocodex.events import AgentMessage, ItemCompleted, ItemIds
from ocodex.render.jsonl import JsonlRenderer
from ocodex.sandbox import SandboxPolicy
from ocodex.sessions import SessionWriter
from ocodex.tools.base import Tool, ToolContext, ToolResult
from ocodex.tools.registry import ToolRegistry


def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(cwd=tmp_path, policy=SandboxPolicy("read-only", tmp_path), emit=lambda e: None, ids=ItemIds())


def test_any_exception_from_a_handler_is_an_error_result(tmp_path: Path) -> None:
    def broken(args: dict, context: ToolContext) -> ToolResult:
        raise RuntimeError("the handler tripped over " + args["what"])

    registry = ToolRegistry([Tool("broken", "", {"type": "object"}, broken)])
    result = registry.call("broken", '{"what": "a NUL"}', ctx(tmp_path))
    assert not result.success
    assert result.output.startswith("error: broken failed: RuntimeError: the handler tripped over a NUL")

    def interrupted(args: dict, context: ToolContext) -> ToolResult:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C still stops the turn
        ToolRegistry([Tool("stop", "", {}, interrupted)]).call("stop", "{}", ctx(tmp_path))


def test_deep_and_unrepresentable_json_arguments_are_errors_not_crashes() -> None:
    assert repair_arguments("[" * 100_000 + "]" * 100_000) == ("{}", "the JSON is nested too deeply to read")
    text, problem = repair_arguments('{"timeout_ms": 1e999, "n": 1' + "0" * 400 + ', "x": NaN}')
    assert problem is None
    assert json.loads(text) == {"timeout_ms": 1.7976931348623157e308, "n": 1.7976931348623157e308, "x": None}


def test_session_writer_and_jsonl_keep_a_lone_surrogate_as_an_escape(tmp_path: Path) -> None:
    writer = SessionWriter(tmp_path / "s.jsonl")
    writer.write("event_msg", {"text": "bad \ud800 char", "sep": "a\u2028b"})
    writer.close()
    raw = (tmp_path / "s.jsonl").read_bytes()
    assert b"\\ud800" in raw and b"\\u2028" in raw
    assert json.loads(raw.decode("utf-8"))["payload"]["text"] == "bad \ud800 char"

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # strict, as stdout is
    JsonlRenderer(out, io.StringIO())(ItemCompleted(AgentMessage("item_0", "bad \ud800 char")))
    out.flush()
    line = out.buffer.getvalue().decode("utf-8")
    assert json.loads(line)["item"]["text"] == "bad \ud800 char"


def test_agents_md_is_read_only_up_to_the_cap(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    with open(repo / "AGENTS.md", "wb") as handle:  # 256 MiB, sparse: reading it whole is what must not happen
        handle.write(b"rule one\n")
        handle.truncate(256 << 20)
    tracemalloc.start()
    try:
        docs = load_agents_md(repo, tmp_path / "home", max_bytes=4096)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert docs is not None and docs.truncated and "rule one" in docs.text
    assert peak < 1 << 20, peak


def test_agents_md_and_images_that_are_fifos_are_not_waited_on(tmp_path: Path) -> None:
    from ocodex.attachments import image_data_url
    from ocodex.errors import UsageError

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    os.mkfifo(repo / "AGENTS.override.md")
    (repo / "AGENTS.md").write_text("the real rules\n")
    os.mkfifo(repo / "shot.png")
    outcome: dict[str, object] = {}

    def read() -> None:
        outcome["docs"] = load_agents_md(repo, tmp_path / "home")
        try:
            image_data_url(repo / "shot.png", "shot.png")
        except UsageError as exc:
            outcome["image"] = exc.message

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "blocked on a FIFO"
    assert outcome["image"] == "--image shot.png: not a file"
    docs = outcome["docs"]
    assert docs is not None and "the real rules" in docs.text  # type: ignore[attr-defined]


def test_tool_timeout_max_ms_is_a_positive_integer(tmp_path: Path) -> None:
    from ocodex.config import load_settings
    from ocodex.errors import ConfigError

    assert load_settings(home=tmp_path, overrides=[]).tool_timeout_max_ms == 3_600_000
    assert load_settings(home=tmp_path, overrides=["tool_timeout_max_ms=5000"]).tool_timeout_max_ms == 5000
    for bad in ("0", "-1", '"soon"', "1.5"):
        with pytest.raises(ConfigError, match="tool_timeout_max_ms"):
            load_settings(home=tmp_path, overrides=[f"tool_timeout_max_ms={bad}"])


def test_an_output_schema_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    from ocodex.errors import UsageError
    from ocodex.output_schema import load_output_schema

    os.mkfifo(tmp_path / "schema.json")
    outcome: dict[str, str] = {}

    def read() -> None:
        try:
            load_output_schema(tmp_path / "schema.json")
        except UsageError as exc:
            outcome["error"] = exc.message

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "blocked on a FIFO"
    assert outcome["error"].endswith("schema.json: not a regular file")
