"""What the loop does for a small model, per its profile (`ocodex.profile`): the help that turned
Qwen2.5-Coder 0.5B/1.5B from never editing a file into solving tasks (README, "Small models").

- The task's files go with the prompt (`ocodex.agent.mentions`), so the model edits what is there, and
  so does what the named check says before any change (a failing test names the bug).
- Whole files written into its answer become `write_file` calls (`ocodex.agent.fileblocks`); a block with
  no path is given to the shown file it most resembles only when it is plainly that file (it keeps the
  file's top-level definitions), never to a file the model was not shown. A file written back as it is
  (but for its blank lines and trailing spaces) is left alone, and once the turn changed something,
  answering with the files as they now are ends it. A test the task is checked with, which the prompt
  does not name, is not rewritten: a small model that cannot pass a test edits the test instead.
- After an edit, the check the prompt names runs (`ocodex.agent.checks`), and its result goes back with
  the edit's. A check that passes ends the turn; after `FRESH_AFTER` failures the model starts afresh
  (`restart`); one that keeps failing ends it after `MAX_CHECK_ROUNDS`. A fresh attempt is shown the one
  function the failure points at and asked for it alone (`ocodex.agent.focus`), when there is one: asked
  for whole files again, a small model copies them back unchanged.
- An answer that changed nothing although it holds code, or says nothing at all, gets one nudge back.

`Assist` holds one turn's state; the loop asks it at fixed points and owns everything else.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ocodex.agent.checks import (
    FRESH_AFTER,
    CheckRounds,
    added_option,
    check_command,
    expected_output,
    printed,
    tail,
    without_added_option,
    without_command,
)
from ocodex.agent.fileblocks import LANGUAGES, parse_files
from ocodex.agent.focus import Focus, focus, option_hint, rejected
from ocodex.agent.loop import NUDGE_EMPTY
from ocodex.agent.mentions import attachment, file_text, named_files, workspace_files
from ocodex.agent.splice import splice
from ocodex.profile import ModelProfile

NUDGE_CODE = ("No file was changed. To change a file, write its path on a line of its own, then the complete "
              "new content of the file in a fenced code block.")
NUDGE_SAME = ("Those files are exactly as they are now, so nothing changed. Find what has to change, then reply "
              "with the corrected complete file.")
DO_IT = ("Now do the task: reply with the complete new content of each file you change, each under its path on a "
         "line of its own. Do not write out the files you do not change.")
BEFORE_LINES = 25  # of the check's output before any change, the last lines
RETRY_TEMPERATURE = 0.6  # for the first fresh attempt; each later one samples a little more widely
RETRY_TEMPERATURE_STEP = 0.1
MAX_RETRY_TEMPERATURE = 1.0
RETRY_SEED = 1000  # plus the attempt's number: a fresh attempt's seed
HINT_LINES = 12  # of the failure that ended an attempt, the last lines a fresh attempt is given
DATA_SUFFIXES = frozenset({".txt", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml", ".yaml", ".yml", ".ini",
                           ".dat", ".log", ".md", ".html"})  # a check command's input, not its program
REFUSALS = 2  # answers that only rewrote guarded files, after which the attempt is over
SAME_FILE_RATIO = 0.6  # how alike an unnamed non-Python block and a shown file must be to be taken as it


@dataclass(frozen=True, slots=True)
class FileWrite:
    """A whole file found in an answer: the `write_file` call it becomes."""

    path: str
    content: str

    def arguments(self) -> str:
        return json.dumps({"path": self.path, "content": self.content}, ensure_ascii=False)


def _top_level_names(text: str) -> set[str] | None:
    """The names a Python text defines at top level (functions, classes, assigned names); None if it does
    not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def plainly_that_file(block: str, original: str, path: str, language: str = "") -> bool:
    """Is an unnamed block a whole new version of `original`? Python: it parses and defines every top-level
    name `original` defines (at least one). Other text: the fence names the file's language (or none) and
    the block is mostly the file (difflib ratio at least `SAME_FILE_RATIO`)."""
    if path.endswith(".py"):
        had, has = _top_level_names(original), _top_level_names(block)
        return bool(had) and has is not None and had <= has
    expected = LANGUAGES.get(PurePosixPath(path).suffix)
    if language and language != expected:
        return False
    return difflib.SequenceMatcher(None, original, block).ratio() >= SAME_FILE_RATIO


@dataclass(slots=True)
class Assist:
    """One thread's small-model help; `start_turn` resets it for each prompt."""

    profile: ModelProfile
    cwd: Path
    budget_bytes: int
    check: CheckRounds | None = None
    shown: dict[str, str] = field(default_factory=dict)  # files shown to the model this turn: their text
    nudged: bool = False
    edited: bool = False
    repeated: bool = False  # the last answer wrote back files unchanged while the check fails
    unchanged: bool = False  # the last answer wrote back files unchanged before any edit
    refused: list[str] = field(default_factory=list)  # tests (or check inputs) the last answer rewrote, not written
    inputs: list[str] = field(default_factory=list)  # data files the check reads that the prompt names nowhere else
    refusals: int = 0  # answers this attempt that only rewrote guarded files
    files: list[str] = field(default_factory=list)  # the workspace's files at the turn's start (mentions)
    named: list[str] = field(default_factory=list)  # the workspace files the prompt names
    originals: dict[str, str | None] = field(default_factory=dict)  # written this attempt: their text before
    fresh: str | None = None  # set when the model should start afresh: the failure to avoid
    failing_before: bool = False  # the check failed before any change
    attempts: int = 1  # this turn's attempts (fresh starts + 1)
    focused: Focus | None = None  # what this attempt was asked to correct, when it was pointed at one definition
    done: str | None = None  # set when the turn should end: the result to state ("" for none)

    def start_turn(self, prompt: str) -> None:
        """Reset for a new prompt."""
        command = check_command(prompt) if self.profile.run_checks else None
        self.check = CheckRounds(command, expected_output(prompt, command), without_added_option(prompt, command),
                                 option=added_option(prompt, command)) if command else None
        self.nudged, self.edited, self.repeated, self.unchanged = False, False, False, False
        self.done, self.shown, self.refused, self.originals, self.fresh = None, {}, [], {}, None
        self.failing_before, self.attempts, self.refusals, self.focused = False, 1, 0, None
        self.files = workspace_files(self.cwd) if self.profile.attach_files else []
        self.named = named_files(prompt, self.files)
        self.inputs = []
        if self.check is not None:  # `python3 lines.py notes.txt --reverse`: notes.txt is the input, not the task
            elsewhere = set(named_files(without_command(prompt, self.check.command), self.files))
            self.inputs = [path for path in named_files(self.check.command, self.files)
                           if path not in elsewhere and PurePosixPath(path).suffix.lower() in DATA_SUFFIXES]

    def restart(self) -> tuple[str, list[tuple[str, str]]]:
        """Start a fresh attempt: the hint for it, and the files to restore (path, text before the attempt)."""
        assert self.fresh is not None and self.check is not None
        hint, self.fresh = self.fresh, None
        restore = [(path, text) for path, text in self.originals.items() if text is not None]
        self.originals, self.edited, self.nudged, self.repeated, self.unchanged = {}, False, False, False, False
        self.check.in_attempt = 0
        self.attempts += 1
        self.refusals = 0
        return hint, restore

    @property
    def temperature(self) -> float | None:
        """The sampling temperature for this attempt: the model's own for the first, then `RETRY_TEMPERATURE`,
        rising by `RETRY_TEMPERATURE_STEP` per attempt (a greedy small model asked again mostly says the same;
        sampled at 0.6 it still mostly copies a file it cannot fix, so later samples go wider)."""
        if self.attempts <= 1:
            return None
        return min(MAX_RETRY_TEMPERATURE, round(RETRY_TEMPERATURE + RETRY_TEMPERATURE_STEP * (self.attempts - 2), 2))

    @property
    def seed(self) -> int | None:
        """The sampling seed for this attempt: the server's for the first, then one per attempt (a server
        with a fixed seed samples the same answer to the same prompt, so two attempts would be one)."""
        return RETRY_SEED + self.attempts if self.attempts > 1 else None

    def _attempt_failed(self, why: str) -> None:
        """The attempt ended (an answer with no change, or words where code was asked for) while the check
        fails, or, with a check that passes, after files were only written back as they are (a change was
        meant and none made: "rename X" answered with the old file): the next attempt starts afresh, or the
        turn ends when the rounds are used up."""
        check = self.check
        failing = self.failing_before or self.edited
        if check is None or check.passed or not (failing or self.unchanged):
            return
        check.failures += 1
        if check.exhausted:
            self.done = (f"`{check.command}` still fails after {check.failures} attempts." if failing
                         else f"No file was changed in {check.failures} attempts.")
        elif failing:
            self.fresh = f"{why}\n{tail(check.last_output, HINT_LINES)}".rstrip()
        else:
            self.fresh = ("The files were written back exactly as they were, so nothing was done. The task needs "
                          "a change: make it.")

    def before(self, default: tuple[int, str] | None) -> None:
        """Note what the check's command printed without the option the task adds, before any change
        (`CheckRounds.default`): what it must still print after the edit."""
        if self.check is not None and default is not None and default[0] == 0:
            self.check.default_before = printed(default[1])

    def opening(self, prompt: str, check_before: tuple[int, str] | None, hint: str | None = None) -> str | None:
        """The message after the prompt: the task's files (`attach_files`), what the check says before any
        change (`check_before`: its exit code and output), and what to do; None when there is nothing."""
        parts: list[str] = []
        found = attachment(prompt, self.cwd, budget_bytes=self.budget_bytes, files=self.files) \
            if self.profile.attach_files else None
        if found is not None:
            message, self.shown = found
            parts.append(message)
        if check_before is not None and self.check is not None:
            exit_code, output = check_before
            failure = self.check.failure(exit_code, output)
            self.failing_before = failure is not None
            if failure is not None:
                self.check.last_output = _with_reason(output, exit_code, failure, f"It fails ({failure})")
            state = "it passes" if failure is None else f"it fails ({failure})"
            parts.append(f"`{self.check.command}` before any change: {state}.\n{tail(output, BEFORE_LINES)}")
        if hint is not None and self.check is not None:
            parts.append(f"An earlier attempt at this task failed; `{self.check.command}` said:\n{hint}\n"
                         "Avoid that mistake: write a different, correct solution.")
        if not parts:
            return None
        if self.profile.edit_format == "whole":
            self.focused = self._focus(prompt, check_before, hint) if hint is not None else None
            parts.append(self.focused.message() if self.focused is not None else DO_IT)
        return "\n\n".join(parts)

    def _focus(self, prompt: str, check_before: tuple[int, str] | None, hint: str) -> Focus | None:
        """What a fresh attempt is pointed at (`ocodex.agent.focus`): the function that the check's failure
        before any change, else a traceback in the prompt, else the last attempt's failure points at. A task
        that names two code files or more is not narrowed to one function: it needs a change in each."""
        if len([path for path in self.named if path.endswith(".py") and not is_test_path(path)]) > 1:
            return None
        before = check_before[1] if check_before is not None and self.failing_before else ""
        option = self.check.option if self.check is not None else None
        for text in (before, prompt, hint):
            if text and (found := focus(text, self.shown, is_test_path, cwd=self.cwd, option=option)) is not None:
                return found
        return None

    def file_writes(self, text: str) -> tuple[str, list[FileWrite]]:
        """The whole files in `text` (the `whole` format), and the text without their blocks."""
        if self.profile.edit_format != "whole" or ("```" not in text and "~~~" not in text):
            return text, []
        parsed = parse_files(text)
        files: dict[str, str] = {}
        unfit: list[str] = []  # blocks for the focused file that are neither the file nor the asked function
        for path, content in parsed.files.items():
            spliced = self._spliced(path, content)
            if spliced is None and self._unfit(path, content):
                unfit.append(path)
            else:
                files[path] = spliced or content
        for language, body in parsed.unnamed:
            fits = [(difflib.SequenceMatcher(None, self.shown[path], body).ratio(), path) for path in self.shown
                    if path not in files and plainly_that_file(body, self.shown[path], path, language)]
            if fits:
                files[max(fits)[1]] = body
                continue
            spliced = {path: whole for path in self.shown if path not in files
                       and (whole := self._spliced(path, body)) is not None}
            if len(spliced) == 1:  # a fragment of one shown file only
                files.update(spliced)
        if not files and unfit and not self.edited:
            assert self.focused is not None  # only the focused file's blocks are unfit
            self._attempt_failed(f"The answer for {unfit[0]} was neither the whole file nor the corrected "
                                 f"`{self.focused.name}` alone, so it was not written:")
            return text, []
        if not files:
            return text, []
        writes = [FileWrite(path, content) for path, content in files.items() if not self._as_now(path, content)]
        for write in writes:
            self.originals.setdefault(write.path, file_text(self.cwd, write.path))
        kept = [write for write in writes if not self._guarded(write.path)]
        self.refused = [write.path for write in writes if write not in kept]
        writes = kept
        if not writes and self.refused:
            return text, []  # the nudge says why
        if not writes and self.edited:
            # the files it changed, written again as they now are: done, unless the check still fails
            if self.check is None or self.check.passed:
                self.done = ""
            else:
                self.repeated = True
        if not writes and not self.edited:
            self.unchanged = True  # the files written back as they are: the nudge says so
            # nothing changed while the check fails: an attempt that failed, so a fresh one
            self._attempt_failed("The files were written back unchanged, so the check still failed:")
        return (_without_blocks(text) if writes or self.edited else text), writes

    def _spliced(self, path: str, block: str) -> str | None:
        """The Python file at `path` with `block`'s functions in place of its own, when `block` is only some
        of them or the one this attempt asked for (`ocodex.agent.splice`); None otherwise."""
        now = file_text(self.cwd, path) if path.endswith(".py") else None
        asked = self.focused.name if self.focused is not None and self.focused.path == path else None
        return splice(now, block, asked) if now is not None else None

    def _unfit(self, path: str, block: str) -> bool:
        """Is `block`, sent for the file this attempt focused on, neither that function (spliced) nor plainly
        the whole file? Written as the file, it would delete the rest of it (a method alone, a function
        beside a name the file defines twice)."""
        if self.focused is None or self.focused.path != path:
            return False
        now = file_text(self.cwd, path)
        return now is not None and not plainly_that_file(block, now, path)

    def _guarded(self, path: str) -> bool:
        """Is `path` an existing test the task checks with, which the prompt does not name, or a data file
        the check reads and the prompt names nowhere else? A small model that cannot make a test pass
        rewrites the test (or the check's input); the check would then pass and prove nothing."""
        return (self.check is not None and (path in self.inputs or (is_test_path(path) and path not in self.named))
                and file_text(self.cwd, path) is not None)

    def _as_now(self, path: str, content: str) -> bool:
        """Is `content` the file at `path` as it is now, but for its layout (see `_layout_free`)?"""
        now = file_text(self.cwd, path)
        return now is not None and _layout_free(content) == _layout_free(now)

    def nudge(self, text: str) -> str | None:
        """What to say to an answer with no call: once per turn, for an empty one, one holding code that
        changed nothing, or one that ends a task with a check while no file was changed; None to let the
        answer end the turn."""
        if self.repeated and self.check is not None:
            # the files it changed, sent again as they now are while the check fails: asked again, a small
            # model sends them again, so this attempt is over
            self.repeated = False
            self._attempt_failed("The same files were sent again, and the check still failed:")
            return None
        if self.refused:
            refused, self.refused = self.refused, []
            self.refusals += 1
            if self.refusals >= REFUSALS:
                self._attempt_failed(f"The answer rewrote {', '.join(refused)} again instead of the code, and the "
                                     "check still failed:")
                if self.fresh is None and self.done is None:  # nothing failing to retry: the turn ends
                    self.done = f"{', '.join(refused)} not written: the check runs on it as it is."
                return None
            return (f"{', '.join(refused)} not written: the check runs on it as it is (tests and the files they "
                    "read stay unchanged). Change the code so that it passes: reply with its complete new file.")
        if self.nudged or self.edited:
            self._attempt_failed("The answer changed nothing more, and the check still failed:")
            return None
        if not text.strip() or (self.profile.edit_format == "whole" and ("```" in text or self.check)):
            self.nudged = True  # code that changed nothing, or "done" with a check to pass and no change made
            if not text.strip():
                return NUDGE_EMPTY
            return NUDGE_SAME if self.unchanged else NUDGE_CODE
        return None

    def after_check(self, exit_code: int, output: str, default: tuple[int, str] | None = None) -> str:
        """Account for the check run after an edit (and its command without the option the task adds, run
        when the check passed: `default`); the note the model reads with the edit's result."""
        assert self.check is not None
        command = self.check.command
        if self.refused:
            refused, self.refused = self.refused, []
            return (f"{', '.join(refused)} not written: the check runs on it as it is.\n"
                    + self.after_check(exit_code, output, default))
        failure = self.check.failure(exit_code, output)
        clause = f"it failed ({failure})"
        if failure is None and default is not None and (changed := self.check.changed_default(*default)):
            output, failure = default[1], changed
            clause = f"it passed, but {changed}"
        if failure is None:
            self.check.passed = True
            shown = f" and printed `{self.check.expected}`" if self.check.expected and "\n" not in \
                self.check.expected else ""
            self.done = f"`{command}` passed{shown}."
            return f"ocodex ran `{command}` after your edit: it passed{shown}."
        self.check.failures += 1
        self.check.in_attempt += 1
        self.check.last_output = _with_reason(output, exit_code, failure, clause)
        if not self.check.exhausted and self.check.in_attempt >= (FRESH_AFTER if self.attempts == 1 else 1):
            self.fresh = tail(self.check.last_output, HINT_LINES)
        option = self.check.option
        note = (f"ocodex ran `{command}` after your edit: {clause}.\n{tail(output)}\n"
                + (f"{option_hint(option)}\n" if option is not None and rejected(output, option) else "")
                + "Fix the code so that it passes: reply with the complete new content of each file you change.")
        if self.check.exhausted:
            self.done = (f"`{command}` still fails after {self.check.failures} attempts ({failure}):\n"
                         f"{tail(output, 5)}")
        return note


def _with_reason(output: str, exit_code: int, failure: str, reason: str) -> str:
    """A failing check's output as it is kept for hints: with `reason` at its end (where `tail` keeps it)
    unless the exit code alone says why (exit code 0 and failing: the output alone looks like success)."""
    return output if failure == f"exit code {exit_code}" else f"{output.rstrip()}\n{reason}."


_TEST_NAME = re.compile(r"(?:^test_.*|.*_test\.\w+|.*\.(?:test|spec)\.\w+|^conftest\.py)$")
_TEST_DIRS = {"test", "tests", "__tests__", "spec"}


def is_test_path(path: str) -> bool:
    """Is `path` a test file by the usual conventions (test_x.py, x_test.go, x.test.ts, tests/...)?"""
    parts = PurePosixPath(path).parts
    return bool(parts) and (bool(_TEST_NAME.match(parts[-1])) or any(part in _TEST_DIRS for part in parts[:-1]))


def _layout_free(text: str) -> list[str]:
    """`text`'s lines without trailing spaces and blank lines: a file written back with only its blank lines
    changed is the same file (small models rewrite files they were shown but do not mean to change)."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _without_blocks(text: str) -> str:
    """`text` with its fenced blocks (and the path lines naming them) replaced by nothing."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is None and (stripped.startswith("```") or stripped.startswith("~~~")):
            fence = stripped[:3]
            while out and not out[-1].strip():
                out.pop()
            if out and len(out[-1].split()) == 1:  # the path line naming the block
                out.pop()
            continue
        if fence is not None:
            if stripped.startswith(fence) and set(stripped) <= {fence[0]}:
                fence = None
            continue
        out.append(line)
    return "\n".join(out).strip()
