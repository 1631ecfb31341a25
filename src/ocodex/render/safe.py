"""Making text from a model, a session file or a server safe to print on a terminal.

`terminal_safe` is the one function every print site uses for such text. It keeps newlines and tabs
and shows every other character that could drive or deceive a terminal visibly, never dropping it,
so a person can see that something odd was there:

* C0 controls and DEL (ESC, CR, BEL, backspace, ...) become their Unicode Control Pictures
  (`\\x1b` -> `␛`, `\\r` -> `␍`), so no escape sequence (CSI, OSC 52 clipboard writes, OSC 8 links,
  title changes) and no carriage return can reach the terminal;
* C1 controls (U+0080-U+009F, e.g. the one-byte CSI U+009B), format characters (bidi embeddings,
  overrides and isolates U+202A-U+202E and U+2066-U+2069, marks, zero-width spaces, the BOM, tag
  characters), the line and paragraph separators and lone surrogates become `<U+XXXX>`.

Zero-width joiner and non-joiner (U+200C, U+200D) are kept: emoji sequences and several scripts need
them, and they cannot reorder or hide text. `markup_safe` is the same for text that rich prints with
markup enabled: `[`...`]` is escaped too, so model text cannot style or link itself.
"""

from __future__ import annotations

import re
import unicodedata

_KEPT = frozenset("\n\t\u200c\u200d")
_SUSPECT_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Everything but printable ASCII, newline and tab: each candidate is then judged by its Unicode category.
_CANDIDATE = re.compile(r"[^\x20-\x7e\n\t]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN: dict[str, str] = {}  # candidate character -> what is printed for it


def is_suspect(char: str) -> bool:
    """Whether `char` must not reach a terminal as itself."""
    return char not in _KEPT and unicodedata.category(char) in _SUSPECT_CATEGORIES


def _show(char: str) -> str:
    if not is_suspect(char):
        return char
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def _shown(match: re.Match[str]) -> str:
    out = []
    for char in match.group():
        shown = _SHOWN.get(char)
        if shown is None:
            shown = _SHOWN[char] = _show(char)
        out.append(shown)
    return "".join(out)


def terminal_safe(text: str) -> str:
    """`text` with every character that could drive or deceive a terminal shown visibly."""
    return _CANDIDATE.sub(_shown, text)


def markup_safe(text: str) -> str:
    """`terminal_safe` text for a rich print with markup on: `[tag]` is escaped, not interpreted."""
    from rich.markup import escape

    return escape(terminal_safe(text))


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (which no UTF-8 stream can carry) as U+FFFD: for plain text output."""
    return _SURROGATE.sub("\ufffd", text)
