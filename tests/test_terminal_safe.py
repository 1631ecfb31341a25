"""Nothing from a model, a session file or a server drives the terminal: `terminal_safe` and every print site."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ocodex.errors import OcodexError, report
from ocodex.events import (
    AgentMessage,
    CommandExecution,
    ConfigWarning,
    ErrorItem,
    FileChange,
    FileUpdate,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    PatchFailed,
    Reasoning,
    SessionResumed,
    StreamErrorEvent,
    ThreadStarted,
    TodoEntry,
    TodoList,
    TurnFailed,
)
from ocodex.render.human import HumanRenderer
from ocodex.render.safe import markup_safe, terminal_safe

# What a hostile model writes: a line erase after a carriage return, an OSC 52 clipboard write, a
# title change, a one-byte C1 CSI, bidi overrides and isolates, a zero-width space, a BOM.
HOSTILE = ("ok\r\x1b[2Krm -rf ~ \x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b]0;title\x1b\\ \x9b31m "
           "\u202eevil\u202c \u2066iso\u2069 zero\u200bwidth \ufeff bell\x07 del\x7f nul\x00 "
           "line\u2028sep")
# Characters that must never reach a terminal (other than newline and tab).
_BAD = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def suspect(text: str) -> list[str]:
    return [c for c in text if c not in "\n\t\u200c\u200d" and unicodedata.category(c) in _BAD]


# Every code point, lone surrogates included, with the characters that matter drawn more often.
_ODD = st.sampled_from(["\x1b", "\r", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\ufeff", "\u2028",
                        "\ud800", "\U000e0041"])


@given(st.text(alphabet=st.characters(exclude_categories=()) | _ODD))
def test_output_never_holds_a_control_or_bidi_character(text: str) -> None:
    assert suspect(terminal_safe(text)) == []


@given(st.text(alphabet=st.characters(categories=("L", "N", "P", "S", "Zs"))))
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert terminal_safe(text) == text


def test_each_oddity_is_shown_not_dropped() -> None:
    shown = terminal_safe(HOSTILE)
    assert shown.startswith("ok␍␛[2Krm -rf ~ ␛]52;c;")
    for visible in ("␇", "<U+009B>", "<U+202E>", "<U+202C>", "<U+2066>", "<U+2069>", "<U+200B>", "<U+FEFF>",
                    "␡", "␀", "<U+2028>"):
        assert visible in shown
    assert terminal_safe("tab\tand\nnewline stay; ZWJ too: 👩\u200d💻") == "tab\tand\nnewline stay; ZWJ too: 👩\u200d💻"
    assert terminal_safe("lone \ud800 surrogate") == "lone <U+D800> surrogate"


def test_rich_markup_in_model_text_is_escaped() -> None:
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200).print(markup_safe("[bold red]x[/] [link=file:///etc/passwd]y[/link]\x1b[2J"))
    assert out.getvalue() == "[bold red]x[/] [link=file:///etc/passwd]y[/link]␛[2J\n"


def _every_hostile_event(text: str) -> list:
    plan = TodoList("item_5", [TodoEntry(text, False)])
    return [
        PatchFailed(text), ConfigWarning(text), SessionResumed(text, 3, text), ThreadStarted(text),
        ItemCompleted(CommandExecution("item_7", text, status="declined")),
        ItemStarted(CommandExecution("item_0", text)),
        ItemCompleted(CommandExecution("item_0", text, f"{text}\n{text}\n", 1, "failed")),
        ItemCompleted(AgentMessage("item_1", text)),
        ItemCompleted(Reasoning("item_2", text)),
        ItemCompleted(FileChange("item_3", [FileUpdate(text, "add")], "completed")),
        ItemCompleted(ErrorItem("item_4", text)),
        ItemStarted(plan), ItemUpdated(TodoList("item_5", [TodoEntry(text, True)])),
        StreamErrorEvent(text), ItemCompleted(AgentMessage("item_6", text)), TurnFailed(text + "!"),
    ]


def test_the_human_renderer_shows_every_field_safely() -> None:
    for color in (False, True):
        out, err = io.StringIO(), io.StringIO()
        render = HumanRenderer(out, err, color=color)
        for event in _every_hostile_event(HOSTILE):
            render(event)
        render.final_message(HOSTILE)
        ours = re.compile(r"\x1b\[[0-9;]+m")  # the renderer's own colours
        text = ours.sub("", err.getvalue())
        assert suspect(text) == [], (color, suspect(text)[:5])
        assert "␍␛[2Krm -rf" in text and "␛]52;c;" in text
        assert text.count("<U+202E>") >= 10  # every field, shown
        # stdout is a pipe here: the answer is printed exactly, only lone surrogates would be replaced
        assert out.getvalue() == HOSTILE + "\n"


def test_a_final_answer_on_a_terminal_is_made_safe() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    HumanRenderer(out, io.StringIO(), color=False).final_message(HOSTILE)
    assert suspect(out.getvalue()) == [] and "␛]52" in out.getvalue()


def test_a_lone_surrogate_in_an_answer_on_a_pipe_is_replaced_not_a_crash() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    HumanRenderer(out, io.StringIO(), color=False).final_message("bad \ud800 char")
    out.flush()
    assert out.buffer.getvalue() == "bad \ufffd char\n".encode()


def test_error_reports_are_made_safe() -> None:
    err = io.StringIO()
    report(OcodexError(f"the server said: {HOSTILE}", hint=HOSTILE), err)
    assert suspect(err.getvalue()) == []
    assert err.getvalue().startswith("error: the server said: ok␍␛[2K")


def test_the_sessions_table_is_made_safe() -> None:
    from ocodex.commands.sessions import render_table
    from ocodex.sessions import SessionSummary

    summary = SessionSummary(id="0190\x1b[2J", path=Path("/s"), cwd="/w\u202e", model="m\x1b]52;c;AA\x07",
                             created="2025-01-01T00:00:00Z", updated="2025-01-01T00:00:00Z",
                             first_prompt="hi\x1b[31m")
    out = io.StringIO()
    render_table([summary], out)
    assert suspect(out.getvalue()) == [] and "␛]52;c;AA␇" in out.getvalue()


# ---- end to end: a scripted model through the real CLI ---------------------------------------------

def test_a_command_line_cannot_hide_what_really_runs(ocodex, fake) -> None:
    from fakes.fake_ollama import Turn

    step = {"step": "\x1b]52;c;cHduZWQ=\x07Inspect", "status": "pending"}
    fake.script(Turn.tool_call("shell", {"command": "echo really-ran\r\x1b[2Kls"}),
                Turn.tool_call("update_plan", {"plan": [step]}),
                Turn.text("done \x1b]0;title\x07"))
    run = ocodex("exec", "--oss", "say \x1b[31mhi")
    assert run.returncode == 0, run.stderr
    assert suspect(run.stderr) == [], suspect(run.stderr)
    assert "echo really-ran␍␛[2Kls" in run.stderr  # the hidden part is visible
    assert "␛]52;c;cHduZWQ=␇Inspect" in run.stderr  # no clipboard write
    assert "say ␛[31mhi" in run.stderr  # the prompt echo


def test_patch_paths_and_failures_are_shown_safely(ocodex, fake, repo) -> None:
    from fakes.fake_ollama import Turn

    add = "*** Begin Patch\n*** Add File: evil\x1b]0;t\x07.txt\n+x\n*** End Patch\n"
    bad = "*** Begin Patch\n*** Update File: gone\x1b[2J.txt\n@@\n-a\n+b\n*** End Patch\n"
    fake.script(Turn.tool_call("apply_patch", {"input": add}), Turn.tool_call("apply_patch", {"input": bad}),
                Turn.text("ok"))
    run = ocodex("exec", "--oss", "--full-auto", "go")
    assert run.returncode == 0, run.stderr
    assert (repo / "evil\x1b]0;t\x07.txt").read_text() == "x\n"
    assert suspect(run.stderr) == [], suspect(run.stderr)
    assert re.search(r"A \S*evil␛]0;t␇.txt", run.stderr) and "gone␛[2J.txt" in run.stderr


def test_server_error_bodies_are_shown_safely(ocodex, fake) -> None:
    from fakes.fake_ollama import Turn

    fake.script(Turn.error(400, "bad request \x1b]52;c;AAAA\x07\x1b[2J"))
    run = ocodex("exec", "--oss", "go")
    assert run.returncode == 1
    assert suspect(run.stderr) == [] and "bad request ␛]52;c;AAAA␇␛[2J" in run.stderr
    fake.pull_error = "pull failed \x1b]0;t\x07"
    pulled = ocodex("exec", "--oss", "-m", "qwen3:8b", "go")
    assert pulled.returncode == 1
    assert suspect(pulled.stderr) == [] and "pull failed ␛]0;t␇" in pulled.stderr


def test_resume_recap_and_sessions_table_are_shown_safely(ocodex, fake) -> None:
    from fakes.fake_ollama import Turn

    fake.script(Turn.text("answer \x1b]52;c;QUJD\x07 \u202eevil"))
    run = ocodex("exec", "--oss", "prompt \x1b[2J here")
    assert run.returncode == 0, run.stderr
    listing = ocodex("sessions")
    assert listing.returncode == 0, listing.stderr
    assert suspect(listing.stdout) == [] and "prompt ␛[2J here" in listing.stdout
    resumed = ocodex("resume", "--last")
    assert resumed.returncode == 0, resumed.stderr
    assert "last exchange" in resumed.stderr
    assert suspect(resumed.stderr) == [] and "answer ␛]52;c;QUJD␇ <U+202E>evil" in resumed.stderr


def test_server_fields_in_models_show_and_doctor_are_shown_safely(ocodex, fake) -> None:
    fake.capabilities = {"gpt-oss:20b": ["completion", "tools", "[bold red]pwn[/]\x1b]52;c;AA\x07"]}
    fake.version = "0.13.4\x1b[2J"
    for command in (["models"], ["show", "gpt-oss:20b"], ["doctor"]):
        run = ocodex(*command)
        assert suspect(run.stdout + run.stderr) == [], (command, run.stdout, run.stderr)
        if command != ["doctor"]:
            assert run.returncode == 0, run.stderr
            assert "[bold red]pwn[/]␛]52;c;AA␇" in run.stdout  # literally: no markup, no escape
    assert "0.13.4␛[2J" in ocodex("doctor").stdout
