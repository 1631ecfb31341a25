"""Where a failing check points in the task's code: the one function a small model is shown on a fresh attempt.

Asked again for whole files, Qwen2.5-Coder 1.5B copies them back unchanged at any temperature (six samples
from 0 to 1.0, `fix_discount` and `tb_indexerror` of benchmarks/tasks.py: none changed a line). Shown only
the function the failure points at and asked for that function, it changes it (5 of 6 and 2 of 6 samples
fixed the bug). The answer is a fragment, which `ocodex.agent.splice` puts into its file.

`focus` reads, in a check's output (or a traceback pasted in the prompt), the deepest place in the task's own
code (a shown Python file that is not a test, at the workspace's own path: not a same-named file of an
installed package):
- a traceback frame: `File "names.py", line 8, in initials`;
- a pytest frame line: `pricing.py:8: in apply_discount`, `pricing.py:8: ValueError` (not a warning's line);
- else the function a failed assertion called, as pytest spells it out first: `where 20.0 =
  apply_discount(80.0, 25)`.

Only top-level functions are shown (a fragment of one is what splice can put back): a frame's line picks the
function holding it, or its name does when the line is elsewhere (an attempt's edited file numbered it); a
frame inside a class, or in `<module>` code, gives no focus from that frame. A function longer than
`MAX_LINES` is not shown: the whole file is then as short.

A command-line program that rejects the option the task adds (argparse's `unrecognized arguments: --reverse`,
click's `No such option: --reverse`) is pointed at the function that sets up its parser, saying which line it
lacks (`option_focus`): asked to add an option, the 1.5B changed what the program prints and never the parser,
in every sample.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_LINES = 60  # of a definition, beyond which focusing on it saves the model little

_TRACEBACK_FRAME = re.compile(r'^[ \t]*File "(?P<path>[^"\n]+)", line (?P<line>\d+), in (?P<name>\S+)',
                              re.MULTILINE)
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+): (?:in (?P<name>\S+)|[A-Z]\w*(?:Error|"
                           r"Exception)\b)", re.MULTILINE)
_UNKNOWN_OPTION = re.compile(r"(?:unrecognized arguments|no such option):[ \t]*(?P<option>--[A-Za-z][\w-]*)",
                             re.IGNORECASE)
_ADD_ARGUMENT = re.compile(r"\b(?P<parser>[A-Za-z_]\w*)\.add_argument\(")
_PARSED = re.compile(r"\b(?P<names>[A-Za-z_]\w*)[ \t]*=[ \t]*[A-Za-z_][\w.]*\.parse_args\(")
_WHERE_CALL = re.compile(r"^E[ \t]+[+ \t]*where [^\n]{0,200}? = (?:[A-Za-z_][\w.]*\.)?(?P<name>[A-Za-z_]\w*)\(",
                         re.MULTILINE)
_INSTALLED = ("site-packages/", "dist-packages/", "/lib/python")


@dataclass(frozen=True, slots=True)
class Focus:
    """A top-level function of a shown file that a failure points at."""

    path: str
    name: str
    source: str  # the definition as the file has it (decorators included)
    line: int | None  # the frame's line, when a traceback gave one (None: a failed assertion called it)
    why: str | None = None  # what is wrong there, when more is known than where it is

    def message(self) -> str:
        """What the fresh attempt says instead of asking for whole files."""
        ask = f"Reply with the corrected function under the line `{self.path}`."
        if self.why is not None:
            return f"{self.why}\n\n```python\n{self.source}\n```\n\n{ask}"
        if self.line is not None:
            where = f"The traceback ends in `{self.name}`, in {self.path}, at line {self.line}:"
        else:
            where = f"The failing test calls `{self.name}`, which is in {self.path}:"
        return f"{where}\n\n```python\n{self.source}\n```\n\nThe bug is in this function. {ask}"


@dataclass(frozen=True, slots=True)
class _Definition:
    name: str
    first: int  # 1-based, decorators included
    last: int
    function: bool  # else a class


def _definitions(text: str) -> list[_Definition] | None:
    """A module's top-level functions and classes; None when it does not parse or defines a name twice
    (splice cannot put a fragment into such a file)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    found = [_Definition(node.name, min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.end_lineno,
                         not isinstance(node, ast.ClassDef))
             for node in tree.body
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.end_lineno]
    return found if len({d.name for d in found}) == len(found) else None


def _source(text: str, definition: _Definition) -> str:
    """The definition's lines as Python numbers them (not `str.splitlines`, which also splits at form feeds)."""
    lines = io.StringIO(text, newline="").readlines()
    return "".join(lines[definition.first - 1:definition.last]).rstrip("\r\n")


def _shown_path(frame_path: str, code: Mapping[str, str], cwd: Path | None) -> str | None:
    """The shown file a frame's path names: the same relative path, or the absolute path of it in the workspace
    (without a workspace: one ending in it, outside installed packages)."""
    frame_path = frame_path.replace("\\", "/")
    if frame_path in code:
        return frame_path
    if not frame_path.startswith("/") and not re.match(r"[A-Za-z]:/", frame_path):
        return None
    if cwd is not None:
        return next((path for path in code if frame_path == f"{cwd.as_posix().rstrip('/')}/{path}"), None)
    if any(part in frame_path for part in _INSTALLED):
        return None
    fits = [path for path in code if frame_path.endswith("/" + path)]
    return max(fits, key=len) if fits else None


def _at(path: str, text: str, name: str | None, line: int | None) -> Focus | None:
    """The top-level function of `text` holding `line`, else the one named `name`; None for a class, module
    code, or a function too long to show."""
    definitions = _definitions(text)
    if not definitions:
        return None
    holding = next((d for d in definitions if line is not None and d.first <= line <= d.last), None)
    named = next((d for d in definitions if d.name == name), None)
    if holding is not None and not holding.function:
        return None  # a method: its class is more than a fragment the model can send back whole
    chosen = holding if holding is not None and (named is None or holding is named or not named.function) \
        else named
    if chosen is None or not chosen.function or chosen.last - chosen.first + 1 > MAX_LINES:
        return None
    return Focus(path, chosen.name, _source(text, chosen), line)


def focus(output: str, shown: Mapping[str, str], is_test: Callable[[str], bool], *, cwd: Path | None = None,
          option: str | None = None) -> Focus | None:
    """The function of a shown, non-test Python file that `output`'s failure points at (see the module's
    docstring); None when it points at none. `cwd`: the workspace, where absolute frame paths must be;
    `option`: the option the task adds, which the program may reject."""
    code = {path: text for path, text in shown.items() if path.endswith(".py") and not is_test(path)}
    if not code:
        return None
    if option is not None and rejected(output, option) and (found := option_focus(option, code)):
        return found
    frames = [(m.start(), m.group("path"), int(m.group("line")), m.group("name"))
              for pattern in (_TRACEBACK_FRAME, _PYTEST_FRAME) for m in pattern.finditer(output)]
    for _, frame_path, line, name in sorted(frames, reverse=True):  # the deepest frame is printed last
        path = _shown_path(frame_path, code, cwd)
        if path is not None and (found := _at(path, code[path], name, line)) is not None:
            return found
    match = _WHERE_CALL.search(output)  # the first is the assertion's own call; later ones are its arguments'
    if match is not None:
        name = match.group("name")
        defining = [path for path, text in code.items() if any(d.name == name for d in _definitions(text) or [])]
        if len(defining) == 1:
            return _at(defining[0], code[defining[0]], name, None)
    return None


def unknown_option(output: str) -> str | None:
    """The option a command-line program rejected, as argparse or click says it; None if none was."""
    match = _UNKNOWN_OPTION.search(output)
    return match.group("option") if match else None


def rejected(output: str, option: str | None) -> bool:
    """Did the program reject `option` (the one the task adds), as argparse or click says it?"""
    return option is not None and unknown_option(output) == option


def option_hint(option: str) -> str:
    """One line on the rejected option the task adds, for the note after an edit."""
    return (f"`{option}` is not an option of the program yet: its parser needs an "
            f"`add_argument(\"{option}\", ...)` line, and the code must use it.")


def option_focus(option: str, code: Mapping[str, str]) -> Focus | None:
    """The one top-level function of `code` (shown non-test Python files) that adds arguments to a parser,
    with what it lacks; None unless exactly one does."""
    found = []
    for path, text in code.items():
        for definition in _definitions(text) or []:
            source = _source(text, definition)
            adds = _ADD_ARGUMENT.search(source)
            if adds is not None and definition.function and definition.last - definition.first + 1 <= MAX_LINES:
                found.append((path, definition.name, source, adds.group("parser")))
    if len(found) != 1:
        return None
    path, name, source, parser = found[0]
    parsed = _PARSED.search(source)
    dest = f"{parsed.group('names') if parsed else 'args'}.{option.lstrip('-').replace('-', '_')}"
    why = (f"`{option}` is not an option of {path} yet: `{name}` sets up its parser, which needs a "
           f"`{parser}.add_argument(\"{option}\", ...)` line, and the code must use `{dest}`.")
    return Focus(path, name, source, None, why)
