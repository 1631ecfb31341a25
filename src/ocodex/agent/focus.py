"""Where a failing check points in the task's code: the one function a small model is shown on a fresh attempt.

Asked again for whole files, Qwen2.5-Coder 1.5B copies them back unchanged at any temperature (six samples
from 0 to 1.0, `fix_discount` and `tb_indexerror` of benchmarks/tasks.py: none changed a line). Shown only
the function the failure points at and asked for that function, it changes it (5 of 6 and 2 of 6 samples
fixed the bug). The answer is a fragment, which `ocodex.agent.splice` puts into its file.

`focus` reads, in a check's output (or a traceback pasted in the prompt), the deepest place in the task's own
code (a shown Python file that is not a test):
- a traceback frame: `File "names.py", line 8, in initials`;
- a pytest frame line: `pricing.py:8: in apply_discount`, `pricing.py:8: ValueError`;
- else the function a failed assertion called, as pytest spells it out: `where 20.0 = apply_discount(80.0, 25)`.

A command-line program that rejects an option (argparse's `unrecognized arguments: --reverse`, click's `No such
option: --reverse`) is pointed at the function that sets up its parser, saying which line it lacks
(`unknown_option`, `option_focus`): asked to add an option, the 1.5B changed what the program prints and never
the parser, in every sample.

A frame's function is found by its name among the file's top-level definitions, else by the frame's line
(a method is shown as its class, since splice puts top-level definitions only; `<genexpr>` as the function
it is in; `<module>` code is no definition, and the next frame out is tried). A definition
longer than `MAX_LINES` is not shown: the whole file is then as short.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_LINES = 60  # of a definition, beyond which focusing on it saves the model little

_TRACEBACK_FRAME = re.compile(r'^\s*File "(?P<path>[^"\n]+)", line (?P<line>\d+), in (?P<name>\S+)', re.MULTILINE)
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+): (?:in (?P<name>\S+)|\w+)", re.MULTILINE)
_UNKNOWN_OPTION = re.compile(r"(?:unrecognized arguments|no such option):\s*(?P<option>--[A-Za-z][\w-]*)",
                             re.IGNORECASE)
_ADD_ARGUMENT = re.compile(r"\b(?P<parser>[A-Za-z_]\w*)\.add_argument\(")
_PARSED = re.compile(r"\b(?P<names>[A-Za-z_]\w*)\s*=\s*[A-Za-z_][\w.]*\.parse_args\(")
_WHERE_CALL = re.compile(r"^E\s+[+\s]*where .{0,200}? = (?:[A-Za-z_][\w.]*\.)?(?P<name>[A-Za-z_]\w*)\(",
                         re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Focus:
    """A definition of a shown file that a failure points at."""

    path: str
    name: str
    source: str  # the definition as the file has it (decorators included)
    line: int | None  # the frame's line, when a traceback gave one (None: a failed assertion called it)
    kind: str = "function"  # or "class"
    why: str | None = None  # what is wrong there, when more is known than where it is

    def message(self) -> str:
        """What the fresh attempt says instead of asking for whole files."""
        if self.why is not None:
            return (f"{self.why}\n\n```python\n{self.source}\n```\n\nReply with the corrected {self.kind} under "
                    f"the line `{self.path}`.")
        if self.line is not None:
            where = f"The traceback ends in `{self.name}`, in {self.path}, at line {self.line}:"
        else:
            where = f"The failing test calls `{self.name}`, which is in {self.path}:"
        return (f"{where}\n\n```python\n{self.source}\n```\n\nThe bug is in this {self.kind}. Reply with the "
                f"corrected {self.kind} under the line `{self.path}`.")


def _definitions(text: str) -> list[tuple[str, int, int, str]] | None:
    """A module's top-level functions and classes: (name, first line with decorators, last line (1-based),
    "function" or "class")."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.end_lineno:
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            found.append((node.name, first, node.end_lineno, "class" if isinstance(node, ast.ClassDef) else "function"))
    return found


def _shown_path(frame_path: str, code: Mapping[str, str]) -> str | None:
    """The shown file a frame's path names: the same relative path, or an absolute one ending in it."""
    frame_path = frame_path.replace("\\", "/")
    fits = [path for path in code if frame_path == path or frame_path.endswith("/" + path)]
    return max(fits, key=len) if fits else None


def _at(path: str, text: str, name: str | None, line: int | None) -> Focus | None:
    """The top-level definition of `text` named `name`, else the one holding `line`; None if neither is."""
    definitions = _definitions(text)
    if not definitions:
        return None
    named = [d for d in definitions if d[0] == name]
    chosen = named[0] if len(named) == 1 else None
    if chosen is None and line is not None:  # a method's class, a generator expression's function
        chosen = next((d for d in definitions if d[1] <= line <= d[2]), None)
    if chosen is None:
        return None
    found, first, last, kind = chosen
    if last - first + 1 > MAX_LINES:
        return None
    return Focus(path, found, "\n".join(text.splitlines()[first - 1:last]), line, kind)


def focus(output: str, shown: Mapping[str, str], is_test: Callable[[str], bool]) -> Focus | None:
    """The definition of a shown, non-test Python file that `output`'s failure points at (see the module's
    docstring); None when it points at none."""
    code = {path: text for path, text in shown.items() if path.endswith(".py") and not is_test(path)}
    if not code:
        return None
    option = unknown_option(output)
    if option is not None and (found := option_focus(option, code)) is not None:
        return found
    frames = [(m.start(), m.group("path"), int(m.group("line")), m.group("name"))
              for pattern in (_TRACEBACK_FRAME, _PYTEST_FRAME) for m in pattern.finditer(output)]
    for _, frame_path, line, name in sorted(frames, reverse=True):  # the deepest frame is printed last
        path = _shown_path(frame_path, code)
        if path is not None and (found := _at(path, code[path], name, line)) is not None:
            return found
    for match in reversed(list(_WHERE_CALL.finditer(output))):
        name = match.group("name")
        defining = [path for path, text in code.items() if any(d[0] == name for d in _definitions(text) or [])]
        if len(defining) == 1 and (found := _at(defining[0], code[defining[0]], name, None)) is not None:
            return found
    return None


def unknown_option(output: str) -> str | None:
    """The option a command-line program rejected, as argparse or click says it; None if none was."""
    match = _UNKNOWN_OPTION.search(output)
    return match.group("option") if match else None


def option_hint(option: str) -> str:
    """One line on a rejected option, for the note after an edit."""
    return (f"`{option}` is not an option of the program yet: its parser needs an "
            f"`add_argument(\"{option}\", ...)` line, and the code must use it.")


def option_focus(option: str, code: Mapping[str, str]) -> Focus | None:
    """The one top-level function of `code` (shown non-test Python files) that adds arguments to a parser,
    with what it lacks; None unless exactly one does."""
    found = []
    for path, text in code.items():
        lines = text.splitlines()
        for name, first, last, kind in _definitions(text) or []:
            source = "\n".join(lines[first - 1:last])
            if (adds := _ADD_ARGUMENT.search(source)) is not None and last - first + 1 <= MAX_LINES:
                found.append((path, name, source, kind, adds.group("parser")))
    if len(found) != 1:
        return None
    path, name, source, kind, parser = found[0]
    parsed = _PARSED.search(source)
    dest = f"{parsed.group('names') if parsed else 'args'}.{option.lstrip('-').replace('-', '_')}"
    why = (f"`{option}` is not an option of {path} yet: `{name}` sets up its parser, which needs a "
           f"`{parser}.add_argument(\"{option}\", ...)` line, and the code must use `{dest}`.")
    return Focus(path, name, source, None, kind, why)
