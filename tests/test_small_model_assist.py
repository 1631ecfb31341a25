"""The small-model profile in the loop, driven by the in-process scripted model: the task's files shown with
the prompt, whole files written from the answer's text, the named check run after each edit (its result
ending the turn or going back to the model), nudges, and the one rule for calls written as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocodex.agent.assist import NUDGE_CODE
from ocodex.agent.checks import MAX_CHECK_ROUNDS
from ocodex.config import Settings
from ocodex.events import AgentMessage, CommandExecution, FileChange, SessionConfigured
from ocodex.testing.scripted import ScriptedModel, Step
from ocodex.thread import Thread
from test_thread import Face

pytestmark = pytest.mark.fast

SMALL = "qwen2.5-coder:1.5b"
STUB = 'def slugify(text):\n    """Lower-case words joined by dashes."""\n    raise NotImplementedError\n'
GOOD = "def slugify(text):\n    return '-'.join(text.lower().split())\n"
CHECK = "import sys\nfrom slug import slugify\nsys.exit(0 if slugify('A b') == 'a-b' else 1)\n"
PROMPT = "Implement `slugify` in slug.py. Check your work with `python3 check.py`."


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    (path / "slug.py").write_text(STUB)
    (path / "check.py").write_text(CHECK)
    (path / "README.md").write_text("A slug library.\n")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def run(work: Path, home: Path, *steps: Step, model: str = SMALL, prompt: str = PROMPT,
        **values: Any) -> tuple[Any, ScriptedModel, Face]:
    scripted = ScriptedModel(*steps, capabilities=None, context_window=8192)
    face = Face()
    chosen = Settings().changed("test", {"sandbox_mode": "danger-full-access", "model": model, **values})
    with Thread.open(chosen, cwd=work, home=home, face=face, server=scripted) as thread:
        result = thread.run_turn(prompt)
    return result, scripted, face


def sent(model: ScriptedModel, index: int) -> str:
    return json.dumps(model.requests[index].messages)


def test_a_whole_file_in_the_answer_is_written_and_the_passing_check_ends_the_turn(work: Path, home: Path) -> None:
    result, model, face = run(work, home, Step.say(f"Here it is.\n\nslug.py\n```python\n{GOOD}```\n"))
    assert (work / "slug.py").read_text() == GOOD
    assert len(model.requests) == 1  # no request after the check passed
    assert result.ok and result.final_message == "Here it is.\n\n`python3 check.py` passed."
    # the check runs before any change (its failure goes with the files) and after the edit
    assert [c.command for c in face.items(CommandExecution)] == ["bash -c 'python3 check.py'"] * 2
    assert face.items(FileChange)[0].changes[0].kind == "update"
    configured = face.of(SessionConfigured)[0]
    assert configured.edit_format == "whole"
    # the small prompt, without tool specs; the task's file shown after the prompt
    request = model.requests[0]
    assert request.tools == []
    assert "complete new content" in request.messages[0]["content"]
    assert request.messages[-2]["content"] == PROMPT
    shown = request.messages[-1]["content"]
    assert shown.startswith("The files this task is about") and STUB.strip() in shown
    assert "check.py\n```python\n" in shown  # named by the check command
    # a workspace this small is shown whole
    readme = "README.md\n```markdown\nA slug library.\n```\n\n"
    assert readme + "`python3 check.py` before any change: it fails (exit code 1)." in shown
    assert "NotImplementedError" in shown and shown.endswith("Do not write out the files you do not change.")


def test_a_failing_check_goes_back_to_the_model_with_its_output(work: Path, home: Path) -> None:
    wrong = "def slugify(text):\n    print('oops')\n    return text\n"
    result, model, _face = run(work, home, Step.say(f"slug.py\n```python\n{wrong}```"),
                              Step.say(f"slug.py\n```python\n{GOOD}```"))
    assert len(model.requests) == 2
    feedback = model.requests[1].messages[-1]["content"]
    assert "ocodex ran `python3 check.py` after your edit: it failed (exit code 1)" in feedback
    assert "oops" in feedback and "complete new content" in feedback
    assert result.ok and "`python3 check.py` passed." in result.final_message
    assert (work / "slug.py").read_text() == GOOD


def test_a_check_that_keeps_failing_ends_the_turn_and_says_so(work: Path, home: Path) -> None:
    wrongs = [f"slug.py\n```python\ndef slugify(text):\n    return {n}\n```" for n in range(MAX_CHECK_ROUNDS + 2)]
    result, model, _face = run(work, home, *map(Step.say, wrongs))
    assert len(model.requests) == MAX_CHECK_ROUNDS
    assert result.ok and f"`python3 check.py` still fails after {MAX_CHECK_ROUNDS} attempts" in result.final_message
    # the first attempt gets a repair round, every later one is a fresh sample with a seed of its own
    openings = [request.messages[-1]["content"] for request in model.requests]
    assert [opening.startswith("The files this task is about") for opening in openings] == \
        [True, False, *[True] * (MAX_CHECK_ROUNDS - 2)]
    seeds = [request.seed for request in model.requests]
    assert seeds[:2] == [None, None] and len(set(seeds[2:])) == MAX_CHECK_ROUNDS - 2 and None not in seeds[2:]
    assert [request.temperature for request in model.requests[2:]] == [0.6, 0.7, 0.8, 0.9][:MAX_CHECK_ROUNDS - 2]


def test_an_answer_that_changes_nothing_twice_while_the_check_fails_starts_a_fresh_attempt(
        work: Path, home: Path) -> None:
    no = Step.say("The code is correct as it is; no changes are needed.")
    result, model, _face = run(work, home, no, no, Step.say(f"slug.py\n```python\n{GOOD}```"))
    assert result.ok and (work / "slug.py").read_text() == GOOD
    assert model.requests[1].messages[-1]["content"] == NUDGE_CODE  # the nudge first
    fresh = model.requests[2].messages
    assert fresh[-2]["content"] == PROMPT and "The answer changed nothing more" in fresh[-1]["content"]
    assert "NotImplementedError" in fresh[-1]["content"]  # the check's failure goes with the hint
    assert model.requests[2].seed is not None


def test_an_answer_with_only_the_changed_function_is_spliced_into_its_file(work: Path, home: Path) -> None:
    (work / "slug.py").write_text("import string\n\nSEP = '-'\n\n\n" + STUB + "\n\ndef other():\n    return SEP\n")
    fragment = "import re\n\ndef slugify(text):\n    return SEP.join(re.findall(r'\\w+', text.lower()))\n"
    result, _model, _face = run(work, home, Step.say(f"```python\n{fragment}```"))
    assert result.ok and "`python3 check.py` passed." in result.final_message
    text = (work / "slug.py").read_text()
    assert text.startswith("import string\nimport re\n\nSEP = '-'\n") and "def other():" in text
    assert "NotImplementedError" not in text and "SEP.join(re.findall" in text


def test_an_unnamed_block_goes_to_the_shown_file_only_when_it_is_plainly_that_file(work: Path, home: Path) -> None:
    result, model, _face = run(work, home, Step.say(f"```python\n{GOOD}```"))
    assert (work / "slug.py").read_text() == GOOD and result.ok

    (work / "slug.py").write_text(STUB + "\n\ndef other():\n    return 1\n")
    # drops other() and defines a name the file does not: neither the whole file nor a fragment of it
    snippet = "```python\ndef slugify(text):\n    return helper(text)\n\ndef helper(text):\n    return text\n```"
    result, model, _face = run(work, home, Step.say(snippet), Step.say("I could not do it."),
                               prompt="Implement `slugify` in slug.py.")
    assert (work / "slug.py").read_text() == STUB + "\n\ndef other():\n    return 1\n"
    assert "No file was changed." in model.requests[1].messages[-1]["content"]  # one nudge, then the answer
    assert result.final_message == "I could not do it."


def test_an_empty_answer_gets_one_nudge_for_any_model(work: Path, home: Path) -> None:
    result, model, _face = run(work, home, Step.say(""), Step.say("Done."), model="gpt-oss:20b", prompt="hi")
    assert result.ok and result.final_message == "Done."
    assert model.requests[1].messages[-1] == {"role": "user",
                                             "content": "Your reply was empty. Continue with the task."}
    result, _model, _face = run(work, home, Step.say(""), Step.say(""), model="gpt-oss:20b", prompt="hi")
    assert not result.ok and "empty answer" in (result.error or "")


def test_a_call_to_a_tool_the_model_was_not_offered_is_answered_not_taken_as_the_answer(
        work: Path, home: Path) -> None:
    plan = '```json\n{"name": "update_plan", "arguments": {"plan": []}}\n```'
    result, model, _face = run(work, home, Step.say(plan), Step.say(f"slug.py\n```python\n{GOOD}```"))
    assert "update_plan" in model.requests[1].messages[-1]["content"]
    assert "unknown tool" in model.requests[1].messages[-1]["content"].lower()
    assert result.ok and (work / "slug.py").read_text() == GOOD


def test_a_native_tools_model_runs_a_reply_that_is_only_a_call_but_not_a_quoted_one(work: Path, home: Path) -> None:
    only = '```json\n{"name": "shell", "arguments": {"command": ["touch", "made"]}}\n```'
    quoted = 'You could run this:\n{"name": "shell", "arguments": {"command": ["touch", "quoted"]}}\n\nBut I did not.'
    result, model, face = run(work, home, Step.say(only), Step.say(quoted), model="gpt-oss:20b", prompt="go")
    assert (work / "made").exists() and not (work / "quoted").exists()
    assert model.requests[1].messages[-2]["tool_calls"][0]["function"]["name"] == "shell"
    assert result.final_message == quoted
    assert [m.text for m in face.items(AgentMessage)] == [quoted]


def test_the_gpt_oss_profile_keeps_codex_tools_and_shows_no_files(work: Path, home: Path) -> None:
    _result, model, face = run(work, home, Step.say("ok"), model="gpt-oss:20b")
    names = [tool.name for tool in model.requests[0].tools]
    assert names == ["shell", "apply_patch", "update_plan"]
    assert model.requests[0].messages[-1]["content"] == PROMPT and STUB not in sent(model, 0)
    assert face.of(SessionConfigured)[0].edit_format == "apply_patch"


@pytest.mark.parametrize("edit_format", ["replace", "whole", "apply_patch"])
def test_edit_format_from_config_picks_the_edit_tool(work: Path, home: Path, edit_format: str) -> None:
    _result, model, face = run(work, home, Step.say("ok"), model="gpt-oss:20b", edit_format=edit_format)
    names = [tool.name for tool in model.requests[0].tools]
    tool = {"replace": "replace", "whole": "write_file", "apply_patch": "apply_patch"}[edit_format]
    assert names[1] == tool and face.of(SessionConfigured)[0].edit_format == edit_format
    assert f"`{tool}`" in model.requests[0].messages[0]["content"]
    assert "some_function" not in sent(model, 0) and "def main" not in sent(model, 0)


def test_replace_shows_the_closest_lines_when_the_old_text_is_not_there(work: Path, home: Path) -> None:
    bad = {"path": "slug.py", "old": "    raise NotImplementedErr\n", "new": "    return text\n"}
    good = {"path": "slug.py", "old": "raise NotImplementedError", "new": "return text"}
    _result, model, face = run(work, home, Step.call("replace", bad), Step.call("replace", good), Step.say("done"),
                               model="gpt-oss:20b", edit_format="replace", prompt="go")
    error = model.requests[1].messages[-1]["content"]
    assert "the old text was not found in slug.py" in error and "3 |     raise NotImplementedError" in error
    assert (work / "slug.py").read_text().endswith("    return text\n")
    assert len(face.items(FileChange)) == 1


def test_write_file_refuses_protected_paths_and_read_only(work: Path, home: Path) -> None:
    (work / ".git").mkdir()
    call = Step.call("write_file", {"path": ".git/config", "content": "x"})
    _result, model, _face = run(work, home, call, Step.say("done"), model="gpt-oss:20b", edit_format="whole",
                                sandbox_mode="workspace-write", prompt="go")
    assert "read-only in the workspace-write sandbox" in model.requests[1].messages[-1]["content"]
    assert not (work / ".git" / "config").exists()
    call = Step.call("write_file", {"path": "new.txt", "content": "x"})
    _result, model, _face = run(work, home, call, Step.say("done"), model="gpt-oss:20b", edit_format="whole",
                                sandbox_mode="read-only", prompt="go")
    assert "read-only" in model.requests[1].messages[-1]["content"] and not (work / "new.txt").exists()


def test_a_shown_file_written_back_with_only_its_layout_changed_is_left_alone(work: Path, home: Path) -> None:
    (work / "test_slug.py").write_text("from slug import slugify\n\n\ndef test_it():\n    assert slugify('A b')\n")
    prompt = "Implement `slugify` in slug.py; test_slug.py has the tests. Check with `python3 check.py`."
    same = "from slug import slugify\n\ndef test_it():\n    assert slugify('A b')   \n"
    result, _model, face = run(work, home, Step.say(f"slug.py\n```python\n{GOOD}```\n\ntest_slug.py\n```python\n"
                                                    f"{same}```"), prompt=prompt)
    assert result.ok and (work / "test_slug.py").read_text().count("\n\n\n") == 1
    assert [change.path for item in face.items(FileChange) for change in item.changes] == [str(work / "slug.py")]


def test_files_written_back_unchanged_start_afresh_even_when_the_check_passes(work: Path, home: Path) -> None:
    (work / "slug.py").write_text(GOOD)
    (work / "check.py").write_text("import slug\n")  # passes before and after: "check it still works"
    renamed = GOOD.replace("def slugify", "def make_slug")
    same = Step.say(f"slug.py\n```python\n{GOOD}```")
    result, model, _face = run(work, home, same, Step.say(f"slug.py\n```python\n{renamed}```"),
                               prompt="Rename `slugify` in slug.py to `make_slug`. Check with `python3 check.py`.")
    assert (work / "slug.py").read_text() == renamed and result.ok
    fresh = model.requests[1]
    assert fresh.messages[-2]["content"].startswith("Rename")
    assert "written back exactly as they were, so nothing was done" in fresh.messages[-1]["content"]
    assert fresh.seed is not None
    # words alone with a passing check (a question, not an edit) end the turn after the one nudge
    result, model, _face = run(work, home, Step.say("It works."), Step.say("Yes, it passes."),
                               prompt="Does `python3 check.py` pass?")
    assert len(model.requests) == 2 and result.final_message == "Yes, it passes."


def test_the_same_file_again_ends_the_turn_once_the_check_passed_or_without_a_check(work: Path, home: Path) -> None:
    answer = Step.say(f"slug.py\n```python\n{GOOD}```")
    result, model, _face = run(work, home, answer, answer, prompt="Implement `slugify` in slug.py.")
    assert len(model.requests) == 2 and result.ok and result.final_message == "Done."


def test_the_same_failing_file_again_ends_the_attempt_and_a_fresh_one_starts(work: Path, home: Path) -> None:
    wrong = Step.say("slug.py\n```python\ndef slugify(text):\n    return text\n```")
    result, model, _face = run(work, home, wrong, wrong, Step.say(f"slug.py\n```python\n{GOOD}```"))
    fresh = model.requests[2]
    assert fresh.messages[-2]["content"] == PROMPT and fresh.seed is not None and fresh.temperature == 0.6
    assert "The same files were sent again, and the check still failed:" in fresh.messages[-1]["content"]
    assert result.ok and "`python3 check.py` passed." in result.final_message


def test_a_nudge_follows_the_answer_as_the_model_wrote_it(work: Path, home: Path) -> None:
    same = f"Here.\n\nslug.py\n```python\n{STUB}```"
    _result, model, _face = run(work, home, Step.say(same), Step.say(f"slug.py\n```python\n{GOOD}```"),
                                prompt="Implement `slugify` in slug.py.")
    assert model.requests[1].messages[-2] == {"role": "assistant", "content": same}  # its block included
    assert model.requests[1].messages[-1]["content"].startswith("Those files are exactly as they are now")


def test_the_input_a_check_command_reads_is_not_rewritten_unless_the_prompt_names_it(work: Path, home: Path) -> None:
    (work / "lines.py").write_text("import sys\nprint(open(sys.argv[1]).read().upper(), end='')\n")
    (work / "notes.txt").write_text("first\nsecond\n")
    prompt = "Make lines.py print the file's lines in lower case. Try it with `python3 lines.py notes.txt`."
    good = "import sys\nprint(open(sys.argv[1]).read().lower(), end='')\n"
    result, model, _face = run(work, home, Step.say("notes.txt\n```text\nFIRST\nSECOND\n```"),
                               Step.say(f"lines.py\n```python\n{good}```"), prompt=prompt)
    assert (work / "notes.txt").read_text() == "first\nsecond\n" and result.ok
    assert "notes.txt not written: the check runs on it as it is" in model.requests[1].messages[-1]["content"]
    assert (work / "lines.py").read_text() == good  # the script the command runs is the task's: written
    run(work, home, Step.say("notes.txt\n```text\nthird\n```"), prompt="Add a third line to notes.txt, then "
        "check with `python3 lines.py notes.txt`.")
    assert (work / "notes.txt").read_text() == "third\n"  # named outside the command: the task's to change


def test_rewriting_guarded_files_again_and_again_ends_the_attempt(work: Path, home: Path) -> None:
    (work / "test_slug.py").write_text("from slug import slugify\n\n\ndef test_it():\n"
                                       "    assert slugify('A b') == 'a-b'\n")
    cheat = Step.say("test_slug.py\n```python\nfrom slug import slugify\n\n\ndef test_it():\n    assert True\n```")
    result, model, _face = run(work, home, cheat, cheat, Step.say(f"slug.py\n```python\n{GOOD}```"),
                               prompt="Implement `slugify` in slug.py. Check with `python3 -m pytest -q`.")
    assert result.ok and (work / "slug.py").read_text() == GOOD and len(model.requests) == 3
    assert "The answer rewrote test_slug.py again instead of the code" in model.requests[2].messages[-1]["content"]


def test_a_test_the_task_is_checked_with_is_not_rewritten_unless_the_prompt_names_it(work: Path, home: Path) -> None:
    (work / "test_slug.py").write_text("from slug import slugify\n\n\ndef test_it():\n"
                                       "    assert slugify('A b') == 'a-b'\n")
    prompt = "Implement `slugify` in slug.py. Check with `python3 -m pytest -q`."
    cheat = "from slug import slugify\n\n\ndef test_it():\n    assert True\n"
    result, model, _face = run(work, home, Step.say(f"test_slug.py\n```python\n{cheat}```"),
                               Step.say(f"slug.py\n```python\n{GOOD}```"), prompt=prompt)
    told = model.requests[1].messages[-1]["content"]
    assert "test_slug.py not written: the check runs on it as it is" in told
    assert "'a-b'" in (work / "test_slug.py").read_text() and result.ok
    named = "Implement `slugify` in slug.py and add a test to test_slug.py. Check with `python3 -m pytest -q`."
    run(work, home, Step.say(f"test_slug.py\n```python\n{cheat}```\n\nslug.py\n```python\n{GOOD}```"), prompt=named)
    assert "assert True" in (work / "test_slug.py").read_text()


def test_two_failing_checks_start_a_fresh_attempt_from_the_original_files(work: Path, home: Path) -> None:
    wrong = [Step.say(f"slug.py\n```python\ndef slugify(text):\n    return {n!r}\n```") for n in ("x", "y")]
    result, model, face = run(work, home, *wrong, Step.say(f"slug.py\n```python\n{GOOD}```"))
    assert len(model.requests) == 3 and result.ok
    fresh = model.requests[2].messages
    assert fresh[-2]["content"] == PROMPT  # the conversation is back at the task
    opening = fresh[-1]["content"]
    assert STUB.strip() in opening and "return 'y'" not in opening  # shown the original file, not its attempt
    assert "An earlier attempt at this task failed; `python3 check.py` said:" in opening
    writes = [change.path for item in face.items(FileChange) for change in item.changes]
    assert writes == [str(work / "slug.py")] * 4  # x, y, the original put back, the answer
    assert (work / "slug.py").read_text() == GOOD


def test_files_written_back_unchanged_while_the_check_fails_start_a_fresh_attempt_with_sampling(
        work: Path, home: Path) -> None:
    same = Step.say(f"slug.py\n```python\n{STUB}```")
    result, model, _face = run(work, home, same, Step.say(f"slug.py\n```python\n{GOOD}```"))
    assert result.ok and (work / "slug.py").read_text() == GOOD
    assert "The files were written back unchanged" in model.requests[1].messages[-1]["content"]
    assert (model.requests[0].temperature, model.requests[1].temperature) == (None, 0.6)


def test_a_small_model_gets_the_sandbox_in_one_sentence(work: Path, home: Path) -> None:
    _result, model, _face = run(work, home, Step.say("ok"), sandbox_mode="read-only", prompt="hi")
    system = model.requests[0].messages[0]["content"]
    assert system.endswith("Files cannot be changed here (a read-only sandbox): say which change you would make.")
    assert "writable_roots" not in system and len(system.encode()) < 700


CONVERT = ("import argparse\n\n\ndef main():\n    parser = argparse.ArgumentParser()\n"
           "    parser.add_argument('f', type=float)\n{extra}    args = parser.parse_args()\n"
           "    print(f'{{(args.f - 32) * 5 / 9:.{digits}f}}')\n\n\nmain()\n")
PRECISION = "    parser.add_argument('--precision', type=int, default=1)\n"


def test_what_the_prompt_says_the_check_must_print_is_part_of_the_check(work: Path, home: Path) -> None:
    (work / "convert.py").write_text(CONVERT.format(extra="", digits="1"))
    prompt = "Add `--precision N` to convert.py. `python3 convert.py 100 --precision 3` must print `37.778`."
    ignored = CONVERT.format(extra=PRECISION, digits="1")  # accepts the option, exits 0, prints 37.8
    right = CONVERT.format(extra=PRECISION, digits="{args.precision}")
    result, model, _face = run(work, home, Step.say(f"convert.py\n```python\n{ignored}```"),
                               Step.say(f"convert.py\n```python\n{right}```"), prompt=prompt)
    assert "`python3 convert.py 100 --precision 3` before any change: it fails (exit code 2)" in \
        model.requests[0].messages[-1]["content"]
    feedback = model.requests[1].messages[-1]["content"]
    assert ("after your edit: it failed (exit code 0, but the output is not `37.778` as the task says)" in feedback
            and "37.8" in feedback)
    assert result.ok and result.final_message.endswith("passed and printed `37.778`.")
    assert "{args.precision}" in (work / "convert.py").read_text()
    # an attempt that only ever prints the wrong thing is a failed one: its hint says why
    (work / "convert.py").write_text(CONVERT.format(extra="", digits="1"))
    result, model, _face = run(work, home, *[Step.say(f"convert.py\n```python\n{ignored}```")] * 2,
                               Step.say(f"convert.py\n```python\n{right}```"), prompt=prompt)
    hint = model.requests[2].messages[-1]["content"]
    assert "An earlier attempt at this task failed" in hint and "it failed (exit code 0, but the output" in hint
    assert result.ok and "{args.precision}" in (work / "convert.py").read_text()


def test_a_task_that_adds_an_option_keeps_what_the_program_does_without_it(work: Path, home: Path) -> None:
    (work / "convert.py").write_text(CONVERT.format(extra="", digits="1"))
    prompt = "Add an option `--precision N` to convert.py (default 1). Try `python3 convert.py 100 --precision 3`."
    always = CONVERT.format(extra=PRECISION, digits="3")  # passes the check, but the default is now 3 decimals
    right = CONVERT.format(extra=PRECISION, digits="{args.precision}")
    result, model, face = run(work, home, Step.say(f"convert.py\n```python\n{always}```"),
                              Step.say(f"convert.py\n```python\n{right}```"), prompt=prompt)
    commands = [item.command for item in face.items(CommandExecution)]
    assert commands == ["bash -c 'python3 convert.py 100 --precision 3'", "bash -c 'python3 convert.py 100'",
                        *["bash -c 'python3 convert.py 100 --precision 3'", "bash -c 'python3 convert.py 100'"] * 2]
    feedback = model.requests[1].messages[-1]["content"]
    assert ("it passed, but `python3 convert.py 100` no longer does what it did before the change (exit code 0)"
            in feedback and "Before, it printed:\n37.8" in feedback and "37.778" in feedback)
    assert result.ok and result.final_message.endswith("`python3 convert.py 100 --precision 3` passed.")


NAMES_PY = ('import sys\n\n\ndef initials(full_name):\n'
            '    return "".join(p[0].upper() for p in full_name.split(" "))\n'
            '\n\nif __name__ == "__main__":\n    print(initials(sys.argv[1]))\n')
NAMES_PROMPT = 'Fix `initials` in names.py: `python3 names.py "Ada  Lovelace"` fails.'


def test_a_fresh_attempt_is_shown_the_function_the_traceback_ends_in_and_its_fragment_is_spliced(
        work: Path, home: Path) -> None:
    names, prompt = NAMES_PY, NAMES_PROMPT
    (work / "names.py").write_text(names)
    fixed = 'def initials(full_name):\n    return "".join(p[0].upper() for p in full_name.split())\n'
    result, model, _face = run(work, home, Step.say(f"names.py\n```python\n{names}```"),
                               Step.say(f"names.py\n```python\n{fixed}```"), prompt=prompt)
    first, fresh = model.requests[0].messages[-1]["content"], model.requests[1].messages[-1]["content"]
    assert "The traceback ends in" not in first and first.endswith("Do not write out the files you do not change.")
    assert "The traceback ends in `initials`, in names.py, at line 5:" in fresh
    assert 'def initials(full_name):\n    return "".join(p[0].upper() for p in full_name.split(" "))\n```' in fresh
    assert fresh.endswith("Reply with the corrected function under the line `names.py`.")
    assert result.ok and (work / "names.py").read_text() == names.replace('split(" ")', "split()")


def test_a_rejected_option_is_named_after_the_edit_and_a_fresh_attempt_is_shown_the_parser(
        work: Path, home: Path) -> None:
    lines = ('import argparse\n\n\ndef main(argv=None):\n    parser = argparse.ArgumentParser()\n'
             '    parser.add_argument("path")\n    args = parser.parse_args(argv)\n'
             '    rows = open(args.path).read().splitlines()\n    print("\\n".join(rows))\n\n\n'
             'if __name__ == "__main__":\n    main()\n')
    (work / "lines.py").write_text(lines)
    (work / "notes.txt").write_text("first\nsecond\n")
    prompt = ("Add a `--reverse` option to lines.py that prints the lines last first: "
              "`python3 lines.py notes.txt --reverse`.")
    wrong = [Step.say("lines.py\n```python\n" + lines.replace("print(", f"print({n!r} or ") + "```") for n in ("", 0)]
    fixed = ('def main(argv=None):\n    parser = argparse.ArgumentParser()\n    parser.add_argument("path")\n'
             '    parser.add_argument("--reverse", action="store_true")\n    args = parser.parse_args(argv)\n'
             '    rows = open(args.path).read().splitlines()\n'
             '    print("\\n".join(rows[::-1] if args.reverse else rows))\n')
    result, model, _face = run(work, home, *wrong, Step.say(f"lines.py\n```python\n{fixed}```"), prompt=prompt)
    note = model.requests[1].messages[-1]["content"]
    assert "unrecognized arguments: --reverse" in note
    assert ('`--reverse` is not an option of the program yet: its parser needs an '
            '`add_argument("--reverse", ...)`') in note
    fresh = model.requests[2].messages[-1]["content"]
    assert fresh.startswith("The files this task is about") and "`--reverse` is not an option of lines.py yet: " \
        '`main` sets up its parser, which needs a `parser.add_argument("--reverse", ...)` line' in fresh
    assert fresh.endswith("Reply with the corrected function under the line `lines.py`.")
    assert result.ok, result.final_message
    assert 'if __name__ == "__main__":' in (work / "lines.py").read_text()


def test_a_task_about_two_code_files_is_not_narrowed_to_one_function(work: Path, home: Path) -> None:
    (work / "names.py").write_text('import sys\n\n\ndef initials(n):\n    return n.split(" ")[9]\n\n\n'
                                   'if __name__ == "__main__":\n    print(initials(sys.argv[1]))\n')
    prompt = 'Fix `initials` in names.py and use it in slug.py: `python3 names.py "Ada  Lovelace"` fails.'
    _result, model, _face = run(work, home, *[Step.say("ok")] * 8, prompt=prompt)
    fresh = [r for r in model.requests if "An earlier attempt at this task failed" in r.messages[-1]["content"]]
    assert fresh and all("The traceback ends in" not in json.dumps(request.messages) for request in model.requests)


def test_a_focused_answer_that_is_neither_the_file_nor_the_asked_function_is_not_written(
        work: Path, home: Path) -> None:
    names, prompt = NAMES_PY, NAMES_PROMPT
    (work / "names.py").write_text(names)
    unfit = "names.py\n```python\ndef words(full_name):\n    return full_name.split()\n```"
    helper = ('names.py\n```python\ndef words(full_name):\n    return full_name.split()\n\n\n'
              'def initials(full_name):\n    return "".join(p[0].upper() for p in words(full_name))\n```')
    result, model, face = run(work, home, Step.say(f"names.py\n```python\n{names}```"), Step.say(unfit),
                              Step.say(helper), prompt=prompt)
    assert "was neither the whole file nor the corrected `initials` alone, so it was not written" in \
        model.requests[2].messages[-1]["content"]
    assert [item.status for item in face.items(FileChange)] == ["completed"]  # only the helper's answer
    text = (work / "names.py").read_text()
    assert result.ok and "def words(full_name):" in text and text.index("def words") < text.index("def initials")
    assert 'if __name__ == "__main__":' in text and "import sys" in text
