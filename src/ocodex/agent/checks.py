"""The check a task names, and what ocodex does with it for a model that does not run it itself.

A prompt often says how to tell the task is done: "check with `python3 -m pytest -q`", "`npm test` must
pass", "make `python3 app.py` print ...", or a `$ command` line of a pasted session. `check_command` finds
that command: a backticked span or a `$ ` line whose first word is a program that runs code or tests, a
test command preferred over any other. For models whose profile says so (`ocodex.profile`), the loop runs
it through the shell tool (sandboxed, approved, shown as a command item like any other) after each edit
that changed a file, and hands its result back with the edit's (verify-on-edit): a small model sees at
once whether its change worked, and the turn ends when it does. `CheckRounds` bounds how often a failing
check is fed back: `FRESH_AFTER` failures in the first attempt start a fresh one (the files restored, the
conversation back to the task, the last failure given as a hint, a new seed and some sampling: a small
model shown its own wrong code mostly repeats it, while a new sample is often right), every later attempt
gets one failure before the next, and `MAX_CHECK_ROUNDS` in all end the turn. On the 1.5B, resampling
against the check is what solves the tasks one greedy answer gets wrong (README, "Small models").
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

_BACKTICKS = re.compile(r"(?<!`)`([^`]{2,200})`(?!`)")  # a span may wrap onto the next line
_DOLLAR = re.compile(r"^\s*\$ (.{2,200})$", re.MULTILINE)
_TESTY = re.compile(r"\b(?:test|tests|pytest|check|spec|unittest|rspec|phpunit|ctest)\b")


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
    found = [" ".join(m.group(1).split()) for m in (*_BACKTICKS.finditer(prompt), *_DOLLAR.finditer(prompt))]
    commands = [command for command in found if _runs_code(command)]
    if not commands:
        return None
    return next((command for command in commands if _TESTY.search(command)), commands[0])


def without_command(prompt: str, command: str) -> str:
    """`prompt` with the spans that give `command` (backticks or a `$ ` line, however wrapped) taken out."""
    def drop(match: re.Match[str]) -> str:
        return " " if " ".join(match.group(1).split()) == command else match.group(0)

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
    failures: int = 0
    in_attempt: int = 0  # failures since the last fresh start
    passed: bool = False
    last_output: str = ""  # what the check said when it last failed (before any change, or after an edit)

    @property
    def exhausted(self) -> bool:
        return self.failures >= MAX_CHECK_ROUNDS
