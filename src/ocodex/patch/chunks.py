"""Where the chunks of one `*** Update File` hunk go in the file's text, and what the model is told when
one cannot be placed.

Choices (where Codex differs, the reason is given):
* Chunks are located like Codex's `seek_sequence`: from the end of the previous chunk (and after the
  `@@` anchor line), trying an exact match, then ignoring trailing whitespace, then leading and
  trailing whitespace, then with typographic punctuation folded to ASCII. An anchor may also match
  as a prefix of a line (`@@ class Foo` finds `class Foo(Base):`). If the anchor is not found but
  the chunk's old lines occur exactly once, that place is used.
* `*** End of File` pins the old lines to the end of the file (blank lines after them allowed).
  A chunk with no old lines inserts after its anchor, or at the end of the file.
* Updated files always end with a newline (as in Codex); a UTF-8 BOM and CRLF line endings are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ocodex.patch.parser import Chunk

_SHOW_LINES = 30


class HunkRejected(Exception):
    """A verification failure inside one hunk; the applier adds which hunk it was."""


# ---- locating chunks ------------------------------------------------------------------------------

_PUNCTUATION = str.maketrans({
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
    **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
})

_Normaliser = Callable[[str], str]
_LEVELS: tuple[_Normaliser, ...] = (
    lambda s: s,
    str.rstrip,
    str.strip,
    lambda s: s.strip().translate(_PUNCTUATION),
)


def apply_chunks(text: str, chunks: Sequence[Chunk]) -> str:
    """Return `text` with `chunks` applied (raising `HunkRejected` if one cannot be placed)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    eol = "\r\n" if body.count("\r\n") * 2 > body.count("\n") else "\n"
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()
    if eol == "\r\n":
        lines = [line.removesuffix("\r") for line in lines]
    new_lines = _splice(lines, _replacements(lines, chunks))
    return bom + "".join(line + eol for line in new_lines)


_Replacement = tuple[int, int, list[str]]  # (start, how many old lines, new lines)


def _splice(lines: list[str], replacements: list[_Replacement]) -> list[str]:
    out: list[str] = []
    cursor = 0
    for start, length, new in replacements:
        out.extend(lines[cursor:start])
        out.extend(new)
        cursor = start + length
    out.extend(lines[cursor:])
    return out


def _replacements(lines: list[str], chunks: Sequence[Chunk]) -> list[_Replacement]:
    result: list[_Replacement] = []
    index = 0
    for number, chunk in enumerate(chunks, 1):
        where = f"chunk {number} of {len(chunks)}: " if len(chunks) > 1 else ""
        if chunk.anchor is not None:
            found = _seek_anchor(lines, chunk.anchor, index)
            if found is None and _unique(lines, chunk.old_lines, index) is None:
                raise HunkRejected(f"{where}could not find the context line '@@ {chunk.anchor}' "
                              f"(searched from line {index + 1}; the file has {len(lines)} lines)")
            index = index if found is None else found + 1
        if not chunk.old_lines:
            at = index if chunk.anchor is not None and not chunk.is_end_of_file else len(lines)
            if chunk.new_lines:
                result.append((at, 0, list(chunk.new_lines)))
                index = at
            continue
        start, length, new = _locate(lines, chunk, index, where)
        result.append((start, length, new))
        index = start + length
    return result


def _locate(lines: list[str], chunk: Chunk, index: int, where: str) -> _Replacement:
    """Find the chunk's old lines; a trailing empty context line may stand for the final newline."""
    old, new = list(chunk.old_lines), list(chunk.new_lines)
    start = _seek(lines, old, index, chunk.is_end_of_file)
    while start is None and old and old[-1] == "":
        old.pop()
        if new and new[-1] == "":
            new.pop()
        start = _seek(lines, old, index, chunk.is_end_of_file) if old else _end_or(lines, chunk, index)
    if start is None:
        raise HunkRejected(where + _not_found(lines, chunk, index))
    return start, len(old), new


def _end_or(lines: list[str], chunk: Chunk, index: int) -> int:
    return len(lines) if chunk.is_end_of_file else index


def _seek(lines: list[str], pattern: list[str], start: int, eof: bool = False) -> int | None:
    """First index at or after `start` where `pattern` matches, at the loosest level needed."""
    size = len(pattern)
    if size > len(lines):
        return None
    for normalise in _LEVELS:
        want = [normalise(line) for line in pattern]
        for i in _candidates(lines, size, start, eof):
            if all(normalise(lines[i + k]) == want[k] for k in range(size)):
                return i
    return None


def _candidates(lines: list[str], size: int, start: int, eof: bool) -> range:
    last = len(lines) - size
    if not eof:
        return range(start, last + 1)
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return range(last, max(start, end - size) - 1, -1)  # at the very end first, then before blank lines


def _seek_anchor(lines: list[str], anchor: str, start: int) -> int | None:
    found = _seek(lines, [anchor], start)
    if found is not None:
        return found
    key = _LEVELS[-1](anchor)
    return next((i for i in range(start, len(lines)) if _LEVELS[-1](lines[i]).startswith(key)), None)


def _unique(lines: list[str], pattern: list[str], start: int) -> int | None:
    """The only place `pattern` occurs (ignoring trailing whitespace), or None."""
    if not pattern:
        return None
    want = [line.rstrip() for line in pattern]
    hits = [i for i in range(start, len(lines) - len(pattern) + 1)
            if [line.rstrip() for line in lines[i:i + len(pattern)]] == want]
    return hits[0] if len(hits) == 1 else None


# ---- messages a model can act on --------------------------------------------------------------------

def _indent(lines: Sequence[str]) -> str:
    shown = [f"  {line}" for line in lines[:_SHOW_LINES]]
    if len(lines) > _SHOW_LINES:
        shown.append(f"  ... ({len(lines) - _SHOW_LINES} more lines)")
    return "\n".join(shown)


def _not_found(lines: list[str], chunk: Chunk, index: int) -> str:
    place = "at the end of the file" if chunk.is_end_of_file else "to replace"
    parts = [f"could not find the lines {place}:", _indent(chunk.old_lines)]
    earlier = _seek(lines, chunk.old_lines, 0) if index > 0 else None
    if earlier is not None and earlier < index:
        parts.append(f"They occur at line {earlier + 1}, but this chunk is searched for only from line "
                     f"{index + 1} (after the previous chunk and its '@@' line): "
                     "chunks must be in file order.")
    elif (near := _closest(lines, chunk.old_lines)) is not None:
        start, score = near
        parts.append(f"The closest match starts at line {start + 1} ({score} of {len(chunk.old_lines)} "
                     "lines match); the file there reads:")
        parts.append(_indent(lines[start:start + len(chunk.old_lines)]))
    parts.append(f"(the file has {len(lines)} lines; check the context lines match the file exactly)")
    return "\n".join(parts)


def _closest(lines: list[str], pattern: list[str]) -> tuple[int, int] | None:
    """Where most non-blank pattern lines line up with the file (ignoring indentation)."""
    want = [line.strip() for line in pattern]
    have = [line.strip() for line in lines]
    best: tuple[int, int] | None = None
    for i in range(len(have)):
        window = have[i:i + len(want)]
        score = sum(1 for a, b in zip(window, want, strict=False) if b and a == b)
        if score and (best is None or score > best[1]):
            best = (i, score)
    return best
