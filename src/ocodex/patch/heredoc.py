"""Recognise an `apply_patch` call made through the shell tool, so it can be applied in-process.

Models trained on Codex call the shell with one of these (as Codex's `maybe_parse_apply_patch`
accepts them):

* `["apply_patch", "*** Begin Patch\\n..."]` (also `applypatch`, or a path ending in either);
* `["bash", "-lc", "<script>"]` (or `sh`/`zsh`/`dash`/`ksh`, flags ending in `c`), or a plain script
  string, where the script is exactly `apply_patch <<'EOF'` + body + `EOF`, optionally preceded by
  `cd <dir> &&`, or `apply_patch '<patch>'` with the patch as one quoted argument.

As in Codex, anything more (another command before or after, a pipe, `||`) is not recognised, so
it is left to the real shell rather than half-run. The patch text is returned unparsed: a broken
patch is still an `apply_patch` call, and the caller reports the parse error to the model.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

_APPLY_NAMES = frozenset({"apply_patch", "applypatch"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh"})
_HEREDOC = re.compile(r"""<<(-?)\s*(?:'([^'\n]+)'|"([^"\n]+)"|\\?([\w.-]+))\s*$""")


@dataclass(frozen=True, slots=True)
class ShellPatch:
    """The patch text of an `apply_patch` shell call, and the `cd` directory it ran in (if any)."""

    patch: str
    workdir: str | None = None


def extract_patch_from_command(command: Sequence[str] | str) -> ShellPatch | None:
    """The patch an `apply_patch` shell call carries, or None for any other command."""
    if isinstance(command, str):
        return _from_script(command)
    argv = list(command)
    if len(argv) == 2 and _is_apply(argv[0]):
        body = argv[1]
        unwrapped = _from_script("apply_patch " + body.lstrip()) if body.lstrip().startswith("<<") else None
        return unwrapped or ShellPatch(body)
    if len(argv) == 1:
        return _from_script(argv[0])
    if len(argv) >= 3 and _is_shell(argv[0]) and _is_command_flags(argv[1:-1]):
        return _from_script(argv[-1])
    return None


def _is_apply(word: str) -> bool:
    return os.path.basename(word) in _APPLY_NAMES


def _is_shell(word: str) -> bool:
    return os.path.basename(word) in _SHELLS


def _is_command_flags(flags: list[str]) -> bool:
    """`-c`, `-lc`, or e.g. `-l -c`: options only, the last of them taking the script."""
    return all(re.fullmatch(r"-[a-z]+", flag) for flag in flags) and flags[-1].endswith("c")


def _from_script(script: str) -> ShellPatch | None:
    script = script.replace("\r\n", "\n").strip()
    head, _, rest = script.partition("\n")
    heredoc = _HEREDOC.search(head)
    if heredoc is None:
        return _quoted_argument(script)
    words = _split(head[:heredoc.start()])
    workdir = None if words is None else _invocation(words)
    if workdir is None:
        return None
    tag = next(group for group in heredoc.groups()[1:] if group)
    body = _heredoc_body(rest, tag, strip_tabs=bool(heredoc.group(1)))
    return None if body is None else ShellPatch(body, workdir or None)


def _heredoc_body(rest: str, tag: str, *, strip_tabs: bool) -> str | None:
    """Lines up to the closing tag (or the end, as bash allows); None if commands follow the tag."""
    lines = rest.split("\n")
    body: list[str] = []
    for number, line in enumerate(lines):
        text = line.lstrip("\t") if strip_tabs else line
        if text.rstrip() == tag:
            return "\n".join(body) if not "\n".join(lines[number + 1:]).strip() else None
        body.append(text)
    return "\n".join(body)


def _invocation(words: list[str]) -> str | None:
    """For `apply_patch` → "", for `cd DIR && apply_patch` → DIR; anything else → None."""
    if len(words) == 1 and _is_apply(words[0]):
        return ""
    if len(words) == 4 and words[0] == "cd" and words[2] == "&&" and _is_apply(words[3]) and words[1]:
        return words[1]
    return None


def _quoted_argument(script: str) -> ShellPatch | None:
    """`apply_patch '<patch>'` or `cd DIR && apply_patch "<patch>"`."""
    words = _split(script)
    if words is None or len(words) < 2:
        return None
    workdir = _invocation(words[:-1])
    if workdir is None:
        return None
    return ShellPatch(words[-1], workdir or None)


def _split(text: str) -> list[str] | None:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes
        return None
