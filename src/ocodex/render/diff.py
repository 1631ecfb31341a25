"""Unified diffs as people read them on a terminal: per file, coloured, a few lines with "… N more".

`summary` turns a change's diff (`FileChange.diff`, git's output for `/diff`) into lines: one per file
(`M path (+3 -1)`), then the first lines of its hunks. `coloured` styles a whole diff line by line. Every
line is made terminal-safe by the `style` callable the renderer passes in (the file's content is the
model's text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Style = Callable[..., str]


@dataclass(slots=True)
class FileDiff:
    """One file's part of a unified diff."""

    old: str
    new: str
    body: list[str] = field(default_factory=list)  # from its first @@ on (or git's notes: "Binary files...")

    @property
    def kind(self) -> str:
        if self.old == "/dev/null":
            return "A"
        if self.new == "/dev/null":
            return "D"
        return "M"

    @property
    def path(self) -> str:
        name = self.new if self.new != "/dev/null" else self.old
        return name[2:] if name.startswith(("a/", "b/")) else name

    @property
    def added(self) -> int:
        return sum(1 for line in self.body if line.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.body if line.startswith("-"))


def split_files(diff: str) -> list[FileDiff]:
    """The files of a unified diff: ours (`---`/`+++` pairs) or git's (`diff --git` headers)."""
    files: list[FileDiff] = []
    header = False  # inside a `diff --git` header, before its first hunk
    lines = diff.splitlines()
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.startswith("diff --git "):
            files.append(FileDiff(*_git_names(line)))
            header = True
        elif header and line.startswith("new file mode"):
            files[-1].old = "/dev/null"
        elif header and line.startswith("deleted file mode"):
            files[-1].new = "/dev/null"
        elif header and line.startswith("--- "):
            files[-1].old = _name(line[4:])
        elif header and line.startswith("+++ "):
            files[-1].new = _name(line[4:])
        elif header and line.startswith(("index ", "similarity", "rename ", "old mode", "new mode")):
            continue
        elif not header and line.startswith("--- ") and following.startswith("+++ "):
            files.append(FileDiff(_name(line[4:]), _name(following[4:])))
        elif not header and line.startswith("+++ ") and files and not files[-1].body:
            continue  # the pair's second line
        elif files:
            header = False
            files[-1].body.append(line)
    return files


def _name(raw: str) -> str:
    return raw.split("\t", 1)[0].strip()


def _git_names(header: str) -> tuple[str, str]:
    rest = header[len("diff --git "):]
    middle = rest.find(" b/")
    if middle < 0:
        return rest, rest
    return rest[:middle], rest[middle + 1:]


def line_style(line: str) -> tuple[str, ...]:
    if line.startswith("+"):
        return ("green",)
    if line.startswith("-"):
        return ("red",)
    if line.startswith("@@"):
        return ("cyan",)
    return ("dim",)


def summary(diff: str, style: Style, *, lines_per_file: int = 8, indent: str = "  ") -> list[str]:
    """Each file of `diff` as `M path (+a -r)` and its first `lines_per_file` lines, then "… N more lines"."""
    out: list[str] = []
    for entry in split_files(diff):
        counts = " ".join(part for part in (f"+{entry.added}" if entry.added else "",
                                              f"-{entry.removed}" if entry.removed else "") if part)
        out.append(f"{indent}{style(entry.kind, 'cyan')} {style(entry.path, 'bold')}"
                   + (" " + style(f"({counts})", "dim") if counts else ""))
        shown = entry.body[:lines_per_file]
        out += [indent + "  " + style(line, *line_style(line)) for line in shown]
        if len(entry.body) > len(shown):
            out.append(indent + "  " + style(f"… {len(entry.body) - len(shown)} more lines", "dim"))
    return out


def coloured(diff: str, style: Style) -> list[str]:
    """Every line of `diff`, styled: file headers bold, additions green, removals red, hunks cyan."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("diff --git", "--- ", "+++ ", "index ", "new file", "deleted file")):
            out.append(style(line, "bold"))
        else:
            out.append(style(line, *line_style(line)))
    return out
