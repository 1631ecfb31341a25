"""Parse the Codex `apply_patch` format into typed hunks (no file system access here).

The grammar (codex-rs/apply-patch) is::

    *** Begin Patch
    *** Add File: <path>          then one '+line' per line of the new file
    *** Delete File: <path>
    *** Update File: <path>
    *** Move to: <path>           (optional, directly after Update File)
    @@ [anchor]                   then ' context', '-old', '+new' lines, optionally '*** End of File'
    *** End Patch

Like Codex, the parser is lenient where models commonly slip: whitespace around the whole patch or
around markers, CRLF line endings, a patch wrapped in a heredoc (`<<'EOF' ... EOF`) or a Markdown
fence, a first chunk without `@@`, a truly empty line inside a chunk (an empty context line), blank
lines between hunks, a unified-diff header such as `@@ -1,4 +1,5 @@` (its numbers are ignored), and
several `@@ anchor` lines in a row (each narrows the search, as the Codex instructions describe).
Everything else is a `PatchError` naming the line and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BEGIN_PATCH = "*** Begin Patch"
END_PATCH = "*** End Patch"
ADD_FILE = "*** Add File:"
DELETE_FILE = "*** Delete File:"
UPDATE_FILE = "*** Update File:"
MOVE_TO = "*** Move to:"
END_OF_FILE = "*** End of File"

_HUNK_MARKERS = (ADD_FILE, DELETE_FILE, UPDATE_FILE)
_EXPECTED_HUNK = "expected '*** Add File:', '*** Delete File:' or '*** Update File:'"
_HEREDOC_START = re.compile(r"""(?:apply_?patch\s*)?<<-?\s*(?:'([^']+)'|"([^"]+)"|\\?([\w.-]+))""")
_UNIFIED_HEADER = re.compile(r"-\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(.*)")
_TRAILER = re.compile(r"```|[A-Za-z_][\w-]*")  # tolerated after '*** End Patch': a fence or heredoc tag


class PatchError(Exception):
    """A patch that cannot be parsed or applied; the message says what and where, for the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(slots=True)
class Chunk:
    """One `@@` section: replace `old_lines` (found after `anchor`, if any) with `new_lines`.

    A chunk with an anchor and no lines only narrows where the next chunk is searched for.
    """

    anchor: str | None
    old_lines: list[str] = field(default_factory=list)
    new_lines: list[str] = field(default_factory=list)
    is_end_of_file: bool = False


@dataclass(slots=True)
class AddFile:
    path: str
    contents: str


@dataclass(slots=True)
class DeleteFile:
    path: str


@dataclass(slots=True)
class UpdateFile:
    path: str
    move_to: str | None = None
    chunks: list[Chunk] = field(default_factory=list)


Hunk = AddFile | DeleteFile | UpdateFile


@dataclass(slots=True)
class Patch:
    hunks: list[Hunk]


def describe_hunk(index: int, hunk: Hunk) -> str:
    """`hunk 2 (Update File: a.py)`: how error messages name a hunk (1-based index)."""
    kind = {AddFile: "Add", DeleteFile: "Delete", UpdateFile: "Update"}[type(hunk)]
    return f"hunk {index} ({kind} File: {hunk.path})"


def parse_patch(text: str) -> Patch:
    """Parse patch text into hunks, or raise `PatchError` (and nothing else) saying what is wrong."""
    body, first_line = _patch_body(text)
    hunks = _Parser(body, first_line).parse()
    if not hunks:
        raise PatchError(f"invalid patch: no changes between '{BEGIN_PATCH}' and '{END_PATCH}'; "
                         f"{_EXPECTED_HUNK} hunks")
    return Patch(hunks)


# ---- envelope: whitespace, heredoc, fence, Begin/End markers ----------------------------------

def _strip_blank(lines: list[str], first: int) -> tuple[list[str], int]:
    """Drop blank lines at both ends; `first` is the 1-based number of `lines[0]` in the input."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end], first + start


def _unwrap(lines: list[str], first: int) -> tuple[list[str], int]:
    """Remove a heredoc (`<<'EOF'` ... `EOF`) or Markdown fence (```` ``` ````) around the patch."""
    if not lines or lines[0].strip() == BEGIN_PATCH:
        return lines, first
    head = lines[0].strip()
    closing: str | None = None
    if match := _HEREDOC_START.fullmatch(head):
        closing = next(g for g in match.groups() if g)
    elif head.startswith("```"):
        closing = "```"
    else:
        return lines, first
    inner = lines[1:]
    if inner and inner[-1].strip() == closing:
        inner = inner[:-1]
    return _strip_blank(inner, first + 1)


def _patch_body(text: str) -> tuple[list[str], int]:
    """Check the `*** Begin Patch` / `*** End Patch` envelope; return the hunk lines and their line number."""
    lines, first = _strip_blank(text.replace("\r\n", "\n").split("\n"), 1)
    lines, first = _unwrap(lines, first)
    if not lines:
        raise PatchError(f"invalid patch: the patch is empty; the first line must be '{BEGIN_PATCH}'")
    if lines[0].strip() != BEGIN_PATCH:
        raise PatchError(f"invalid patch: the first line must be '{BEGIN_PATCH}', got {_show(lines[0])}")
    end = _find_end(lines, first)
    return lines[1:end], first + 1


def _find_end(lines: list[str], first: int) -> int:
    """Index of the `*** End Patch` line; only a fence or heredoc tag may follow it."""
    if len(lines) > 1 and lines[-1].strip() == END_PATCH:
        return len(lines) - 1
    for index in range(1, len(lines)):
        if lines[index] == END_PATCH:
            extra = [line for line in lines[index + 1:] if line.strip()]
            if all(_TRAILER.fullmatch(line.strip()) for line in extra):
                return index
            raise PatchError(f"invalid patch: line {first + index}: '{END_PATCH}' must be the last line, "
                             f"but {_show(extra[0])} follows it")
    raise PatchError(f"invalid patch: the last line must be '{END_PATCH}', got {_show(lines[-1])} "
                     "(was the patch cut off?)")


def _show(line: str, limit: int = 80) -> str:
    return f"'{line}'" if len(line) <= limit else f"'{line[:limit]}...'"


# ---- hunks --------------------------------------------------------------------------------------

class _Parser:
    """Walks the lines between the envelope markers, one hunk at a time."""

    def __init__(self, lines: list[str], first_line: int) -> None:
        self.lines = lines
        self.first_line = first_line
        self.pos = 0
        self.hunks: list[Hunk] = []

    def fail(self, message: str, index: int | None = None) -> PatchError:
        number = self.first_line + (self.pos if index is None else index)
        return PatchError(f"invalid patch: line {number}: {message}")

    def parse(self) -> list[Hunk]:
        while self.pos < len(self.lines):
            line = self.lines[self.pos].strip()
            if not line:
                self.pos += 1
            elif line.startswith(ADD_FILE):
                self.hunks.append(self.add_file(self.path_after(ADD_FILE)))
            elif line.startswith(DELETE_FILE):
                self.hunks.append(self.delete_file(self.path_after(DELETE_FILE)))
            elif line.startswith(UPDATE_FILE):
                self.hunks.append(self.update_file(self.path_after(UPDATE_FILE)))
            else:
                raise self.fail(f"{_EXPECTED_HUNK}, got {_show(line)}")
        return self.hunks

    def path_after(self, marker: str) -> str:
        """The path on the current header line (relative, or absolute for the applier to check); moves past it."""
        path = self.lines[self.pos].strip()[len(marker):].strip()
        if not path:
            raise self.fail(f"'{marker}' needs a path")
        if "\x00" in path:
            raise self.fail(f"the path {_show(path)} contains a NUL character")
        if any("\ud800" <= char <= "\udfff" for char in path):
            raise self.fail(f"the path {_show(path)} is not valid Unicode (it holds a lone surrogate)")
        if path.startswith(("\\", "~")) or re.match(r"[A-Za-z]:[\\/]", path):
            raise self.fail(f"paths must be relative to the workspace or absolute, got {_show(path)}")
        self.pos += 1
        return path

    def at_hunk_header(self) -> bool:
        return self.lines[self.pos].strip().startswith(_HUNK_MARKERS)

    def add_file(self, path: str) -> AddFile:
        contents: list[str] = []
        blanks = 0  # blank lines are kept only when more '+' lines follow them
        while self.pos < len(self.lines) and not self.at_hunk_header():
            line = self.lines[self.pos]
            if line.startswith("+"):
                contents.extend([""] * blanks + [line[1:]])
                blanks = 0
            elif not line.strip():
                blanks += 1
            else:
                raise self.fail(f"every line of an added file must start with '+' "
                                f"('{ADD_FILE} {path}'), got {_show(line)}")
            self.pos += 1
        return AddFile(path, "".join(line + "\n" for line in contents))

    def delete_file(self, path: str) -> DeleteFile:
        while self.pos < len(self.lines) and not self.at_hunk_header():
            line = self.lines[self.pos]
            if line.strip():
                raise self.fail(f"'{DELETE_FILE} {path}' takes no lines after it, got {_show(line)}")
            self.pos += 1
        return DeleteFile(path)

    def update_file(self, path: str) -> UpdateFile:
        hunk = UpdateFile(path)
        self.skip_blank()
        if self.pos < len(self.lines) and self.lines[self.pos].strip().startswith(MOVE_TO):
            hunk.move_to = self.path_after(MOVE_TO)
        hunk.chunks = _ChunkReader(self).read()
        if not hunk.move_to and all(c.old_lines == c.new_lines for c in hunk.chunks):
            raise PatchError(f"invalid patch: {describe_hunk(len(self.hunks) + 1, hunk)} has no changes")
        return hunk

    def skip_blank(self) -> None:
        while self.pos < len(self.lines) and not self.lines[self.pos].strip():
            self.pos += 1


class _ChunkReader:
    """Reads the `@@` chunks of one Update File hunk, up to the next hunk header."""

    def __init__(self, parser: _Parser) -> None:
        self.p = parser
        self.chunks: list[Chunk] = []
        self.current: Chunk | None = None
        self.blanks = 0  # empty lines not yet known to be inside the chunk (vs. separators)

    def read(self) -> list[Chunk]:
        p = self.p
        while p.pos < len(p.lines):
            line = p.lines[p.pos]
            if line[:1] in (" ", "+", "-"):
                self.change_line(line)
            elif not line.strip():
                # an empty line inside a chunk is an empty context line; at a chunk's edges, a separator
                self.blanks += 0 if self.current is None or _is_empty(self.current) else 1
            elif line.lstrip().startswith("@@"):
                self.start_chunk(_anchor(line.strip()[2:].strip()))
            elif line.lstrip().startswith("***"):
                if not self.marker(line.strip()):
                    break
            else:
                raise p.fail(f"expected a line starting with ' ' (context), '-' (remove) or '+' (add), "
                             f"or '@@', got {_show(line)}")
            p.pos += 1
        self.close()
        return self.chunks

    def change_line(self, line: str) -> None:
        if self.current is None or self.current.is_end_of_file:
            self.start_chunk(None)
        chunk = self.current
        assert chunk is not None
        chunk.old_lines.extend([""] * self.blanks)
        chunk.new_lines.extend([""] * self.blanks)
        self.blanks = 0
        kind, text = line[0], line[1:]
        if kind != "+":
            chunk.old_lines.append(text)
        if kind != "-":
            chunk.new_lines.append(text)

    def marker(self, line: str) -> bool:
        """Handle a `***` line inside the hunk; False when it starts the next hunk."""
        if line.startswith(_HUNK_MARKERS):
            return False
        chunk = self.current
        if line == END_OF_FILE:
            if chunk is None or _is_empty(chunk):
                raise self.p.fail(f"'{END_OF_FILE}' must follow the lines of a chunk")
            chunk.is_end_of_file = True
            self.blanks = 0
            return True
        if line.startswith(MOVE_TO):
            raise self.p.fail(f"'{MOVE_TO}' must come directly after '{UPDATE_FILE}'")
        raise self.p.fail(f"expected a change line, '@@', '{END_OF_FILE}' or the next hunk, "
                          f"got {_show(line)}")

    def start_chunk(self, anchor: str | None) -> None:
        """Begin a chunk; an anchor-only chunk before it is kept (nested `@@` anchors)."""
        if self.chunks and _is_empty(self.chunks[-1]) and self.chunks[-1].anchor is None:
            self.chunks.pop()
        self.blanks = 0
        self.current = Chunk(anchor)
        self.chunks.append(self.current)

    def close(self) -> None:
        """End of the hunk: trailing empty lines were separators, and trailing lone anchors mean nothing."""
        while self.chunks and _is_empty(self.chunks[-1]):
            self.chunks.pop()


def _is_empty(chunk: Chunk) -> bool:
    return not (chunk.old_lines or chunk.new_lines)


def _anchor(text: str) -> str | None:
    """The anchor of an `@@` line; a unified-diff header `-1,4 +1,5 @@ def f():` keeps only `def f():`."""
    if match := _UNIFIED_HEADER.fullmatch(text):
        text = match.group(1).strip()
    if text == "@@":
        return None
    return text or None
