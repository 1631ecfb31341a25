"""Whole files written into a model's answer: a path, then the file in a fenced code block.

This is how small models write files unprompted, and how ocodex asks them to (the `whole` edit format in
text-tool mode, `ocodex.profile`); benchmarks/tasks.py's no-agent baseline reads its replies the same way.
Forms understood: the path on the line just before the fence (`stats.py`, `**stats.py**`, `` `stats.py` ``,
`### File: stats.py`, `stats.py:`), in the fence's info string (```` ```python stats.py ```` or
```` ```stats.py ````), as the block's first line (`# stats.py`, dropped from the file), or as the only
line of a fence just before the file's own fence. A path is a plain relative path whose file name has an
extension (no `..`, no `.git`, not absolute). The last block for a path wins; an unclosed block (an answer
cut off by the output limit) is dropped. `match_unnamed` gives a block with no path to the file it most
resembles, as a person reading the answer would place it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

LANGUAGES = {".py": "python", ".md": "markdown", ".json": "json", ".toml": "toml", ".txt": "text",
             ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".sh": "bash", ".rb": "ruby",
             ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".yaml": "yaml", ".yml": "yaml", ".cfg": "ini",
             ".ini": "ini", ".html": "html", ".css": "css"}
_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DECORATION = re.compile(r"^(?:#{1,6}\s*|[-*+]\s+|\d+\.\s+)?(?:\*\*|__)?`?(?:(?:file(?:name)?|path)\s*:\s*)?"
                         r"`?(?P<path>[^`*\s]+?)`?(?:\*\*|__)?:?$", re.IGNORECASE)


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def clean_path(candidate: str) -> str | None:
    """`candidate` as a safe relative POSIX path, or None."""
    candidate = candidate.strip().removeprefix("./")
    if not candidate or not _PATH.fullmatch(candidate) or "." not in PurePosixPath(candidate).name:
        return None
    parts = PurePosixPath(candidate).parts
    if ".." in parts or ".git" in parts or candidate.startswith("/"):
        return None
    return PurePosixPath(candidate).as_posix()


def _path_before(lines: list[str], index: int) -> str | None:
    """The path on the last non-blank line of the two before a fence, if that line is only a path."""
    for back in range(index - 1, max(index - 3, -1), -1):
        if lines[back].strip():
            return _path_line(lines[back])
    return None


def _path_in_info(info: str) -> str | None:
    for word in info.split():
        path = clean_path(word)
        if path is not None:
            return path
    return None


@dataclass
class Parsed:
    files: dict[str, str] = field(default_factory=dict)
    unnamed: list[tuple[str, str]] = field(default_factory=list)  # (the fence's language, the block's text)
    unclosed: bool = False
    matched: dict[str, str] = field(default_factory=dict)  # unnamed blocks given to a file by `match_unnamed`


def _path_line(line: str) -> str | None:
    match = _DECORATION.match(line.strip())
    return clean_path(match.group("path")) if match else None


def _path_comment(line: str) -> str | None:
    """`# stats.py`, `# File: stats.py` or `// stats.py` as a block's first line."""
    stripped = line.strip()
    for marker in ("#", "//"):
        if stripped.startswith(marker) and not stripped.startswith("#!"):
            return _path_line(stripped[len(marker):])
    return None


def parse_files(reply: str) -> Parsed:
    """The whole files in `reply` (see the module docstring for the forms understood)."""
    parsed = Parsed()
    lines = reply.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, info = opening.group("fence"), opening.group("info")
        path = _path_in_info(info) or _path_before(lines, index)
        if index + 2 < len(lines) and (header := _path_line(lines[index + 1])) \
                and (inner := _FENCE.match(lines[index + 2])) and inner.group("info").strip():
            # A fence holding only the path, then the file's own fence: the path names the next block.
            path, index = header, index + 2
            fence, info = inner.group("fence"), inner.group("info")
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing and set(closing) == {fence[0]} and len(closing) >= len(fence):
                break
            body.append(lines[end])
            end += 1
        if end >= len(lines):
            parsed.unclosed = True  # cut off (max_tokens) or malformed: not a whole file
            break
        if body and (named := _path_comment(body[0])) is not None and (path is None or path == named):
            path, body = named, body[1:]
        text = "".join(line + "\n" for line in body)
        if path is None:
            parsed.unnamed.append(((info.split() or [""])[0].lower(), text))
        else:
            parsed.files[path] = text
        index = end + 1
    return parsed


_EXTENSIONS = {"python": ".py", "py": ".py", "markdown": ".md", "md": ".md", "json": ".json", "toml": ".toml"}


def match_unnamed(parsed: Parsed, repo: dict[str, bytes]) -> None:
    """Give each unnamed block to the repo file it most resembles, as a reader would.

    Candidates are the repo's files the reply did not name, of the block's language when the fence says one
    (`python` -> `.py`); each file takes at most one block. The only candidate is taken whatever it looks like;
    among several, the most similar one (difflib ratio at least 0.2).
    """
    taken = set(parsed.files)
    for language, text in parsed.unnamed:
        extension = _EXTENSIONS.get(language)
        candidates = [path for path in repo if path not in taken
                      and (extension is None or PurePosixPath(path).suffix == extension)]
        if not candidates:
            continue
        scored = sorted(((difflib.SequenceMatcher(None, repo[path].decode("utf-8", "replace"), text).ratio(), path)
                         for path in candidates), reverse=True)
        ratio, best = scored[0]
        if len(candidates) == 1 or ratio >= 0.2:
            parsed.files[best] = text
            parsed.matched[best] = text
            taken.add(best)
