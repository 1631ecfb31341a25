"""What the interactive face builds on, driven in process with the scripted model: the reply and a command's
output as they arrive, the diff of every edit, the per-turn snapshot behind `/undo`, the server's model list."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ocodex.config import Settings
from ocodex.errors import UsageError
from ocodex.events import CommandOutput, FileChange, ItemCompleted, Reconnecting, Streamed, TurnUndone
from ocodex.patch.apply import apply_patch
from ocodex.patch.parser import parse_patch
from ocodex.patch.undo import TurnSnapshot, shown_from
from ocodex.testing.scripted import ScriptedModel, Step
from ocodex.thread import Thread

pytestmark = pytest.mark.fast


class Face:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_event(self, event: Any) -> None:
        self.events.append(event)

    def approve(self, request: Any) -> str:
        return "no"

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def open_thread(scripted: ScriptedModel, work: Path, home: Path, face: Face, **values: Any) -> Thread:
    settings = Settings().changed("test", {"sandbox_mode": "danger-full-access", **values})
    return Thread.open(settings, cwd=work, home=home, face=face, server=scripted, ephemeral=True)


def patch(*lines: str) -> dict[str, str]:
    return {"input": "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"}


# ---- live pieces ---------------------------------------------------------------------------------

def test_reply_and_reasoning_arrive_as_streamed_pieces_before_the_item(work: Path, home: Path) -> None:
    face = Face()
    with open_thread(ScriptedModel(Step.say("The answer.", reasoning="Let me think.")), work, home, face) as thread:
        thread.run_turn("q")
    kinds = [type(e).__name__ for e in face.events]
    assert face.of(Streamed) == [Streamed("reasoning", "Let me think."), Streamed("text", "The answer.")]
    assert kinds.index("Streamed") < kinds.index("ItemCompleted")


def test_hidden_reasoning_is_not_streamed_either(work: Path, home: Path) -> None:
    face = Face()
    model = ScriptedModel(Step.say("The answer.", reasoning="secret thoughts"))
    with open_thread(model, work, home, face, hide_agent_reasoning=True) as thread:
        thread.run_turn("q")
    assert face.of(Streamed) == [Streamed("text", "The answer.")]


def test_a_compaction_summary_is_not_streamed_as_an_answer(work: Path, home: Path) -> None:
    face = Face()
    model = ScriptedModel(*(Step.say(f"answer {n} " + "x" * 2000) for n in range(4)), Step.say("SUMMARY"))
    with open_thread(model, work, home, face) as thread:
        for n in range(4):
            thread.run_turn(f"task {n}")
        assert thread.compact()
    assert "SUMMARY" not in "".join(piece.text for piece in face.of(Streamed))


def test_a_retried_stream_says_so_between_its_pieces(work: Path, home: Path) -> None:
    from ocodex.errors import StreamError

    face = Face()
    model = ScriptedModel(Step.fail(StreamError("the stream broke", retryable=True)), Step.say("whole"))
    with open_thread(model, work, home, face) as thread:
        thread.agent.sleep = lambda seconds: None
        thread.run_turn("q")
    assert [type(e) for e in face.events if isinstance(e, Streamed | Reconnecting)] == [Reconnecting, Streamed]


def test_command_output_arrives_while_the_command_runs(work: Path, home: Path) -> None:
    face = Face()
    script = "echo first; echo second"
    with open_thread(ScriptedModel(Step.call("shell", {"command": script}), Step.say("ok")), work, home,
                     face) as thread:
        thread.run_turn("run it")
    pieces = face.of(CommandOutput)
    [completed] = [e.item for e in face.of(ItemCompleted) if e.item.type == "command_execution"]
    assert pieces and {p.item_id for p in pieces} == {completed.id}
    assert "".join(p.text for p in pieces) == completed.aggregated_output == "first\nsecond\n"


# ---- diffs ---------------------------------------------------------------------------------------

def test_every_edit_carries_its_diff_with_relative_paths(work: Path, home: Path) -> None:
    (work / "src").mkdir()
    (work / "src" / "a.py").write_text("one\ntwo\n")
    face = Face()
    edit = patch("*** Update File: src/a.py", "@@", " one", "-two", "+three", "*** Add File: new.txt", "+hi")
    with open_thread(ScriptedModel(Step.call("apply_patch", edit), Step.say("ok")), work, home, face) as thread:
        thread.run_turn("edit")
    [change] = [e.item for e in face.of(ItemCompleted) if isinstance(e.item, FileChange)]
    assert "--- a/src/a.py\n+++ b/src/a.py\n" in change.diff and "-two\n+three\n" in change.diff
    assert "--- /dev/null\n+++ b/new.txt\n" in change.diff and "+hi\n" in change.diff
    assert str(work) not in change.diff
    assert "diff" not in change.to_dict()  # Codex's JSON has no such field


def test_a_binary_change_is_one_line_of_its_diff(work: Path) -> None:
    (work / "blob").write_bytes(b"\xff\x00\x01")
    snapshot = TurnSnapshot()
    from ocodex.tools.patch_preview import written_diff

    seen: list[str] = []
    apply_patch(parse_patch("*** Begin Patch\n*** Delete File: blob\n*** End Patch\n"), work,
                journal=lambda writes: seen.append(written_diff(writes, work)) or snapshot.record(writes))
    assert seen == ["--- a/blob\n+++ /dev/null\nBinary file blob changed\n"]
    snapshot.restore(shown_from(work))
    assert (work / "blob").read_bytes() == b"\xff\x00\x01"


# ---- undo ----------------------------------------------------------------------------------------

def test_undo_restores_exactly_the_files_the_last_turn_changed_and_tells_the_model(work: Path, home: Path) -> None:
    (work / "a.py").write_text("original\n")
    (work / "b.py").write_text("untouched by the agent\n")
    (work / "gone.txt").write_text("deleted by the turn\n")
    face = Face()
    model = ScriptedModel(
        Step.call("apply_patch", patch("*** Update File: a.py", "@@", "-original", "+first edit")),
        Step.call("apply_patch", patch("*** Update File: a.py", "@@", "-first edit", "+second edit",
                                       "*** Add File: pkg/new.py", "+x = 1", "*** Delete File: gone.txt")),
        Step.say("done"), Step.say("next"))
    with open_thread(model, work, home, face) as thread:
        thread.run_turn("edit things")
        (work / "b.py").write_text("the user's own edit\n")  # not the turn's: stays
        done = thread.undo()
        thread.run_turn("what now?")
    assert (work / "a.py").read_text() == "original\n"  # as before the turn, not after its first edit
    assert (work / "gone.txt").read_text() == "deleted by the turn\n"
    assert not (work / "pkg").exists()  # the added file, and the folder made for it
    assert (work / "b.py").read_text() == "the user's own edit\n"
    assert sorted(done.restored) == ["a.py", "gone.txt"] and done.removed == ("pkg/new.py",) and not done.skipped
    assert face.of(TurnUndone) == [done]
    told = model.requests[-1].messages[-2]
    assert told["role"] == "user" and "undid the file changes" in told["content"] and "a.py" in told["content"]
    assert not list(work.glob(".ocodex-*"))


@pytest.mark.parametrize("edit_format", ["whole", "replace"])
def test_the_small_models_edit_tools_show_a_diff_and_are_undone_too(edit_format: str, work: Path,
                                                                      home: Path) -> None:
    (work / "a.py").write_text("x = 1\n")
    call = (Step.call("write_file", {"path": "a.py", "content": "x = 2\n"}) if edit_format == "whole"
            else Step.call("replace", {"path": "a.py", "old": "x = 1", "new": "x = 2"}))
    face = Face()
    model = ScriptedModel(call, Step.call("write_file" if edit_format == "whole" else "replace",
                                          {"path": "new.py", "content": "y = 1\n"} if edit_format == "whole"
                                          else {"path": "a.py", "old": "x = 2", "new": "x = 3"}), Step.say("done"))
    with open_thread(model, work, home, face, edit_format=edit_format) as thread:
        thread.run_turn("edit")
        diffs = [e.item.diff for e in face.of(ItemCompleted) if isinstance(e.item, FileChange)]
        assert len(diffs) == 2 and diffs[0].startswith("--- a/a.py\n+++ b/a.py\n") and "-x = 1\n+x = 2" in diffs[0]
        assert str(work) not in "".join(diffs)  # relative paths
        done = thread.undo()
    assert (work / "a.py").read_text() == "x = 1\n" and not (work / "new.py").exists()
    assert "a.py" in done.restored


def test_undo_goes_back_one_turn_at_a_time(work: Path, home: Path) -> None:
    (work / "a.txt").write_text("0\n")
    model = ScriptedModel(Step.call("apply_patch", patch("*** Update File: a.txt", "@@", "-0", "+1")), Step.say("1"),
                          Step.call("apply_patch", patch("*** Update File: a.txt", "@@", "-1", "+2")), Step.say("2"),
                          Step.say("no edits"))
    with open_thread(model, work, home, Face()) as thread:
        for prompt in ("one", "two", "three"):
            thread.run_turn(prompt)
        assert thread.undo().text() == "undo: the last turn changed no files"
        thread.undo()
        assert (work / "a.txt").read_text() == "1\n"
        thread.undo()
        assert (work / "a.txt").read_text() == "0\n"
        assert thread.undo().restored == ()  # nothing older


def test_undo_never_writes_through_a_folder_the_model_replaced_by_a_link(work: Path, home: Path,
                                                                          tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.py").write_text("the user's file elsewhere\n")
    (work / "src").mkdir()
    (work / "src" / "a.py").write_text("old\n")
    model = ScriptedModel(Step.call("apply_patch", patch("*** Update File: src/a.py", "@@", "-old", "+new")),
                          Step.call("shell", {"command": "rm -r src && ln -s ../outside src"}), Step.say("ok"))
    with open_thread(model, work, home, Face()) as thread:
        thread.run_turn("edit, then swap the folder")
        assert (work / "src").is_symlink()
        done = thread.undo()
    assert done.restored == () and done.skipped[0][0] == "src/a.py" and "replaced" in done.skipped[0][1]
    assert (outside / "a.py").read_text() == "the user's file elsewhere\n"
    assert not list(outside.iterdir())[1:]  # no temp file left there either


def test_undo_replaces_a_planted_link_instead_of_following_it(work: Path, home: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (work / "a.py").write_text("old\n")
    model = ScriptedModel(Step.call("apply_patch", patch("*** Update File: a.py", "@@", "-old", "+new")),
                          Step.call("shell", {"command": f"rm a.py && ln -s {victim} a.py"}), Step.say("ok"))
    with open_thread(model, work, home, Face()) as thread:
        thread.run_turn("go")
        thread.undo()
    assert victim.read_text() == "keep me\n"
    assert not (work / "a.py").is_symlink() and (work / "a.py").read_text() == "old\n"


def test_undo_keeps_file_modes_and_is_refused_during_a_turn(work: Path, home: Path) -> None:
    (work / "run.sh").write_text("echo old\n")
    os.chmod(work / "run.sh", 0o750)
    with open_thread(ScriptedModel(Step.call("apply_patch", patch("*** Delete File: run.sh")), Step.say("ok")),
                     work, home, Face()) as thread:
        thread.run_turn("delete it")
        thread._running = True  # as while a turn runs
        with pytest.raises(UsageError, match="a turn is running"):
            thread.undo()
        thread._running = False
        thread.undo()
    assert (work / "run.sh").read_text() == "echo old\n" and (work / "run.sh").stat().st_mode & 0o777 == 0o750


def test_a_new_thread_has_nothing_to_undo(work: Path, home: Path) -> None:
    (work / "a.txt").write_text("0\n")
    model = ScriptedModel(Step.call("apply_patch", patch("*** Update File: a.txt", "@@", "-0", "+1")), Step.say("1"))
    with open_thread(model, work, home, Face()) as thread:
        thread.run_turn("edit")
        thread.new_thread()
        assert thread.undo().restored == ()
    assert (work / "a.txt").read_text() == "1\n"


# ---- the server's models -------------------------------------------------------------------------

def test_the_server_lists_its_models_and_a_switch_names_the_next_request(work: Path, home: Path) -> None:
    model = ScriptedModel(Step.say("one"), Step.say("two"), offers=["small:1b", "big:20b"], context_window=8192)
    with open_thread(model, work, home, Face(), model="small:1b") as thread:
        offered = thread.models()
        thread.run_turn("first")
        thread.switch_model("big:20b")
        thread.run_turn("second")
    assert offered is not None and [m.name for m in offered] == ["small:1b", "big:20b"]
    assert offered[0].context_length == 8192 and offered[0].capabilities == ("completion", "tools")
    assert model.models == ["small:1b", "big:20b"]
    assert ScriptedModel().connect(Settings(), lambda e: None).catalog is None


def test_undo_leaves_a_file_whose_folder_became_a_dangling_link(work: Path, home: Path) -> None:
    (work / "src").mkdir()
    (work / "src" / "a.py").write_text("old\n")
    model = ScriptedModel(Step.call("apply_patch", patch("*** Update File: src/a.py", "@@", "-old", "+new")),
                          Step.call("shell", {"command": "rm -r src && ln -s /nonexistent/place src"}), Step.say("ok"))
    with open_thread(model, work, home, Face()) as thread:
        thread.run_turn("go")
        done = thread.undo()
    assert done.skipped and done.skipped[0][0] == "src/a.py"
    assert not Path("/nonexistent").exists()


def test_a_reason_given_to_interrupt_is_not_what_a_later_ctrl_c_says(work: Path, home: Path) -> None:
    import signal
    import threading

    from ocodex.errors import TurnInterrupted

    def ctrl_c() -> None:
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    model = ScriptedModel(Step.stall(), Step.stall())
    face = Face()
    with open_thread(model, work, home, face) as thread:
        for action in (lambda: thread.interrupt("interrupted by the user (Esc)"), ctrl_c):
            model.on_request = lambda request, act=action: threading.Timer(0.2, act).start()
            with pytest.raises(TurnInterrupted):
                thread.run_turn("slow")
    failed = [e.message for e in face.events if type(e).__name__ == "TurnFailed"]
    assert failed == ["interrupted by the user (Esc)", "interrupted by the user"]
