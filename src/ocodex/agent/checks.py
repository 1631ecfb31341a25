"""The check a task names, and what ocodex does with it for a model that does not run it itself.

A prompt often says how to tell the task is done: "check with `python3 -m pytest -q`", "`npm test` must
pass", "make `python3 app.py` print ...", or a `$ command` line of a pasted session. `check_command` finds
that command: a backticked span or a `$ ` line whose first word is a program that runs code or tests, a
test command preferred over any other. What the prompt says the command must print (`expected_output`:
"`python3 convert.py 100` must print `37.778`") is part of the check: exit
code 0 with other output fails it, since a CLI change that ignores its new option still exits 0.

For models whose profile says so (`ocodex.profile`), the loop runs it through the shell tool (sandboxed,
approved, shown as a command item like any other) after each edit that changed a file, and hands its
result back with the edit's (verify-on-edit): a small model sees at once whether its change worked, and
the turn ends when it does. `CheckRounds` bounds how often a failing check is fed back: `FRESH_AFTER`
failures in the first attempt start a fresh one (the files restored, the conversation back to the task,
the last failure given as a hint, a new seed and some sampling: a small model shown its own wrong code
mostly repeats it, while a new sample is often right), every later attempt gets one failure before the
next, and `MAX_CHECK_ROUNDS` in all end the turn. On the 1.5B, resampling against the check is what
solves the tasks one greedy answer gets wrong (README, "Small models").
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

RUNNERS = {"python", "python3", "pytest", "py.test", "npm", "npx", "yarn", "pnpm", "node", "deno", "bun",
           "cargo", "go", "make", "gradle", "mvn", "ruby", "rake", "bundle", "rspec", "php", "phpunit",
           "dotnet", "swift", "tox", "nox", "uv", "poetry", "hatch", "sh", "bash", "ctest", "mix", "zig"}
MAX_CHECK_ROUNDS = 6  # failing checks (or attempts that changed nothing) in one turn, after which it ends
FRESH_AFTER = 2  # failing checks in the first attempt, after which the model starts afresh (later ones: 1)
MAX_OUTPUT_LINES = 40  # of a failing check's output, the last lines (where test runners say what failed)

_BACKTICKS = re.compile(r"(?<!`)`([^`]{1,200})`(?!`)")  # a span may wrap onto the next line
_WRAP = re.compile(r"[ \t]*\n\s*")  # where a backticked span wraps onto the next line
_DOLLAR = re.compile(r"^\s*\$ (.{2,200})$", re.MULTILINE)
# after a command's span: "must print `X`", "should output: `X`", "prints `X`", "and it gives ```X```"
_PRINTS = re.compile(r"\s*,?\s*(?:(?:and|then)\s+)?(?:it\s+)?(?:(?:must|should|will|has\s+to|needs\s+to)\s+)?"
                     r"(?:print|prints|output|outputs|show|shows|display|displays|give|gives|write|writes)"
                     r"(?:\s+out)?\s*:?\s*(?:```[^\n`]*\n(?P<block>.{1,2000}?)\n\s*```|`(?P<span>[^`]{1,200})`)",
                     re.DOTALL)
# "Add a `--json` option", "add an option `--top N`", "adds a --verbose flag": the option a task adds
_ADDS_OPTION = re.compile(r"\b(?i:add(?:s|ing)?)\b[^.`\n]{0,40}?`?(?P<option>--[A-Za-z][\w-]*)"
                          r"(?P<value>[ =](?:[A-Z]+\b|<[^>]+>))?")
_OUTPUT_HEADER = "\nOutput:\n"  # the shell tool's report: what follows is the command's own output
_TESTY = re.compile(r"\b(?:test|tests|pytest|check|spec|unittest|rspec|phpunit|ctest)\b")


def _unwrapped(span: str) -> str:
    """A command as a span gives it: a span wrapped onto the next line joined with one space, the ends
    stripped, and every other space kept (`python3 names.py "Ada  Lovelace"` is not the same command with
    one space)."""
    return _WRAP.sub(" ", span).strip()


def _runs_code(command: str) -> bool:
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if not words:
        return False
    first = words[0].rsplit("/", 1)[-1]
    return first in RUNNERS or (words[0].startswith("./") and len(words[0]) > 2)


def check_command(prompt: str) -> str | None:
    """The command `prompt` names to check the work (see the module docstring), or None."""
    found = [_unwrapped(m.group(1)) for m in (*_BACKTICKS.finditer(prompt), *_DOLLAR.finditer(prompt))]
    commands = [command for command in found if _runs_code(command)]
    if not commands:
        return None
    return next((command for command in commands if _TESTY.search(command)), commands[0])


def expected_output(prompt: str, command: str) -> str | None:
    """What `prompt` says `command` must print (see the module docstring), or None: a backticked or fenced
    span right after the command's span ("must print `37.778`"). The lines under a `$ ` line are not: a
    pasted session shows what the command prints now, mostly the failure to fix."""
    for match in _BACKTICKS.finditer(prompt):
        if _unwrapped(match.group(1)) == command:
            said = _PRINTS.match(prompt, match.end())
            if said is not None:
                text = said.group("block") if said.group("block") is not None else said.group("span")
                if text.strip():
                    return text.strip("\n")
    return None


def prints(output: str, expected: str) -> bool:
    """Does a check's `output` (the shell tool's report, or the command's own output) show `expected`: its
    lines, spaces evened out, in order, each whole words (`37.778` is not in `37.7781`)?"""
    said = " \n ".join(" ".join(line.split()) for line in printed(output).splitlines())
    wanted = " \n ".join(" ".join(line.split()) for line in expected.splitlines() if line.strip())
    return bool(wanted) and re.search(rf"(?<!\S){re.escape(wanted)}(?!\S)", said) is not None


def _added(prompt: str, command: str) -> tuple[str, list[str]] | None:
    """The option the prompt says to add that `command` uses, and `command` without it."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for match in _ADDS_OPTION.finditer(prompt):
        option, takes_value = match.group("option"), match.group("value") is not None
        for index, word in enumerate(words):
            if word == option or word.startswith(option + "="):
                drop = 2 if word == option and takes_value and index + 1 < len(words) else 1
                return option, words[:index] + words[index + drop:]
    return None


def added_option(prompt: str, command: str) -> str | None:
    """The option the prompt says to add (`--json`), when `command` uses it; else None."""
    found = _added(prompt, command)
    return found[0] if found is not None else None


def without_added_option(prompt: str, command: str) -> str | None:
    """`command` without the option the prompt says to add, or None (no option added, or the command does
    not use it). The task adds an option, so the program without it must do what it did before: a small
    model often changes the default instead ("prints JSON" for every run, not only with `--json`)."""
    found = _added(prompt, command)
    return shlex.join(found[1]) if found is not None else None


def without_command(prompt: str, command: str) -> str:
    """`prompt` with the spans that give `command` (backticks or a `$ ` line, however wrapped) taken out."""
    def drop(match: re.Match[str]) -> str:
        return " " if _unwrapped(match.group(1)) == command else match.group(0)

    return _DOLLAR.sub(drop, _BACKTICKS.sub(drop, prompt))


def tail(output: str, lines: int = MAX_OUTPUT_LINES) -> str:
    """The last `lines` lines of `output`, saying how many were left out."""
    kept = output.rstrip("\n").split("\n")
    if len(kept) <= lines:
        return "\n".join(kept)
    return f"[{len(kept) - lines} earlier lines left out]\n" + "\n".join(kept[-lines:])


@dataclass(slots=True)
class CheckRounds:
    """One turn's check: the command and how many times it failed after an edit."""

    command: str
    expected: str | None = None  # what the prompt says the command prints (`expected_output`)
    default: str | None = None  # the command without the option the task adds (`without_added_option`)
    option: str | None = None  # that option (`added_option`)
    default_before: str | None = None  # what `default` printed before any change, when it exited 0
    failures: int = 0
    in_attempt: int = 0  # failures since the last fresh start
    passed: bool = False
    last_output: str = ""  # what the check said when it last failed (before any change, or after an edit)

    @property
    def exhausted(self) -> bool:
        return self.failures >= MAX_CHECK_ROUNDS

    def failure(self, exit_code: int, output: str) -> str | None:
        """Why a run of the check (its exit code and the shell tool's report) fails ("exit code 1"), or None
        if it passed."""
        if exit_code != 0:
            return f"exit code {exit_code}"
        if self.expected is not None and not prints(output, self.expected):
            shown = self.expected if "\n" not in self.expected else "\n" + self.expected + "\n"
            return f"exit code 0, but the output is not `{shown}` as the task says"
        return None

    def default_to_run(self, exit_code: int, output: str) -> str | None:
        """After an edit whose check run passed, `default` (to hold to what it printed before); else None."""
        if self.default_before is None or self.failure(exit_code, output) is not None:
            return None
        return self.default

    def changed_default(self, exit_code: int, output: str) -> str | None:
        """Why a run of `default` after an edit fails: it no longer exits 0 or prints what it printed before
        any change; None if it does (or nothing is known of it)."""
        if self.default is None or self.default_before is None:
            return None
        if exit_code == 0 and printed(output) == self.default_before:
            return None
        return (f"`{self.default}` no longer does what it did before the change (exit code {exit_code}): the task "
                "adds an option, so without it the program must work as before. Before, it printed:\n"
                f"{tail(self.default_before, 10)}")


def printed(output: str) -> str:
    """A command's own output in the shell tool's report, without trailing spaces and blank lines."""
    body = output.split(_OUTPUT_HEADER, 1)[-1]
    return "\n".join(line.rstrip() for line in body.splitlines() if line.strip())
