"""Exact replacement of one piece of a file's text, tolerant of the whitespace small models get wrong.

`replace_text(text, old, new)` finds `old` in `text` once and puts `new` there. Tried in order, the first
that finds exactly one place wins:

1. the exact text (CRLF files compared as LF, and written back with CRLF);
2. line by line, ignoring trailing spaces;
3. line by line, ignoring indentation: `new` is then re-indented by the difference between the file's
   indentation and `old`'s, so a block quoted without its leading spaces lands at the right depth.

`old` found in several places is refused with their line numbers. `old` found nowhere is refused with the
closest region of the file, numbered, so the next try can copy it exactly. Refusals are `HunkRejected`
(what `ocodex.patch.apply.rewrite_files` reports).
"""

from __future__ import annotations

import difflib

from ocodex.patch.chunks import HunkRejected

CONTEXT_LINES = 2  # lines shown around the closest region
MAX_SEARCH_LINES = 5000  # larger files get no closest-region search (its cost grows with lines x old lines)


def number_lines(lines: list[str], first: int) -> str:
    """`lines` numbered from `first` (1-based), as `  12 | text`."""
    width = len(str(first + len(lines) - 1))
    return "\n".join(f"{first + i:>{width}} | {line}" for i, line in enumerate(lines))


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _trim(lines: list[str]) -> list[str]:
    """Without blank lines at the start and the end."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _places(lines: list[str], old: list[str], key: object) -> list[int]:
    wanted = [key(line) for line in old]  # type: ignore[operator]
    size = len(old)
    return [i for i in range(len(lines) - size + 1)
            if [key(line) for line in lines[i:i + size]] == wanted]  # type: ignore[operator]


def _reindent(new: list[str], found: list[str], old: list[str]) -> list[str]:
    """`new` moved by the indentation difference between the file's matched lines and `old`."""
    have = next((_indent(line) for line in found if line.strip()), "")
    said = next((_indent(line) for line in old if line.strip()), "")
    if have == said:
        return new
    out = []
    for line in new:
        if not line.strip():
            out.append(line)
        elif len(have) > len(said):
            out.append(have[:len(have) - len(said)] + line)
        else:
            cut = len(said) - len(have)
            out.append(line[cut:] if line[:cut].strip() == "" else line.lstrip())
    return out


def closest_region(lines: list[str], old: list[str]) -> tuple[int, int] | None:
    """(start, end) of the lines of `lines` most like `old` (0-based, end exclusive), or None."""
    if not lines or not old or len(lines) > MAX_SEARCH_LINES:
        return None
    size = min(len(old), len(lines))
    wanted = "\n".join(line.strip() for line in old)
    best, best_score = None, 0.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)
    for start in range(len(lines) - size + 1):
        matcher.set_seq1("\n".join(line.strip() for line in lines[start:start + size]))
        if matcher.real_quick_ratio() <= best_score or matcher.quick_ratio() <= best_score:
            continue
        score = matcher.ratio()
        if score > best_score:
            best, best_score = (start, start + size), score
    return best if best_score > 0.3 else None


def _not_found(lines: list[str], old: list[str], path: str) -> HunkRejected:
    region = closest_region(lines, old)
    if region is None:
        return HunkRejected(f"the old text was not found in {path} ({len(lines)} lines); read the file and "
                            "copy the old text exactly")
    start = max(0, region[0] - CONTEXT_LINES)
    end = min(len(lines), region[1] + CONTEXT_LINES)
    return HunkRejected(f"the old text was not found in {path}. The closest part of the file, lines "
                        f"{start + 1}-{end}:\n{number_lines(lines[start:end], start + 1)}\n"
                        "Copy the old text exactly from these lines (without the numbers) and try again.")


def replace_text(text: str, old: str, new: str, *, path: str) -> str:
    """`text` with its one occurrence of `old` replaced by `new` (see the module docstring)."""
    crlf = "\r\n" in text
    body = text.replace("\r\n", "\n") if crlf else text
    old = old.replace("\r\n", "\n")
    new = new.replace("\r\n", "\n")
    if not old.strip():
        raise HunkRejected(f"the old text is empty; give the exact lines of {path} to replace")
    count = body.count(old)
    if count == 1:
        result = body.replace(old, new, 1)
    else:
        lines = body.split("\n")
        old_lines = _trim(old.split("\n"))
        new_lines = new.split("\n")
        if old.endswith("\n") and new_lines and new_lines[-1] == "":
            new_lines = new_lines[:-1]
        if count > 1:
            places = _places(lines, old_lines, lambda line: line)
            shown = ", ".join(str(i + 1) for i in places[:10]) or "several"
            raise HunkRejected(f"the old text appears {count} times in {path} (at lines {shown}); include more "
                               "of the lines around it so that it appears once")
        for key in (str.rstrip, str.strip):
            places = _places(lines, old_lines, key)
            if len(places) > 1:
                shown = ", ".join(str(i + 1) for i in places[:10])
                raise HunkRejected(f"the old text appears {len(places)} times in {path} (at lines {shown}); "
                                   "include more of the lines around it so that it appears once")
            if places:
                start = places[0]
                found = lines[start:start + len(old_lines)]
                replacement = _reindent(_trim_edges(new_lines), found, old_lines)
                result = "\n".join([*lines[:start], *replacement, *lines[start + len(old_lines):]])
                break
        else:
            raise _not_found(lines, old_lines, path)
    return result.replace("\n", "\r\n") if crlf else result


def _trim_edges(lines: list[str]) -> list[str]:
    """`new` as lines, without the blank first/last lines that quoting a block adds."""
    start, end = 0, len(lines)
    if start < end and not lines[start].strip():
        start += 1
    if end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]
